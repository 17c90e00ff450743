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


class LeaseLost(TemporaryError):
    """A checkpoint or state write carried a lease that has since passed to another run
    (exit 75): the write was refused and the partition stops without writing more."""

    def __init__(self, what: str, owner: str, generation: int, holder: str | None = None,
                 holder_generation: int | None = None):
        now = (f"it is now held by {holder} (generation {holder_generation})" if holder
               else "it has been released or taken over since")
        super().__init__(
            f"{what}: this run lost its lease ({owner}, generation {generation}); {now}. "
            "Nothing more was written for it",
            hint="The lease expired while this run was slow (raise lease_ttl_s if that is "
                 "common) or another run took it over; from cron, the next run continues "
                 "from the last checkpoint the lease holder saved (exit 75).")
        self.owner, self.generation = owner, generation
        self.holder, self.holder_generation = holder, holder_generation


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
    return mongo_error(exc)


# Server error codes that say "try again later": interrupted or stepped-down primaries,
# exceeded time limits, write-concern timeouts, transient resource limits.
_TEMPORARY_CODES = frozenset({
    6, 7, 89, 91, 189, 262, 9001,         # host unreachable/not found, network, shutdown
    10107, 11600, 11602, 13435, 13436,    # not primary, interrupted at shutdown/stepdown
    50, 64, 202, 290,                     # MaxTimeMSExpired, WriteConcernFailed/timeout
    112, 117, 251, 16500,                 # write conflict, conflicting op, no such txn, 16500
    133, 134, 150, 10058, 11601,          # no primary, read concern, interrupted
})
_TEMPORARY_LABELS = ("RetryableWriteError", "TransientTransactionError",
                     "ResetPool", "SystemOverloadedError", "RetryableError")


def _is_temporary(exc: BaseException) -> bool:
    from pymongo.errors import (
        BulkWriteError,
        ConnectionFailure,
        ExecutionTimeout,
        OperationFailure,
        PyMongoError,
        WriteConcernError,
        WTimeoutError,
    )

    if isinstance(exc, ConnectionFailure | ExecutionTimeout | WTimeoutError |
                  WriteConcernError):
        return True
    if isinstance(exc, PyMongoError):
        if getattr(exc, "timeout", False):       # client-side timeoutMS expired
            return True
        if any(exc.has_error_label(label) for label in _TEMPORARY_LABELS):
            return True
    if isinstance(exc, BulkWriteError):
        details = exc.details or {}
        errors = details.get("writeErrors") or []
        if details.get("writeConcernErrors") and not errors:
            return True
        return bool(errors) and all(e.get("code") in _TEMPORARY_CODES for e in errors)
    if isinstance(exc, OperationFailure):
        return exc.code in _TEMPORARY_CODES
    return False


def mongo_error(exc: BaseException) -> DihubError:
    """The DihubError for a pymongo exception: temporary (exit 75) when the server is
    unreachable, slow (timeoutMS, wtimeout), stepping down, or labels the error as
    retryable, or when the write concern was not satisfied; a failure (exit 1) otherwise."""
    from pymongo.errors import ConnectionFailure, DocumentTooLarge, OperationFailure

    detail = str(exc).split(", Timeout:", 1)[0].split("\n", 1)[0][:300]
    if isinstance(exc, ConnectionFailure):
        return TemporaryError(
            f"the MongoDB store is unreachable: {detail}",
            hint="Check that the server named by store.uri (or DIHUB_STORE_URI) is up and "
                 "reachable; from cron, the next run retries (exit 75).")
    if _is_temporary(exc):
        return TemporaryError(
            f"the MongoDB store did not complete a write or read in time "
            f"({type(exc).__name__}): {detail}",
            hint="The server is slow, electing a primary, or could not confirm the write "
                 "concern (w) in time; from cron, the next run continues from the last "
                 "checkpoint (exit 75). Timeouts can be raised in store.uri "
                 "(timeoutMS, wTimeoutMS, serverSelectionTimeoutMS).")
    if isinstance(exc, OperationFailure) and exc.code == 13:
        return FatalError(
            f"the MongoDB user is not allowed to do this ({detail})",
            hint="`fetch`, `status`, `audit` and `metrics` need the read role only; `sync` "
                 "needs readWrite on the database (it creates the indexes and writes "
                 "records, state and audit entries).")
    if isinstance(exc, DocumentTooLarge):
        return FatalError(f"MongoDB store error: a document is over 16 MiB ({detail})")
    return FatalError(f"MongoDB store error ({type(exc).__name__}): {detail}")
