"""Store failures as dihub errors, each naming the store and what to do.

An unreachable MongoDB, or an embedded store locked by another process for
longer than the busy timeout, is temporary (exit 75: the next cron run
retries). A damaged, unreadable or read-only SQLite file is a failure (exit 1)
that a person must fix; the hint says how.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dihub.errors import DihubError, FatalError, TemporaryError

CHECK_HINT = (
    "Run `dihub store check` to see what is damaged. Then restore the file from a backup, "
    "or point store.uri (or DIHUB_STORE_URI) at a new file and rebuild it with "
    "`dihub sync SOURCE --full-refresh` for each source.")


class StoreDamaged(FatalError):
    """The embedded store's file is corrupt or not a SQLite database (exit 1)."""


class StoreNotWritable(FatalError):
    """The embedded store's file or folder is read-only for this user (exit 1)."""


def _where(path: Path | str | None) -> str:
    return f"the embedded store {path}" if path else "the embedded store"


def sqlite_error(exc: sqlite3.Error, path: Path | str | None = None) -> DihubError:
    """The DihubError for an sqlite3 exception raised on the store file `path`."""
    where = _where(path)
    detail = str(exc).split("\n", 1)[0][:300] or type(exc).__name__
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == sqlite3.SQLITE_NOTADB:
        return StoreDamaged(
            f"{where} is not a SQLite database ({detail})",
            hint="Check that store.uri (or DIHUB_STORE_URI) names the right file. If it "
                 "does, the file is destroyed: move it away, then restore a backup or rebuild "
                 "it with `dihub sync SOURCE --full-refresh` for each source.")
    if primary == sqlite3.SQLITE_CORRUPT:
        return StoreDamaged(f"{where} is damaged ({detail})", hint=CHECK_HINT)
    if primary == sqlite3.SQLITE_READONLY:
        return StoreNotWritable(
            f"{where} is not writable ({detail})",
            hint="Make the file and its folder writable by the user running dihub (SQLite "
                 "writes the -wal and -shm files next to it), or point store.uri at a "
                 "writable file.")
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return TemporaryError(
            f"{where} is locked by another process ({detail})",
            hint="Another dihub run (or a sqlite3 shell) kept a write lock longer than the "
                 "busy timeout; from cron, the next run retries (exit 75).")
    if primary == sqlite3.SQLITE_FULL:
        return FatalError(
            f"{where} cannot grow: the disk is full ({detail})",
            hint="Free space on that disk, then run again: nothing past the last checkpoint "
                 "was lost.")
    if primary in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        return FatalError(
            f"cannot open {where}: {detail}",
            hint="Check that its folder exists and is writable, or set store.uri (or "
                 "DIHUB_STORE_URI) to another sqlite:///path or a mongodb:// URI.")
    if primary == sqlite3.SQLITE_IOERR:
        return FatalError(f"I/O error on {where} ({detail})",
                          hint="Check the disk (dmesg), then run `dihub store check`.")
    return FatalError(f"{where}: {type(exc).__name__}: {detail}",
                      hint="Run `dihub store check`; run with -v for the traceback.")


def store_error(exc: BaseException) -> DihubError | None:
    """The DihubError for a backend exception, or None when `exc` is not a store error."""
    if isinstance(exc, sqlite3.Error):
        return sqlite_error(exc)
    if not type(exc).__module__.startswith("pymongo"):
        return None
    from pymongo.errors import ConnectionFailure

    detail = str(exc).split(", Timeout:", 1)[0].split("\n", 1)[0][:300]
    if isinstance(exc, ConnectionFailure):
        return TemporaryError(
            f"the MongoDB store is unreachable: {detail}",
            hint="Check that the server named by store.uri (or DIHUB_STORE_URI) is up and "
                 "reachable; from cron, the next run retries (exit 75).")
    return FatalError(f"MongoDB store error ({type(exc).__name__}): {detail}")
