"""Open the configured store: MongoDB when a mongodb:// URI is set, else embedded SQLite."""

from __future__ import annotations

from pathlib import Path

from dihub.errors import ConfigError


def default_sqlite_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("dihub", appauthor=False)) / "dihub.db"


def open_store(uri: str | None):
    """`None` or `sqlite:///path` → SQLiteStore; `mongodb://` or `mongodb+srv://` → MongoStore."""
    if not uri:
        from dihub.store.sqlite import SQLiteStore

        return SQLiteStore(default_sqlite_path())
    if uri.startswith("sqlite:///"):
        from dihub.store.sqlite import SQLiteStore

        return SQLiteStore(Path(uri[len("sqlite:///"):]).expanduser())
    if uri.startswith(("mongodb://", "mongodb+srv://")):
        from dihub.store.mongo import MongoStore

        return MongoStore(uri)
    raise ConfigError(
        "unsupported store URI scheme",
        key="store.uri",
        hint="Use mongodb://host:27017/dbname, sqlite:///path/to/file.db, or omit it for the "
             "embedded store.",
    )
