"""The MongoDB store (pymongo): one collection per entity, plus sync_state, audit_log,
run_metrics and meta. Indexes are created on first use of each collection.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from pymongo import ASCENDING, DESCENDING, InsertOne, ReplaceOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from dihub.errors import LeaseHeld
from dihub.models import AuditEntry, RunMetrics, SyncState
from dihub.store.base import QueryPage, UpsertResult
from dihub.store.keyset import (
    DEFAULT_PAGE_SIZE,
    check_entity,
    check_filters,
    check_limit,
    check_window,
    cutoff,
    decode_cursor,
    encode_cursor,
    is_unchanged,
    iter_pages,
    lease_name,
    lease_until,
    prepare_batch,
)
from dihub.timeutil import now_iso, parse

DEFAULT_DATABASE = "dihub"
SYNC_STATE, AUDIT_LOG, RUN_METRICS, META = "sync_state", "audit_log", "run_metrics", "meta"
AUDIT_TTL_FIELD = "timestamp_dt"   # datetime copy of `timestamp`, for the TTL index only
AUDIT_TTL_INDEX = "audit_ttl"
_LEASE_FIELDS = {"lease_owner", "lease_until"}
_CHUNK = 1000   # ids per find/bulk_write round trip


def database_from_uri(uri: str) -> str:
    """`mongodb://host/name?opts` → "name"; no path → "dihub". (No DNS lookup for +srv.)"""
    name = unquote(urlsplit(uri).path.lstrip("/"))
    return name or DEFAULT_DATABASE


def _state_id(source: str, stream: str, partition: str) -> str:
    return json.dumps([source, stream, partition], separators=(",", ":"))


def _after(updated_at: str | None, record_id: str) -> dict[str, Any]:
    """Everything strictly after (updated_at, _id); MongoDB sorts null before any string."""
    if updated_at is None:
        return {"$or": [{"updated_at": None, "_id": {"$gt": record_id}},
                        {"updated_at": {"$ne": None}}]}
    return {"$or": [{"updated_at": {"$gt": updated_at}},
                    {"updated_at": updated_at, "_id": {"$gt": record_id}}]}


def _equals(name: str, value: Any) -> dict[str, Any]:
    """Equality as MongoDB defines it (arrays match an element, None matches missing).

    The `$type` spells out that booleans and numbers never match each other, which
    MongoDB does anyway and Python-based fakes otherwise get wrong (True == 1).
    """
    if isinstance(value, bool):
        return {name: {"$eq": value, "$type": "bool"}}
    if isinstance(value, int | float):
        return {name: {"$eq": value, "$type": "number"}}
    return {name: value}


class MongoStore:
    """Store backed by a MongoDB database (the URI's path, default "dihub").

    `client` lets tests pass a `mongomock.MongoClient()`; an injected client is not
    closed by `close()`. `audit_retention_days` sets the audit_log TTL index.
    """

    def __init__(self, uri: str, client: Any = None, *, audit_retention_days: int = 365):
        self._owns_client = client is None
        if client is None:
            from pymongo import MongoClient

            client = MongoClient(uri, appname="dihub", serverSelectionTimeoutMS=10_000)
        self._client = client
        self.database_name = database_from_uri(uri)
        self._db = client[self.database_name]
        self.audit_retention_days = audit_retention_days
        self._ready: set[str] = set()
        self._ready_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MongoStore(database={self.database_name!r})"

    # -- collections and indexes -----------------------------------------------------

    def _collection(self, name: str):
        coll = self._db[name]
        if name not in self._ready:
            with self._ready_lock:
                if name not in self._ready:
                    self._create_indexes(name, coll)
                    self._ready.add(name)
        return coll

    def _create_indexes(self, name: str, coll) -> None:
        if name == SYNC_STATE:
            coll.create_index([("source", ASCENDING), ("stream", ASCENDING),
                               ("partition", ASCENDING)], name="by_key")
        elif name == AUDIT_LOG:
            coll.create_index([("timestamp", DESCENDING)], name="by_time")
            coll.create_index([("source", ASCENDING), ("timestamp", DESCENDING)],
                              name="by_source_time")
            self._create_audit_ttl(coll)
        elif name == RUN_METRICS:
            coll.create_index([("started_at", DESCENDING)], name="by_time")
            coll.create_index([("source", ASCENDING), ("stream", ASCENDING),
                               ("started_at", DESCENDING)], name="by_stream_time")
        elif name != META:   # an entity; `_id` is the record's deterministic key
            coll.create_index([("source", ASCENDING), ("updated_at", ASCENDING),
                               ("_id", ASCENDING)], name="by_source_updated")
            coll.create_index([("updated_at", ASCENDING), ("_id", ASCENDING)],
                              name="by_updated")

    def _create_audit_ttl(self, coll) -> None:
        seconds = int(self.audit_retention_days * 86400)
        try:
            coll.create_index([(AUDIT_TTL_FIELD, ASCENDING)], name=AUDIT_TTL_INDEX,
                              expireAfterSeconds=seconds)
        except OperationFailure:
            # The retention changed since the index was built: rebuild it with the new one.
            coll.drop_index(AUDIT_TTL_INDEX)
            coll.create_index([(AUDIT_TTL_FIELD, ASCENDING)], name=AUDIT_TTL_INDEX,
                              expireAfterSeconds=seconds)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # -- records ---------------------------------------------------------------------

    def upsert_many(self, records: Iterable[dict[str, Any]]) -> UpsertResult:
        by_entity: dict[str, dict[str, dict[str, Any]]] = {}
        for (entity, record_id), doc in prepare_batch(records).items():
            by_entity.setdefault(entity, {})[record_id] = doc
        result = UpsertResult()
        for entity, docs in by_entity.items():
            coll = self._collection(entity)
            ids = list(docs)
            for i in range(0, len(ids), _CHUNK):
                result += self._upsert_chunk(coll, {rid: docs[rid] for rid in ids[i:i + _CHUNK]})
        return result

    @staticmethod
    def _upsert_chunk(coll, docs: dict[str, dict[str, Any]]) -> UpsertResult:
        """One find of the stored signatures, then one unordered bulk_write of what changed."""
        stored = {d["_id"]: d.get("raw_signature")
                  for d in coll.find({"_id": {"$in": list(docs)}}, {"raw_signature": 1})}
        result, written = UpsertResult(), []
        for record_id, doc in docs.items():
            if record_id not in stored:
                result.inserted += 1
            elif is_unchanged(stored[record_id], doc):
                result.unchanged += 1
                continue
            else:
                result.updated += 1
            written.append(doc)
        if not written:
            return result
        try:
            coll.bulk_write([InsertOne(doc) if doc["_id"] not in stored
                             else ReplaceOne({"_id": doc["_id"]}, doc) for doc in written],
                            ordered=False)
        except BulkWriteError as exc:
            # A concurrent run inserted some of these keys after our find: replace them.
            errors = exc.details.get("writeErrors", [])
            if not errors or any(e.get("code") != 11000 for e in errors):
                raise
            coll.bulk_write([ReplaceOne({"_id": written[e["index"]]["_id"]},
                                        written[e["index"]], upsert=True) for e in errors],
                            ordered=False)
        return result

    def query(self, entity: str, source: str | None = None, since: str | None = None,
              until: str | None = None, filters: dict[str, Any] | None = None,
              cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE) -> QueryPage:
        check_entity(entity)
        check_limit(limit)
        since, until = check_window(since, until)
        where: dict[str, Any] = {}
        if source is not None:
            where["source"] = source
        window = {}
        if since:
            window["$gte"] = since
        if until:
            window["$lt"] = until
        if window:
            where["updated_at"] = window   # a string bound never matches null/missing
        clauses = [_equals(name, value) for name, value in check_filters(filters).items()]
        if cursor:
            clauses.append(_after(*decode_cursor(cursor)))
        if clauses:
            where["$and"] = clauses
        docs = list(self._collection(entity).find(where)
                    .sort([("updated_at", ASCENDING), ("_id", ASCENDING)]).limit(limit + 1))
        page = QueryPage(records=docs[:limit])
        if len(docs) > limit:
            last = docs[limit - 1]
            page.next_cursor = encode_cursor(last.get("updated_at"), last["_id"])
        return page

    def iter_records(self, entity: str, source: str | None = None, since: str | None = None,
                     until: str | None = None,
                     filters: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        return iter_pages(self, entity, source=source, since=since, until=until,
                          filters=filters)

    def count(self, entity: str, source: str | None = None) -> int:
        check_entity(entity)
        where = {} if source is None else {"source": source}
        return self._collection(entity).count_documents(where)

    # -- sync state and leases -------------------------------------------------------

    def get_state(self, source: str, stream: str, partition: str) -> SyncState | None:
        doc = self._collection(SYNC_STATE).find_one(
            {"_id": _state_id(source, stream, partition)}, {"_id": 0})
        return SyncState.model_validate(doc) if doc else None

    def put_state(self, state: SyncState) -> None:
        """Replace the state; the lease fields belong to acquire/release and are kept."""
        self._collection(SYNC_STATE).update_one(
            {"_id": _state_id(state.source, state.stream, state.partition)},
            {"$set": state.model_dump(mode="json", exclude=_LEASE_FIELDS),
             "$setOnInsert": {"lease_owner": None, "lease_until": None}},
            upsert=True)

    def list_states(self, source: str | None = None) -> list[SyncState]:
        where = {} if source is None else {"source": source}
        docs = self._collection(SYNC_STATE).find(where, {"_id": 0}).sort(
            [("source", ASCENDING), ("stream", ASCENDING), ("partition", ASCENDING)])
        return [SyncState.model_validate(doc) for doc in docs]

    def acquire_lease(self, source: str, stream: str, partition: str, owner: str,
                      ttl_s: float) -> None:
        coll = self._collection(SYNC_STATE)
        state_id = _state_id(source, stream, partition)
        fresh = SyncState(source=source, stream=stream, partition=partition)
        holder: dict[str, Any] = {}
        for _ in range(3):
            now = now_iso()
            takeable = {"_id": state_id, "$or": [
                {"lease_owner": None}, {"lease_until": None},
                {"lease_until": {"$lte": now}}, {"lease_owner": owner}]}
            try:
                coll.find_one_and_update(
                    takeable,
                    {"$set": {"lease_owner": owner, "lease_until": lease_until(ttl_s)},
                     "$setOnInsert": fresh.model_dump(mode="json", exclude=_LEASE_FIELDS)},
                    upsert=True)
                return
            except DuplicateKeyError:
                # The document exists and the filter did not match: someone holds it,
                # unless it was released or expired since; then try again.
                holder = coll.find_one({"_id": state_id}, {"lease_owner": 1,
                                                           "lease_until": 1}) or {}
                if (holder.get("lease_owner") not in (None, owner)
                        and (holder.get("lease_until") or "") > now_iso()):
                    break
        raise LeaseHeld(lease_name(source, stream, partition),
                        holder.get("lease_owner") or "another run",
                        holder.get("lease_until") or "unknown")

    def release_lease(self, source: str, stream: str, partition: str, owner: str) -> None:
        self._collection(SYNC_STATE).update_one(
            {"_id": _state_id(source, stream, partition), "lease_owner": owner},
            {"$set": {"lease_owner": None, "lease_until": None}})

    # -- audit, metrics, settings ----------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> None:
        doc = entry.model_dump(mode="json", exclude={"raw_payload"})
        if entry.raw_payload is not None:
            doc["raw_payload"] = entry.raw_payload
        doc[AUDIT_TTL_FIELD] = parse(entry.timestamp)
        self._collection(AUDIT_LOG).insert_one(doc)

    def query_audit(self, source: str | None = None, entity: str | None = None,
                    outcome: str | None = None, since: str | None = None,
                    limit: int = 100) -> list[AuditEntry]:
        check_limit(limit)
        where: dict[str, Any] = {k: v for k, v in
                                 (("source", source), ("entity", entity), ("outcome", outcome))
                                 if v is not None}
        if since:
            where["timestamp"] = {"$gte": since}
        docs = self._collection(AUDIT_LOG).find(where, {"_id": 0, AUDIT_TTL_FIELD: 0}).sort(
            [("timestamp", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [AuditEntry.model_validate(doc) for doc in docs]

    def record_metrics(self, metrics: RunMetrics) -> None:
        self._collection(RUN_METRICS).insert_one(metrics.model_dump(mode="json"))

    def query_metrics(self, source: str | None = None, stream: str | None = None,
                      limit: int = 100) -> list[RunMetrics]:
        check_limit(limit)
        where = {k: v for k, v in (("source", source), ("stream", stream)) if v is not None}
        docs = self._collection(RUN_METRICS).find(where, {"_id": 0}).sort(
            [("started_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [RunMetrics.model_validate(doc) for doc in docs]

    def get_meta(self, key: str) -> dict[str, Any] | None:
        doc = self._collection(META).find_one({"_id": key})
        return doc["value"] if doc else None

    def put_meta(self, key: str, value: dict[str, Any]) -> None:
        self._collection(META).replace_one({"_id": key}, {"_id": key, "value": value},
                                           upsert=True)

    # -- maintenance -----------------------------------------------------------------

    def purge(self, now_iso: str, audit_retention_days: int,
              raw_retention_days: int) -> dict[str, int]:
        """Delete audit entries older than their retention, then strip older raw payloads.

        The TTL index does the first part too, but lazily (about once a minute).
        """
        coll = self._collection(AUDIT_LOG)
        deleted = coll.delete_many(
            {"timestamp": {"$lt": cutoff(now_iso, audit_retention_days)}}).deleted_count
        stripped = coll.update_many(
            {"timestamp": {"$lt": cutoff(now_iso, raw_retention_days)},
             "raw_payload": {"$exists": True}},
            {"$unset": {"raw_payload": ""}}).modified_count
        return {"audit_deleted": deleted, "raw_payloads_removed": stripped}
