"""SQLiteStore: a state's cursor and ETags live in sync_cursor and are written only when they
change, so a run that finds nothing new writes the same few pages however many refs or
pages its cursor names (schema version 6)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from dihub.models.state import SyncState
from dihub.store import sqlite as sqlite_module
from dihub.store.sqlite import SQLiteStore

KEY = ("git", "commits", "*")
# the shape of a git cursor: the finished tip of each of 1,500 refs (~110 KB of JSON)
BIG = {"heads": {f"refs/tags/v{i}": f"{i:040x}" for i in range(1500)}, "primary": "main"}
ETAGS = {f"https://api.example.org/repos/a/b/commits?page={i}": f'W/"{i:032x}"'
         for i in range(200)}


def _state(cursor=BIG, etags=ETAGS, **fields) -> SyncState:
    return SyncState(source=KEY[0], stream=KEY[1], partition=KEY[2], cursor=cursor,
                     etags=etags, **fields)


def _pages_written(store: SQLiteStore, path, write) -> int:
    """WAL frames (pages) that `write` adds, from an emptied WAL."""
    store._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    assert wal.stat().st_size == 0
    write()
    size = wal.stat().st_size
    return 0 if size == 0 else (size - 32) // (4096 + 24)


def test_a_state_written_again_with_the_same_cursor_writes_a_few_pages(tmp_path):
    path = tmp_path / "dihub.db"
    store = SQLiteStore(path)
    store.put_state(_state(status="running"))
    changed = _pages_written(store, path, lambda: store.put_state(
        _state(cursor={**BIG, "primary": "trunk"}, status="ok")))
    same = _pages_written(store, path, lambda: store.put_state(
        _state(cursor={**BIG, "primary": "trunk"}, status="ok",
               last_success_at="2026-12-01T00:00:00Z")))
    lease = store.acquire_lease(*KEY, "run-A", 60)
    leased = _pages_written(store, path, lambda: store.renew_lease(lease, 60))
    assert changed > 25, changed        # the cursor's ~30 pages
    assert same <= 4 and leased <= 4, (same, leased)
    got = store.get_state(*KEY)
    assert (got.cursor, got.etags, got.status, got.last_success_at, got.lease_owner) == (
        {**BIG, "primary": "trunk"}, ETAGS, "ok", "2026-12-01T00:00:00Z", "run-A")
    store.close()


def test_states_without_a_cursor_row_read_with_the_defaults_and_list_in_order(tmp_path):
    store = SQLiteStore(tmp_path / "dihub.db")
    store.acquire_lease("jira", "issues", "ENG", "run-B", 60)     # a row, no cursor yet
    store.put_state(_state(cursor={"since": "x"}, etags={}))
    states = store.list_states()
    assert [(s.source, s.cursor, s.etags, s.lease_owner) for s in states] == [
        ("git", {"since": "x"}, {}, None), ("jira", None, {}, "run-B")]
    assert [s.source for s in store.list_states("jira")] == ["jira"]
    store.close()


def _as_version_5(path) -> None:
    """The file as dihub wrote it before version 6: the cursor in the state row's doc."""
    with sqlite3.connect(path) as raw:
        for *key, doc, cursor in raw.execute(
                "SELECT s.source, s.stream, s.partition, s.doc, c.doc FROM sync_state AS s "
                "JOIN sync_cursor AS c USING (source, stream, partition)").fetchall():
            raw.execute("UPDATE sync_state SET doc = ? WHERE source = ? AND stream = ? "
                        "AND partition = ?",
                        (json.dumps({**json.loads(doc), **json.loads(cursor)}), *key))
        raw.execute("DROP TABLE sync_cursor")
        raw.execute("PRAGMA user_version = 5")
    raw.close()


def test_a_version_5_file_moves_its_cursors_when_opened(tmp_path):
    path = tmp_path / "dihub.db"
    store = SQLiteStore(path)
    store.put_state(_state(status="ok"))
    store.put_state(SyncState(source="slack", stream="messages", partition="C1",
                              status="never"))
    store.close()
    _as_version_5(path)
    store = SQLiteStore(path)
    got = store.get_state(*KEY)
    assert (got.cursor, got.etags, got.status) == (BIG, ETAGS, "ok")
    assert store.get_state("slack", "messages", "C1").cursor is None
    store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == sqlite_module.SCHEMA_VERSION
        docs = [json.loads(d) for (d,) in raw.execute("SELECT doc FROM sync_state")]
        assert not [d for d in docs if "cursor" in d or "etags" in d]
        assert raw.execute("SELECT COUNT(*) FROM sync_cursor").fetchone()[0] == 2
    raw.close()


def test_a_version_5_file_that_cannot_migrate_still_reads_its_cursors(tmp_path, monkeypatch):
    path = tmp_path / "dihub.db"
    store = SQLiteStore(path)
    store.put_state(_state(status="ok"))
    store.close()
    _as_version_5(path)

    def read_only(conn):
        exc = sqlite3.OperationalError("attempt to write a readonly database")
        exc.sqlite_errorcode = sqlite3.SQLITE_READONLY
        raise exc

    monkeypatch.setattr(SQLiteStore, "_migrate", staticmethod(read_only))
    store = SQLiteStore(path)           # as a restored backup on a read-only mount
    got = store.get_state(*KEY)
    assert (got.cursor, got.etags, got.status) == (BIG, ETAGS, "ok")
    assert [s.cursor for s in store.list_states()] == [BIG]
    store.close()


@pytest.mark.parametrize("damage", ['{"cursor": 1', "[]"])
def test_store_check_reads_the_cursor_table_too(tmp_path, damage):
    path = tmp_path / "dihub.db"
    store = SQLiteStore(path)
    store.put_state(_state())
    store.close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE sync_cursor SET doc = ?", (damage,))
    raw.close()
    store = SQLiteStore(path)
    problems = store.check()
    store.close()
    if damage == "[]":      # valid JSON: not the check's business
        assert not problems
    else:
        assert any("sync_cursor" in p for p in problems), problems
