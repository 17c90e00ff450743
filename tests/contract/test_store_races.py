"""Two processes on one store: exact counts and newest-wins under interleaved writes,
and a lease contended by a process whose clock runs 15 minutes ahead.

Runs on a real SQLite file, and on a real MongoDB when DIHUB_TEST_MONGODB_URI is set
(mongomock lives in one process).
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from datetime import timedelta

import pytest

from tests.contract.conftest import MONGODB_URI_ENV, record, with_database

IDS = 200
CHUNK = 7


def _open(spec, skew_minutes=0):
    from dihub.timeutil import utcnow

    def clock():
        return utcnow() + timedelta(minutes=skew_minutes)

    kind, where = spec
    if kind == "sqlite":
        from dihub.store.sqlite import SQLiteStore

        return SQLiteStore(where, clock=clock)
    from dihub.store.mongo import MongoStore

    return MongoStore(where, clock=clock)


def _writer(spec, version, barrier, out):
    """Write IDS records, CHUNK at a time, all with `version`'s updated_at and signature."""
    store = _open(spec)
    updated = f"2026-01-0{version}T00:00:00Z"
    docs = [record(f"c{i}", updated, signature=f"v{version}", version=version)
            for i in range(IDS)]
    totals = [0, 0, 0]
    barrier.wait()
    for start in range(0, IDS, CHUNK):
        result = store.upsert_many(docs[start:start + CHUNK])
        totals[0] += result.inserted
        totals[1] += result.updated
        totals[2] += result.unchanged
    store.close()
    out.put((version, totals))


def _contender(spec, skew_minutes, barrier, out):
    from dihub.errors import LeaseHeld

    store = _open(spec, skew_minutes)
    barrier.wait()
    won = []
    for round_no in range(10):
        try:
            store.acquire_lease("gh", "commits", f"p{round_no}", f"skew{skew_minutes}", 600)
            won.append(round_no)
        except LeaseHeld:
            pass
    store.close()
    out.put((skew_minutes, won))


@pytest.fixture(params=["sqlite", "mongodb"])
def spec(request, tmp_path):
    if request.param == "sqlite":
        yield ("sqlite", str(tmp_path / "dihub.db"))
        return
    uri = os.environ.get(MONGODB_URI_ENV)
    if not uri:
        pytest.skip(f"set {MONGODB_URI_ENV} to race two processes on a real MongoDB")
    import pymongo

    database = f"dihub_test_{uuid.uuid4().hex[:16]}"
    yield ("mongodb", with_database(uri, database))
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    client.drop_database(database)
    client.close()


def _run(target, args_list):
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(len(args_list)), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, out)) for args in args_list]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    return results


def test_two_writers_count_each_record_once_and_the_newest_version_wins(spec):
    _open(spec).close()      # create the file/schema first, outside the race
    totals = _run(_writer, [(spec, 1), (spec, 2)])     # version 2 is the newer
    inserted = totals[1][0] + totals[2][0]
    assert inserted == IDS, totals                      # each id inserted exactly once
    for version, (ins, upd, unch) in totals.items():
        assert ins + upd + unch == IDS, (version, totals)
    # The older writer never replaced a newer record; the newer one replaced every
    # older one it found, so updates + inserts by the newer writer cover the rest.
    assert totals[1][1] == 0, totals
    assert totals[2][0] + totals[2][1] + totals[1][0] >= IDS
    store = _open(spec)
    try:
        records = list(store.iter_records("commits"))
        assert len(records) == IDS
        assert {r["version"] for r in records} == {2}
        assert {r["raw_signature"] for r in records} == {"v2"}
    finally:
        store.close()


def test_a_process_with_a_clock_15_minutes_ahead_never_shares_a_lease(spec):
    _open(spec).close()
    won = _run(_contender, [(spec, 0), (spec, 15)])
    assert sorted(won[0] + won[15]) == list(range(10)), won   # one owner per lease
    store = _open(spec)
    try:
        for round_no in range(10):
            owner = store.get_state("gh", "commits", f"p{round_no}").lease_owner
            assert owner == ("skew0" if round_no in won[0] else "skew15")
    finally:
        store.close()
