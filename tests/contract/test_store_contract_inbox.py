"""Store contract: the webhook inbox of `dihub serve` (every backend).

A delivery goes in once (a retry of the same source and delivery id is a duplicate),
is claimed by one worker at a time for `claim_s`, finishes done / pending (retry at
`next_attempt_ts`) / failed, can be replayed, and is purged after its TTL. The store
never keeps a signature, a token or a cookie header, whatever the caller passes.
Times are epoch seconds chosen by the test (the caller's clock, as the worker's).
"""

from __future__ import annotations

import threading

import pytest

T0 = 1_800_000_000.0


def delivery(n: int, *, source: str = "gh", kind: str = "github", ts: float | None = None,
             delivery_id: str | None = None, headers: dict | None = None,
             body: bytes | None = None) -> dict:
    return {"kind": kind, "source": source, "delivery_id": delivery_id or f"d-{n}",
            "event": "workflow_run", "received_ts": T0 + n if ts is None else ts,
            "headers": {"x-github-event": "workflow_run", "x-github-delivery": f"d-{n}"}
            if headers is None else headers,
            "body": body if body is not None else b'{"n": %d}' % n}


def put_many(store, count: int, **kw) -> list[int]:
    """Put `count` deliveries; their ids, oldest first."""
    for n in range(count):
        assert store.inbox_put(delivery(n, **kw)) is True
    return [d["id"] for d in reversed(store.inbox_list(limit=count))]


def threaded(backend) -> None:
    if backend.name == "mongomock":
        pytest.skip("mongomock is not thread-safe: its find_one_and_update is no atomic "
                    "operation (the sqlite and real-server legs run this)")


def done(d: dict, now: float, drop_body: bool = False) -> dict:
    return {"id": d["id"], "status": "done", "attempts": d["attempts"] + 1,
            "processed_ts": now, "drop_body": drop_body}


def retry(d: dict, next_ts: float, error: str = "KeyError: 'x'") -> dict:
    return {"id": d["id"], "status": "pending", "attempts": d["attempts"] + 1,
            "next_attempt_ts": next_ts, "error": error}


def gave_up(d: dict, now: float, error: str = "ValueError: bad") -> dict:
    return {"id": d["id"], "status": "failed", "attempts": d["attempts"] + 1,
            "next_attempt_ts": now, "error": error}


# -- enqueue -----------------------------------------------------------------------------


def test_an_empty_inbox_answers_before_anything_was_put(store):
    assert store.inbox_list() == []
    assert store.inbox_list(failed=True) == []
    assert store.inbox_get(1) is None
    assert store.inbox_stats(T0) == {"pending": 0, "done": 0, "failed": 0,
                                     "oldest_pending_age_s": 0.0}
    assert store.inbox_claim(T0, 10, 60, "w1") == []
    assert store.inbox_replay(1, T0) is False
    assert store.inbox_purge(T0) == 0


def test_a_delivery_round_trips(store):
    body = b'{"action": "completed", "text": "caf\xc3\xa9"}\x00\xff'   # bytes as received
    headers = {"x-github-event": "workflow_run", "x-github-delivery": "abc",
               "content-type": "application/json"}
    assert store.inbox_put(delivery(1, delivery_id="abc", headers=headers, body=body)) is True
    [listed] = store.inbox_list()
    got = store.inbox_get(listed["id"])
    assert got == {"id": listed["id"], "kind": "github", "source": "gh", "delivery_id": "abc",
                   "event": "workflow_run", "received_ts": T0 + 1, "status": "pending",
                   "attempts": 0, "next_attempt_ts": T0 + 1, "processed_ts": None,
                   "error": None, "headers": headers, "body": body}
    assert isinstance(got["body"], bytes)
    assert "body" not in listed and listed["has_body"] is True
    assert {k: v for k, v in listed.items() if k != "has_body"} == {
        k: v for k, v in got.items() if k != "body"}


def test_ids_grow_and_lists_are_newest_first(store):
    ids = put_many(store, 5)
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [d["delivery_id"] for d in store.inbox_list()] == [f"d-{n}" for n in (4, 3, 2, 1, 0)]
    assert [d["delivery_id"] for d in store.inbox_list(limit=2)] == ["d-4", "d-3"]
    assert store.inbox_stats(T0 + 10) == {"pending": 5, "done": 0, "failed": 0,
                                          "oldest_pending_age_s": 10.0}


