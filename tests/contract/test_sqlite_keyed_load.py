"""SQLiteStore: a process that loads most of an entity's rows does so without the entity's
keyed index and builds it once afterwards (dihub/store/sqlite_keyed.py)."""

from __future__ import annotations

import sqlite3

import pytest

from dihub.store import sqlite_keyed
from dihub.store.sqlite import SQLiteStore
from tests.support.sqlitefiles import index_names

INDEX = "records_by_commits_commit_id"


@pytest.fixture(autouse=True)
def small_loads(monkeypatch):
    monkeypatch.setattr(sqlite_keyed, "BULK_MIN", 50)


def _load(store, make_record, first: int, n: int, batch: int = 20) -> None:
    for start in range(first, first + n, batch):
        store.upsert_many([make_record(f"r{i}", commit_id=f"{i:040x}")
                           for i in range(start, min(start + batch, first + n))])


def _shas(docs) -> list[str]:
    return sorted(d["commit_id"] for d in docs)


def test_a_first_load_drops_the_index_and_builds_it_again_on_close(tmp_path, make_record):
    path = tmp_path / "dihub.db"
    store = SQLiteStore(path)
    _load(store, make_record, 0, 40)
    assert INDEX in index_names(path)                  # fewer than BULK_MIN: kept
    _load(store, make_record, 40, 160)
    assert INDEX not in index_names(path)              # most of the entity: loaded without it
    store.close()
    assert INDEX in index_names(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    (n,) = raw.execute(f"SELECT count(*) FROM records INDEXED BY {INDEX} "
                       "WHERE entity = 'commits' AND json_extract(doc, '$.commit_id') "
                       "IS NOT NULL").fetchone()
    raw.close()
    assert n == 200


def test_a_lookup_in_the_loading_process_builds_the_index_first(tmp_path, make_record):
    path = tmp_path / "dihub.db"
    store = SQLiteStore(path)
    _load(store, make_record, 0, 120)
    assert INDEX not in index_names(path)
    assert _shas(store.find_by("commits", "commit_id", [f"{7:040x}", f"{99:040x}"])) == [
        f"{7:040x}", f"{99:040x}"]
    assert INDEX in index_names(path)
    assert _shas(store.find_by_prefix("commits", "commit_id", f"{99:040x}"[:39], 5)) == [
        f"{i:040x}" for i in range(0x60, 0x65)]
    _load(store, make_record, 120, 20)               # written with the index again
    assert _shas(store.find_by("commits", "commit_id", [f"{130:040x}"])) == [f"{130:040x}"]
    store.close()


def test_a_store_that_already_holds_more_keeps_its_index(tmp_path, make_record):
    path = tmp_path / "dihub.db"
    store = SQLiteStore(path)
    _load(store, make_record, 0, 300, batch=300)     # one batch: checked once, dropped
    store.close()
    assert INDEX in index_names(path)
    store = SQLiteStore(path)
    _load(store, make_record, 300, 200)              # 200 new on 300 held: kept
    assert INDEX in index_names(path)
    _load(store, make_record, 500, 200)              # 400 new on 300 held: looked at when
    assert INDEX in index_names(path)                   # twice as many as the last look (240)
    _load(store, make_record, 700, 100)              # 480 new on 300 held: dropped
    assert INDEX not in index_names(path)
    store.close()
    assert INDEX in index_names(path)


def test_updates_and_other_entities_do_not_count_as_a_load(tmp_path, make_record):
    path = tmp_path / "dihub.db"
    store = SQLiteStore(path)
    _load(store, make_record, 0, 40)
    for _ in range(5):                               # 200 writes of the same 40 rows
        store.upsert_many([make_record(f"r{i}", commit_id=f"{i:040x}",
                                       signature=f"s{_}-{i}") for i in range(40)])
    store.upsert_many([make_record(f"i{i}", entity="issues") for i in range(200)])
    assert INDEX in index_names(path)
    store.close()


def test_a_killed_load_leaves_lookups_right_and_the_next_writer_builds_the_index(
        tmp_path, make_record):
    path = tmp_path / "dihub.db"
    loader = SQLiteStore(path)
    _load(loader, make_record, 0, 150)
    loader._conn.close()                             # killed: close() never ran
    loader._conn, loader._closed = None, True
    assert INDEX not in index_names(path)

    reader = SQLiteStore(path)                       # a reader answers without it
    assert _shas(reader.find_by("commits", "commit_id", [f"{140:040x}"])) == [f"{140:040x}"]
    assert _shas(reader.find_by_prefix("commits", "commit_id", f"{3:040x}", 5)) == [
        f"{3:040x}"]
    assert INDEX not in index_names(path)               # and does not write
    reader.close()

    writer = SQLiteStore(path)
    writer.put_meta("k", {"v": 1})                   # its first write, of anything
    assert INDEX in index_names(path)
    writer.close()


def test_a_reader_that_saw_the_index_goes_on_when_another_process_drops_it(
        tmp_path, make_record):
    path = tmp_path / "dihub.db"
    reader = SQLiteStore(path)
    _load(reader, make_record, 0, 10)
    assert _shas(reader.find_by("commits", "commit_id", [f"{3:040x}"])) == [f"{3:040x}"]
    loader = SQLiteStore(path)
    _load(loader, make_record, 10, 100)
    assert INDEX not in index_names(path)
    assert _shas(reader.find_by("commits", "commit_id", [f"{3:040x}", f"{90:040x}"])) == [
        f"{3:040x}", f"{90:040x}"]
    assert _shas(reader.find_by_prefix("commits", "commit_id", f"{100:040x}", 5)) == [
        f"{100:040x}"]
    loader.close()
    assert _shas(reader.find_by("commits", "commit_id", [f"{105:040x}"])) == [f"{105:040x}"]
    reader.close()
