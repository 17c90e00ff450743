"""Credentials for every source: environment, OS keyring, or an opt-in private file.

Lookup order for `get_secret(source, name, env_var)`:

1. the environment variable named in the source config (`token_env`) — for CI and cron;
2. the OS keyring: service ``dihub``, username ``<source>:<name>``;
3. ``credentials.json`` in the user config dir — only exists if someone opted in with
   ``allow_file=True`` (the CLI's ``--insecure-store-file``) on a machine without a keyring.

The file is created with mode 0600 and is refused if it is group/world-readable or owned by
someone else; it is never written silently. Every secret this module hands out or stores is
registered with the log redactor (``dihub.http.redact``) when that module is available.
Secret values never appear in exception messages or reprs.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, NamedTuple

import keyring
import keyring.errors
from keyring.backends import chainer, fail, null

from dihub.errors import AuthError

SERVICE = "dihub"
FILE_NAME = "credentials.json"
CONFIG_DIR_ENV = "DIHUB_CONFIG_DIR"
INSECURE_FLAG = "--insecure-store-file"
_FILE_VERSION = 1
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class Secret(NamedTuple):
    """`(value, where)`: unpacks like a tuple, but its repr never shows the value."""

    value: str
    where: str          # "env" | "keyring" | "file"

    def __repr__(self) -> str:
        return f"Secret(value='****', where={self.where!r})"

    __str__ = __repr__


# ---------------------------------------------------------------- public API


def get_secret(source: str, name: str = "token", env_var: str | None = None) -> Secret | None:
    """Return `(value, where)` for a source's secret, or None when none is stored anywhere."""
    username = _username(source, name)
    if env_var:
        value = os.environ.get(env_var, "").strip()
        if value:
            return _found(value, "env")
    backend = usable_keyring()
    if backend is not None:
        value, failure = _keyring_call(backend.get_password, SERVICE, username)
        if failure and not issubclass(failure, keyring.errors.NoKeyringError):
            raise AuthError(
                f"could not read the {source} {name} from the keyring ({failure.__name__})",
                hint="Unlock the keyring (e.g. log in to the desktop session) and retry, "
                     "or set the token's environment variable for this run.")
        if value:
            return _found(value, "keyring")
    value = _read_file().get(username)
    if value:
        return _found(value, "file")
    return None


def require_secret(source: str, name: str = "token", env_var: str | None = None, *,
                   what: str = "token", how: str = "") -> str:
    """The secret's value, or an AuthError saying how to provide it.

    `what` names it in the message ("GitHub token"); `how` follows `dihub auth <source>`
    in the hint (e.g. " to store a bot token (xoxb-...)").
    """
    found = get_secret(source, name, env_var=env_var)
    if found is not None:
        return found.value
    also = (f"set {env_var}" if env_var else
            "set `token_env` in the source config to a variable holding it")
    raise AuthError(f"no {what} for source '{source}'",
                    hint=f"run `dihub auth {source}`{how} or {also}")


def set_secret(source: str, name: str, value: str, allow_file: bool = False) -> str:
    """Store a secret; return where it went ("keyring" or "file").

    Without a usable keyring backend this raises AuthError unless `allow_file` is set, which
    writes it in plain text to a 0600 file in the user config dir.
    """
    username = _username(source, name)
    if not value or not value.strip():
        raise AuthError(f"refusing to store an empty {name} for source {source!r}")
    value = value.strip()
    register_for_redaction(value)
    backend = usable_keyring()
    if backend is not None:
        _, failure = _keyring_call(backend.set_password, SERVICE, username, value)
        if failure and not issubclass(failure, keyring.errors.NoKeyringError):
            raise AuthError(
                f"the keyring refused to store the {source} {name} ({failure.__name__})",
                hint="Unlock the keyring and retry; or pass " + INSECURE_FLAG
                     + " to keep it in a file readable only by you.")
        if not failure:
            _remove_from_file(username)     # no stale plaintext copy left behind
            return "keyring"
        # NoKeyringError at call time: no keyring after all; the opt-in file may take it
    if not allow_file:
        raise _no_keyring(source, name)
    _write_file_entry(username, value)
    return "file"


def check_storable(source: str, name: str = "token", allow_file: bool = False) -> str:
    """Where `set_secret` would store this secret ("keyring" or "file"); AuthError if nowhere.

    Login flows call this first, so nobody authorizes in a browser only to learn that the
    token cannot be kept.
    """
    _username(source, name)
    if usable_keyring() is not None:
        return "keyring"
    if allow_file:
        return "file"
    raise _no_keyring(source, name)


def _no_keyring(source: str, name: str) -> AuthError:
    return AuthError(
        f"no usable keyring backend to store the {source} {name} "
        "(headless machine, or no Secret Service/Keychain available)",
        hint=f"Set the token in an environment variable named by `token_env` in the source "
             f"config (best for CI and cron), install a keyring backend, or opt in to "
             f"plain-text storage in {credentials_path()} (mode 0600, readable only by you) "
             f"with {INSECURE_FLAG}.",
    )


