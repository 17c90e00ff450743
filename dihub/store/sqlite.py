"""The embedded store: one SQLite file (stdlib sqlite3), used when no MongoDB is configured.

Concurrency: one connection per store, shared by the engine's threads under a
lock; several dihub processes may open the same file at once (WAL journal, a
busy timeout, and `BEGIN IMMEDIATE` for every write so a writer never has to
upgrade a read lock — the cause of instant SQLITE_BUSY errors in WAL mode).

Damage: every sqlite3 error is raised as a dihub error naming the file and what
to do (dihub.store.errors.sqlite_error). A process verifies the file with
`PRAGMA quick_check` before its first write (one sequential read of the file,
one to two seconds per GB when cached), so a damaged store fails `sync` as it
fails `fetch`, and nothing is written into a broken b-tree; unless the file is
as a check less than a day old left it (dihub/store/sqlite_checked.py). Readers are not
checked up front: they fail, with the same message, on the first bad page they
touch. `check()` is the full `PRAGMA integrity_check` behind `dihub store check`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dihub.errors import FatalError, LeaseHeld
from dihub.models.documents import decode_document, encode_document
from dihub.store import sqlite_checked
from dihub.store import sqlite_keyed as keyed
from dihub.store.base import QueryPage, UpsertResult, inbox_headers
from dihub.store.errors import CHECK_HINT, LeaseLost, StoreDamaged, sqlite_error
from dihub.store.keyset import (
    DEFAULT_PAGE_SIZE,
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
from dihub.timeutil import utcnow

if TYPE_CHECKING:       # imported where they are built: reading records needs none of them
    from dihub.models.lease import Lease
    from dihub.models.state import AuditEntry, RunMetrics, SyncState

log = logging.getLogger("dihub.store")

SCHEMA_VERSION = 6          # 2: sync_state.lease_generation; 3: records_by_ingested;
                            # 4: records_by_commits_commit_id; 5: the other KEYED_FIELDS;
                            # 6: sync_cursor
_LEASE_FIELDS = {"lease_owner", "lease_until", "lease_generation"}
# A state's cursor and ETags live in sync_cursor, written only when they change: a git
# cursor holds every ref's tip, and the state row is written six times a run (its status
# three times, its lease three times), so a run that finds nothing new wrote O(refs).
_CURSOR_FIELDS = ("cursor", "etags")
_STATE_ONLY = _LEASE_FIELDS | set(_CURSOR_FIELDS)
# Lease times come from SQLite's clock, i.e. the clock of the host the file is on
# (every process that shares a SQLite file runs on that host), never from a
# caller's clock. Second precision, as every stored timestamp.
_SQL_NOW = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
_SQL_UNTIL = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?)"
_WAL_CHECKPOINT_PAGES = 16384
_CHUNK = 500  # ids per IN (...) lookup, well under SQLite's bound-parameter limit
_IN_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, _CHUNK)
_DOC_TABLES = ("records", "sync_state", "sync_cursor", "audit_log",
               "run_metrics")   # with a JSON `doc`

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    source TEXT,
    updated_at TEXT NOT NULL,          -- '' when the record has none: sorts first
    raw_signature TEXT,
    ingested_at TEXT,
    doc TEXT NOT NULL,
    PRIMARY KEY (entity, id)
);
CREATE INDEX IF NOT EXISTS records_by_source ON records (entity, source, updated_at, id);
CREATE INDEX IF NOT EXISTS records_by_time ON records (entity, updated_at, id);
CREATE INDEX IF NOT EXISTS records_by_ingested ON records (entity, ingested_at, id);
CREATE TABLE IF NOT EXISTS sync_state (
    source TEXT NOT NULL, stream TEXT NOT NULL, partition TEXT NOT NULL,
    doc TEXT NOT NULL,                 -- the SyncState without its lease, cursor and etags
    lease_owner TEXT, lease_until TEXT, lease_generation INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, stream, partition)
);
CREATE TABLE IF NOT EXISTS sync_cursor (
    source TEXT NOT NULL, stream TEXT NOT NULL, partition TEXT NOT NULL,
    doc TEXT NOT NULL,                 -- {"cursor": ..., "etags": {...}} of the state
    PRIMARY KEY (source, stream, partition)
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL,
    run_id TEXT, source TEXT, entity TEXT, outcome TEXT,
    doc TEXT NOT NULL, raw_payload TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit_log (timestamp);
CREATE INDEX IF NOT EXISTS audit_by_source ON audit_log (source, timestamp);
CREATE TABLE IF NOT EXISTS run_metrics (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL,
    run_id TEXT, source TEXT, stream TEXT, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_time ON run_metrics (started_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
""" + keyed.SCHEMA

