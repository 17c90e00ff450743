"""The MongoDB store (pymongo): one collection per entity, plus sync_state, audit_log,
run_metrics and meta.

Indexes are created on the first write to each collection (and by `init()`), never
by a read: a user with only the `read` role can run `fetch`, `status`, `audit` and
`metrics`. Queries work without the indexes, only slower.

Leases are timed by the server's clock (an update pipeline with `$$NOW`; where the
server has no pipeline updates, its `hello.localTime`), never by the client's, so a
host whose clock runs ahead cannot take a live lease. `lease_until` is a BSON Date.
Each grant to a new owner increments `lease_generation`; a checkpoint carries the
owner and generation of the lease it was written under, and is refused (LeaseLost)
once the lease has passed on.

Writes are exact under concurrent writers: inserts that race another writer's
insert become guarded replaces, and a replace never overwrites a stored record
whose `updated_at` is newer (the guard is in the write filter, so it holds between
hosts). Sync-state cursors and ETag maps are stored as JSON strings (`cursor_json`,
`etags_json`): their keys (timestamps, URLs, branch names) contain dots, which
MongoDB before 5.0 and compatible servers reject in field names.

Client defaults, each overridden by the same option in the URI: `timeoutMS=120000`,
`serverSelectionTimeoutMS=10000`, `connectTimeoutMS=10000`, `socketTimeoutMS=120000`,
`w=majority`, `wTimeoutMS=60000`. A checkpoint is durable once acknowledged with
`w=majority` (journaled on the majority, the server default since 4.2).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pymongo import ASCENDING, DESCENDING, InsertOne, ReplaceOne, ReturnDocument
from pymongo.errors import BulkWriteError, DocumentTooLarge, DuplicateKeyError, OperationFailure

from dihub.errors import LeaseHeld
from dihub.models import AuditEntry, RunMetrics, SyncState
from dihub.models.lease import Lease
from dihub.store.base import QueryPage, UpsertResult, inbox_headers
from dihub.store.errors import LeaseLost
from dihub.store.keyset import (
    DEFAULT_PAGE_SIZE,
    KEYED_FIELDS,
    PREFIX_END,
    cap_raw_payload,
    check_entity,
    check_filters,
    check_keyed,
    check_limit,
    check_window,
    cutoff,
    decode_cursor,
    encode_cursor,
    is_unchanged,
    iter_pages,
    lease_name,
    prepare_batch,
)
from dihub.timeutil import parse, to_iso, utcnow

log = logging.getLogger("dihub.store")

DEFAULT_DATABASE = "dihub"
SYNC_STATE, AUDIT_LOG, RUN_METRICS, META = "sync_state", "audit_log", "run_metrics", "meta"
AUDIT_TTL_FIELD = "timestamp_dt"   # datetime copy of `timestamp`, for the TTL index only
AUDIT_TTL_INDEX = "audit_ttl"
_LEASE_FIELDS = {"lease_owner", "lease_until", "lease_generation"}
_NOT_IMPLEMENTED = 238      # server error code: a command or option the server lacks
_LEASE_PROJECTION = {"lease_owner": 1, "lease_until": 1, "lease_generation": 1}
_OPAQUE = {"cursor": "cursor_json", "etags": "etags_json"}   # stored as JSON strings
_CHUNK = 1000   # ids per find/bulk_write round trip
_CAS_ATTEMPTS = 8

# Client options dihub sets unless the URI sets them (URI option names are
# case-insensitive; a keyword argument would silently override the URI's value).
CLIENT_DEFAULTS: dict[str, Any] = {
    "appname": "dihub",
    "timeoutMS": 120_000,
    "serverSelectionTimeoutMS": 10_000,
    "connectTimeoutMS": 10_000,
    "socketTimeoutMS": 120_000,
    "w": "majority",
    "wTimeoutMS": 60_000,
}
# Errors that mean "this server cannot run an update pipeline with $$NOW".
_NO_PIPELINE_CODES = frozenset({2, 9, 14, 17276, 40324, 40352, 168, 115, 238, 31325})


def client_options(uri: str) -> dict[str, Any]:
    """The keyword arguments for MongoClient: CLIENT_DEFAULTS minus what `uri` sets."""
    given = {key.lower() for key, _ in parse_qsl(urlsplit(uri).query, keep_blank_values=True)}
    if "wtimeout" in given:      # the deprecated spelling of wTimeoutMS
        given.add("wtimeoutms")
    return {key: value for key, value in CLIENT_DEFAULTS.items() if key.lower() not in given}


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



def _as_utc(value: Any) -> datetime | None:
    """A stored lease time (BSON Date, or an ISO string written by older versions)."""
    if value is None:
        return None
    if isinstance(value, str):
        return parse(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _newer_or_equal(doc: dict[str, Any]) -> dict[str, Any]:
    """The write filter of a replace: only a changed record that is not older than the
    stored one (by upstream `updated_at`) may replace it."""
    where: dict[str, Any] = {"_id": doc["_id"]}
    if doc.get("raw_signature") is not None:
        where["raw_signature"] = {"$ne": doc["raw_signature"]}
    if doc.get("updated_at") is not None:
        where["$or"] = [{"updated_at": {"$lte": doc["updated_at"]}}, {"updated_at": None}]
    return where


def _is_older(doc: dict[str, Any], stored: dict[str, Any]) -> bool:
    new, old = doc.get("updated_at"), stored.get("updated_at")
    return isinstance(new, str) and isinstance(old, str) and new < old


def encode_state(state: SyncState) -> dict[str, Any]:
    """The stored fields of a state, without its lease: cursor and ETags as JSON strings."""
    doc = state.model_dump(mode="json", exclude=_LEASE_FIELDS | set(_OPAQUE))
    for name, stored in _OPAQUE.items():
        doc[stored] = json.dumps(getattr(state, name), separators=(",", ":"),
                                 ensure_ascii=False)
    return doc


def decode_state(doc: dict[str, Any]) -> SyncState:
    """A stored state document (current or older layout) as a SyncState."""
    doc = {k: v for k, v in doc.items() if k != "_id"}
    for name, stored in _OPAQUE.items():
        if stored in doc:
            doc[name] = json.loads(doc.pop(stored))
    if doc.get("etags") is None:
        doc["etags"] = {}
    until = _as_utc(doc.get("lease_until"))
    doc["lease_until"] = to_iso(until) if until else None
    doc["lease_generation"] = doc.get("lease_generation") or 0
    return SyncState.model_validate(doc)


class MongoStore:
    """Store backed by a MongoDB database (the URI's path, default "dihub").

    `client` lets tests pass a `mongomock.MongoClient()`; an injected client is not
    closed by `close()`. `audit_retention_days` sets the audit_log TTL index.
    `clock` is this host's clock, used for client-side stamps only (a record's
    default `ingested_at`); leases use the server's clock.
    """

    def __init__(self, uri: str, client: Any = None, *, audit_retention_days: int = 365,
                 clock: Callable[[], datetime] = utcnow):
        self._owns_client = client is None
        if client is None:
            from pymongo import MongoClient

            client = MongoClient(uri, **client_options(uri))
        self._client = client
        self.database_name = database_from_uri(uri)
        self._db = client[self.database_name]
        self.audit_retention_days = audit_retention_days
        self._clock = clock
        # mongomock has neither update pipelines nor $$NOW: use compare-and-swap there
        self._pipeline = not type(client).__module__.startswith("mongomock")
        self._ready: set[str] = set()
        self._ready_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MongoStore(database={self.database_name!r})"

    # -- collections and indexes -----------------------------------------------------

    def _collection(self, name: str):
        """A collection to read: no index is created (the `read` role suffices)."""
        return self._db[name]

    def _writable(self, name: str):
        """A collection to write, its indexes created once per process."""
        coll = self._db[name]
        if name not in self._ready:
            with self._ready_lock:
                if name not in self._ready:
                    self._create_indexes(name, coll)
                    self._ready.add(name)
        return coll

    def init(self, entities: Iterable[str] = ()) -> None:
        """Create every index (and convert older sync states) now rather than on first
        write: what `dihub store init` would run with a readWrite user."""
        for name in (SYNC_STATE, AUDIT_LOG, RUN_METRICS, META,
                     *(check_entity(e) for e in entities)):
            self._writable(name)

    def _create_indexes(self, name: str, coll) -> None:
        if name == SYNC_STATE:
            coll.create_index([("source", ASCENDING), ("stream", ASCENDING),
                               ("partition", ASCENDING)], name="by_key")
            self.migrate_states()
        elif name == AUDIT_LOG:
            # The sort of query_audit is (timestamp, _id) descending: with `_id` in the
            # index the server reads the newest entries in order and stops at the limit.
            coll.create_index([("timestamp", DESCENDING), ("_id", DESCENDING)],
                              name="by_time_id")
            coll.create_index([("source", ASCENDING), ("timestamp", DESCENDING),
                               ("_id", DESCENDING)], name="by_source_time_id")
            self._ensure_audit_ttl(coll)
        elif name == RUN_METRICS:
            coll.create_index([("started_at", DESCENDING), ("_id", DESCENDING)],
                              name="by_time_id")
            coll.create_index([("source", ASCENDING), ("started_at", DESCENDING),
                               ("_id", DESCENDING)], name="by_source_time_id")
            coll.create_index([("source", ASCENDING), ("stream", ASCENDING),
                               ("started_at", DESCENDING), ("_id", DESCENDING)],
                              name="by_stream_time_id")
        elif name != META:   # an entity; `_id` is the record's deterministic key
            coll.create_index([("source", ASCENDING), ("updated_at", ASCENDING),
                               ("_id", ASCENDING)], name="by_source_updated")
            coll.create_index([("updated_at", ASCENDING), ("_id", ASCENDING)],
                              name="by_updated")
            coll.create_index([("ingested_at", ASCENDING), ("_id", ASCENDING)],
                              name="by_ingested")
            for field in KEYED_FIELDS.get(name, ()):   # find_by; the collection is
                # the entity's, so no partial filter is needed
                coll.create_index([(field, ASCENDING)], name=f"by_{field}")

    def _ensure_audit_ttl(self, coll) -> None:
        """The TTL index expires entries after `audit_retention_days`.

        A changed retention is applied in place with collMod (no moment without the
        index, nothing for a concurrent run to trip over). Where collMod cannot change
        it, the index is dropped and created again; a concurrent run doing the same
        may drop it first (IndexNotFound, 27) or create it first (IndexOptionsConflict,
        85 / IndexKeySpecsConflict, 86): both are fine.
        """
        seconds = int(self.audit_retention_days * 86400)
        existing = coll.index_information().get(AUDIT_TTL_INDEX)
        if existing is not None and existing.get("expireAfterSeconds") == seconds:
            return
        if existing is None:
            try:
                coll.create_index([(AUDIT_TTL_FIELD, ASCENDING)], name=AUDIT_TTL_INDEX,
                                  expireAfterSeconds=seconds)
                return
            except OperationFailure as exc:
                if exc.code == _NOT_IMPLEMENTED:
                    # a MongoDB-compatible server without TTL indexes (FerretDB 1.x):
                    # retention is then applied by purge() alone
                    log.info("the server has no TTL indexes: audit entries expire through "
                             "dihub's own retention purge only")
                    return
                if exc.code not in (85, 86):
                    raise
        try:
            self._db.command({"collMod": AUDIT_LOG,
                              "index": {"name": AUDIT_TTL_INDEX,
                                        "expireAfterSeconds": seconds}})
            return
        except (OperationFailure, NotImplementedError) as exc:
            if getattr(exc, "code", None) == 13:
                raise
            log.debug("collMod cannot change the audit TTL (%s): rebuilding the index", exc)
        try:
            coll.drop_index(AUDIT_TTL_INDEX)
        except OperationFailure as exc:
            if exc.code != 27:
                raise
        try:
            coll.create_index([(AUDIT_TTL_FIELD, ASCENDING)], name=AUDIT_TTL_INDEX,
                              expireAfterSeconds=seconds)
        except OperationFailure as exc:
            if exc.code not in (85, 86):
                raise

    def migrate_states(self) -> int:
        """Store the cursor and ETags of states written by older versions (nested
        documents whose keys may contain dots) as JSON strings. Returns how many."""
        coll = self._db[SYNC_STATE]
        moved = 0
        for doc in coll.find({"cursor_json": {"$exists": False}}):
            fields = {stored: json.dumps(doc.get(name, {} if name == "etags" else None),
                                         separators=(",", ":"), ensure_ascii=False)
                      for name, stored in _OPAQUE.items()}
            moved += coll.update_one(
                {"_id": doc["_id"], "cursor_json": {"$exists": False}},
                {"$set": fields, "$unset": {name: "" for name in _OPAQUE}}).modified_count
        return moved

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # -- records ---------------------------------------------------------------------

    def upsert_many(self, records: Iterable[dict[str, Any]]) -> UpsertResult:
        by_entity: dict[str, dict[str, dict[str, Any]]] = {}
        for (entity, record_id), doc in prepare_batch(records, clock=self._clock).items():
            by_entity.setdefault(entity, {})[record_id] = doc
        result = UpsertResult()
        for entity, docs in by_entity.items():
            coll = self._writable(entity)
            ids = list(docs)
            for i in range(0, len(ids), _CHUNK):
                result += self._upsert_chunk(coll, {rid: docs[rid] for rid in ids[i:i + _CHUNK]})
        return result

    @staticmethod
    def _upsert_chunk(coll, docs: dict[str, dict[str, Any]]) -> UpsertResult:
        """One find of what is stored, then guarded writes of what changed.

        New ids are inserted (an id another writer inserted meanwhile fails with a
        duplicate key and becomes a guarded replace); changed ids are replaced only
        while the stored record still differs and is not newer. Counts come from what
        the server did, so they are exact whatever other writers do.
        """
        stored = {d["_id"]: d for d in coll.find({"_id": {"$in": list(docs)}},
                                                 {"raw_signature": 1, "updated_at": 1})}
        result = UpsertResult()
        inserts, replaces = [], []
        for record_id, doc in docs.items():
            old = stored.get(record_id)
            if old is None:
                inserts.append(doc)
            elif is_unchanged(old.get("raw_signature"), doc) or _is_older(doc, old):
                result.unchanged += 1
            else:
                replaces.append(doc)
        if inserts:
            try:
                result.inserted += coll.bulk_write([InsertOne(d) for d in inserts],
                                                   ordered=False).inserted_count
            except BulkWriteError as exc:
                details = exc.details or {}
                errors = details.get("writeErrors", [])
                if (not errors or details.get("writeConcernErrors")
                        or any(e.get("code") != 11000 for e in errors)):
                    raise
                result.inserted += details.get("nInserted", len(inserts) - len(errors))
                replaces += [inserts[e["index"]] for e in errors]
        if replaces:
            matched = coll.bulk_write([ReplaceOne(_newer_or_equal(d), d) for d in replaces],
                                      ordered=False).matched_count
            result.updated += matched
            result.unchanged += len(replaces) - matched
        return result

    def _find_records(self, entity: str, source: str | None = None, since: str | None = None,
                      until: str | None = None, filters: dict[str, Any] | None = None,
                      cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE):
        """The pymongo cursor of one keyset page (limit + 1 documents)."""
        check_entity(entity)
        check_limit(limit)
        since, until = check_window(since, until)
        where: dict[str, Any] = {}
        if source is not None:
            where["source"] = source
        clauses = [_equals(name, value) for name, value in check_filters(filters).items()]
        if cursor:
            after_updated, after_id = decode_cursor(cursor)
            clauses.append(_after(after_updated, after_id))
            if after_updated is not None and (since is None or after_updated > since):
                # The same lower bound at top level, where the planner turns it into
                # index bounds: the page starts at the cursor, not at the window.
                since = after_updated
        window = {}
        if since:
            window["$gte"] = since
        if until:
            window["$lt"] = until
        if window:
            where["updated_at"] = window   # a string bound never matches null/missing
        if clauses:
            where["$and"] = clauses
        return (self._collection(entity).find(where)
                .sort([("updated_at", ASCENDING), ("_id", ASCENDING)]).limit(limit + 1))

    def query(self, entity: str, source: str | None = None, since: str | None = None,
              until: str | None = None, filters: dict[str, Any] | None = None,
              cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE) -> QueryPage:
        docs = list(self._find_records(entity, source=source, since=since, until=until,
                                       filters=filters, cursor=cursor, limit=limit))
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

    def find_by(self, entity: str, field: str, values: Iterable[Any]) -> list[dict[str, Any]]:
        """Through the `by_<field>` index, which every write to the entity creates (a
        store last written by an older dihub has it after its next sync)."""
        keys = check_keyed(entity, field, values)
        coll = self._collection(entity)
        found: list[dict[str, Any]] = []
        for i in range(0, len(keys), _CHUNK):
            found.extend(coll.find({field: {"$in": keys[i:i + _CHUNK]}}))
        return found

    def find_by_prefix(self, entity: str, field: str, prefix: str,
                       limit: int) -> list[dict[str, Any]]:
        check_keyed(entity, field, prefix=True)
        check_limit(limit)
        return list(self._collection(entity).find(
            {field: {"$gte": prefix, "$lt": prefix + PREFIX_END}}).limit(limit))

    def iter_ingested_since(self, entity: str, since: str | None = None,
                            source: str | None = None) -> Iterator[dict[str, Any]]:
        """Records written at or after `since` (by `ingested_at`), in (ingested_at, _id)
        order, a keyset page at a time over the by_ingested index."""
        check_entity(entity)
        coll = self._collection(entity)
        after: tuple[str, str] | None = None
        while True:
            where: dict[str, Any] = {"ingested_at": {"$gte": since or ""}}
            if after is not None:
                where = {"ingested_at": {"$gte": after[0]},
                         "$or": [{"ingested_at": {"$gt": after[0]}},
                                 {"ingested_at": after[0], "_id": {"$gt": after[1]}}]}
            if source is not None:
                where["source"] = source
            docs = list(coll.find(where).sort([("ingested_at", ASCENDING), ("_id", ASCENDING)])
                        .limit(DEFAULT_PAGE_SIZE))
            yield from docs
            if len(docs) < DEFAULT_PAGE_SIZE:
                return
            after = (docs[-1]["ingested_at"], docs[-1]["_id"])

    # -- sync state and leases -------------------------------------------------------

    def get_state(self, source: str, stream: str, partition: str) -> SyncState | None:
        doc = self._collection(SYNC_STATE).find_one({"_id": _state_id(source, stream, partition)})
        return decode_state(doc) if doc else None

    def list_states(self, source: str | None = None) -> list[SyncState]:
        where = {} if source is None else {"source": source}
        docs = self._collection(SYNC_STATE).find(where).sort(
            [("source", ASCENDING), ("stream", ASCENDING), ("partition", ASCENDING)])
        return [decode_state(doc) for doc in docs]

    def server_now(self) -> datetime:
        """The server's clock (hello.localTime), at millisecond precision."""
        try:
            reply = self._client.admin.command("hello")
        except NotImplementedError:      # mongomock: the fake server runs on this host
            return utcnow()
        except OperationFailure:         # servers older than 4.4.2
            reply = self._client.admin.command("isMaster")
        now = reply.get("localTime")
        return _as_utc(now) if isinstance(now, datetime) else utcnow()

    def _expired(self, now: datetime) -> list[dict[str, Any]]:
        """Filter clauses of a lease that is free or expired at `now` (server time)."""
        return [{"lease_owner": None}, {"lease_until": None},
                {"lease_until": {"$lte": now}},
                {"lease_until": {"$type": "string", "$lte": to_iso(now)}}]   # older layout

    def _holder(self, state_id: str) -> dict[str, Any]:
        return self._collection(SYNC_STATE).find_one({"_id": state_id}, _LEASE_PROJECTION) or {}

    def put_state(self, state: SyncState, *, lease: Lease | None = None) -> None:
        """Replace the state; the lease fields belong to acquire/release and are kept.

        With `lease` (what acquire_lease returned), the write is fenced: it happens only
        while that owner and generation still hold the lease, else LeaseLost. Without
        one, it happens only while nobody holds a live lease, else LeaseHeld.
        """
        coll = self._writable(SYNC_STATE)
        state_id = _state_id(state.source, state.stream, state.partition)
        update = {"$set": encode_state(state), "$unset": {name: "" for name in _OPAQUE}}
        if lease is not None:
            done = coll.update_one({"_id": state_id, "lease_owner": lease.owner,
                                    "lease_generation": lease.generation}, update)
            if not done.matched_count:
                raise self._lost(lease, state_id)
            return
        now = self.server_now()
        update["$setOnInsert"] = {"lease_owner": None, "lease_until": None,
                                  "lease_generation": 0}
        try:
            coll.update_one({"_id": state_id, "$or": self._expired(now)}, update, upsert=True)
        except DuplicateKeyError:
            holder = self._holder(state_id)
            raise LeaseHeld(lease_name(state.source, state.stream, state.partition),
                            holder.get("lease_owner") or "another run",
                            to_iso(_as_utc(holder.get("lease_until"))) or "unknown") from None

    def _lost(self, lease: Lease, state_id: str) -> LeaseLost:
        holder = self._holder(state_id)
        return LeaseLost(lease_name(lease.source, lease.stream, lease.partition),
                         lease.owner, lease.generation, holder.get("lease_owner"),
                         holder.get("lease_generation"))

    def acquire_lease(self, source: str, stream: str, partition: str, owner: str,
                      ttl_s: float) -> Lease:
        coll = self._writable(SYNC_STATE)
        state_id = _state_id(source, stream, partition)
        fresh = encode_state(SyncState(source=source, stream=stream, partition=partition))
        doc = None
        if self._pipeline:
            try:
                doc = self._acquire_pipeline(coll, state_id, owner, ttl_s, fresh)
            except OperationFailure as exc:
                if exc.code not in _NO_PIPELINE_CODES:
                    raise
                log.debug("no update pipelines with $$NOW (%s): leases use hello.localTime",
                          exc)
                self._pipeline = False
        if doc is None:
            doc = self._acquire_cas(coll, state_id, owner, ttl_s, fresh)
        if doc.get("lease_owner") != owner:
            raise LeaseHeld(lease_name(source, stream, partition),
                            doc.get("lease_owner") or "another run",
                            to_iso(_as_utc(doc.get("lease_until"))) or "unknown")
        return Lease(source, stream, partition, owner, doc["lease_generation"],
                     to_iso(_as_utc(doc["lease_until"])))

    @staticmethod
    def _acquire_pipeline(coll, state_id: str, owner: str, ttl_s: float,
                          fresh: dict[str, Any]) -> dict[str, Any]:
        """One atomic update timed by the server's $$NOW: take the lease if it is free,
        expired or ours. Returns the lease fields after (another holder's, if held)."""
        generation = {"$ifNull": ["$lease_generation", 0]}
        is_new = {"$eq": [{"$type": "$source"}, "missing"]}
        takeable = {"_id": state_id, "$or": [
            {"lease_owner": None}, {"lease_owner": owner},
            {"$expr": {"$lte": [{"$toDate": "$lease_until"}, "$$NOW"]}}]}
        update = [{"$set": {
            **{name: {"$cond": [is_new, {"$literal": value}, f"${name}"]}
               for name, value in fresh.items()},
            "lease_generation": {"$cond": [{"$eq": ["$lease_owner", {"$literal": owner}]},
                                           generation, {"$add": [generation, 1]}]},
            "lease_owner": {"$literal": owner},
            "lease_until": {"$add": ["$$NOW", int(round(ttl_s * 1000))]},
        }}]
        for _ in range(_CAS_ATTEMPTS):
            try:
                return coll.find_one_and_update(takeable, update, projection=_LEASE_PROJECTION,
                                                upsert=True,
                                                return_document=ReturnDocument.AFTER)
            except DuplicateKeyError:
                # The document exists and the filter did not match: someone holds it,
                # unless it was released or expired since (then try again).
                holder = coll.find_one({"_id": state_id}, _LEASE_PROJECTION)
                if holder and holder.get("lease_owner") not in (None, owner):
                    live = coll.find_one({"_id": state_id, "lease_owner": holder["lease_owner"],
                                          "$expr": {"$gt": [{"$toDate": "$lease_until"},
                                                            "$$NOW"]}}, _LEASE_PROJECTION)
                    if live:
                        return live
        return coll.find_one({"_id": state_id}, _LEASE_PROJECTION) or {}

    def _acquire_cas(self, coll, state_id: str, owner: str, ttl_s: float,
                     fresh: dict[str, Any]) -> dict[str, Any]:
        """Compare-and-swap timed by the server's hello.localTime, for servers without
        update pipelines: read the lease, then replace exactly what was read."""
        doc: dict[str, Any] = {}
        for _ in range(_CAS_ATTEMPTS):
            now = self.server_now()
            until = now + timedelta(seconds=ttl_s)
            doc = coll.find_one({"_id": state_id}, _LEASE_PROJECTION)
            if doc is None:
                try:
                    coll.insert_one({"_id": state_id, **fresh, "lease_owner": owner,
                                     "lease_until": until, "lease_generation": 1})
                    return {"lease_owner": owner, "lease_until": until, "lease_generation": 1}
                except DuplicateKeyError:
                    continue
            holder, held_until = doc.get("lease_owner"), _as_utc(doc.get("lease_until"))
            if holder not in (None, owner) and held_until is not None and held_until > now:
                return doc
            generation = doc.get("lease_generation") or 0
            if holder != owner:
                generation += 1
            done = coll.update_one(
                {"_id": state_id, "lease_owner": holder,
                 "lease_until": doc.get("lease_until"),
                 "lease_generation": doc.get("lease_generation")},
                {"$set": {"lease_owner": owner, "lease_until": until,
                          "lease_generation": generation}})
            if done.matched_count:
                return {"lease_owner": owner, "lease_until": until,
                        "lease_generation": generation}
        return doc or {}

    def renew_lease(self, lease: Lease, ttl_s: float) -> Lease:
        """Extend `lease` by `ttl_s` from now (server time); LeaseLost if it has passed on."""
        coll = self._writable(SYNC_STATE)
        state_id = _state_id(lease.source, lease.stream, lease.partition)
        mine = {"_id": state_id, "lease_owner": lease.owner,
                "lease_generation": lease.generation}
        doc = None
        if self._pipeline:
            try:
                doc = coll.find_one_and_update(
                    mine, [{"$set": {"lease_until": {"$add": ["$$NOW",
                                                              int(round(ttl_s * 1000))]}}}],
                    projection=_LEASE_PROJECTION, return_document=ReturnDocument.AFTER)
            except OperationFailure as exc:
                if exc.code not in _NO_PIPELINE_CODES:
                    raise
                self._pipeline = False
        if not self._pipeline:
            until = self.server_now() + timedelta(seconds=ttl_s)
            # no projection: servers without update pipelines (FerretDB 1.x) also refuse
            # findAndModify with one
            doc = coll.find_one_and_update(mine, {"$set": {"lease_until": until}},
                                           return_document=ReturnDocument.AFTER)
        if doc is None:
            raise self._lost(lease, state_id)
        return Lease(lease.source, lease.stream, lease.partition, lease.owner,
                     lease.generation, to_iso(_as_utc(doc["lease_until"])))

    def release_lease(self, source: str, stream: str, partition: str, owner: str) -> None:
        self._writable(SYNC_STATE).update_one(
            {"_id": _state_id(source, stream, partition), "lease_owner": owner},
            {"$set": {"lease_owner": None, "lease_until": None}})

    # -- audit, metrics, settings ----------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> None:
        """Insert one audit entry. A raw payload over RAW_PAYLOAD_LIMIT is truncated (and
        the entry says so); an entry still over 16 MiB is stored without its payload and
        detail, saying why: an audit write never blocks a checkpoint."""
        entry = cap_raw_payload(entry)
        doc = entry.model_dump(mode="json", exclude={"raw_payload"})
        if entry.raw_payload is not None:
            doc["raw_payload"] = entry.raw_payload
        doc[AUDIT_TTL_FIELD] = parse(entry.timestamp)
        coll = self._writable(AUDIT_LOG)
        try:
            coll.insert_one(doc)
        except DocumentTooLarge:
            doc.pop("_id", None)
            doc.pop("raw_payload", None)
            doc["detail"] = {"dropped": "the entry was over MongoDB's 16 MiB document limit",
                             "raw_payload_bytes": len(entry.raw_payload or "")}
            coll.insert_one(doc)

    def _find_audit(self, source: str | None = None, entity: str | None = None,
                    outcome: str | None = None, since: str | None = None, limit: int = 100):
        check_limit(limit)
        where: dict[str, Any] = {k: v for k, v in
                                 (("source", source), ("entity", entity), ("outcome", outcome))
                                 if v is not None}
        if since:
            where["timestamp"] = {"$gte": since}
        return self._collection(AUDIT_LOG).find(where, {AUDIT_TTL_FIELD: 0}).sort(
            [("timestamp", DESCENDING), ("_id", DESCENDING)]).limit(limit)

    def query_audit(self, source: str | None = None, entity: str | None = None,
                    outcome: str | None = None, since: str | None = None,
                    limit: int = 100) -> list[AuditEntry]:
        docs = self._find_audit(source, entity, outcome, since, limit)
        return [AuditEntry.model_validate({k: v for k, v in doc.items() if k != "_id"})
                for doc in docs]

    def record_metrics(self, metrics: RunMetrics) -> None:
        self._writable(RUN_METRICS).insert_one(metrics.model_dump(mode="json"))

    def _find_metrics(self, source: str | None = None, stream: str | None = None,
                      limit: int = 100):
        check_limit(limit)
        where = {k: v for k, v in (("source", source), ("stream", stream)) if v is not None}
        return self._collection(RUN_METRICS).find(where).sort(
            [("started_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)

    def query_metrics(self, source: str | None = None, stream: str | None = None,
                      limit: int = 100) -> list[RunMetrics]:
        return [RunMetrics.model_validate({k: v for k, v in doc.items() if k != "_id"})
                for doc in self._find_metrics(source, stream, limit)]

    def get_meta(self, key: str) -> dict[str, Any] | None:
        doc = self._collection(META).find_one({"_id": key})
        return doc["value"] if doc else None

    def put_meta(self, key: str, value: dict[str, Any]) -> None:
        _upsert(self._writable(META).replace_one, {"_id": key}, {"_id": key, "value": value})

    # -- maintenance -----------------------------------------------------------------

    def purge(self, now_iso: str, audit_retention_days: int,
              raw_retention_days: int) -> dict[str, int]:
        """Delete audit entries older than their retention, then strip older raw payloads.

        The TTL index does the first part too, but lazily (about once a minute).
        """
        coll = self._writable(AUDIT_LOG)
        deleted = coll.delete_many(
            {"timestamp": {"$lt": cutoff(now_iso, audit_retention_days)}}).deleted_count
        stripped = coll.update_many(
            {"timestamp": {"$lt": cutoff(now_iso, raw_retention_days)},
             "raw_payload": {"$exists": True}},
            {"$unset": {"raw_payload": ""}}).modified_count
        return {"audit_deleted": deleted, "raw_payloads_removed": stripped}

    # -- webhook inbox (dihub serve) -------------------------------------------------
    # Collection `webhook_inbox`, `_id` = "<source>:<delivery_id>" (so a retry is a
    # duplicate key, not a second delivery); `seq` orders and names deliveries. Same
    # contract as the SQLite store's inbox_* methods.

    def existing_ids(self, entity: str, ids: list[str]) -> set[str]:
        """Which of `ids` are stored (for writes that must not replace a record)."""
        coll = self._collection(check_entity(entity))
        found: set[str] = set()
        for i in range(0, len(ids), _CHUNK):
            found.update(d["_id"] for d in coll.find({"_id": {"$in": ids[i:i + _CHUNK]}},
                                                     {"_id": 1}))
        return found

    def _inbox_coll(self):
        coll = self._db[WEBHOOK_INBOX]
        if WEBHOOK_INBOX not in self._ready:
            with self._ready_lock:
                if WEBHOOK_INBOX not in self._ready:
                    coll.create_index([("status", ASCENDING), ("next_attempt_ts", ASCENDING)])
                    try:
                        coll.create_index([("seq", ASCENDING)], name="seq_unique",
                                          unique=True)
                    except OperationFailure as exc:
                        if exc.code != 11000:
                            raise
                        # numbers handed out twice by an older version on FerretDB:
                        # new numbers are still above every stored one
                        log.warning("webhook inbox: delivery numbers are not unique; "
                                    "`dihub webhooks replay ID` may name two deliveries")
                    self._db[WEBHOOK_CLAIMS].create_index([("ts", ASCENDING)])
                    self._ready.add(WEBHOOK_INBOX)
        return coll

    # Only the unique indexes are relied on for atomicity: FerretDB 1.x runs neither
    # findAndModify nor an update with a filter atomically (two concurrent $inc returned
    # one value; two workers claimed one delivery), but it never stores a duplicate key.

    def inbox_put(self, delivery: dict[str, Any]) -> bool:
        """The delivery's number is one more than the highest stored (or handed out, the
        floor in `meta` keeps numbers of purged deliveries from coming back); the unique
        index on `seq` makes a concurrent writer that picked the same number try again."""
        coll = self._inbox_coll()
        doc_id = f"{delivery['source']}:{delivery['delivery_id']}"
        if coll.find_one({"_id": doc_id}, {"_id": 1}) is not None:
            return False          # a retry: acknowledged, no delivery number spent
        doc = {"_id": doc_id, "kind": delivery["kind"], "source": delivery["source"],
               "delivery_id": delivery["delivery_id"], "event": delivery.get("event"),
               "received_ts": delivery["received_ts"], "status": "pending", "attempts": 0,
               "next_attempt_ts": delivery["received_ts"], "processed_ts": None,
               "error": None, "claimed_until": None, "claimed_by": None,
               "headers": inbox_headers(delivery.get("headers")),
               "body": bytes(delivery["body"])}
        meta = self._db[META]
        for _ in range(_INBOX_PUT_ATTEMPTS):
            top = coll.find_one({}, {"seq": 1}, sort=[("seq", DESCENDING)])
            floor = meta.find_one({"_id": _INBOX_SEQ}) or {}
            doc["seq"] = max(top["seq"] if top else 0, floor.get("value") or 0) + 1
            try:
                coll.insert_one(doc)
            except DuplicateKeyError:
                if coll.find_one({"_id": doc_id}, {"_id": 1}) is not None:
                    return False  # the same delivery, stored by a concurrent request
                continue          # the number was taken: the next one
            _upsert(meta.update_one, {"_id": _INBOX_SEQ}, {"$max": {"value": doc["seq"]}})
            return True
        raise OperationFailure("webhook inbox: no delivery number after "
                               f"{_INBOX_PUT_ATTEMPTS} attempts (too many concurrent writers)")

    def inbox_put_many(self, deliveries: list[dict[str, Any]]) -> list[bool]:
        return [self.inbox_put(d) for d in deliveries]

    def inbox_claim(self, now_ts: float, limit: int, claim_s: float,
                    owner: str) -> list[dict[str, Any]]:
        """Read up to `limit` due deliveries, then claim each by inserting a claim whose
        `_id` names the delivery's state as read (attempts, due time, previous claim):
        of two workers that read one state, exactly one inserts it (unique `_id`). A
        claim that was won but never stamped on the delivery (the worker died in
        between) is taken over in the next round once it has expired."""
        coll = self._inbox_coll()
        claims = self._db[WEBHOOK_CLAIMS]
        due = {"status": "pending", "next_attempt_ts": {"$lte": now_ts},
               "$or": [{"claimed_until": None}, {"claimed_until": {"$lt": now_ts}}]}
        seen = list(coll.find(due).sort("seq", ASCENDING).limit(limit))
        until = now_ts + claim_s
        states = [f"{d['seq']}:{d.get('attempts')}:{d.get('next_attempt_ts')!r}:"
                  f"{d.get('claimed_until')!r}" for d in seen]
        taken: set[int] = set()
        if seen:           # round 0 of every claim in one round trip
            try:
                claims.insert_many([{"_id": f"{state}:0", "owner": owner, "until": until,
                                     "ts": now_ts} for state in states], ordered=False)
            except BulkWriteError as exc:
                errors = (exc.details or {}).get("writeErrors", [])
                if any(e.get("code") != 11000 for e in errors):
                    raise
                taken = {e["index"] for e in errors}
        won = [d for i, d in enumerate(seen) if i not in taken]
        for i in sorted(taken):       # held by another worker, or a claim left expired
            for round_ in range(_INBOX_PUT_ATTEMPTS):
                held = claims.find_one({"_id": f"{states[i]}:{round_}"})
                if held is None:
                    try:
                        claims.insert_one({"_id": f"{states[i]}:{round_}", "owner": owner,
                                           "until": until, "ts": now_ts})
                        won.append(seen[i])
                    except DuplicateKeyError:
                        pass
                    break
                if (held.get("until") or 0) >= now_ts:
                    break     # another worker holds it
        won.sort(key=lambda d: d["seq"])
        if won:
            coll.update_many({"_id": {"$in": [d["_id"] for d in won]}},
                             {"$set": {"claimed_until": until, "claimed_by": owner}})
        return [_inbox_doc(d) for d in won]

    def inbox_finish(self, outcomes: list[dict[str, Any]]) -> None:
        coll = self._inbox_coll()
        for o in outcomes:
            update: dict[str, Any] = {"$set": {
                "status": o["status"], "attempts": o["attempts"],
                "next_attempt_ts": o.get("next_attempt_ts") or 0,
                "processed_ts": o.get("processed_ts"), "error": o.get("error"),
                "claimed_until": None, "claimed_by": None}}
            if o.get("drop_body"):
                update["$set"]["body"] = None
            coll.update_one({"seq": o["id"]}, update)

    def inbox_list(self, status: str | None = None, limit: int = 100,
                   failed: bool = False) -> list[dict[str, Any]]:
        where: dict[str, Any] = {}
        if status:
            where["status"] = status
        if failed:
            where["$or"] = [{"status": "failed"},
                            {"status": "pending", "error": {"$ne": None}}]
        docs = self._collection(WEBHOOK_INBOX).find(where).sort("seq", DESCENDING).limit(limit)
        return [_inbox_doc(d, body=False) for d in docs]

    def inbox_get(self, delivery_id: int) -> dict[str, Any] | None:
        doc = self._collection(WEBHOOK_INBOX).find_one({"seq": int(delivery_id)})
        return _inbox_doc(doc) if doc else None

    def inbox_replay(self, delivery_id: int, now_ts: float) -> bool:
        res = self._inbox_coll().update_one(
            {"seq": int(delivery_id), "body": {"$ne": None}},
            {"$set": {"status": "pending", "attempts": 0, "error": None,
                      "next_attempt_ts": now_ts, "claimed_until": None, "claimed_by": None}})
        return res.matched_count == 1

    def inbox_stats(self, now_ts: float) -> dict[str, Any]:
        coll = self._collection(WEBHOOK_INBOX)
        counts = {s: coll.count_documents({"status": s}) for s in ("pending", "done", "failed")}
        oldest = coll.find_one({"status": "pending"}, sort=[("seq", ASCENDING)])
        return {**counts, "oldest_pending_age_s":
                max(0.0, now_ts - oldest["received_ts"]) if oldest else 0.0}

    def inbox_purge(self, before_ts: float) -> int:
        deleted = self._inbox_coll().delete_many(
            {"status": "done", "processed_ts": {"$lt": before_ts}}).deleted_count
        self._db[WEBHOOK_CLAIMS].delete_many({"ts": {"$lt": before_ts}})
        return deleted


WEBHOOK_INBOX = "webhook_inbox"
WEBHOOK_CLAIMS = "webhook_inbox_claims"   # one document per claim of a delivery
_INBOX_SEQ = "webhook_inbox_seq"      # the highest delivery number handed out, in `meta`
_INBOX_PUT_ATTEMPTS = 1000


def _inbox_doc(doc: dict[str, Any], body: bool = True) -> dict[str, Any]:
    out = {k: doc.get(k) for k in ("kind", "source", "delivery_id", "event", "received_ts",
                                   "status", "attempts", "next_attempt_ts", "processed_ts",
                                   "error", "headers")}
    out["id"] = doc["seq"]
    if body:
        out["body"] = bytes(doc["body"]) if doc.get("body") is not None else None
    else:
        out["has_body"] = doc.get("body") is not None
    return out


def _upsert(write: Any, key: dict[str, Any], update: dict[str, Any]) -> None:
    """`write(key, update, upsert=True)`, once more on a duplicate key: two upserts of a
    document that does not exist yet may both insert, and the server refuses the second
    (E11000); the document exists then, so the second try updates it."""
    try:
        write(key, update, upsert=True)
    except DuplicateKeyError:
        write(key, update, upsert=True)
