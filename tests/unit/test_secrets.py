"""dihub.secrets: env → keyring → opt-in 0600 file, headless refusal, redaction hook."""

from __future__ import annotations

import json
import os
import stat

import keyring
import pytest
from keyring.backends import chainer, fail, null

from dihub import secrets
from dihub.errors import AuthError
from tests.support.keyrings import LockedKeyring, MemoryKeyring, fake_redactor, use_memory_keyring

VALUE = "ghp_exampleSecretValue0123456789abcdef"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    # A config dir that does not exist yet (tests/conftest.py's does): the file store
    # must create it, and some tests create it themselves.
    monkeypatch.setenv("DIHUB_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.delenv("DIHUB_TEST_TOKEN", raising=False)


@pytest.fixture
def memory() -> MemoryKeyring:
    return use_memory_keyring()


@pytest.fixture
def headless():
    keyring.set_keyring(fail.Keyring())


@pytest.fixture(autouse=True)
def registered(monkeypatch) -> list[str]:
    """Stand in for dihub.http.redact (no test secret leaks into the process-wide redactor)
    and record what is registered."""
    return fake_redactor(monkeypatch)


def cred_file():
    return secrets.credentials_path()


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keyring_round_trip(memory, registered):
    assert secrets.get_secret("github") is None
    assert secrets.set_secret("github", "token", VALUE) == "keyring"
    assert memory.store == {("dihub", "github:token"): VALUE}
    assert secrets.get_secret("github", "token") == (VALUE, "keyring")
    assert secrets.get_secret("jira", "token") is None          # per source
    assert not cred_file().exists()                              # never plaintext
    assert secrets.delete_secret("github", "token") is True
    assert secrets.delete_secret("github", "token") is False
    assert secrets.get_secret("github") is None
    assert registered == [VALUE, VALUE]                          # stored, then read


def test_env_var_wins_over_keyring_and_file(memory, monkeypatch, registered):
    secrets.set_secret("github", "token", "keyring-value-1")
    monkeypatch.setenv("DIHUB_TEST_TOKEN", " env-value-12345\n")
    assert secrets.get_secret("github", env_var="DIHUB_TEST_TOKEN") == ("env-value-12345", "env")
    assert registered[-1] == "env-value-12345"
    monkeypatch.setenv("DIHUB_TEST_TOKEN", "")                    # empty: not set
    assert secrets.get_secret("github", env_var="DIHUB_TEST_TOKEN") == ("keyring-value-1",
                                                                        "keyring")
    assert secrets.get_secret("github") == ("keyring-value-1", "keyring")


@pytest.mark.parametrize("backend", [fail.Keyring, null.Keyring])
def test_headless_refuses_without_opt_in(backend):
    keyring.set_keyring(backend())
    with pytest.raises(AuthError, match="no usable keyring backend") as err:
        secrets.set_secret("slack", "token", VALUE)
    assert "--insecure-store-file" in err.value.hint
    assert VALUE not in str(err.value) + err.value.hint
    assert not cred_file().exists()
    assert secrets.get_secret("slack") is None


def test_empty_chainer_counts_as_headless(monkeypatch):
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    keyring.set_keyring(chainer.ChainerBackend())
    assert secrets.usable_keyring() is None
    with pytest.raises(AuthError, match="no usable keyring backend"):
        secrets.set_secret("jira", "token", VALUE)


def test_opt_in_file_is_private_and_read_back(headless, registered):
    old = os.umask(0)               # even a permissive umask must not widen the mode
    try:
        assert secrets.set_secret("github", "token", VALUE, allow_file=True) == "file"
        assert secrets.set_secret("jira", "token", "jira-secret-99", allow_file=True) == "file"
    finally:
        os.umask(old)
    path = cred_file()
    assert path.name == "credentials.json"
    assert mode(path) == 0o600
    assert json.loads(path.read_text())["secrets"] == {"github:token": VALUE,
                                                       "jira:token": "jira-secret-99"}
    assert [p.name for p in path.parent.iterdir()] == ["credentials.json"]   # no temp left
    registered.clear()
    assert secrets.get_secret("github") == (VALUE, "file")
    assert registered == [VALUE]
    assert secrets.delete_secret("github") is True
    assert secrets.get_secret("github") is None
    assert secrets.get_secret("jira") == ("jira-secret-99", "file")
    assert secrets.delete_secret("jira") is True
    assert not path.exists()


def test_world_readable_file_is_refused(headless):
    secrets.set_secret("github", "token", VALUE, allow_file=True)
    os.chmod(cred_file(), 0o644)
    with pytest.raises(AuthError, match="readable by other users") as err:
        secrets.get_secret("github")
    assert "0644" in str(err.value) and "chmod 600" in err.value.hint
    assert VALUE not in str(err.value) + err.value.hint
    assert mode(cred_file()) == 0o644                # left alone: the user must act


def test_group_readable_file_is_refused(headless):
    secrets.set_secret("github", "token", VALUE, allow_file=True)
    os.chmod(cred_file(), 0o640)
    with pytest.raises(AuthError, match="readable by other users"):
        secrets.get_secret("github")


def test_other_loose_bits_are_repaired_on_read(headless):
    secrets.set_secret("github", "token", VALUE, allow_file=True)
    os.chmod(cred_file(), 0o700)
    assert secrets.get_secret("github") == (VALUE, "file")
    assert mode(cred_file()) == 0o600


def test_symlinked_file_is_refused(headless, tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"version": 1, "secrets": {"github:token": VALUE}}))
    os.chmod(target, 0o600)
    cred_file().parent.mkdir(parents=True)
    cred_file().symlink_to(target)
    with pytest.raises(AuthError, match="cannot open the credentials file"):
        secrets.get_secret("github")


