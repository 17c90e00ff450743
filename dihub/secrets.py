"""Credentials for every source: environment, OS keyring, or an opt-in private file.

Lookup order for `get_secret(source, name, env_var, host=...)`:

1. the environment variable named in the source config (`token_env`) — for CI and cron;
2. the OS keyring: service ``dihub``, username ``<source>:<name>@<host>``;
3. ``credentials.json`` in the user config dir — only exists if someone opted in with
   ``allow_file=True`` (the CLI's ``--insecure-store-file``) on a machine without a keyring.

A stored credential is bound to the upstream host it was issued for (`host_of(base_url)`:
scheme-less ``host[:port]``, like `gh` keeps one login per host). A lookup for another host
finds nothing and raises `HostMismatch`, which names both hosts: a config edit (or a
malicious config) that points a source at another host never sends it a stored token.
Which hosts hold a credential is kept next to it (keyring username
``<source>:<name>:hosts``, a JSON list; the file's keys say it themselves) only to word
that message. Entries stored by older versions under ``<source>:<name>`` record no host:
they are never sent anywhere (`LegacyCredential`: log in again), and a new login or a
logout removes them. The environment variable is not bound: it is whatever the person
running dihub put there for the configured `base_url`.

The file is created with mode 0600 and is refused if it is group/world-readable or owned by
someone else; it is never written silently. Every secret this module hands out or stores is
registered with the log redactor (``dihub.redact``) when that module is available.
Secret values never appear in exception messages or reprs.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from dihub.errors import AuthError

SERVICE = "dihub"
FILE_NAME = "credentials.json"
CONFIG_DIR_ENV = "DIHUB_CONFIG_DIR"
INSECURE_FLAG = "--insecure-store-file"
_FILE_VERSION = 1
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HOST = re.compile(r"(?:[a-z0-9][a-z0-9_.-]*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")
_INDEX = "hosts"            # `<source>:<name>:hosts`: the hosts holding that credential
_DEFAULT_PORTS = {"https": 443, "http": 80}


class HostMismatch(AuthError):
    """A credential is stored for this source, but for another host than the configured one."""

    def __init__(self, source: str, name: str, host: str, stored: list[str]):
        issued = " and ".join(stored)
        super().__init__(
            f"the stored {name} of source '{source}' was issued for {issued}, not for {host} "
            f"(where its base_url points now), so dihub does not send it there; run "
            f"`dihub auth {source}` to log in to {host}",
            hint=f"If base_url was changed by mistake, set it back to the {stored[0]} URL "
                 f"instead: the {issued} login is kept. In CI, the variable named by "
                 "`token_env` is used as is.")
        self.source, self.name, self.host, self.stored = source, name, host, stored


class LegacyCredential(AuthError):
    """A credential stored by an older dihub, without the host it was issued for."""

    def __init__(self, source: str, name: str, host: str):
        super().__init__(
            f"the stored {name} of source '{source}' was saved by an older dihub without the "
            f"host it was issued for, so it is not sent to {host}; run `dihub auth {source}` "
            f"to log in again (the new login is bound to {host} and replaces it)",
            hint=f"`dihub auth logout {source}` removes the old entry. In CI, set the variable "
                 "named by `token_env` instead.")
        self.source, self.name, self.host = source, name, host


class Secret(NamedTuple):
    """`(value, where)`: unpacks like a tuple, but its repr never shows the value."""

    value: str
    where: str          # "env" | "keyring" | "file"

    def __repr__(self) -> str:
        return f"Secret(value='****', where={self.where!r})"

    __str__ = __repr__


# ---------------------------------------------------------------- public API


def host_of(url: str) -> str:
    """The host a credential is bound to: `host[:port]` of a base URL, lower-case, without
    scheme, user info, path or the scheme's default port ("https://api.github.com" →
    "api.github.com", "http://127.0.0.1:8080/api" → "127.0.0.1:8080")."""
    text = (url or "").strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    hostname = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not hostname or port == -1:
        # the URL itself is not repeated: it might carry user info
        raise AuthError("the source's base_url has no valid host to bind a credential to",
                        hint="Set base_url to a URL such as https://HOST/...")
    if ":" in hostname:
        hostname = f"[{hostname}]"
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    return hostname if port is None or port == default else f"{hostname}:{port}"


def get_secret(source: str, name: str = "token", env_var: str | None = None, *,
               host: str) -> Secret | None:
    """Return `(value, where)` for a source's secret bound to `host`, or None when none is
    stored anywhere.

    Raises HostMismatch when the only stored ones are for other hosts, LegacyCredential
    when the only one was stored without a host; neither value is ever returned.
    """
    username = _username(source, name, host)
    if env_var:
        value = os.environ.get(env_var, "").strip()
        if value:
            return _found(value, "env")
    found = _lookup(source, name, username)
    if found is not None:
        return _found(*found)
    host = _host_part(host)
    others = [h for h in stored_hosts(source, name) if h != host]
    if others:
        raise HostMismatch(source, name, host, others)
    if _lookup(source, name, _username(source, name)) is not None:
        raise LegacyCredential(source, name, host)
    return None


def require_secret(source: str, name: str = "token", env_var: str | None = None, *,
                   host: str, what: str = "token", how: str = "") -> str:
    """The secret's value for `host`, or an AuthError saying how to provide it.

    `what` names it in the message ("GitHub token"); `how` follows `dihub auth <source>`
    in the hint (e.g. " to store a bot token (xoxb-...)").
    """
    found = get_secret(source, name, env_var=env_var, host=host)
    if found is not None:
        return found.value
    also = (f"set {env_var}" if env_var else
            "set `token_env` in the source config to a variable holding it")
    raise AuthError(f"no {what} for source '{source}'",
                    hint=f"run `dihub auth {source}`{how} or {also}")


def set_secret(source: str, name: str, value: str, allow_file: bool = False, *,
               host: str) -> str:
    """Store a secret bound to `host`; return where it went ("keyring" or "file").

    Without a usable keyring backend this raises AuthError unless `allow_file` is set, which
    writes it in plain text to a 0600 file in the user config dir. An entry an older dihub
    stored without a host is removed: this login replaces it.
    """
    username = _username(source, name, host)
    host = _host_part(host)
    legacy = _username(source, name)
    if not value or not value.strip():
        raise AuthError(f"refusing to store an empty {name} for source {source!r}")
    value = value.strip()
    register_for_redaction(value)
    backend = usable_keyring()
    if backend is not None:
        _, failure = _keyring_call(backend.set_password, SERVICE, username, value)
        if failure and not issubclass(failure, _keyring_errors().NoKeyringError):
            raise AuthError(
                f"the keyring refused to store the {source} {name} ({failure.__name__})",
                hint="Unlock the keyring and retry; or pass " + INSECURE_FLAG
                     + " to keep it in a file readable only by you.")
        if not failure:
            _index_update(backend, source, name, add=[host])
            _keyring_delete(backend, legacy)
            _remove_from_file([username, legacy])   # no stale plaintext copy left behind
            return "keyring"
        # NoKeyringError at call time: no keyring after all; the opt-in file may take it
    if not allow_file:
        raise _no_keyring(source, name)
    _write_file_entry(username, value, drop=legacy)
    return "file"


def stored_hosts(source: str, name: str = "token") -> list[str]:
    """The hosts a credential of this source is stored for (keyring and file), sorted.
    Never the values."""
    _username(source, name)
    hosts: set[str] = set()
    backend = usable_keyring()
    if backend is not None:
        for host in _index_read(backend, source, name):
            value, failure = _keyring_call(backend.get_password, SERVICE,
                                           _username(source, name, host))
            if value and not failure:
                hosts.add(host)
    prefix = f"{source}:{name}@"
    hosts.update(k[len(prefix):] for k in _read_file() if k.startswith(prefix))
    return sorted(hosts)


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
    """Tell the log redactor about a secret (`dihub.redact`, when it is installed)."""
    try:
        from dihub.redact import register_secret
    except ImportError:
        return
    register_secret(value)


def delete_secret(source: str, name: str = "token", *, host: str | None = None) -> bool:
    """Remove a source's secret from the keyring and the file, for every host it is stored
    for (and `host`, in case the keyring's list of hosts was lost) and the entry an older
    dihub stored without a host; True if anything was removed.

    A value coming from an environment variable is not ours to delete.
    """
    hosts = set(stored_hosts(source, name))
    if host is not None:
        hosts.add(_host_part(host))
    usernames = [_username(source, name)] + [_username(source, name, h) for h in sorted(hosts)]
    removed = False
    backend = usable_keyring()
    if backend is not None:
        for username in usernames:
            value, failure = _keyring_call(backend.get_password, SERVICE, username)
            if value is not None and not failure:
                _, failure = _keyring_call(backend.delete_password, SERVICE, username)
                removed = removed or not failure
            if failure and not issubclass(failure, (_keyring_errors().NoKeyringError,
                                                    _keyring_errors().PasswordDeleteError)):
                raise AuthError(
                    f"could not delete the {source} {name} from the keyring "
                    f"({failure.__name__})", hint="Unlock the keyring and retry.")
        _keyring_delete(backend, _index_username(source, name))
    return _remove_from_file(usernames) or removed


def _keyring_errors() -> Any:
    """keyring.errors, imported on first use: keyring and its backends take ~0.1 s to
    import, which a sync whose tokens all come from the environment does not pay."""
    import keyring.errors
    return keyring.errors


def _keyring_call(fn: Any, *args: str) -> tuple[Any, type[Exception] | None]:
    """(result, None), or (None, the error's class) when the keyring raised.

    Callers raise their AuthError outside the `except`, so no backend exception (whose
    arguments might include what was being stored) rides along as __context__.
    """
    try:
        return fn(*args), None
    except _keyring_errors().KeyringError as exc:
        return None, type(exc)


def usable_keyring() -> Any | None:
    """The active keyring backend, or None when it cannot really store anything.

    `fail.Keyring` raises on every call, a chainer without backends and `null.Keyring`
    silently drop what they are given; all three mean "no keyring here".
    """
    import keyring
    from keyring.backends import chainer, fail, null
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


def _username(source: str, name: str, host: str | None = None) -> str:
    """`<source>:<name>@<host>`; without a host, the key older versions stored under."""
    for part, what in ((source, "source"), (name, "secret name")):
        if not isinstance(part, str) or not _PART.fullmatch(part):
            raise ValueError(f"invalid {what} {part!r} for a credential key")
    if name == _INDEX:
        raise ValueError(f"{_INDEX!r} is reserved, not a secret name")
    return f"{source}:{name}" if host is None else f"{source}:{name}@{_host_part(host)}"


def _host_part(host: str) -> str:
    value = host.strip().lower() if isinstance(host, str) else ""
    if not _HOST.fullmatch(value):
        raise ValueError(f"invalid host {host!r} for a credential key (want host[:port])")
    return value


def _index_username(source: str, name: str) -> str:
    return f"{_username(source, name)}:{_INDEX}"


def _lookup(source: str, name: str, username: str) -> tuple[str, str] | None:
    """(value, "keyring" | "file") stored under `username`, or None."""
    backend = usable_keyring()
    if backend is not None:
        value, failure = _keyring_call(backend.get_password, SERVICE, username)
        if failure and not issubclass(failure, _keyring_errors().NoKeyringError):
            raise AuthError(
                f"could not read the {source} {name} from the keyring ({failure.__name__})",
                hint="Unlock the keyring (e.g. log in to the desktop session) and retry, "
                     "or set the token's environment variable for this run.")
        if value:
            return value, "keyring"
    value = _read_file().get(username)
    if value:
        return value, "file"
    return None


def _index_read(backend: Any, source: str, name: str) -> list[str]:
    """The hosts listed in the keyring for this credential (not secret: host names)."""
    text, failure = _keyring_call(backend.get_password, SERVICE, _index_username(source, name))
    if failure or not text:
        return []
    try:
        hosts = json.loads(text)
    except ValueError:
        return []
    if not isinstance(hosts, list):
        return []
    return [h for h in hosts if isinstance(h, str) and _HOST.fullmatch(h)]


def _index_update(backend: Any, source: str, name: str, *, add: list[str]) -> None:
    """Add hosts to the keyring's list. It only words HostMismatch: a failure is ignored."""
    hosts = sorted(set(_index_read(backend, source, name)) | set(add))
    _keyring_call(backend.set_password, SERVICE, _index_username(source, name),
                  json.dumps(hosts))


def _keyring_delete(backend: Any, username: str) -> None:
    value, failure = _keyring_call(backend.get_password, SERVICE, username)
    if value is not None and not failure:
        _keyring_call(backend.delete_password, SERVICE, username)


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


def _write_file_entry(username: str, value: str, drop: str | None = None) -> None:
    secrets = _read_file()
    secrets[username] = value
    secrets.pop(drop, None)
    _write_file(secrets)


def _remove_from_file(usernames: list[str]) -> bool:
    path = credentials_path()
    if not path.exists():
        return False
    secrets = _read_file()
    present = [u for u in usernames if u in secrets]
    if not present:
        return False
    for username in present:
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
