"""MongoStore beyond the shared contract (against mongomock): indexes, TTL, write pattern."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from mongomock.collection import Collection

from dihub.models import AuditEntry, SyncState
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
    assert keys["by_commit_id"] == [("commit_id", 1)]
    issue_keys = {name: info["key"] for name, info in db["issues"].index_information().items()}
    assert issue_keys["by_issue_id"] == [("issue_id", 1)] and "by_commit_id" not in issue_keys


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


# -- issue 14: what mongomock alone would not show ------------------------------------


def _walk_keys(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _walk_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_keys(item)


def test_configured_audit_retention_reaches_the_ttl_index(client, monkeypatch, tmp_path):
    import pymongo

    from dihub.config import load_config
    from dihub.store.factory import open_configured_store

    monkeypatch.delenv("DIHUB_STORE_URI", raising=False)
    monkeypatch.setattr(pymongo, "MongoClient", lambda *a, **k: client)
    path = tmp_path / "dihub.yaml"
    path.write_text("store:\n  uri: mongodb://db.example/analytics\n"
                    "  audit_retention_days: 730\nsources: {}\n")
    store = open_configured_store(load_config(str(path)))
    store.append_audit(AuditEntry(run_id="r", source="gh", action="sync", outcome="ok",
                                  timestamp="2126-01-01T00:00:00Z"))
    ttl = client["analytics"]["audit_log"].index_information()[AUDIT_TTL_INDEX]
    assert ttl["expireAfterSeconds"] == 730 * 86400


def test_a_ttl_change_racing_another_run_does_not_fail(client, monkeypatch):
    """Where collMod cannot change the TTL, the drop/create fallback tolerates another
    run having dropped (IndexNotFound) or recreated (IndexOptionsConflict) it first."""
    from pymongo.errors import OperationFailure

    MongoStore("mongodb://h/analytics", client=client, audit_retention_days=30).append_audit(
        AuditEntry(run_id="r", source="gh", action="sync", outcome="ok",
                   timestamp="2126-01-01T00:00:00Z"))
    original = Collection.drop_index

    def dropped_by_the_other_run_first(self, name, *a, **k):
        original(self, name, *a, **k)
        raise OperationFailure("index not found with name [audit_ttl]", 27)

    monkeypatch.setattr(Collection, "drop_index", dropped_by_the_other_run_first)
    store = MongoStore("mongodb://h/analytics", client=client, audit_retention_days=730)
    store.append_audit(AuditEntry(run_id="r", source="gh", action="sync", outcome="ok",
                                  timestamp="2126-01-01T00:00:01Z"))
    ttl = client["analytics"]["audit_log"].index_information()[AUDIT_TTL_INDEX]
    assert ttl["expireAfterSeconds"] == 730 * 86400
    assert len(store.query_audit()) == 2


def test_a_read_only_user_can_fetch_status_audit_and_metrics(client, monkeypatch,
                                                            make_record):
    from pymongo.errors import OperationFailure

    writer = MongoStore("mongodb://h/analytics", client=client)
    writer.upsert_many([make_record("c1")])
    writer.put_state(SyncState(source="gh", stream="commits", partition="*", cursor=3))

    def unauthorized(self, *a, **k):
        raise OperationFailure("not authorized on analytics to execute command "
                               "{ createIndexes: ... }", 13)

    monkeypatch.setattr(Collection, "create_index", unauthorized)
    monkeypatch.setattr(Collection, "create_indexes", unauthorized)
    reader = MongoStore("mongodb://h/analytics", client=client)     # a new process
    assert [r["_id"] for r in reader.query("commits", source="gh").records] == ["gh:commits:c1"]
    assert reader.query("issues").records == []          # a collection that does not exist
    assert reader.count("commits") == 1
    assert reader.get_state("gh", "commits", "*").cursor == 3
    assert [s.cursor for s in reader.list_states()] == [3]
    assert reader.query_audit() == [] and reader.query_metrics() == []
    assert reader.get_meta("breaker") is None
    with pytest.raises(OperationFailure):    # sync does need readWrite
        reader.upsert_many([make_record("i1", entity="issues")])


def test_state_is_stored_without_dotted_keys_and_old_states_are_converted(mongo, client):
    coll = client["analytics"]["sync_state"]
    saved = SyncState(source="slack", stream="messages", partition="C1",
                      cursor={"1700000000.123456": {"thread.ts": "1.2"}},
                      etags={"https://slack.com/api/x?a=1.5": 'W/"e"'})
    mongo.put_state(saved)
    raw = coll.find_one({})
    assert not [k for k in _walk_keys(raw) if "." in k or k.startswith("$")]
    assert isinstance(raw["cursor_json"], str) and isinstance(raw["etags_json"], str)
    assert mongo.get_state("slack", "messages", "C1") == saved
    # A state written by an earlier version: nested documents, string lease time.
    coll.insert_one({"_id": '["gh","commits","o/r"]', "source": "gh", "stream": "commits",
                     "partition": "o/r", "cursor": {"since": "2026-01-01"},
                     "etags": {"u": "e"}, "last_sync_at": None, "last_success_at": None,
                     "status": "ok", "error": None, "lease_owner": "old-run",
                     "lease_until": "2000-01-01T00:00:00Z"})
    old = mongo.get_state("gh", "commits", "o/r")
    assert (old.cursor, old.etags, old.lease_generation) == ({"since": "2026-01-01"},
                                                             {"u": "e"}, 0)
    assert MongoStore("mongodb://h/analytics", client=client).migrate_states() == 1
    converted = coll.find_one({"_id": '["gh","commits","o/r"]'})
    assert "cursor" not in converted and converted["cursor_json"] == '{"since":"2026-01-01"}'
    lease = mongo.acquire_lease("gh", "commits", "o/r", owner="new-run", ttl_s=600)
    assert lease.generation == 1          # the expired string-dated lease was taken over
    assert mongo.get_state("gh", "commits", "o/r").cursor == {"since": "2026-01-01"}
    assert isinstance(coll.find_one({"_id": '["gh","commits","o/r"]'})["lease_until"],
                      datetime)


def test_an_audit_document_over_16_mib_never_blocks_the_checkpoint(mongo, client,
                                                                  monkeypatch):
    """pymongo refuses documents over 16 MiB (DocumentTooLarge); mongomock does not,
    so the check is added here as the driver does it."""
    import bson
    from pymongo.errors import DocumentTooLarge

    original = Collection.insert_one

    def like_pymongo(self, doc, *a, **k):
        if len(bson.encode(doc)) > 16 * 1024 * 1024:
            raise DocumentTooLarge("BSON document too large")
        return original(self, doc, *a, **k)

    monkeypatch.setattr(Collection, "insert_one", like_pymongo)
    huge = "y" * (17 * 1024 * 1024)
    mongo.append_audit(AuditEntry(run_id="r", source="gh", action="page", outcome="ok",
                                  timestamp="2126-01-01T00:00:00Z", raw_payload=huge))
    mongo.append_audit(AuditEntry(run_id="r", source="gh", action="batch", outcome="ok",
                                  timestamp="2126-01-01T00:00:01Z", detail={"x": huge}))
    batch, page = mongo.query_audit()
    assert page.detail["raw_payload_truncated"]["bytes"] == len(huge)
    assert batch.detail["dropped"].startswith("the entry was over")


def test_client_defaults_yield_to_the_uri():
    from dihub.store.mongo import CLIENT_DEFAULTS, client_options

    assert client_options("mongodb://h/db") == CLIENT_DEFAULTS
    given = client_options("mongodb://h/db?serverSelectionTimeoutMS=500&W=1&wtimeout=5"
                           "&TimeoutMS=0&appName=x")
    assert "serverSelectionTimeoutMS" not in given and "w" not in given
    assert "wTimeoutMS" not in given and "timeoutMS" not in given and "appname" not in given
    assert given["socketTimeoutMS"] == 120_000
    store = MongoStore("mongodb://127.0.0.1:9/db?serverSelectionTimeoutMS=500")
    try:
        options = store._client.options
        assert options.server_selection_timeout == 0.5      # the URI's, not dihub's 10 s
        assert options.timeout == 120.0
        assert options.write_concern.document == {"w": "majority", "wtimeout": 60_000}
    finally:
        store.close()
