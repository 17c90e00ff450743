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
H = "api.github.com"           # the host the test credentials are bound to


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
    """Stand in for dihub.redact (no test secret leaks into the process-wide redactor)
    and record what is registered."""
    return fake_redactor(monkeypatch)


def cred_file():
    return secrets.credentials_path()


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keyring_round_trip(memory, registered):
    assert secrets.get_secret("github", host=H) is None
    assert secrets.set_secret("github", "token", VALUE, host=H) == "keyring"
    assert memory.store == {("dihub", "github:token@api.github.com"): VALUE,
                            ("dihub", "github:token:hosts"): '["api.github.com"]'}
    assert secrets.get_secret("github", "token", host=H) == (VALUE, "keyring")
    assert secrets.get_secret("jira", "token", host=H) is None          # per source
    assert not cred_file().exists()                              # never plaintext
    assert secrets.delete_secret("github", "token") is True
    assert secrets.delete_secret("github", "token") is False
    assert secrets.get_secret("github", host=H) is None
    assert registered == [VALUE, VALUE]                          # stored, then read


def test_env_var_wins_over_keyring_and_file(memory, monkeypatch, registered):
    secrets.set_secret("github", "token", "keyring-value-1", host=H)
    monkeypatch.setenv("DIHUB_TEST_TOKEN", " env-value-12345\n")
    assert secrets.get_secret("github", env_var="DIHUB_TEST_TOKEN", host=H) == (
        "env-value-12345", "env")
    assert registered[-1] == "env-value-12345"
    monkeypatch.setenv("DIHUB_TEST_TOKEN", "")                    # empty: not set
    assert secrets.get_secret("github", env_var="DIHUB_TEST_TOKEN", host=H) == (
        "keyring-value-1", "keyring")
    assert secrets.get_secret("github", host=H) == ("keyring-value-1", "keyring")


@pytest.mark.parametrize("backend", [fail.Keyring, null.Keyring])
def test_headless_refuses_without_opt_in(backend):
    keyring.set_keyring(backend())
    with pytest.raises(AuthError, match="no usable keyring backend") as err:
        secrets.set_secret("slack", "token", VALUE, host=H)
    assert "--insecure-store-file" in err.value.hint
    assert VALUE not in str(err.value) + err.value.hint
    assert not cred_file().exists()
    assert secrets.get_secret("slack", host=H) is None


def test_empty_chainer_counts_as_headless(monkeypatch):
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    keyring.set_keyring(chainer.ChainerBackend())
    assert secrets.usable_keyring() is None
    with pytest.raises(AuthError, match="no usable keyring backend"):
        secrets.set_secret("jira", "token", VALUE, host=H)


def test_opt_in_file_is_private_and_read_back(headless, registered):
    old = os.umask(0)               # even a permissive umask must not widen the mode
    try:
        assert secrets.set_secret("github", "token", VALUE, allow_file=True, host=H) == "file"
        assert secrets.set_secret("jira", "token", "jira-secret-99", allow_file=True,
                                  host=H) == "file"
    finally:
        os.umask(old)
    path = cred_file()
    assert path.name == "credentials.json"
    assert mode(path) == 0o600
    assert json.loads(path.read_text())["secrets"] == {
        "github:token@api.github.com": VALUE, "jira:token@api.github.com": "jira-secret-99"}
    assert [p.name for p in path.parent.iterdir()] == ["credentials.json"]   # no temp left
    registered.clear()
    assert secrets.get_secret("github", host=H) == (VALUE, "file")
    assert registered == [VALUE]
    assert secrets.delete_secret("github") is True
    assert secrets.get_secret("github", host=H) is None
    assert secrets.get_secret("jira", host=H) == ("jira-secret-99", "file")
    assert secrets.delete_secret("jira") is True
    assert not path.exists()


def test_world_readable_file_is_refused(headless):
    secrets.set_secret("github", "token", VALUE, allow_file=True, host=H)
    os.chmod(cred_file(), 0o644)
    with pytest.raises(AuthError, match="readable by other users") as err:
        secrets.get_secret("github", host=H)
    assert "0644" in str(err.value) and "chmod 600" in err.value.hint
    assert VALUE not in str(err.value) + err.value.hint
    assert mode(cred_file()) == 0o644                # left alone: the user must act


def test_group_readable_file_is_refused(headless):
    secrets.set_secret("github", "token", VALUE, allow_file=True, host=H)
    os.chmod(cred_file(), 0o640)
    with pytest.raises(AuthError, match="readable by other users"):
        secrets.get_secret("github", host=H)


