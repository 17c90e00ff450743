"""Store contract, sync state and leases (every backend in conftest)."""

from __future__ import annotations

import threading

import pytest

from dihub.errors import EXIT_TEMPFAIL, LeaseHeld
from dihub.models import SyncState

KEY = ("github", "commits", "octo-org/octo-repo")


def state(**fields) -> SyncState:
    return SyncState(source="github", stream="commits", partition="octo-org/octo-repo",
                     **fields)


# -- sync state ------------------------------------------------------------------------


def test_missing_state_is_none(store):
    assert store.get_state(*KEY) is None
    assert store.list_states() == []


@pytest.mark.parametrize("cursor", [
    None, "2026-01-02T03:04:05Z", 42, 1.5, ["a", 1],
    {"since": "2026-01-01T00:00:00Z", "page": 3, "seen": ["x", "y"], "nested": {"k": None}},
])
def test_state_round_trips_any_json_cursor(store, cursor):
    saved = state(cursor=cursor, etags={"page1": 'W/"abc"'}, last_sync_at="2026-01-02T00:00:00Z",
                  last_success_at="2026-01-01T00:00:00Z", status="partial", error="boom")
    store.put_state(saved)
    assert store.get_state(*KEY) == saved


def test_put_state_replaces_the_whole_state(store):
    store.put_state(state(cursor={"a": 1}, etags={"x": "1"}, status="failed", error="boom"))
    replacement = state(cursor="next", status="ok")
    store.put_state(replacement)
    assert store.get_state(*KEY) == replacement   # etags and error were replaced, not merged


def test_list_states_sorted_and_filtered_by_source(store):
    wanted = [SyncState(source=src, stream=stream, partition=part)
              for src, stream, part in [("jira", "issues", "P"), ("github", "commits", "b/r"),
                                        ("github", "commits", "a/r"), ("github", "builds", "a")]]
    for s in wanted:
        store.put_state(s)
    keys = [(s.source, s.stream, s.partition) for s in store.list_states()]
    assert keys == [("github", "builds", "a"), ("github", "commits", "a/r"),
                    ("github", "commits", "b/r"), ("jira", "issues", "P")]
    assert [s.partition for s in store.list_states(source="jira")] == ["P"]
    assert store.list_states(source="slack") == []


def test_put_state_keeps_the_lease_and_is_fenced_by_it(store):
    lease = store.acquire_lease(*KEY, owner="run-A", ttl_s=600)
    held = store.get_state(*KEY)
    assert (lease.owner, lease.generation, lease.until) == ("run-A", held.lease_generation,
                                                            held.lease_until)
    store.put_state(state(cursor="c2", status="running", lease_owner="run-B",
                          lease_until="2099-01-01T00:00:00Z"), lease=lease)
    after = store.get_state(*KEY)
    assert after.cursor == "c2"
    assert (after.lease_owner, after.lease_until) == ("run-A", held.lease_until)
    # Without the lease, nobody writes over a live lease.
    with pytest.raises(LeaseHeld):
        store.put_state(state(cursor="stale", status="failed"))
    with pytest.raises(LeaseHeld):
        store.acquire_lease(*KEY, owner="run-B", ttl_s=600)
    assert store.get_state(*KEY).cursor == "c2"


def test_put_state_does_not_create_a_lease(store):
    store.put_state(state(lease_owner="run-B", lease_until="2099-01-01T00:00:00Z"))
    assert store.get_state(*KEY).lease_owner is None
    store.acquire_lease(*KEY, owner="run-A", ttl_s=600)   # free: nobody ever acquired it


# -- leases ----------------------------------------------------------------------------


def test_free_lease_is_granted_and_visible_in_the_state(store):
    store.acquire_lease(*KEY, owner="run-A", ttl_s=600)
    got = store.get_state(*KEY)
    assert got.lease_owner == "run-A"
    assert got.lease_until > "2026"
    assert (got.cursor, got.status) == (None, "never")   # a fresh state


