"""The engine under a lost lease, and MongoDB errors that are temporary (exit 75)."""

from __future__ import annotations

import pytest

from dihub.config import Settings
from dihub.connectors.stream import Page, Stream
from dihub.engine.runner import PassOptions, Runner
from dihub.errors import EXIT_FAILURE, EXIT_TEMPFAIL
from dihub.models import SyncState, User
from dihub.store.errors import LeaseLost, store_error
from dihub.store.sqlite import SQLiteStore


def _norm(raw, ctx, partition):
    return User(source=ctx.source, source_id=str(raw["id"]), user_id=str(raw["id"]),
                source_user_id=str(raw["id"]), login=f"u{raw['id']}",
                updated_at="2026-01-01T00:00:00Z")


def test_a_run_whose_lease_was_taken_over_stops_without_writing_more(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    requested = []

    def fetch(ctx, partition, state):
        for p in range(4):
            requested.append(p)
            if p == 2:
                # Meanwhile our lease expired and another run took it and checkpointed.
                store.release_lease("src", "people", "*", runner.owner)
                lease = store.acquire_lease("src", "people", "*", "other run", 600)
                store.put_state(SyncState(source="src", stream="people", partition="*",
                                          cursor="other's", status="running"), lease=lease)
            yield Page([{"id": p * 10 + i} for i in range(10)], cursor=p + 1)

    runner = Runner(store, "src", None, Settings(), options=PassOptions(batch_size=10))
    [result] = runner.run_stream(Stream(name="people", entity="users", fetch=fetch,
                                        normalize=_norm, partitions=lambda ctx: ["*"]))
    assert result.outcome == "failed" and isinstance(result.error, LeaseLost)
    assert result.error.exit_code == EXIT_TEMPFAIL
    assert requested == [0, 1, 2]                   # page 3 was never asked for
    state = store.get_state("src", "people", "*")
    assert (state.cursor, state.status, state.lease_owner) == ("other's", "running",
                                                               "other run")
    [sync] = [a for a in store.query_audit(source="src") if a.action == "sync"]
    assert sync.outcome == "failed" and "lost its lease" in sync.error
    store.close()


def _label(exc, label):
    exc._add_error_label(label)
    return exc


@pytest.mark.parametrize("make", [
    lambda e: e.WriteConcernError("waiting for replication timed out", 64,
                                  {"errInfo": {"wtimeout": True}}),
    lambda e: e.WTimeoutError("waiting for replication timed out", 64),
    lambda e: e.ExecutionTimeout("operation exceeded time limit", 50),
    lambda e: e.NetworkTimeout("timed out"),
    lambda e: _label(e.OperationFailure("not primary", 10107), "RetryableWriteError"),
    lambda e: _label(e.OperationFailure("something transient", 1), "RetryableWriteError"),
    lambda e: e.BulkWriteError({"writeErrors": [], "writeConcernErrors": [
        {"code": 64, "errmsg": "waiting for replication timed out"}], "nInserted": 3}),
    lambda e: e.OperationFailure("Primary stepped down", 189),
])
def test_write_concern_timeout_and_retryable_mongo_errors_are_temporary(make):
    import pymongo.errors

    err = store_error(make(pymongo.errors))
    assert err is not None and err.exit_code == EXIT_TEMPFAIL, err


def test_unauthorized_and_other_failures_are_not_temporary():
    import pymongo.errors

    err = store_error(pymongo.errors.OperationFailure("not authorized", 13))
    assert err.exit_code == EXIT_FAILURE and "readWrite" in err.hint
    err = store_error(pymongo.errors.OperationFailure("bad query", 2))
    assert err.exit_code == EXIT_FAILURE
