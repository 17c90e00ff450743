"""Store contract: lease generations and fencing, server-side lease clock, newest-wins
upserts, capped raw payloads, opaque cursors (every backend in conftest)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dihub.errors import EXIT_TEMPFAIL, LeaseHeld
from dihub.models import AuditEntry, SyncState
from dihub.store.errors import LeaseLost
from dihub.store.keyset import RAW_PAYLOAD_LIMIT, TRUNCATED_MARK
from dihub.timeutil import utcnow

KEY = ("github", "commits", "octo-org/octo-repo")


def state(**fields) -> SyncState:
    return SyncState(source=KEY[0], stream=KEY[1], partition=KEY[2], **fields)


# -- lease generations and fencing -----------------------------------------------------


def test_each_new_owner_gets_the_next_generation_and_renewal_keeps_it(store):
    first = store.acquire_lease(*KEY, owner="run-A", ttl_s=600)
    again = store.acquire_lease(*KEY, owner="run-A", ttl_s=600)
    assert again.generation == first.generation
    renewed = store.renew_lease(first, ttl_s=1200)
    assert (renewed.owner, renewed.generation) == ("run-A", first.generation)
    assert renewed.until > first.until
    store.release_lease(*KEY, owner="run-A")
    second = store.acquire_lease(*KEY, owner="run-B", ttl_s=600)
    assert second.generation == first.generation + 1
    assert store.get_state(*KEY).lease_generation == second.generation


def test_a_checkpoint_under_a_lost_lease_is_refused_and_changes_nothing(store):
    """The loser's failure path must not write a stale cursor over the winner's."""
    loser = store.acquire_lease(*KEY, owner="run-A", ttl_s=0)      # expires at once
    store.put_state(state(cursor="A-1", status="running"), lease=loser)
    winner = store.acquire_lease(*KEY, owner="run-B", ttl_s=600)   # takes it over
    store.put_state(state(cursor="B-9", status="running"), lease=winner)
    with pytest.raises(LeaseLost) as err:
        store.put_state(state(cursor="A-2", status="failed", error="boom"), lease=loser)
    assert err.value.exit_code == EXIT_TEMPFAIL
    assert "run-A" in str(err.value) and "run-B" in str(err.value)
    with pytest.raises(LeaseLost):
        store.renew_lease(loser, ttl_s=600)
    got = store.get_state(*KEY)
    assert (got.cursor, got.status, got.lease_owner) == ("B-9", "running", "run-B")


def test_the_same_owner_string_with_an_old_generation_is_refused(store):
    old = store.acquire_lease(*KEY, owner="run-A", ttl_s=600)
    store.release_lease(*KEY, owner="run-A")
    new = store.acquire_lease(*KEY, owner="run-A", ttl_s=600)
    assert new.generation > old.generation
    with pytest.raises(LeaseLost):
        store.put_state(state(cursor="stale"), lease=old)
    store.put_state(state(cursor="fresh"), lease=new)
    assert store.get_state(*KEY).cursor == "fresh"


def test_a_host_whose_clock_runs_15_minutes_ahead_cannot_take_a_live_lease(backend):
    """Lease expiry is judged by the store's clock, not by the caller's."""
    honest = backend.open()
    ahead = backend.open(clock=lambda: utcnow() + timedelta(minutes=15))
    behind = backend.open(clock=lambda: utcnow() - timedelta(minutes=15))
    lease = honest.acquire_lease(*KEY, owner="honest", ttl_s=600)      # 10 minutes
    for skewed, owner in ((ahead, "ahead"), (behind, "behind")):
        with pytest.raises(LeaseHeld) as err:
            skewed.acquire_lease(*KEY, owner=owner, ttl_s=600)
        assert err.value.holder == "honest"
        with pytest.raises(LeaseHeld):
            skewed.put_state(state(cursor=f"from {owner}"))
    honest.put_state(state(cursor="mine"), lease=lease)
    assert (ahead.get_state(*KEY).lease_owner, ahead.get_state(*KEY).cursor) == ("honest",
                                                                                 "mine")
    # And the lease a skewed host takes lasts its ttl on the store's clock.
    taken = behind.acquire_lease("github", "commits", "other", owner="behind", ttl_s=600)
    assert taken.until > (utcnow() + timedelta(minutes=9)).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- concurrent writers: newest wins ---------------------------------------------------


def test_an_older_version_never_replaces_a_newer_one(store, make_record):
    store.upsert_many([make_record("c1", "2026-01-05T00:00:00Z", signature="v5", title="new")])
    older = make_record("c1", "2026-01-02T00:00:00Z", signature="v2", title="old")
    assert store.upsert_many([older]).unchanged == 1
    [stored] = store.query("commits").records
    assert (stored["title"], stored["raw_signature"]) == ("new", "v5")
    same_time = make_record("c1", "2026-01-05T00:00:00Z", signature="v5b", title="relabel")
    assert store.upsert_many([same_time]).updated == 1       # not older: written
    newer = make_record("c1", "2026-01-09T00:00:00Z", signature="v9", title="newest")
    assert store.upsert_many([newer]).updated == 1
    assert store.query("commits").records[0]["title"] == "newest"


# -- the 16 MiB document limit ---------------------------------------------------------


def test_an_oversized_raw_payload_is_truncated_and_the_entry_says_so(store):
    big = '{"items": [' + ",".join(['"' + "x" * 1000 + '"'] * 17 * 1024) + "]}"
    assert len(big) > 16 * 1024 * 1024
    store.append_audit(AuditEntry(run_id="r", source="gh", action="page", outcome="ok",
                                  timestamp="2126-01-01T00:00:00Z", payload_size=len(big),
                                  detail={"page": 3}, raw_payload=big))
    store.append_audit(AuditEntry(run_id="r", source="gh", action="page", outcome="ok",
                                  timestamp="2126-01-01T00:00:01Z", raw_payload="{}"))
    small, capped = store.query_audit()
    assert small.raw_payload == "{}" and small.detail is None
    assert capped.raw_payload.endswith(TRUNCATED_MARK)
    assert big.startswith(capped.raw_payload[:-len(TRUNCATED_MARK)])
    assert len(capped.raw_payload.encode()) <= RAW_PAYLOAD_LIMIT + len(TRUNCATED_MARK)
    assert capped.detail == {"page": 3, "raw_payload_truncated": {
        "bytes": len(big), "kept_bytes": RAW_PAYLOAD_LIMIT}}
    assert capped.payload_size == len(big)


# -- opaque state ----------------------------------------------------------------------


def test_cursor_and_etags_with_dotted_and_dollar_keys_round_trip(store):
    saved = state(cursor={"1700000000.123456": {"thread.ts": "1700000001.000200"},
                          "release/v1.2": "abc", "$where": 1, "a.b": [{"c.d": None}]},
                  etags={"https://api.github.com/repos/o/r/commits?sha=v1.2&page=2": 'W/"e"'})
    store.put_state(saved)
    assert store.get_state(*KEY) == saved
    assert store.list_states() == [saved]
    lease = store.acquire_lease(*KEY, owner="run-A", ttl_s=600)
    got = store.get_state(*KEY)
    assert (got.cursor, got.etags) == (saved.cursor, saved.etags)
    store.put_state(state(cursor={"x.y": 2}, etags={}), lease=lease)
    assert store.get_state(*KEY).cursor == {"x.y": 2}