def test_a_duplicate_delivery_is_stored_once(store):
    assert store.inbox_put(delivery(1, delivery_id="same")) is True
    assert store.inbox_put(delivery(2, delivery_id="same", body=b'{"other": 1}')) is False
    [only] = store.inbox_list()
    assert store.inbox_get(only["id"])["body"] == b'{"n": 1}'       # the first one is kept
    # the same id from another source is another delivery
    assert store.inbox_put(delivery(3, delivery_id="same", source="gh2")) is True
    assert store.inbox_stats(T0)["pending"] == 2


def test_a_duplicate_of_a_processed_delivery_is_not_queued_again(store):
    store.inbox_put(delivery(1))
    [d] = store.inbox_claim(T0 + 1, 10, 60, "w1")
    store.inbox_finish([done(d, T0 + 2)])
    assert store.inbox_put(delivery(1)) is False
    assert store.inbox_claim(T0 + 3, 10, 60, "w1") == []
    assert store.inbox_stats(T0 + 3)["done"] == 1


def test_concurrent_puts_of_one_delivery_store_it_once(backend):
    """The same delivery retried by the sender while the first request is in flight,
    answered by two connections (two server processes)."""
    threaded(backend)
    stores = [backend.open() for _ in range(4)]
    # Every connection opened first, one by one: the race under test is the put. (Four
    # connections turning a brand-new SQLite file to WAL at the same instant can fail
    # with "database is locked"; the server opens its two connections in turn.)
    for s in stores:
        s.inbox_stats(T0)
    results: list[bool] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def put(s) -> None:
        barrier.wait()
        try:
            for n in range(20):
                results.append(s.inbox_put(delivery(n)))
        except BaseException as exc:      # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert results.count(True) == 20 and results.count(False) == 60
    assert stores[0].inbox_stats(T0)["pending"] == 20
    listed = stores[0].inbox_list()
    assert sorted(d["delivery_id"] for d in listed) == sorted(f"d-{n}" for n in range(20))
    assert len({d["id"] for d in listed}) == 20                    # one number each


def test_concurrent_puts_of_distinct_deliveries_get_distinct_ids(backend):
    threaded(backend)
    stores = [backend.open() for _ in range(4)]
    for s in stores:                      # connections opened one by one (see below)
        s.inbox_stats(T0)
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def put(i: int, s) -> None:
        barrier.wait()
        try:
            for n in range(15):
                assert s.inbox_put(delivery(100 * i + n)) is True
        except BaseException as exc:      # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(i, s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    ids = [d["id"] for d in stores[0].inbox_list(limit=1000)]
    assert len(ids) == 60 and len(set(ids)) == 60
    assert ids == sorted(ids, reverse=True)


# -- no secrets ---------------------------------------------------------------------------


def test_no_signature_token_or_cookie_header_is_stored(store):
    headers = {"X-Hub-Signature-256": "sha256=" + "a" * 64, "X-Hub-Signature": "sha1=b",
               "X-Slack-Signature": "v0=c", "Authorization": "Bearer t", "Cookie": "s=1",
               "Proxy-Authorization": "Basic x", "X-Atlassian-Token": "no-check",
               "X-GitHub-Event": "push", "x-github-delivery": "d-1",
               "Content-Type": "application/json"}
    store.inbox_put(delivery(1, headers=headers))
    [listed] = store.inbox_list()
    for d in (listed, store.inbox_get(listed["id"]), *store.inbox_claim(T0 + 5, 1, 60, "w")):
        assert {k.lower() for k in d["headers"]} == {"x-github-event", "x-github-delivery",
                                                     "content-type"}
        assert d["headers"]["X-GitHub-Event"] == "push"


# -- claims -------------------------------------------------------------------------------


def test_claims_are_oldest_first_bounded_and_only_due(store):
    ids = put_many(store, 5)
    assert [d["id"] for d in store.inbox_claim(T0 + 2, 10, 60, "w1")] == ids[:3]   # due ones
    assert [d["id"] for d in store.inbox_claim(T0 + 10, 1, 60, "w1")] == ids[3:4]
    [last] = store.inbox_claim(T0 + 10, 10, 60, "w1")
    assert last["id"] == ids[4] and last["body"] == b'{"n": 4}' and last["attempts"] == 0
    assert store.inbox_claim(T0 + 10, 10, 60, "w1") == []


