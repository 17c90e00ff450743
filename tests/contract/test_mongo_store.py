"""MongoStore beyond the shared contract (against mongomock): indexes, TTL, write pattern."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from mongomock.collection import Collection

from dihub.models import AuditEntry
from dihub.store.mongo import AUDIT_TTL_FIELD, AUDIT_TTL_INDEX, MongoStore, database_from_uri


@pytest.fixture
def client(mongomock_client):
    return mongomock_client


@pytest.fixture
def mongo(client):
    store = MongoStore("mongodb://db.example:27017/analytics?retryWrites=true", client=client)
    yield store
    store.close()


@pytest.mark.parametrize(("uri", "name"), [
    ("mongodb://localhost:27017/analytics", "analytics"),
    ("mongodb://u:p%40ss@h1:1,h2:2/eng-data?replicaSet=rs0", "eng-data"),
    ("mongodb+srv://u:p@cluster0.example.net/prod?w=majority", "prod"),
    ("mongodb://localhost:27017", "dihub"),
    ("mongodb://localhost:27017/?tls=true", "dihub"),
])
def test_database_comes_from_the_uri_path(uri, name):
    assert database_from_uri(uri) == name


def test_one_collection_per_entity_with_keyset_indexes(mongo, client, make_record):
    mongo.upsert_many([make_record("c1"), make_record("i1", entity="issues")])
    db = client["analytics"]
    assert {"commits", "issues"} <= set(db.list_collection_names())
    assert db["commits"].find_one({"_id": "gh:commits:c1"})["source_id"] == "c1"
    keys = {name: info["key"] for name, info in db["commits"].index_information().items()}
    assert keys["by_source_updated"] == [("source", 1), ("updated_at", 1), ("_id", 1)]
    assert keys["by_updated"] == [("updated_at", 1), ("_id", 1)]


def test_audit_ttl_index_follows_the_retention(client):
    store = MongoStore("mongodb://h/analytics", client=client, audit_retention_days=30)
    store.append_audit(AuditEntry(run_id="r", source="github", action="sync", outcome="ok",
                                  timestamp="2126-01-02T03:04:05Z"))
    coll = client["analytics"]["audit_log"]
    ttl = coll.index_information()[AUDIT_TTL_INDEX]
    assert ttl["key"] == [(AUDIT_TTL_FIELD, 1)] and ttl["expireAfterSeconds"] == 30 * 86400
    stored = coll.find_one({})[AUDIT_TTL_FIELD]
    assert stored.replace(tzinfo=UTC) == datetime(2126, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert AUDIT_TTL_FIELD not in store.query_audit()[0].model_dump()
    # A later run with another retention changes the index (at its first write).
    other = MongoStore("mongodb://h/analytics", client=client, audit_retention_days=7)
    other.query_audit()
    assert coll.index_information()[AUDIT_TTL_INDEX]["expireAfterSeconds"] == 30 * 86400
    other.append_audit(AuditEntry(run_id="r", source="github", action="sync", outcome="ok",
                                  timestamp="2126-01-02T03:04:06Z"))
    assert coll.index_information()[AUDIT_TTL_INDEX]["expireAfterSeconds"] == 7 * 86400


def test_raw_payload_is_absent_until_set_and_removed_by_purge(mongo, client):
    base = dict(run_id="r", source="github", action="page", outcome="ok",
                timestamp="2126-01-01T00:00:00Z")
    mongo.append_audit(AuditEntry(**base))
    mongo.append_audit(AuditEntry(**base, raw_payload="{}"))
    coll = client["analytics"]["audit_log"]
    assert coll.count_documents({"raw_payload": {"$exists": True}}) == 1
    assert mongo.purge("2126-06-01T00:00:00Z", 365, 30)["raw_payloads_removed"] == 1
    assert coll.count_documents({"raw_payload": {"$exists": True}}) == 0


@pytest.fixture
def calls(monkeypatch):
    """Top-level calls the store makes on the commits collection (not mongomock's own)."""
    seen: list[str] = []
    depth = [0]
    for name in ("find", "bulk_write", "insert_one", "insert_many", "replace_one",
                 "update_one", "update_many"):
        original = getattr(Collection, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            if self.name == "commits" and not depth[0]:
                seen.append(_name)
            depth[0] += 1
            try:
                return _original(self, *args, **kwargs)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(Collection, name, spy)
    return seen


def test_upsert_is_one_find_and_one_bulk_write_and_skips_unchanged(mongo, calls, make_record):
    batch = [make_record(f"c{i}") for i in range(5)]
    mongo.upsert_many(batch)
    assert calls == ["find", "bulk_write"]
    calls.clear()
    assert mongo.upsert_many(batch).unchanged == 5
    assert calls == ["find"]                        # nothing written
    calls.clear()
    mongo.upsert_many(batch[:4] + [make_record("c4", signature="v2")])
    assert calls == ["find", "bulk_write"]          # one guarded replace
    calls.clear()
    mongo.upsert_many(batch[:4] + [make_record("c4", signature="v3"), make_record("c9")])
    assert calls == ["find", "bulk_write", "bulk_write"]   # inserts, then replaces


def test_an_insert_racing_another_writer_is_counted_once_and_newest_wins(mongo, client,
                                                                         monkeypatch,
                                                                         make_record):
    coll = client["analytics"]["commits"]
    mongo.upsert_many([make_record("c0")])
    coll.insert_one(make_record("c1", "2026-01-05T00:00:00Z", signature="theirs",
                                message="written by the other writer, newer"))
    coll.insert_one(make_record("c3", "2026-01-01T00:00:00Z", signature="old",
                                message="written by the other writer, older"))
    # Our find ran before the other writer's inserts: it saw nothing stored.
    monkeypatch.setattr(Collection, "find", lambda self, *a, **k: iter(()))
    result = mongo.upsert_many([
        make_record("c1", "2026-01-02T00:00:00Z", signature="ours", message="ours, older"),
        make_record("c2"),
        make_record("c3", "2026-01-03T00:00:00Z", signature="new", message="ours, newer")])
    monkeypatch.undo()
    # c1 and c3 were inserted by the other writer: ours are not inserts. c1 is older
    # than what is stored (kept), c3 newer (replaced).
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 1)
    assert coll.find_one({"_id": "gh:commits:c1"})["message"].startswith("written by")
    assert coll.find_one({"_id": "gh:commits:c3"})["message"] == "ours, newer"
    assert coll.count_documents({}) == 4


def test_close_leaves_an_injected_client_open(mongo, client, make_record):
    mongo.upsert_many([make_record("c1")])
    mongo.close()
    assert client["analytics"]["commits"].count_documents({}) == 1