def register_for_redaction(value: str) -> None:
    """Tell the log redactor about a secret (`dihub.http.redact`, when it is installed)."""
    try:
        from dihub.http.redact import register_secret
    except ImportError:
        return
    register_secret(value)


def delete_secret(source: str, name: str = "token") -> bool:
    """Remove a secret from the keyring and the file; True if anything was removed.

    A value coming from an environment variable is not ours to delete.
    """
    username = _username(source, name)
    removed = False
    backend = usable_keyring()
    if backend is not None:
        value, failure = _keyring_call(backend.get_password, SERVICE, username)
        if value is not None and not failure:
            _, failure = _keyring_call(backend.delete_password, SERVICE, username)
            removed = not failure
        if failure and not issubclass(failure, (keyring.errors.NoKeyringError,
                                                keyring.errors.PasswordDeleteError)):
            raise AuthError(
                f"could not delete the {source} {name} from the keyring ({failure.__name__})",
                hint="Unlock the keyring and retry.")
    return _remove_from_file(username) or removed


def _keyring_call(fn: Any, *args: str) -> tuple[Any, type[Exception] | None]:
    """(result, None), or (None, the error's class) when the keyring raised.

    Callers raise their AuthError outside the `except`, so no backend exception (whose
    arguments might include what was being stored) rides along as __context__.
    """
    try:
        return fn(*args), None
    except keyring.errors.KeyringError as exc:
        return None, type(exc)


def usable_keyring() -> Any | None:
    """The active keyring backend, or None when it cannot really store anything.

    `fail.Keyring` raises on every call, a chainer without backends and `null.Keyring`
    silently drop what they are given; all three mean "no keyring here".
    """
    try:
        backend = keyring.get_keyring()
    except Exception:   # a broken backend config must not crash credential lookup
        return None
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("dihub", appauthor=False))


def credentials_path() -> Path:
    return config_dir() / FILE_NAME


# ---------------------------------------------------------------- helpers


def _username(source: str, name: str) -> str:
    for part, what in ((source, "source"), (name, "secret name")):
        if not isinstance(part, str) or not _PART.fullmatch(part):
            raise ValueError(f"invalid {what} {part!r} for a credential key")
    return f"{source}:{name}"


def _found(value: str, where: str) -> Secret:
    register_for_redaction(value)
    return Secret(value, where)


_POSIX = os.name == "posix"


def _read_file() -> dict[str, str]:
    path = credentials_path()
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise AuthError(f"cannot open the credentials file {path}: {exc.strerror}",
                        hint="It must be a regular file (not a symlink) owned by you.") from None
    with os.fdopen(fd, "r", encoding="utf-8") as fh:
        _check_mode(fh.fileno(), path)
        text = fh.read()
    secrets = _parse_file(text)
    if secrets is None:
        # raised outside any `except`: a chained JSONDecodeError would carry the text
        raise AuthError(f"the credentials file {path} is not valid dihub JSON",
                        hint="Delete it and log in again with `dihub auth <source>`.")
    return secrets


def _parse_file(text: str) -> dict[str, str] | None:
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return None
    secrets = data.get("secrets", {}) if isinstance(data, dict) else None
    if not isinstance(secrets, dict):
        return None
    return {str(k): str(v) for k, v in secrets.items() if v}


def _check_mode(fd: int, path: Path) -> None:
    """Refuse a file others can read or that is not ours; repair any other loose bit."""
    if not _POSIX:
        return
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise AuthError(f"the credentials file {path} is not a regular file")
    if st.st_uid != os.getuid():
        raise AuthError(f"the credentials file {path} is owned by another user (uid {st.st_uid})",
                        hint="Delete it and log in again; only your own 0600 file is read.")
    mode = stat.S_IMODE(st.st_mode)
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        raise AuthError(
            f"refusing to read {path}: it is readable by other users (mode {mode:04o})",
            hint=f"The stored tokens may have been exposed: revoke them, then `chmod 600 {path}` "
                 "or delete the file and log in again.",
        )
    if mode != 0o600:
        os.fchmod(fd, 0o600)


def _write_file_entry(username: str, value: str) -> None:
    secrets = _read_file()
    secrets[username] = value
    _write_file(secrets)


def _remove_from_file(username: str) -> bool:
    path = credentials_path()
    if not path.exists():
        return False
    secrets = _read_file()
    if username not in secrets:
        return False
    del secrets[username]
    if secrets:
        _write_file(secrets)
    else:
        path.unlink()
    return True


def _write_file(secrets: dict[str, str]) -> None:
    """Write atomically: a 0600 temp file in the same dir, fsync, rename over the old one."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    payload = json.dumps({"version": _FILE_VERSION, "secrets": secrets}, indent=2) + "\n"
    fd, tmp = _open_private_temp(path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _open_private_temp(directory: Path) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        name = str(directory / f".{FILE_NAME}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(name, flags, 0o600)
        except FileExistsError:
            continue
        if _POSIX:
            os.fchmod(fd, 0o600)    # exact mode whatever the umask
        return fd, name
    raise AuthError(f"could not create a temporary file in {directory}")