def test_a_claimed_delivery_is_not_claimed_again_until_its_claim_expires(backend):
    a, b = backend.open(), backend.open()
    put_many(a, 3)
    mine = a.inbox_claim(T0 + 10, 2, 60, "worker-a")
    assert len(mine) == 2
    theirs = b.inbox_claim(T0 + 20, 10, 60, "worker-b")
    assert [d["delivery_id"] for d in theirs] == ["d-2"]
    assert b.inbox_claim(T0 + 69, 10, 60, "worker-b") == []       # a's claim holds
    # worker-a died: its claim expires after claim_s and the deliveries are taken again
    again = b.inbox_claim(T0 + 71, 10, 60, "worker-b")
    assert [d["delivery_id"] for d in again] == ["d-0", "d-1"]
    assert all(d["status"] == "pending" and d["attempts"] == 0 for d in again)


def test_concurrent_workers_never_claim_the_same_delivery(backend):
    threaded(backend)
    stores = [backend.open() for _ in range(4)]
    put_many(stores[0], 120)
    for s in stores:
        s.inbox_stats(T0)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def work(i: int, s) -> None:
        mine = claimed.setdefault(f"w{i}", [])
        barrier.wait()
        try:
            while batch := s.inbox_claim(T0 + 500, 7, 60, f"w{i}"):
                mine += [d["id"] for d in batch]
                s.inbox_finish([done(d, T0 + 501) for d in batch])
        except BaseException as exc:      # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == 120 and len(set(every)) == 120
    assert stores[0].inbox_stats(T0 + 502) == {"pending": 0, "done": 120, "failed": 0,
                                               "oldest_pending_age_s": 0.0}


# -- outcomes -----------------------------------------------------------------------------


def test_done_failed_and_retry_outcomes(store):
    put_many(store, 4)
    a, b, c, d = store.inbox_claim(T0 + 10, 10, 60, "w1")
    store.inbox_finish([done(a, T0 + 11), done(b, T0 + 11, drop_body=True),
                        retry(c, T0 + 40), gave_up(d, T0 + 11)])
    got = {x["delivery_id"]: store.inbox_get(x["id"]) for x in (a, b, c, d)}
    assert got["d-0"]["status"] == "done" and got["d-0"]["attempts"] == 1
    assert got["d-0"]["processed_ts"] == T0 + 11 and got["d-0"]["body"] == b'{"n": 0}'
    assert got["d-0"]["error"] is None
    assert got["d-1"]["status"] == "done" and got["d-1"]["body"] is None
    assert got["d-2"]["status"] == "pending" and got["d-2"]["attempts"] == 1
    assert got["d-2"]["next_attempt_ts"] == T0 + 40 and got["d-2"]["error"] == "KeyError: 'x'"
    assert got["d-2"]["processed_ts"] is None
    assert got["d-3"]["status"] == "failed" and got["d-3"]["error"] == "ValueError: bad"
    assert store.inbox_stats(T0 + 20) == {"pending": 1, "done": 2, "failed": 1,
                                          "oldest_pending_age_s": 18.0}
    # the retry is not due before its time, and then comes with its attempt count
    assert store.inbox_claim(T0 + 39, 10, 60, "w1") == []
    [again] = store.inbox_claim(T0 + 40, 10, 60, "w2")
    assert again["delivery_id"] == "d-2" and again["attempts"] == 1
    assert again["error"] == "KeyError: 'x'"
    store.inbox_finish([retry(again, T0 + 100, "KeyError: 'y'")])
    [again] = store.inbox_claim(T0 + 100, 10, 60, "w2")
    assert again["attempts"] == 2
    store.inbox_finish([done(again, T0 + 101)])
    assert store.inbox_get(again["id"])["attempts"] == 3
    assert store.inbox_claim(T0 + 10_000, 10, 60, "w3") == []      # done and failed stay put


def test_list_failed_and_by_status(store):
    put_many(store, 5)
    a, b, c, d, e = store.inbox_claim(T0 + 10, 10, 60, "w1")
    store.inbox_finish([done(a, T0 + 11), retry(b, T0 + 40), gave_up(c, T0 + 11),
                        gave_up(d, T0 + 11)])          # e stays claimed, pending, no error

    def ids(**kw):
        return [x["delivery_id"] for x in store.inbox_list(**kw)]

    assert ids(failed=True) == ["d-3", "d-2", "d-1"]   # gave up, or waiting for a retry
    assert ids(status="failed") == ["d-3", "d-2"]
    assert ids(status="pending") == ["d-4", "d-1"]
    assert ids(status="done") == ["d-0"]
    assert ids(status="failed", failed=True) == ["d-3", "d-2"]
    assert ids(failed=True, limit=1) == ["d-3"]
    listed = store.inbox_list(failed=True)[0]
    assert listed["error"] == "ValueError: bad" and listed["has_body"] is True


