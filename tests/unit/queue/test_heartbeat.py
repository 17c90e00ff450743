"""Lease heartbeats and fencing in the engine (SQLite): a pass keeps its lease through a
wait longer than the TTL; a pass that lost its lease writes no record and no checkpoint."""

from __future__ import annotations

import threading
import time

from dihub.config import Settings
from dihub.connectors.stream import Page, Stream
from dihub.engine.runner import Heartbeat, PassOptions, Runner, lease_owner
from dihub.errors import LeaseHeld
from dihub.models import SyncState, User
from dihub.store.errors import LeaseLost
from dihub.store.sqlite import SQLiteStore

TTL = 1.5


def _norm(raw, ctx, partition):
    return User(source=ctx.source, source_id=str(raw["id"]), user_id=str(raw["id"]),
                source_user_id=str(raw["id"]), login=f"u{raw['id']}",
                updated_at="2026-01-01T00:00:00Z")


def _stream(fetch) -> Stream:
    return Stream(name="people", entity="users", fetch=fetch, normalize=_norm,
                  partitions=lambda ctx: ["*"])


def test_a_pass_keeps_its_lease_through_a_wait_longer_than_the_ttl(tmp_path):
    """A rate-limit pause of 2 TTLs between two pages: another host cannot take the
    partition meanwhile, and the pass ends with every page written."""
    store = SQLiteStore(tmp_path / "s.db")
    other = SQLiteStore(tmp_path / "s.db")          # another host's handle on the store
    refused = []

    def fetch(ctx, partition, state):
        yield Page([{"id": i} for i in range(5)], cursor=1)
        deadline = time.monotonic() + 2 * TTL       # e.g. waiting for a quota reset
        while time.monotonic() < deadline:
            try:
                other.acquire_lease("src", "people", "*", "host-b pid 1 run x", TTL)
            except LeaseHeld as err:
                refused.append(err.holder)
            time.sleep(TTL / 4)
        yield Page([{"id": i} for i in range(5, 10)], cursor=2)

    runner = Runner(store, "src", None, Settings(),
                    options=PassOptions(batch_size=10, lease_ttl_s=TTL))
    [result] = runner.run_stream(_stream(fetch))
    assert result.outcome == "ok", result.error
    assert len(refused) >= 6 and set(refused) == {runner.owner}
    assert store.count("users", "src") == 10
    state = store.get_state("src", "people", "*")
    assert (state.cursor, state.status, state.lease_generation) == (2, "ok", 1)
    store.close()
    other.close()


def test_a_pass_whose_heartbeats_failed_and_whose_lease_was_taken_writes_nothing_more(
        tmp_path):
    """The store did not answer the heartbeats (a network partition) long enough for the
    lease to expire; another host took the partition over and checkpointed. When this
    pass comes back with a page, it writes neither its records nor its checkpoint."""
    store = SQLiteStore(tmp_path / "s.db")
    other = SQLiteStore(tmp_path / "s.db")
    real_renew = store.renew_lease
    partitioned = threading.Event()

    def renew(lease, ttl_s):
        if partitioned.is_set():
            raise OSError("network is unreachable")
        return real_renew(lease, ttl_s)

    store.renew_lease = renew

    def fetch(ctx, partition, state):
        yield Page([{"id": i} for i in range(5)], cursor=1)
        partitioned.set()
        time.sleep(TTL + 0.5)                           # the lease expires meanwhile
        lease = other.acquire_lease("src", "people", "*", "host-b pid 1 run b", 600)
        other.put_state(SyncState(source="src", stream="people", partition="*",
                                  cursor="b's", status="running"), lease=lease)
        partitioned.clear()
        yield Page([{"id": i} for i in range(5, 10)], cursor=2)   # the stale page
        yield Page([{"id": i} for i in range(10, 15)], cursor=3)

    runner = Runner(store, "src", None, Settings(),     # every page written at once
                    options=PassOptions(batch_size=10, lease_ttl_s=TTL, checkpoint_s=0))
    [result] = runner.run_stream(_stream(fetch))
    assert result.outcome == "failed" and isinstance(result.error, LeaseLost)
    assert store.count("users", "src") == 5             # the stale page was not written
    state = store.get_state("src", "people", "*")
    assert (state.cursor, state.status, state.lease_owner) == ("b's", "running",
                                                               "host-b pid 1 run b")
    [sync] = [a for a in store.query_audit(source="src") if a.action == "sync"]
    assert sync.outcome == "failed" and sync.detail["owner"] == runner.owner
    store.close()
    other.close()


def test_the_heartbeat_says_when_the_lease_passed_on_and_refuses_to_renew_after(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    box = [store.acquire_lease("src", "people", "*", "run-a", 0.3)]
    with Heartbeat(store, box, 0.3, "src/people") as beat:
        deadline = time.monotonic() + 5
        while beat.beats < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert beat.beats >= 2 and beat.lost is None
    time.sleep(0.5)                                      # no heartbeat now: it expires
    store.acquire_lease("src", "people", "*", "run-b", 60)
    with Heartbeat(store, box, 0.3, "src/people") as beat:
        deadline = time.monotonic() + 5
        while beat.lost is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert isinstance(beat.lost, LeaseLost)
    try:
        beat.renew()
    except LeaseLost:
        pass
    else:
        raise AssertionError("a lost lease was renewed")
    store.close()


def test_dihub_hostname_names_the_host_of_a_lease(monkeypatch):
    monkeypatch.setenv("DIHUB_HOSTNAME", "worker-7")
    assert lease_owner("r1").startswith("worker-7 pid ")