def test_other_loose_bits_are_repaired_on_read(headless):
    secrets.set_secret("github", "token", VALUE, allow_file=True, host=H)
    os.chmod(cred_file(), 0o700)
    assert secrets.get_secret("github", host=H) == (VALUE, "file")
    assert mode(cred_file()) == 0o600


def test_symlinked_file_is_refused(headless, tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"version": 1, "secrets": {"github:token": VALUE}}))
    os.chmod(target, 0o600)
    cred_file().parent.mkdir(parents=True)
    cred_file().symlink_to(target)
    with pytest.raises(AuthError, match="cannot open the credentials file"):
        secrets.get_secret("github", host=H)


def test_corrupt_file_error_does_not_echo_content(headless):
    cred_file().parent.mkdir(parents=True)
    fd = os.open(cred_file(), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, f'{{"secrets": {{"github:token": "{VALUE}"'.encode())   # truncated JSON
    os.close(fd)
    with pytest.raises(AuthError, match="not valid dihub JSON") as err:
        secrets.get_secret("github", host=H)
    assert VALUE not in str(err.value)
    assert err.value.__context__ is None and err.value.__cause__ is None   # no JSONDecodeError


def test_keyring_store_removes_stale_plaintext_copy(tmp_path):
    keyring.set_keyring(fail.Keyring())
    secrets.set_secret("github", "token", "old-file-token-1", allow_file=True, host=H)
    use_memory_keyring()
    assert secrets.get_secret("github", host=H) == ("old-file-token-1", "file")  # keyring empty
    assert secrets.set_secret("github", "token", VALUE, host=H) == "keyring"
    assert not cred_file().exists()
    assert secrets.get_secret("github", host=H) == (VALUE, "keyring")


def test_locked_keyring_errors_never_contain_the_secret():
    keyring.set_keyring(LockedKeyring())
    with pytest.raises(AuthError, match="refused to store") as err:
        secrets.set_secret("github", "token", VALUE, host=H)
    assert VALUE not in f"{err.value} {err.value.hint} {err.value!r}"
    assert err.value.__context__ is None
    with pytest.raises(AuthError, match="could not read"):
        secrets.get_secret("github", host=H)


def test_secret_repr_hides_the_value(memory):
    secrets.set_secret("github", "token", VALUE, host=H)
    found = secrets.get_secret("github", host=H)
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
        secrets.get_secret(source, name, host=H)


def test_empty_value_is_refused(memory):
    with pytest.raises(AuthError, match="empty"):
        secrets.set_secret("github", "token", "  \n", host=H)
    assert memory.store == {}


def test_config_dir_default_is_platformdirs(monkeypatch):
    from platformdirs import user_config_dir

    monkeypatch.delenv("DIHUB_CONFIG_DIR")
    assert str(secrets.config_dir()) == user_config_dir("dihub", appauthor=False)


# ---------------------------------------------------------------- bound to a host (issue 8)
GHES = "ghe.example.com"


@pytest.mark.parametrize("url, host", [
    ("https://api.github.com", "api.github.com"),
    ("https://API.GitHub.com:443/", "api.github.com"),
    ("https://ghe.example.com/api/v3", "ghe.example.com"),
    ("http://127.0.0.1:8080/rest", "127.0.0.1:8080"),
    ("http://127.0.0.1:80", "127.0.0.1"),
    ("https://user:pw@acme.atlassian.net", "acme.atlassian.net"),
    ("https://[::1]:9000/api", "[::1]:9000"),
    ("slack.com", "slack.com"),
])
def test_host_of_a_base_url(url, host):
    assert secrets.host_of(url) == host


@pytest.mark.parametrize("url", ["", "https://", "https://host:notaport/", "https://u:p@:1/"])
def test_host_of_refuses_a_url_without_a_host_and_never_echoes_it(url):
    with pytest.raises(AuthError, match="no valid host") as err:
        secrets.host_of(url)
    assert "u:p" not in str(err.value) + (err.value.hint or "")