_UPSERT = """
INSERT INTO records (entity, id, source, updated_at, raw_signature, ingested_at, doc)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (entity, id) DO UPDATE SET
    source = excluded.source, updated_at = excluded.updated_at,
    raw_signature = excluded.raw_signature, ingested_at = excluded.ingested_at,
    doc = excluded.doc
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _move_cursors(conn: sqlite3.Connection) -> None:
    """Version 6: each state row's cursor and ETags move to sync_cursor."""
    rows = conn.execute("SELECT source, stream, partition, doc FROM sync_state").fetchall()
    for *key, text in rows:
        doc = json.loads(text)
        if not any(name in doc for name in _CURSOR_FIELDS):
            continue
        moved = {name: doc.pop(name, default)
                 for name, default in zip(_CURSOR_FIELDS, (None, {}), strict=True)}
        conn.execute("INSERT OR REPLACE INTO sync_cursor (source, stream, partition, doc) "
                     "VALUES (?, ?, ?, ?)", (*key, _dumps(moved)))
        conn.execute("UPDATE sync_state SET doc = ? WHERE source = ? AND stream = ? "
                     "AND partition = ?", (_dumps(doc), *key))


def _in_list(values: list[Any]) -> tuple[str, list[Any]]:
    """`(?,...,?)` for a non-empty chunk of `values`, and the values padded with the last
    one to the next of a few lengths (_IN_SIZES). sqlite3 keeps the last 128 statements
    prepared, one per SQL text: a list of each length was a statement of its own, and a
    sync that wrote batches of many sizes filled that cache with statements of up to 500
    parameters (a Slack sync's RSS grew by 4 MB over its run)."""
    size = next(n for n in _IN_SIZES if n >= len(values))
    return "(" + ",".join("?" * size) + ")", values + values[-1:] * (size - len(values))


def _time_order(row: tuple) -> tuple[str, str, str]:
    return row[0], row[3], row[1]          # entity, updated_at, id of an _UPSERT row


def _problems(rows: list[tuple[str]]) -> list[str]:
    """The lines of a quick_check/integrity_check answer that report a problem."""
    lines = [line.strip() for (text,) in rows for line in str(text).splitlines()]
    return [line for line in lines if line and line != "ok" and not line.startswith("***")]


def _filter_sql(name: str, value: Any) -> tuple[str, list[Any]]:
    """MongoDB equality on a top-level field: scalar equal, or an array containing it.

    A scalar field is compared with json_extract, in the same pass over the document as
    json_type; only an array field goes through json_each (one row per element).
    """
    path = f"$.{name}"
    member = ("EXISTS (SELECT 1 FROM json_each(records.doc, ?) AS j WHERE {} "
              "AND json_type(records.doc, ?) <> 'object')")
    if value is None:
        null_member = member.format("j.type = 'null'")
        return f"(json_type(records.doc, ?) IS NULL OR {null_member})", [path, path, path]
    if isinstance(value, bool):
        kind = "'true'" if value else "'false'"
        return (f"CASE json_type(records.doc, ?) WHEN {kind} THEN 1 WHEN 'array' THEN "
                f"{member.format(f'j.type = {kind}')} ELSE 0 END", [path, path, path])
    if isinstance(value, int | float):
        return ("CASE json_type(records.doc, ?) WHEN 'integer' THEN json_extract(records.doc, ?)"
                " = ? WHEN 'real' THEN json_extract(records.doc, ?) = ? WHEN 'array' THEN "
                + member.format("j.type IN ('integer', 'real') AND j.value = ?") + " ELSE 0 END",
                [path, path, value, path, value, path, value, path])
    return ("CASE json_type(records.doc, ?) WHEN 'text' THEN json_extract(records.doc, ?) = ? "
            "WHEN 'array' THEN " + member.format("j.type = 'text' AND j.value = ?")
            + " ELSE 0 END", [path, path, value, path, value, path])