def test_acquiring_keeps_the_stored_state(store):
    store.put_state(state(cursor={"page": 7}, status="ok"))
    store.acquire_lease(*KEY, owner="run-A", ttl_s=600)
    got = store.get_state(*KEY)
    assert (got.cursor, got.status, got.lease_owner) == ({"page": 7}, "ok", "run-A")


def test_lease_held_by_another_owner_raises_naming_the_holder(store):
    store.acquire_lease(*KEY, owner="host1:pid42", ttl_s=600)
    until = store.get_state(*KEY).lease_until
    with pytest.raises(LeaseHeld) as err:
        store.acquire_lease(*KEY, owner="host2:pid7", ttl_s=600)
    assert err.value.holder == "host1:pid42"
    assert err.value.until == until
    assert "host1:pid42" in str(err.value) and "octo-org/octo-repo" in str(err.value)
    assert err.value.exit_code == EXIT_TEMPFAIL
    assert store.get_state(*KEY).lease_owner == "host1:pid42"


def test_expired_lease_is_taken_over(store):
    store.acquire_lease(*KEY, owner="run-A", ttl_s=0)   # expires at once
    store.acquire_lease(*KEY, owner="run-B", ttl_s=600)
    assert store.get_state(*KEY).lease_owner == "run-B"


def test_owner_renews_its_own_lease(store):
    store.acquire_lease(*KEY, owner="run-A", ttl_s=60)
    first = store.get_state(*KEY).lease_until
    store.acquire_lease(*KEY, owner="run-A", ttl_s=7200)
    renewed = store.get_state(*KEY)
    assert renewed.lease_owner == "run-A" and renewed.lease_until > first


def test_release_by_owner_frees_and_by_others_does_nothing(store):
    store.acquire_lease(*KEY, owner="run-A", ttl_s=600)
    store.release_lease(*KEY, owner="run-B")
    assert store.get_state(*KEY).lease_owner == "run-A"
    with pytest.raises(LeaseHeld):
        store.acquire_lease(*KEY, owner="run-B", ttl_s=600)
    store.release_lease(*KEY, owner="run-A")
    released = store.get_state(*KEY)
    assert (released.lease_owner, released.lease_until) == (None, None)
    store.acquire_lease(*KEY, owner="run-B", ttl_s=600)
    assert store.get_state(*KEY).lease_owner == "run-B"
    store.release_lease("github", "commits", "never-leased", owner="run-B")   # no-op, no error
    assert store.get_state("github", "commits", "never-leased") is None


def test_leases_are_per_partition(store):
    store.acquire_lease(*KEY, owner="run-A", ttl_s=600)
    store.acquire_lease("github", "commits", "other/repo", owner="run-B", ttl_s=600)
    store.acquire_lease("github", "issues", KEY[2], owner="run-B", ttl_s=600)
    assert store.get_state("github", "commits", "other/repo").lease_owner == "run-B"


def test_racing_owners_never_both_win(backend):
    """Two threads, each with its own store (for SQLite: its own connection), race 20 times."""
    if backend.name == "mongomock":
        pytest.skip("mongomock's find_one_and_update is a non-atomic find-then-update; the "
                    "atomicity this checks is the server's (run with DIHUB_TEST_MONGODB_URI)")
    stores = [backend.open(), backend.open()]
    barrier = threading.Barrier(2)
    for round_no in range(20):
        partition = f"p{round_no}"
        winners, errors = [], []

        def contend(i, partition=partition, winners=winners, errors=errors):
            barrier.wait()
            try:
                stores[i].acquire_lease("github", "commits", partition, f"owner-{i}", 600)
                winners.append(f"owner-{i}")
            except LeaseHeld as exc:
                errors.append(exc)

        threads = [threading.Thread(target=contend, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1, f"round {round_no}: winners {winners}"
        assert len(errors) == 1 and errors[0].holder == winners[0]
        assert stores[0].get_state("github", "commits", partition).lease_owner == winners[0]
