"""Store failures reach the user as clear dihub errors with the right exit code."""

from __future__ import annotations

import sqlite3

import pytest
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from dihub.errors import EXIT_FAILURE, EXIT_TEMPFAIL, FatalError, TemporaryError
from dihub.metrics_export import write_textfile
from dihub.store.errors import StoreDamaged, StoreNotWritable, store_error
from dihub.store.sqlite import SQLiteStore
from tests.support.sqlitefiles import corrupt_middle_page, read_only


def _record(i: int) -> dict:
    return {"_id": f"gh:commits:{i}", "entity": "commits", "source": "gh",
            "updated_at": f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "raw_signature": "s", "message": "m" * 200}


@pytest.fixture
def filled(tmp_path):
    """A closed store file with 2000 records (about 100 leaf pages) and a meta row."""
    path = tmp_path / "dihub.db"
    store = SQLiteStore(path)
    store.upsert_many([_record(i) for i in range(2000)])
    store.put_meta("k", {"a": 1})
    store.close()
    return path


def test_unreachable_mongodb_is_temporary():
    err = store_error(ServerSelectionTimeoutError("db:27017: [Errno 111] Connection refused, "
                                                  "Timeout: 10s, Topology Description: ..."))
    assert err.exit_code == EXIT_TEMPFAIL
    assert "unreachable: db:27017: [Errno 111] Connection refused" in str(err)
    assert "Topology" not in str(err)
    assert store_error(OperationFailure("bad")).exit_code == EXIT_FAILURE
    assert store_error(ValueError("not a store error")) is None


def test_a_raw_sqlite_error_is_a_store_error():
    err = store_error(sqlite3.DatabaseError("database disk image is malformed"))
    assert err is not None and err.exit_code == EXIT_FAILURE
    assert "embedded store" in str(err) and "malformed" in str(err)


def test_unopenable_sqlite_path_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = SQLiteStore(blocker / "sub" / "dihub.db")
    with pytest.raises(FatalError, match="cannot open the embedded store .*sub/dihub.db"):
        store.count("users")


def test_a_directory_as_store_is_named(tmp_path):
    with pytest.raises(FatalError, match=f"embedded store {tmp_path} is a directory") as exc:
        SQLiteStore(tmp_path).count("users")
    assert "dihub.db" in exc.value.hint


@pytest.mark.parametrize("content", [b"hello, this is a text file\n" * 200, bytes(range(256)) * 32])
def test_a_file_that_is_not_a_database_is_named(tmp_path, content):
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    with pytest.raises(StoreDamaged, match=f"embedded store {path} is not a SQLite database") \
            as exc:
        SQLiteStore(path).count("commits")
    assert exc.value.exit_code == EXIT_FAILURE
    assert "store.uri" in exc.value.hint and "--full-refresh" in exc.value.hint
    assert path.read_bytes() == content          # nothing written into someone else's file


def test_a_corrupt_middle_page_fails_reads_that_touch_it(filled):
    corrupt_middle_page(filled)
    store = SQLiteStore(filled)
    try:
        assert store.get_meta("k") == {"a": 1}   # sound pages still read
        with pytest.raises(StoreDamaged, match=f"embedded store {filled} is damaged") as exc:
            store.query("commits", limit=5000)
        assert "dihub store check" in exc.value.hint
    finally:
        store.close()


def test_a_corrupt_page_refuses_the_first_write_even_far_from_it(filled):
    """The bug: a sync whose writes miss the bad page exited 0 while fetch failed."""
    corrupt_middle_page(filled)
    store = SQLiteStore(filled)
    try:
        with pytest.raises(StoreDamaged, match=f"{filled} is damaged \\(Page \\d+: "):
            store.put_meta("k2", {"b": 2})
        with pytest.raises(StoreDamaged):
            store.acquire_lease("git", "commits", "*", "me", 600)
    finally:
        store.close()
    with sqlite3.connect(filled) as raw:
        assert raw.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 1
    raw.close()


def test_check_reports_the_damaged_page_and_writes_nothing(filled):
    assert SQLiteStore(filled).check() == []
    page = corrupt_middle_page(filled)
    before = filled.read_bytes()
    problems = SQLiteStore(filled).check()
    assert problems and problems[0].startswith(f"Page {page}:")
    assert filled.read_bytes() == before


def test_check_finds_a_document_that_is_not_json(filled):
    # damage on disk inside one document (same length, so every page stays well formed):
    # SQLite itself refuses to write a commit whose document is not JSON, since the sha
    # index reads it
    data = filled.read_bytes()
    at = data.index(b'"_id":"gh:commits:7",')
    filled.write_bytes(data[:at] + b'"_id":"gh:commits:7"!' + data[at + 21:])
    store = SQLiteStore(filled)
    try:
        with pytest.raises(StoreDamaged, match="holds a document that is not JSON"):
            store.query("commits", limit=5000)
    finally:
        store.close()
    assert SQLiteStore(filled).check() == ["records: 1 row(s) whose document is not JSON"]


def test_check_of_a_missing_file_creates_nothing(tmp_path):
    path = tmp_path / "nowhere" / "dihub.db"
    with pytest.raises(FatalError, match=f"embedded store {path} does not exist") as exc:
        SQLiteStore(path).check()
    assert "dihub status" in exc.value.hint
    assert not path.parent.exists()


def test_check_of_a_garbage_file_reports_it(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("hello\n" * 1000)
    assert SQLiteStore(path).check() == ["file is not a database"]


@pytest.mark.parametrize("journal", ["wal", "delete"])   # delete: a copy made by another tool
def test_a_read_only_store_reads_but_refuses_writes_by_name(filled, journal):
    with sqlite3.connect(filled) as raw:
        assert raw.execute(f"PRAGMA journal_mode = {journal}").fetchone() == (journal,)
    raw.close()
    with read_only(filled):
        store = SQLiteStore(filled)
        try:
            assert store.get_meta("k") == {"a": 1}
            with pytest.raises(StoreNotWritable, match=f"embedded store {filled} is not "
                                                       "writable") as exc:
                store.put_meta("k2", {})
            assert exc.value.exit_code == EXIT_FAILURE
            assert "writable by the user running dihub" in exc.value.hint
            assert store.count("commits") == 2000   # the store still works for reading
        finally:
            store.close()


def test_a_store_locked_past_the_busy_timeout_is_temporary(filled):
    other = sqlite3.connect(filled, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    store = SQLiteStore(filled, busy_timeout_s=0)
    try:
        with pytest.raises(TemporaryError, match=f"embedded store {filled} is locked") as exc:
            store.put_meta("k2", {})
        assert exc.value.exit_code == EXIT_TEMPFAIL
        other.execute("ROLLBACK")
        store.put_meta("k2", {"b": 2})                # the failed write left no transaction
        assert store.get_meta("k2") == {"b": 2}
    finally:
        store.close()
        other.close()


def test_unwritable_textfile_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FatalError, match="cannot write the metrics textfile"):
        write_textfile(blocker / "dir" / "dihub.prom", "x 1\n")


def test_textfile_that_is_a_directory_is_named(tmp_path):
    with pytest.raises(FatalError, match=f"metrics textfile {tmp_path} is a directory") as exc:
        write_textfile(tmp_path, "x 1\n")
    assert f"--textfile {tmp_path / 'dihub.prom'}" in exc.value.hint
    assert list(tmp_path.iterdir()) == []        # no temporary file left behind