class SQLiteStore:
    """Store backed by one SQLite file; parent directories and schema are created on first use."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0,
                 clock: Callable[[], datetime] = utcnow):
        self.path = Path(path)
        self._clock = clock          # client-side stamps only (default ingested_at)
        self._generation_sql = "lease_generation"   # "0" on a read-only version-1 file
        # NULL, without the join, on a read-only file from before version 6 (whose state
        # rows still hold their cursor)
        self._cursor_sql = "c.doc"
        self._cursor_join = " LEFT JOIN sync_cursor AS c USING (source, stream, partition)"
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._checked = False        # quick_check passed; done once, before the first write
        self._checked_at: float | None = None   # when the check that vouches for it ran
        self._wrote = False
        self._keyed = keyed.KeyedIndexes()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def describe(self) -> str:
        """What `dihub status` shows: `sqlite /abs/path.db`."""
        return f"sqlite {self.path}"

    # -- connection and transactions -------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise FatalError(f"the store {self.path} is closed")
        if self._conn is None:
            if self.path.is_dir():
                raise FatalError(
                    f"the embedded store {self.path} is a directory, not a file",
                    hint="Set store.uri (or DIHUB_STORE_URI) to a file inside it, e.g. "
                         f"sqlite:///{self.path / 'dihub.db'}.")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_s,
                                       isolation_level=None, check_same_thread=False)
            except OSError as exc:
                raise FatalError(
                    f"cannot open the embedded store {self.path}: {exc.strerror or exc}",
                    hint="Check that its folder exists and is writable, or set store.uri "
                         "(or DIHUB_STORE_URI) to another sqlite:///path or a mongodb:// URI."
                ) from None
            except sqlite3.Error as exc:
                raise sqlite_error(exc, self.path) from exc
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
                try:
                    _while_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"),
                                self.busy_timeout_s)
                except sqlite3.OperationalError as exc:
                    # A read-only file (a restored backup) still serves reads in its
                    # own journal mode; writes fail later, naming the file.
                    if (exc.sqlite_errorcode or 0) & 0xFF != sqlite3.SQLITE_READONLY:
                        raise
                conn.execute("PRAGMA synchronous = NORMAL")
                # Checkpoint every 64 MB of WAL, not every 4 MB (1,000 pages): a batch of
                # records dirties about one page of the id index per record (ids are
                # hashes), and each checkpoint writes every page dirtied since the last
                # one; fewer checkpoints write a page touched by several batches once.
                # The WAL is cut back to that size after a checkpoint.
                conn.execute(f"PRAGMA wal_autocheckpoint = {_WAL_CHECKPOINT_PAGES}")
                conn.execute(f"PRAGMA journal_size_limit = {_WAL_CHECKPOINT_PAGES * 4096}")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version < SCHEMA_VERSION:
                    try:
                        self._migrate(conn)
                    except sqlite3.OperationalError as exc:
                        # A read-only version-1 file still serves reads (generation 0);
                        # a read-only version-2 one reads without records_by_ingested, a
                        # version-3 or -4 one without (some of) the KEYED_FIELDS indexes.
                        if ((exc.sqlite_errorcode or 0) & 0xFF != sqlite3.SQLITE_READONLY
                                or version < 1):
                            raise
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        if version < 2:
                            self._generation_sql = "0"
                        if version < 6:
                            self._cursor_sql, self._cursor_join = "NULL", ""
            except BaseException as exc:
                conn.close()
                if isinstance(exc, sqlite3.Error):
                    raise sqlite_error(exc, self.path) from exc
                raise
            self._conn = conn
        return self._conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(sync_state)")}
        if "lease_generation" not in columns:
            conn.execute("ALTER TABLE sync_state ADD COLUMN lease_generation INTEGER "
                         "NOT NULL DEFAULT 0")
        if conn.execute("PRAGMA user_version").fetchone()[0] < 6:
            _move_cursors(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise sqlite_error(exc, self.path) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                first = not self._checked
                if first:
                    self._quick_check(conn)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if first:   # a keyed index a killed load left dropped
                        self._keyed.ensure(conn)
                    yield conn
                    conn.execute("COMMIT")
                    self._wrote = True
                except BaseException:
                    if conn.in_transaction:
                        with suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise sqlite_error(exc, self.path) from exc

    def _quick_check(self, conn: sqlite3.Connection) -> None:
        """Refuse to write into a damaged file: a write there can spread the damage, and a
        sync that only touches sound pages would otherwise exit 0 while `fetch` fails.
        Skipped when the file is as the last check left it, within a day (sqlite_checked)."""
        at = sqlite_checked.checked_at(self.path)
        if at is None:
            problems = _problems(conn.execute("PRAGMA quick_check(1)").fetchall())
            if problems:
                raise StoreDamaged(
                    f"the embedded store {self.path} is damaged ({problems[0]})",
                    hint=CHECK_HINT)
            at = time.time()
            sqlite_checked.mark(self.path, at)
        self._checked_at = at
        self._checked = True

    def _loads(self, doc: str) -> Any:
        try:
            return decode_document(doc)
        except (TypeError, ValueError) as exc:
            raise StoreDamaged(
                f"the embedded store {self.path} holds a document that is not JSON ({exc})",
                hint=CHECK_HINT) from exc

    def close(self) -> None:
        if self._keyed.dropped and not self._closed:
            try:
                self._restore_keyed()
            except FatalError as exc:   # the next process that writes builds it
                log.warning("%s", exc)
        with self._lock:
            if self._conn is not None:
                self._conn.close()      # the last connection checkpoints the WAL here
                self._conn = None
                if self._wrote and self._checked_at is not None:
                    # this process's writes changed the file the check vouched for
                    sqlite_checked.mark(self.path, self._checked_at)
            self._closed = True

    # -- records ---------------------------------------------------------------------

    def upsert_many(self, records: Iterable[dict[str, Any]]) -> UpsertResult:
        batch = prepare_batch(records, clock=self._clock)
        result = UpsertResult()
        if not batch:
            return result
        by_entity: dict[str, list[str]] = {}
        for entity, record_id in batch:
            by_entity.setdefault(entity, []).append(record_id)
        with self._write() as conn:
            # Read and write in one write transaction: the counts are exact whatever
            # other processes write, and a stored record newer (by upstream updated_at)
            # than the one given is kept.
            stored: dict[tuple[str, str], tuple[str | None, str]] = {}
            for entity, ids in by_entity.items():
                for i in range(0, len(ids), _CHUNK):
                    chunk = ids[i:i + _CHUNK]
                    marks, chunk = _in_list(chunk)
                    rows = conn.execute(
                        f"SELECT id, raw_signature, updated_at FROM records WHERE entity = ? "
                        f"AND id IN {marks}", [entity, *chunk])
                    stored.update(((entity, rid), (sig, upd)) for rid, sig, upd in rows)
            writes = []
            inserted: dict[str, int] = {}
            for key, doc in batch.items():
                if key not in stored:
                    result.inserted += 1
                    inserted[key[0]] = inserted.get(key[0], 0) + 1
                elif (is_unchanged(stored[key][0], doc)
                      or (doc.get("updated_at") or "") < stored[key][1]
                      and isinstance(doc.get("updated_at"), str)):
                    result.unchanged += 1
                    continue
                else:
                    result.updated += 1
                writes.append((key[0], key[1], doc.get("source"), doc.get("updated_at") or "",
                               doc.get("raw_signature"), doc.get("ingested_at"),
                               encode_document(doc)))
            # In (entity, updated_at, id) order: a batch that arrives newest first (git
            # log) would otherwise insert each key at the front of the time indexes and
            # leave their pages half full (measured: 48% used; sorted: 81%).
            writes.sort(key=_time_order)
            conn.executemany(_UPSERT, writes)
            self._keyed.inserted(conn, inserted)
        return result

    def query(self, entity: str, source: str | None = None, since: str | None = None,
              until: str | None = None, filters: dict[str, Any] | None = None,
              cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE) -> QueryPage:
        check_entity(entity)
        check_limit(limit)
        since, until = check_window(since, until)
        where, params = ["entity = ?"], [entity]
        if source is not None:
            where.append("source = ?")
            params.append(source)
        after = decode_cursor(cursor) if cursor else None
        if after is not None:
            after = (after[0] or "", after[1])
            if since and after[0] < since:
                after = None        # the window starts after the cursor: it is implied
            else:
                since = None        # the cursor is past the window's start: it implies it
        # One index range from where the page starts: the planner seeks to the cursor's
        # key with the row value alone, or to a scalar lower bound when there is an upper
        # one; so a page costs the same at any depth (a bound it cannot seek to would
        # make it walk every record from the window's start to the cursor).
        if after is not None and until:
            where.append("updated_at >= ?")
            params.append(after[0])
        if since:
            where.append("updated_at >= ?")
            params.append(since)
        if until:
            where.append("updated_at > '' AND updated_at < ?")
            params.append(until)
        if after is not None:
            where.append("(updated_at, id) > (?, ?)")
            params += list(after)
        for name, value in check_filters(filters).items():
            sql, args = _filter_sql(name, value)
            where.append(sql)
            params += args
        sql = (f"SELECT updated_at, id, doc FROM records WHERE {' AND '.join(where)} "
               "ORDER BY updated_at, id LIMIT ?")
        with self._read() as conn:
            rows = conn.execute(sql, [*params, limit + 1]).fetchall()
        page = QueryPage(records=[self._loads(doc) for _, _, doc in rows[:limit]])
        if len(rows) > limit:
            last_updated, last_id, _ = rows[limit - 1]
            page.next_cursor = encode_cursor(last_updated or None, last_id)
        return page

    def iter_records(self, entity: str, source: str | None = None, since: str | None = None,
                     until: str | None = None,
                     filters: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        return iter_pages(self, entity, source=source, since=since, until=until,
                          filters=filters)

    def count(self, entity: str, source: str | None = None) -> int:
        check_entity(entity)
        sql, params = "SELECT COUNT(*) FROM records WHERE entity = ?", [entity]
        if source is not None:
            sql += " AND source = ?"
            params.append(source)
        with self._read() as conn:
            return conn.execute(sql, params).fetchone()[0]

    def find_by(self, entity: str, field: str, values: Iterable[Any]) -> list[dict[str, Any]]:
        keys = check_keyed(entity, field, values)
        found: list[dict[str, Any]] = []
        for i in range(0, len(keys), _CHUNK):
            marks, chunk = _in_list(keys[i:i + _CHUNK])
            found.extend(self._keyed_read(entity, field, f"IN {marks}", chunk))
        return found

    def find_by_prefix(self, entity: str, field: str, prefix: str,
                       limit: int) -> list[dict[str, Any]]:
        check_keyed(entity, field, prefix=True)
        check_limit(limit)
        return self._keyed_read(entity, field,
                                f">= ? AND json_extract(doc, '$.{field}') < ? LIMIT ?",
                                [prefix, prefix + PREFIX_END, limit])

    def _keyed_read(self, entity: str, field: str, condition: str,
                    params: list[Any]) -> list[dict[str, Any]]:
        if self._keyed.dropped:
            self._restore_keyed()
        with self._read() as conn:
            try:
                rows = conn.execute(f"{self._keyed.select(conn, entity, field)} {condition}",
                                    params).fetchall()
            except sqlite3.OperationalError as exc:
                if not keyed.is_missing_index(exc):     # another process is loading
                    raise
                self._keyed.forget()
                rows = conn.execute(f"{self._keyed.select(conn, entity, field)} {condition}",
                                    params).fetchall()
        return [self._loads(doc) for (doc,) in rows]

    def _restore_keyed(self) -> None:
        """Build the keyed indexes this process dropped while loading (sqlite_keyed)."""
        with self._write() as conn:
            self._keyed.ensure(conn)

    def iter_ingested_since(self, entity: str, since: str | None = None,
                            source: str | None = None) -> Iterator[dict[str, Any]]:
        """Records written at or after `since` (by `ingested_at`), in (ingested_at, id)
        order, a keyset page at a time over the records_by_ingested index."""
        check_entity(entity)
        after: tuple[str, str] | None = None
        while True:
            where, params = ["entity = ?", "ingested_at >= ?"], [entity, since or ""]
            if after is not None:
                where[1] = "ingested_at >= ? AND (ingested_at, id) > (?, ?)"
                params = [entity, after[0], *after]
            if source is not None:
                where.append("source = ?")
                params.append(source)
            sql = (f"SELECT ingested_at, id, doc FROM records WHERE {' AND '.join(where)} "
                   "ORDER BY ingested_at, id LIMIT ?")
            with self._read() as conn:
                rows = conn.execute(sql, [*params, DEFAULT_PAGE_SIZE]).fetchall()
            for _, _, doc in rows:
                yield self._loads(doc)
            if len(rows) < DEFAULT_PAGE_SIZE:
                return
            after = (rows[-1][0], rows[-1][1])

    # -- sync state and leases -------------------------------------------------------

    def _state(self, doc: str, cursor: str | None, lease_owner: str | None,
               lease_until: str | None, generation: int) -> SyncState:
        from dihub.models.state import SyncState

        return SyncState.model_validate(
            {**self._loads(doc), **(self._loads(cursor) if cursor else {}),
             "lease_owner": lease_owner, "lease_until": lease_until,
             "lease_generation": generation or 0})

    def _select_states(self) -> str:
        return (f"SELECT s.doc, {self._cursor_sql}, s.lease_owner, s.lease_until, "
                f"{self._generation_sql} FROM sync_state AS s{self._cursor_join}")

    def get_state(self, source: str, stream: str, partition: str) -> SyncState | None:
        with self._read() as conn:
            row = conn.execute(
                self._select_states() + " WHERE source = ? AND stream = ? AND partition = ?",
                (source, stream, partition)).fetchone()
        return self._state(*row) if row else None

    def put_state(self, state: SyncState, *, lease: Lease | None = None) -> None:
        """Replace the state; the lease columns belong to acquire/release and are kept.

        With `lease` (what acquire_lease returned), the write is fenced: it happens only
        while that owner and generation still hold the lease, else LeaseLost. Without
        one, it happens only while nobody holds a live lease, else LeaseHeld.
        """
        body = state.model_dump(mode="json", exclude=_LEASE_FIELDS)
        cursor = _dumps({name: body.pop(name) for name in _CURSOR_FIELDS})
        doc = _dumps(body)
        key = (state.source, state.stream, state.partition)
        with self._write() as conn:
            row = conn.execute(
                f"SELECT lease_owner, lease_until, lease_generation, {_SQL_NOW} "
                "FROM sync_state WHERE source = ? AND stream = ? AND partition = ?",
                key).fetchone()
            if lease is not None:
                if row is None or (row[0], row[2]) != (lease.owner, lease.generation):
                    raise LeaseLost(lease_name(*key), lease.owner, lease.generation,
                                    row[0] if row else None, row[2] if row else None)
            elif row is not None and row[0] and row[1] and row[1] > row[3]:
                raise LeaseHeld(lease_name(*key), row[0], row[1])
            conn.execute(
                "INSERT INTO sync_state (source, stream, partition, doc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (source, stream, partition) DO UPDATE SET doc = excluded.doc",
                (*key, doc))
            # an unchanged cursor is not written again (no page of it is dirtied)
            conn.execute(
                "INSERT INTO sync_cursor (source, stream, partition, doc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (source, stream, partition) DO UPDATE SET doc = excluded.doc "
                "WHERE sync_cursor.doc IS NOT excluded.doc", (*key, cursor))

    def list_states(self, source: str | None = None) -> list[SyncState]:
        sql = self._select_states()
        params: list[str] = []
        if source is not None:
            sql += " WHERE source = ?"
            params.append(source)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY source, stream, partition", params).fetchall()
        return [self._state(*row) for row in rows]

    def acquire_lease(self, source: str, stream: str, partition: str, owner: str,
                      ttl_s: float) -> Lease:
        """Timed by SQLite's clock (see _SQL_NOW); a new owner gets the next generation."""
        from dihub.models.lease import Lease
        from dihub.models.state import SyncState

        key = (source, stream, partition)
        with self._write() as conn:
            now, until = conn.execute(f"SELECT {_SQL_NOW}, {_SQL_UNTIL}",
                                      (f"{float(ttl_s):+.3f} seconds",)).fetchone()
            row = conn.execute(
                "SELECT lease_owner, lease_until, lease_generation FROM sync_state "
                "WHERE source = ? AND stream = ? AND partition = ?", key).fetchone()
            if row and row[0] and row[0] != owner and row[1] and row[1] > now:
                raise LeaseHeld(lease_name(*key), row[0], row[1])
            if row is None:
                generation = 1
                doc = SyncState(source=source, stream=stream, partition=partition)
                conn.execute(
                    "INSERT INTO sync_state (source, stream, partition, doc, lease_owner, "
                    "lease_until, lease_generation) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (*key, _dumps(doc.model_dump(mode="json", exclude=_STATE_ONLY)),
                     owner, until, generation))
            else:
                generation = row[2] if row[0] == owner else row[2] + 1
                conn.execute(
                    "UPDATE sync_state SET lease_owner = ?, lease_until = ?, "
                    "lease_generation = ? WHERE source = ? AND stream = ? AND partition = ?",
                    (owner, until, generation, *key))
        return Lease(source, stream, partition, owner, generation, until)

    def renew_lease(self, lease: Lease, ttl_s: float) -> Lease:
        """Extend `lease` by `ttl_s` from now; LeaseLost if it has passed on."""
        from dihub.models.lease import Lease

        key = (lease.source, lease.stream, lease.partition)
        with self._write() as conn:
            (until,) = conn.execute(f"SELECT {_SQL_UNTIL}",
                                    (f"{float(ttl_s):+.3f} seconds",)).fetchone()
            done = conn.execute(
                "UPDATE sync_state SET lease_until = ? WHERE source = ? AND stream = ? "
                "AND partition = ? AND lease_owner = ? AND lease_generation = ?",
                (until, *key, lease.owner, lease.generation)).rowcount
            if not done:
                row = conn.execute(
                    "SELECT lease_owner, lease_generation FROM sync_state "
                    "WHERE source = ? AND stream = ? AND partition = ?", key).fetchone()
                raise LeaseLost(lease_name(*key), lease.owner, lease.generation,
                                row[0] if row else None, row[1] if row else None)
        return Lease(*key, lease.owner, lease.generation, until)

    def release_lease(self, source: str, stream: str, partition: str, owner: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE sync_state SET lease_owner = NULL, lease_until = NULL "
                "WHERE source = ? AND stream = ? AND partition = ? AND lease_owner = ?",
                (source, stream, partition, owner))

    # -- audit, metrics, settings ----------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> None:
        entry = cap_raw_payload(entry)      # as MongoDB must: see cap_raw_payload
        doc = entry.model_dump(mode="json", exclude={"raw_payload"})
        with self._write() as conn:
            conn.execute(
                "INSERT INTO audit_log (timestamp, run_id, source, entity, outcome, doc, "
                "raw_payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (entry.timestamp, entry.run_id, entry.source, entry.entity, entry.outcome,
                 _dumps(doc), entry.raw_payload))

    def query_audit(self, source: str | None = None, entity: str | None = None,
                    outcome: str | None = None, since: str | None = None,
                    limit: int = 100) -> list[AuditEntry]:
        check_limit(limit)
        where, params = ["1 = 1"], []
        for column, value in (("source", source), ("entity", entity), ("outcome", outcome)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since:
            where.append("timestamp >= ?")
            params.append(since)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT doc, raw_payload FROM audit_log WHERE {' AND '.join(where)} "
                "ORDER BY timestamp DESC, seq DESC LIMIT ?", [*params, limit]).fetchall()
        from dihub.models.state import AuditEntry

        return [AuditEntry.model_validate({**self._loads(doc), "raw_payload": raw})
                for doc, raw in rows]

    def record_metrics(self, metrics: RunMetrics) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO run_metrics (started_at, run_id, source, stream, doc) "
                "VALUES (?, ?, ?, ?, ?)",
                (metrics.started_at, metrics.run_id, metrics.source, metrics.stream,
                 _dumps(metrics.model_dump(mode="json"))))

    def query_metrics(self, source: str | None = None, stream: str | None = None,
                      limit: int = 100) -> list[RunMetrics]:
        check_limit(limit)
        where, params = ["1 = 1"], []
        for column, value in (("source", source), ("stream", stream)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT doc FROM run_metrics WHERE {' AND '.join(where)} "
                "ORDER BY started_at DESC, seq DESC LIMIT ?", [*params, limit]).fetchall()
        from dihub.models.state import RunMetrics

        return [RunMetrics.model_validate(self._loads(doc)) for (doc,) in rows]

    def get_meta(self, key: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return self._loads(row[0]) if row else None

    def put_meta(self, key: str, value: dict[str, Any]) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (key, _dumps(value)))

    # -- maintenance -----------------------------------------------------------------

    def purge(self, now_iso: str, audit_retention_days: int,
              raw_retention_days: int) -> dict[str, int]:
        """Delete audit entries older than their retention, then strip older raw payloads."""
        with self._write() as conn:
            deleted = conn.execute("DELETE FROM audit_log WHERE timestamp < ?",
                                   (cutoff(now_iso, audit_retention_days),)).rowcount
            stripped = conn.execute(
                "UPDATE audit_log SET raw_payload = NULL "
                "WHERE timestamp < ? AND raw_payload IS NOT NULL",
                (cutoff(now_iso, raw_retention_days),)).rowcount
        return {"audit_deleted": deleted, "raw_payloads_removed": stripped}

    def check(self, max_problems: int = 20) -> list[str]:
        """`PRAGMA quick_check`, `integrity_check`, then a JSON check of every stored document.

        Returns what is wrong (at most `max_problems` lines), [] when the file is sound.
        Runs on its own connection and writes nothing to the file; a problem found removes
        the mark of the last passed check (sqlite_checked), so the next writer checks
        again. Raises a FatalError when there is no file to check or it cannot be read for
        another reason (locked, unreadable folder).
        """
        problems = self._check(max_problems)
        if problems:
            sqlite_checked.forget(self.path)
        return problems

    def _check(self, max_problems: int) -> list[str]:
        if not self.path.is_file():
            raise FatalError(
                f"the embedded store {self.path} does not exist" if not self.path.exists()
                else f"the embedded store {self.path} is not a file",
                hint="Nothing was synced into it yet, or store.uri (or DIHUB_STORE_URI) "
                     "names another file: `dihub status` shows the store in use.")
        conn = None
        try:
            conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_s,
                                   isolation_level=None)
            # quick_check(1) first: it reports a bad page as a line where a longer check
            # (which reads on past the first problem) raises "malformed" and says no more.
            problems = _problems(conn.execute("PRAGMA quick_check(1)").fetchall())
            if problems:
                with suppress(sqlite3.DatabaseError):
                    problems = _problems(conn.execute(
                        f"PRAGMA quick_check({int(max_problems)})").fetchall()) or problems
                return problems[:max_problems]
            try:
                problems = _problems(conn.execute(
                    f"PRAGMA integrity_check({int(max_problems)})").fetchall())
            except sqlite3.OperationalError as exc:
                # checking a KEYED_FIELDS index reads each document's field: one that is
                # not JSON stops it, and the JSON check below names the rows
                if "malformed JSON" not in str(exc):
                    raise
                problems = []
            if problems:
                return problems[:max_problems]
            tables = {name for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            for table in _DOC_TABLES:
                if table in tables:
                    (bad,) = conn.execute(
                        f"SELECT COUNT(*) FROM {table} WHERE json_valid(doc) = 0").fetchone()
                    if bad:
                        problems.append(f"{table}: {bad} row(s) whose document is not JSON")
            return problems
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            if isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_CORRUPT,
                                                          sqlite3.SQLITE_NOTADB):
                return [str(exc)]
            raise sqlite_error(exc, self.path) from exc
        finally:
            if conn is not None:
                conn.close()

    def existing_ids(self, entity: str, ids: list[str]) -> set[str]:
        """Which of `ids` are stored (for writes that must not replace a record)."""
        check_entity(entity)
        found: set[str] = set()
        with self._read() as conn:
            for i in range(0, len(ids), _CHUNK):
                marks, chunk = _in_list(ids[i:i + _CHUNK])
                found.update(r for (r,) in conn.execute(
                    f"SELECT id FROM records WHERE entity = ? AND id IN {marks}",
                    [entity, *chunk]))
        return found

    # -- webhook inbox (dihub serve) -------------------------------------------------
    # A table of its own, created by the first inbox call: stores that never serve
    # webhooks never get it. Times are epoch seconds (float) so processing lag has
    # sub-second precision. The body is kept as received (bytes); no signature header
    # and no secret is ever stored (dihub.serve.receive picks the headers).

    _inbox_ready = False

    def _inbox(self, conn: sqlite3.Connection) -> None:
        if not self._inbox_ready:
            conn.execute(_INBOX_SCHEMA)
            conn.execute(_INBOX_INDEX)
            self._inbox_ready = True

    def inbox_put(self, delivery: dict[str, Any]) -> bool:
        """Store one verified delivery (durable when this returns). False when a delivery
        with the same (source, delivery_id) is already stored: a retry or a duplicate."""
        return self.inbox_put_many([delivery])[0]

    def inbox_put_many(self, deliveries: list[dict[str, Any]]) -> list[bool]:
        """`inbox_put` of several deliveries in one transaction (one commit: the group
        commit of the server's acknowledgements). One answer per delivery, in order."""
        with self._write() as conn:
            self._inbox(conn)
            return [conn.execute(
                "INSERT INTO webhook_inbox (kind, source, delivery_id, event, received_ts, "
                "status, attempts, next_attempt_ts, headers, body) "
                "VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?) "
                "ON CONFLICT (source, delivery_id) DO NOTHING",
                (d["kind"], d["source"], d["delivery_id"], d.get("event"), d["received_ts"],
                 d["received_ts"], _dumps(inbox_headers(d.get("headers"))), d["body"])
            ).rowcount == 1 for d in deliveries]

    def inbox_claim(self, now_ts: float, limit: int, claim_s: float,
                    owner: str) -> list[dict[str, Any]]:
        """Up to `limit` pending deliveries due at `now_ts`, oldest first, claimed for
        `claim_s` seconds (a claim of a crashed worker expires and they are taken again)."""
        with self._write() as conn:
            self._inbox(conn)
            rows = conn.execute(
                "UPDATE webhook_inbox SET claimed_until = ?, claimed_by = ? WHERE seq IN ("
                "SELECT seq FROM webhook_inbox WHERE status = 'pending' "
                "AND next_attempt_ts <= ? AND (claimed_until IS NULL OR claimed_until < ?) "
                "ORDER BY seq LIMIT ?) RETURNING " + _INBOX_COLUMNS,
                (now_ts + claim_s, owner, now_ts, now_ts, limit)).fetchall()
        return sorted((self._inbox_row(r) for r in rows), key=lambda d: d["id"])

    def inbox_finish(self, outcomes: list[dict[str, Any]]) -> None:
        """Record what processing did, in one transaction. Each outcome has `id`,
        `status` (done | pending | failed), `attempts`, `next_attempt_ts`, `processed_ts`,
        `error`, and `drop_body` (True: the body is not kept, e.g. Slack text)."""
        with self._write() as conn:
            self._inbox(conn)
            conn.executemany(
                "UPDATE webhook_inbox SET status = ?, attempts = ?, next_attempt_ts = ?, "
                "processed_ts = ?, error = ?, claimed_until = NULL, claimed_by = NULL, "
                "body = CASE WHEN ? THEN NULL ELSE body END WHERE seq = ?",
                [(o["status"], o["attempts"], o.get("next_attempt_ts") or 0,
                  o.get("processed_ts"), o.get("error"), bool(o.get("drop_body")), o["id"])
                 for o in outcomes])

    def inbox_list(self, status: str | None = None, limit: int = 100,
                   failed: bool = False) -> list[dict[str, Any]]:
        """Deliveries newest first, without bodies. `failed`: those that gave up and those
        waiting for a retry after an error."""
        where, params = ["1 = 1"], []
        if status:
            where.append("status = ?")
            params.append(status)
        if failed:
            where.append("(status = 'failed' OR error IS NOT NULL AND status = 'pending')")
        with self._read() as conn:
            try:
                rows = conn.execute(
                    f"SELECT {_INBOX_COLUMNS} FROM webhook_inbox WHERE {' AND '.join(where)} "
                    "ORDER BY seq DESC LIMIT ?", [*params, limit]).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise
        return [self._inbox_row(r, body=False) for r in rows]

    def inbox_get(self, delivery_id: int) -> dict[str, Any] | None:
        with self._read() as conn:
            try:
                row = conn.execute(f"SELECT {_INBOX_COLUMNS} FROM webhook_inbox WHERE seq = ?",
                                   (delivery_id,)).fetchone()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return None
                raise
        return self._inbox_row(row) if row else None

    def inbox_replay(self, delivery_id: int, now_ts: float) -> bool:
        """Put a delivery back in the queue now (attempts reset). False if unknown or its
        body is gone."""
        with self._write() as conn:
            self._inbox(conn)
            cur = conn.execute(
                "UPDATE webhook_inbox SET status = 'pending', attempts = 0, error = NULL, "
                "next_attempt_ts = ?, claimed_until = NULL, claimed_by = NULL "
                "WHERE seq = ? AND body IS NOT NULL", (now_ts, delivery_id))
            return cur.rowcount == 1

    def inbox_stats(self, now_ts: float) -> dict[str, Any]:
        """Counts by status and the age in seconds of the oldest pending delivery."""
        with self._read() as conn:
            try:
                rows = conn.execute("SELECT status, COUNT(*), MIN(received_ts) "
                                    "FROM webhook_inbox GROUP BY status").fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    rows = []
                else:
                    raise
        counts = {status: n for status, n, _ in rows}
        oldest = next((ts for status, _, ts in rows if status == "pending"), None)
        return {"pending": counts.get("pending", 0), "done": counts.get("done", 0),
                "failed": counts.get("failed", 0),
                "oldest_pending_age_s": max(0.0, now_ts - oldest) if oldest else 0.0}

    def inbox_purge(self, before_ts: float) -> int:
        """Delete processed deliveries older than `before_ts` (their TTL)."""
        with self._write() as conn:
            self._inbox(conn)
            return conn.execute("DELETE FROM webhook_inbox WHERE status = 'done' "
                                "AND processed_ts < ?", (before_ts,)).rowcount

    def _inbox_row(self, row: tuple, body: bool = True) -> dict[str, Any]:
        doc = dict(zip(_INBOX_FIELDS, row, strict=True))
        doc["headers"] = self._loads(doc["headers"])
        if not body:
            doc["has_body"] = doc.pop("body") is not None
        return doc


_INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL, source TEXT NOT NULL, delivery_id TEXT NOT NULL, event TEXT,
    received_ts REAL NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ts REAL NOT NULL, processed_ts REAL, error TEXT,
    claimed_until REAL, claimed_by TEXT, headers TEXT NOT NULL, body BLOB,
    UNIQUE (source, delivery_id)
)"""
_INBOX_INDEX = ("CREATE INDEX IF NOT EXISTS webhook_inbox_due "
                "ON webhook_inbox (status, next_attempt_ts)")
_INBOX_FIELDS = ("id", "kind", "source", "delivery_id", "event", "received_ts", "status",
                 "attempts", "next_attempt_ts", "processed_ts", "error", "headers", "body")
_INBOX_COLUMNS = ("seq, kind, source, delivery_id, event, received_ts, status, attempts, "
                  "next_attempt_ts, processed_ts, error, headers, body")


def _while_busy(step, timeout_s: float):
    """Run `step`, again while SQLite answers SQLITE_BUSY, for up to `timeout_s`.

    Opening a WAL database whose last connection has closed makes the first opener
    rebuild the WAL index under an exclusive lock; a second process opening it at that
    moment gets SQLITE_BUSY at once, without the busy handler being called."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if ((exc.sqlite_errorcode or 0) & 0xFF != sqlite3.SQLITE_BUSY
                    or time.monotonic() >= deadline):
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
