"""Open the configured store: MongoDB when a mongodb:// URI is set, else embedded SQLite.

SQLite URIs read as in SQLAlchemy: `sqlite:///relative.db` (three slashes) is a
path relative to a base folder, `sqlite:////abs/path.db` (four) an absolute
path, `sqlite:///~/dihub.db` is under the home folder. The base folder of
`store.uri` in a config file is that file's folder, not the current directory
(cron runs elsewhere); the base of `DIHUB_STORE_URI` is the current directory,
since an environment variable has no file. With no URI, the store is
`dihub.db` in the user data dir.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dihub.errors import ConfigError

SQLITE_PREFIX = "sqlite:///"
MONGODB_SCHEMES = ("mongodb://", "mongodb+srv://")
STORE_URI_ENV = "DIHUB_STORE_URI"

_URI_HINT = ("Use sqlite:///relative/to/the/config/folder.db, sqlite:////absolute/path.db, "
             "mongodb://host:27017/dbname, or omit it for the embedded store in the user "
             "data dir.")


_DEFAULT_HINT = ("Set store.uri in the config to a file dihub may create, e.g. "
                 "sqlite:////var/lib/dihub/dihub.db (four slashes: absolute), or set "
                 f"{STORE_URI_ENV}.")


def default_sqlite_path() -> Path:
    """`dihub.db` in the user data dir (~/.local/share/dihub on Linux).

    Refuses (ConfigError naming store.uri) when that folder would have to be created under
    a home folder that does not exist (HOME=/nonexistent for system users in cron), or
    under a folder this user cannot write: dihub never creates a home folder tree."""
    from platformdirs import user_data_dir

    folder = Path(os.path.abspath(user_data_dir("dihub", appauthor=False)))
    home = Path(os.path.abspath(os.path.expanduser("~")))
    if folder.is_relative_to(home) and not home.is_dir():
        raise ConfigError(
            f"no store.uri is set, and the default store {folder / 'dihub.db'} is under the "
            f"home folder {home}, which does not exist; dihub does not create it",
            key="store.uri", hint=_DEFAULT_HINT)
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing != folder and not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"no store.uri is set, and the folder of the default store {folder} cannot be "
            f"created ({existing} is not writable)", key="store.uri", hint=_DEFAULT_HINT)
    return folder / "dihub.db"


def sqlite_path(uri: str | None, base_dir: str | os.PathLike | None = None) -> Path | None:
    """The absolute file a `sqlite:///` URI (or no URI) names; None for a MongoDB URI.

    `base_dir` anchors a relative path (default: the current directory).
    """
    if not uri:
        return Path(os.path.abspath(default_sqlite_path()))
    if uri.startswith(MONGODB_SCHEMES):
        return None
    if not uri.startswith(SQLITE_PREFIX):
        if uri.startswith("sqlite:"):
            raise ConfigError(
                f"{uri!r}: a SQLite URI has three slashes before a relative path and four "
                "before an absolute one", key="store.uri", hint=_URI_HINT)
        raise ConfigError("unsupported store URI scheme", key="store.uri", hint=_URI_HINT)
    rest = uri[len(SQLITE_PREFIX):]
    if "?" in rest:
        raise ConfigError(f"{uri!r}: SQLite URI options (?...) are not supported",
                          key="store.uri", hint="Remove everything from the '?'.")
    if rest in ("", ":memory:"):
        raise ConfigError(f"{uri!r}: the embedded store needs a file (an in-memory store "
                          "would keep nothing)", key="store.uri", hint=_URI_HINT)
    path = Path(rest).expanduser()
    if not path.is_absolute():
        path = Path(base_dir if base_dir is not None else os.getcwd()) / path
    return Path(os.path.abspath(path))


def open_store(uri: str | None, base_dir: str | os.PathLike | None = None, *,
               audit_retention_days: int | None = None):
    """`None` or `sqlite:///path` → SQLiteStore; `mongodb://` or `mongodb+srv://` → MongoStore.

    `base_dir` is the folder a relative `sqlite:///relative.db` is resolved in
    (default: the current directory); `store_base_dir(config)` gives the right one.
    `audit_retention_days` (store.audit_retention_days) sets MongoDB's audit TTL index.
    """
    path = sqlite_path(uri, base_dir)
    if path is not None:
        from dihub.store.sqlite import SQLiteStore

        return SQLiteStore(path)
    from dihub.store.mongo import MongoStore

    if audit_retention_days is None:
        return MongoStore(uri)
    return MongoStore(uri, audit_retention_days=audit_retention_days)


def store_base_dir(config: Any) -> Path:
    """Where a relative `store.uri` path of `config` (a dihub.config.Config) is resolved.

    The config file's folder (`config.base_dir`, as for every relative path in the
    file); the current directory when the URI comes from DIHUB_STORE_URI (which wins
    over the file) or there is no config file.
    """
    if os.environ.get(STORE_URI_ENV):
        return Path.cwd()
    base = getattr(config, "base_dir", None)
    if base is not None:
        return Path(base)
    path = getattr(config, "path", None)
    return Path(os.path.abspath(Path(path).expanduser())).parent if path else Path.cwd()


def open_configured_store(config: Any):
    """The store `config` (a dihub.config.Config) names, relative paths resolved as documented."""
    settings = config.settings.store
    try:
        return open_store(settings.uri, store_base_dir(config),
                          audit_retention_days=getattr(settings, "audit_retention_days", None))
    except ConfigError as err:
        raise _in_file(err, config) from None


def describe_store(uri: str | None, base_dir: str | os.PathLike | None = None) -> str:
    """One line naming the store without opening it and without credentials:
    `sqlite /abs/path/dihub.db` or `mongodb host:27017/dihub`."""
    path = sqlite_path(uri, base_dir)
    if path is not None:
        return f"sqlite {path}"
    from dihub.store.mongo import database_from_uri

    parts = urlsplit(uri)
    host = parts.netloc.rpartition("@")[2]          # drop user:password@
    scheme = parts.scheme if parts.scheme == "mongodb+srv" else "mongodb"
    return f"{scheme} {host}/{database_from_uri(uri)}"


def describe_configured_store(config: Any) -> str:
    """`describe_store` for the store `config` names (what `dihub status` shows)."""
    try:
        return describe_store(config.settings.store.uri, store_base_dir(config))
    except ConfigError as err:
        raise _in_file(err, config) from None


def _in_file(err: ConfigError, config: Any) -> ConfigError:
    """`err` naming the config file, when it names none and there is one."""
    path = getattr(config, "path", None)
    if err.path is not None or path is None:
        return err
    return ConfigError(err.detail, path=str(path), line=err.line, key=err.key, hint=err.hint)