def test_replay_queues_a_delivery_again_now(store):
    put_many(store, 3)
    a, b, c = store.inbox_claim(T0 + 10, 10, 60, "w1")
    store.inbox_finish([gave_up(a, T0 + 11), done(b, T0 + 11, drop_body=True),
                        done(c, T0 + 11)])
    assert store.inbox_replay(a["id"], T0 + 50) is True
    got = store.inbox_get(a["id"])
    assert got["status"] == "pending" and got["attempts"] == 0 and got["error"] is None
    assert got["next_attempt_ts"] == T0 + 50
    assert store.inbox_list(failed=True) == []
    assert store.inbox_replay(b["id"], T0 + 50) is False           # its body is gone
    assert store.inbox_get(b["id"])["status"] == "done"
    assert store.inbox_replay(10_000_000, T0 + 50) is False        # unknown
    assert store.inbox_replay(c["id"], T0 + 50) is True            # a processed one, again
    assert [d["id"] for d in store.inbox_claim(T0 + 49, 10, 60, "w1")] == []
    assert [d["id"] for d in store.inbox_claim(T0 + 50, 10, 60, "w1")] == [a["id"], c["id"]]


def test_replay_of_a_claimed_delivery_releases_its_claim(store):
    put_many(store, 1)
    [d] = store.inbox_claim(T0 + 10, 10, 60, "w1")
    assert store.inbox_replay(d["id"], T0 + 11) is True
    assert [x["id"] for x in store.inbox_claim(T0 + 11, 10, 60, "w2")] == [d["id"]]


# -- TTL ----------------------------------------------------------------------------------


def test_purge_deletes_processed_deliveries_older_than_the_cutoff(store):
    put_many(store, 5)
    a, b, c, d, e = store.inbox_claim(T0 + 10, 10, 60, "w1")
    store.inbox_finish([done(a, T0 + 100), done(b, T0 + 200), gave_up(c, T0 + 100),
                        retry(d, T0 + 150)])
    assert store.inbox_purge(T0 + 150) == 1                  # only a: done before the cutoff
    assert store.inbox_get(a["id"]) is None
    assert {x["delivery_id"] for x in store.inbox_list()} == {"d-1", "d-2", "d-3", "d-4"}
    assert store.inbox_purge(T0 + 150) == 0
    assert store.inbox_purge(T0 + 200) == 0                   # the cutoff is exclusive
    assert store.inbox_purge(T0 + 10_000) == 1                # b; failed and pending stay
    assert store.inbox_stats(T0 + 10_000)["done"] == 0
    # a purged delivery id may come again: the sender's retry after the TTL is new
    assert store.inbox_put(delivery(0)) is True


def test_the_inbox_survives_reopening(backend):
    first = backend.open()
    put_many(first, 2)
    [d, _] = first.inbox_claim(T0 + 10, 10, 60, "w1")
    first.inbox_finish([retry(d, T0 + 30)])
    first.close()
    second = backend.open()
    assert second.inbox_put(delivery(0)) is False
    assert second.inbox_stats(T0 + 20)["pending"] == 2
    assert second.inbox_get(d["id"])["attempts"] == 1


@pytest.mark.parametrize("count", [0, 1, 250])
def test_finish_accepts_any_batch_size(store, count):
    put_many(store, count)
    batch = store.inbox_claim(T0 + 1000, 500, 60, "w1")
    assert len(batch) == count
    store.inbox_finish([done(d, T0 + 1001) for d in batch])
    assert store.inbox_stats(T0 + 1001)["done"] == count


def test_put_many_answers_each_delivery_in_order(store):
    store.inbox_put(delivery(1))
    answers = store.inbox_put_many([delivery(0), delivery(1), delivery(2), delivery(0)])
    assert answers == [True, False, True, False]      # a duplicate within the batch too
    assert store.inbox_put_many([]) == []
    assert sorted(d["delivery_id"] for d in store.inbox_list()) == ["d-0", "d-1", "d-2"]