def test_corrupt_file_error_does_not_echo_content(headless):
    cred_file().parent.mkdir(parents=True)
    fd = os.open(cred_file(), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, f'{{"secrets": {{"github:token": "{VALUE}"'.encode())   # truncated JSON
    os.close(fd)
    with pytest.raises(AuthError, match="not valid dihub JSON") as err:
        secrets.get_secret("github")
    assert VALUE not in str(err.value)
    assert err.value.__context__ is None and err.value.__cause__ is None   # no JSONDecodeError


def test_keyring_store_removes_stale_plaintext_copy(tmp_path):
    keyring.set_keyring(fail.Keyring())
    secrets.set_secret("github", "token", "old-file-token-1", allow_file=True)
    use_memory_keyring()
    assert secrets.get_secret("github") == ("old-file-token-1", "file")   # keyring empty
    assert secrets.set_secret("github", "token", VALUE) == "keyring"
    assert not cred_file().exists()
    assert secrets.get_secret("github") == (VALUE, "keyring")


def test_locked_keyring_errors_never_contain_the_secret():
    keyring.set_keyring(LockedKeyring())
    with pytest.raises(AuthError, match="refused to store") as err:
        secrets.set_secret("github", "token", VALUE)
    assert VALUE not in f"{err.value} {err.value.hint} {err.value!r}"
    assert err.value.__context__ is None
    with pytest.raises(AuthError, match="could not read"):
        secrets.get_secret("github")


def test_secret_repr_hides_the_value(memory):
    secrets.set_secret("github", "token", VALUE)
    found = secrets.get_secret("github")
    value, where = found
    assert (value, where) == (VALUE, "keyring") and found.value == VALUE
    assert VALUE not in repr(found) and VALUE not in str(found)
    assert VALUE not in repr([found]) and VALUE not in f"{found}"


def test_check_storable(memory):
    assert secrets.check_storable("github") == "keyring"
    keyring.set_keyring(fail.Keyring())
    assert secrets.check_storable("github", allow_file=True) == "file"
    with pytest.raises(AuthError):
        secrets.check_storable("github")


@pytest.mark.parametrize("source, name", [("", "token"), ("git:hub", "token"),
                                          ("github", "a/b"), ("github", "")])
def test_invalid_key_parts(memory, source, name):
    with pytest.raises(ValueError):
        secrets.get_secret(source, name)


def test_empty_value_is_refused(memory):
    with pytest.raises(AuthError, match="empty"):
        secrets.set_secret("github", "token", "  \n")
    assert memory.store == {}


def test_config_dir_default_is_platformdirs(monkeypatch):
    from platformdirs import user_config_dir

    monkeypatch.delenv("DIHUB_CONFIG_DIR")
    assert str(secrets.config_dir()) == user_config_dir("dihub", appauthor=False)
