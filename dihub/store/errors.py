"""Store failures as dihub errors: an unreachable MongoDB is temporary (exit 75)."""

from __future__ import annotations

from dihub.errors import DihubError, FatalError, TemporaryError


def store_error(exc: BaseException) -> DihubError | None:
    """The DihubError for a backend exception, or None when `exc` is not a store error."""
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