@pytest.mark.parametrize("store", ["keyring", "file"])
def test_token_for_another_host_is_refused_naming_both_hosts(store, registered):
    if store == "keyring":
        use_memory_keyring()
    else:
        keyring.set_keyring(fail.Keyring())
    assert secrets.set_secret("gh", "token", VALUE, allow_file=True, host=H) == store
    registered.clear()
    with pytest.raises(secrets.HostMismatch) as err:
        secrets.get_secret("gh", host=GHES)
    text = f"{err.value} {err.value.hint} {err.value!r}"
    assert H in str(err.value) and GHES in str(err.value)
    assert "`dihub auth gh`" in str(err.value)
    assert isinstance(err.value, AuthError) and err.value.exit_code == 1
    assert VALUE not in text and registered == []      # the value was never even read out
    with pytest.raises(secrets.HostMismatch):
        secrets.require_secret("gh", host=GHES, what="GitHub token")
    # the env var (token_env) is not bound: CI keeps working as it did
    os.environ["DIHUB_TEST_TOKEN"] = "ci-token-123456"
    try:
        assert secrets.get_secret("gh", env_var="DIHUB_TEST_TOKEN", host=GHES) == (
            "ci-token-123456", "env")
    finally:
        del os.environ["DIHUB_TEST_TOKEN"]
    assert secrets.get_secret("gh", host=H) == (VALUE, store)


def test_one_login_per_host_like_gh(memory):
    secrets.set_secret("gh", "token", VALUE, host=H)
    secrets.set_secret("gh", "token", "ghes-token-0001", host=GHES)
    assert secrets.get_secret("gh", host=H).value == VALUE
    assert secrets.get_secret("gh", host=GHES).value == "ghes-token-0001"
    assert secrets.stored_hosts("gh") == [H, GHES]
    with pytest.raises(secrets.HostMismatch) as err:
        secrets.get_secret("gh", host="other.example.com:8443")
    assert f"{H} and {GHES}" in str(err.value) and "other.example.com:8443" in str(err.value)
    assert secrets.delete_secret("gh") is True                 # logout: every host
    assert secrets.stored_hosts("gh") == [] and memory.store == {}
    assert secrets.get_secret("gh", host=H) is None


def test_mismatch_is_worded_from_the_keyring_list_only_for_entries_that_exist(memory):
    secrets.set_secret("gh", "token", VALUE, host=H)
    del memory.store[("dihub", f"gh:token@{H}")]           # removed behind dihub's back
    assert secrets.stored_hosts("gh") == []
    assert secrets.get_secret("gh", host=GHES) is None      # plain "not logged in"


@pytest.mark.parametrize("store", ["keyring", "file"])
def test_legacy_entry_without_a_host_is_refused_never_sent(store, registered):
    """Migration: what an older dihub stored under `<source>:<name>` is not used for any
    host; a new login replaces it and a logout removes it."""
    if store == "keyring":
        backend = use_memory_keyring()
        backend.store[("dihub", "gh:token")] = VALUE
    else:
        keyring.set_keyring(fail.Keyring())
        cred_file().parent.mkdir(parents=True)
        fd = os.open(cred_file(), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, json.dumps({"version": 1, "secrets": {"gh:token": VALUE}}).encode())
        os.close(fd)
    for host in (H, GHES):
        with pytest.raises(secrets.LegacyCredential) as err:
            secrets.get_secret("gh", host=host)
        assert host in str(err.value) and "`dihub auth gh`" in str(err.value)
        assert "older dihub" in str(err.value) and err.value.exit_code == 1
        assert VALUE not in f"{err.value} {err.value.hint}"
    assert registered == []
    # a new login binds the new token and drops the old entry
    secrets.set_secret("gh", "token", "new-token-0001", allow_file=True, host=GHES)
    assert secrets.get_secret("gh", host=GHES) == ("new-token-0001", store)
    with pytest.raises(secrets.HostMismatch):
        secrets.get_secret("gh", host=H)
    if store == "keyring":
        assert ("dihub", "gh:token") not in backend.store
    else:
        assert "gh:token" not in json.loads(cred_file().read_text())["secrets"]


def test_logout_removes_a_legacy_entry(memory):
    memory.store[("dihub", "gh:token")] = VALUE
    memory.store[("dihub", "jira:token")] = "other-source-token"
    assert secrets.delete_secret("gh") is True
    assert memory.store == {("dihub", "jira:token"): "other-source-token"}
    with pytest.raises(secrets.LegacyCredential):      # another source: untouched, refused
        secrets.get_secret("jira", host="acme.atlassian.net")


@pytest.mark.parametrize("host", ["", "a/b", "host:port", "user@host", "http://h"])
def test_invalid_hosts_are_not_keys(memory, host):
    with pytest.raises(ValueError):
        secrets.get_secret("gh", host=host)
