"""On a real MongoDB (DIHUB_TEST_MONGODB_URI): the audit, metrics, fetch and keyset
queries read an index in the order they return, with no in-memory sort, and examine
about as many keys as they return. mongomock has no query planner."""

from __future__ import annotations

import os
import uuid

import pytest

from dihub.models import AuditEntry, RunMetrics
from dihub.store.mongo import MongoStore
from tests.contract.conftest import MONGODB_URI_ENV, record, with_database

N = 300


@pytest.fixture(scope="module")
def mongo():
    uri = os.environ.get(MONGODB_URI_ENV)
    if not uri:
        pytest.skip(f"set {MONGODB_URI_ENV} to check query plans on a real MongoDB")
    import pymongo

    database = f"dihub_test_{uuid.uuid4().hex[:16]}"
    store = MongoStore(with_database(uri, database))
    for i in range(N):
        ts = f"2126-01-01T{i // 60:02d}:{i % 60:02d}:00Z"
        source = ("gh", "jira", "slack")[i % 3]
        store.append_audit(AuditEntry(run_id="r", source=source, action="batch",
                                      outcome="ok", timestamp=ts, raw_payload="p" * 2000))
        store.record_metrics(RunMetrics(run_id=f"r{i}", source=source, stream="s",
                                        started_at=ts, finished_at=ts, duration_s=1,
                                        outcome="ok"))
    store.upsert_many([record(f"c{i:04d}", f"2026-01-{1 + i % 28:02d}T00:00:00Z",
                              source=("gh", "gl")[i % 2]) for i in range(N)])
    yield store
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    client.drop_database(database)
    client.close()
    store.close()


def _stages(plan):
    if isinstance(plan, dict):
        if "stage" in plan:
            yield plan
        for value in plan.values():
            yield from _stages(value)
    elif isinstance(plan, list):
        for item in plan:
            yield from _stages(item)


def check_plan(cursor, returned_at_most):
    explained = cursor.explain()
    stats = explained.get("executionStats")
    if not stats:
        pytest.skip("this server's explain() has no executionStats (not MongoDB)")
    stages = {s["stage"] for s in _stages(explained["queryPlanner"]["winningPlan"])}
    assert "IXSCAN" in stages, stages
    assert "SORT" not in stages and "COLLSCAN" not in stages, stages
    returned = stats["nReturned"]
    assert 0 < returned <= returned_at_most
    assert stats["totalKeysExamined"] <= returned + 2, stats
    assert stats["totalDocsExamined"] <= returned + 2, stats


def test_audit_queries_use_their_indexes(mongo):
    check_plan(mongo._find_audit(limit=20), 20)
    check_plan(mongo._find_audit(source="jira", limit=20), 20)
    check_plan(mongo._find_audit(source="jira", since="2126-01-01T02:00:00Z", limit=20), 20)


def test_metrics_queries_use_their_indexes(mongo):
    check_plan(mongo._find_metrics(limit=20), 20)
    check_plan(mongo._find_metrics(source="gh", limit=20), 20)
    check_plan(mongo._find_metrics(source="gh", stream="s", limit=20), 20)


def test_fetch_and_keyset_pages_use_their_indexes(mongo):
    check_plan(mongo._find_records("commits", limit=25), 26)
    check_plan(mongo._find_records("commits", source="gh", since="2026-01-10T00:00:00Z",
                                   limit=25), 26)
    page = mongo.query("commits", source="gh", limit=100)
    deep = mongo.query("commits", source="gh", cursor=page.next_cursor, limit=25)
    assert deep.records[0]["_id"] > page.records[-1]["_id"] or \
        deep.records[0]["updated_at"] > page.records[-1]["updated_at"]
    # A deep page examines about as many keys as it returns, not all before it.
    check_plan(mongo._find_records("commits", source="gh", cursor=page.next_cursor,
                                   limit=25), 26)
    check_plan(mongo._find_records("commits", cursor=page.next_cursor, limit=25), 26)


def test_commits_by_sha_use_their_index(mongo):
    mongo.upsert_many([record(f"sha{i:04d}", commit_id=f"{i:040x}") for i in range(N)])
    coll = mongo._collection("commits")
    check_plan(coll.find({"commit_id": {"$in": [f"{7:040x}"]}}), 1)
    check_plan(coll.find({"commit_id": {"$gte": f"{7:040x}"[:39],
                                        "$lt": f"{7:040x}"[:39] + "\U0010ffff"}}).limit(5), 5)


def test_issues_pull_requests_and_builds_use_their_key_indexes(mongo):
    mongo.upsert_many([record(f"i{i:04d}", entity="issues", issue_id=f"ENG-{i}")
                       for i in range(N)])
    mongo.upsert_many([record(f"p{i:04d}", entity="pull_requests", number=i)
                       for i in range(N)])
    mongo.upsert_many([record(f"b{i:04d}", entity="builds", run_id=str(10_000 + i))
                       for i in range(N)])
    check_plan(mongo._collection("issues").find({"issue_id": {"$in": ["ENG-7"]}}), 1)
    check_plan(mongo._collection("pull_requests").find({"number": {"$in": [7]}}), 1)
    check_plan(mongo._collection("builds").find({"run_id": {"$in": ["10007"]}}), 1)
