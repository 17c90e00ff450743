"""SQLiteStore: the integrity check before a process's first write is skipped when the
file is as a check less than a day old left it (dihub/store/sqlite_checked.py)."""

from __future__ import annotations

import json
import os

import pytest

from dihub.store import sqlite as sqlite_module
from dihub.store import sqlite_checked
from dihub.store.errors import StoreDamaged
from dihub.store.sqlite import SQLiteStore
from tests.support.sqlitefiles import corrupt_middle_page


@pytest.fixture
def checks(monkeypatch):
    """How many times a store ran `PRAGMA quick_check`."""
    calls = []
    real = sqlite_module._problems

    def counted(rows):
        calls.append(1)
        return real(rows)

    monkeypatch.setattr(sqlite_module, "_problems", counted)
    return calls


def _session(path, make_record, n=0, start=0):
    store = SQLiteStore(path)
    store.put_meta("run", {"n": n})
    if n:
        store.upsert_many([make_record(f"r{i}", commit_id=f"{i:040x}", message="x" * 500)
                           for i in range(start, start + n)])
    store.close()


def test_a_file_as_the_last_check_left_it_is_not_read_again(tmp_path, checks, make_record):
    path = tmp_path / "dihub.db"
    _session(path, make_record, 50)
    assert len(checks) == 1
    at = json.loads(sqlite_checked.mark_path(path).read_text())["at"]
    for i in range(3):                       # its own writes do not call for another check
        _session(path, make_record, 50, start=100 * (i + 1))
    assert len(checks) == 1
    mark = json.loads(sqlite_checked.mark_path(path).read_text())
    assert mark["at"] == at                  # the time of the check, not of the writes
    assert mark["file"][1] == path.stat().st_size


def test_a_file_changed_by_anything_else_is_checked_again(tmp_path, checks, make_record):
    path = tmp_path / "dihub.db"
    _session(path, make_record, 50)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    _session(path, make_record)
    assert len(checks) == 2
    _session(path, make_record)
    assert len(checks) == 2


def test_a_damaged_file_fails_the_next_write(tmp_path, checks, make_record):
    path = tmp_path / "dihub.db"
    _session(path, make_record, 300)
    corrupt_middle_page(path)
    with pytest.raises(StoreDamaged, match="is damaged"):
        _session(path, make_record)


def test_a_day_old_check_is_made_again_even_on_an_unchanged_file(tmp_path, checks,
                                                                make_record):
    # bad blocks do not change a file's modification time: the daily check finds them
    path = tmp_path / "dihub.db"
    _session(path, make_record, 300)
    st = path.stat()
    corrupt_middle_page(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    mark = json.loads(sqlite_checked.mark_path(path).read_text())
    mark["file"] = [path.stat().st_ino, path.stat().st_size, path.stat().st_mtime_ns]
    mark["at"] -= sqlite_checked.CHECK_EVERY_S + 1
    sqlite_checked.mark_path(path).write_text(json.dumps(mark))
    with pytest.raises(StoreDamaged, match="is damaged"):
        _session(path, make_record)


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"file": [1, 2, 3]}',
                                  '{"file": null, "at": 1e18}'])
def test_an_unreadable_or_foreign_mark_means_a_check(tmp_path, checks, make_record, text):
    path = tmp_path / "dihub.db"
    _session(path, make_record, 20)
    sqlite_checked.mark_path(path).write_text(text)
    _session(path, make_record)
    assert len(checks) == 2


def test_a_process_that_only_reads_neither_checks_nor_marks(tmp_path, checks, make_record):
    path = tmp_path / "dihub.db"
    _session(path, make_record, 20)
    sqlite_checked.mark_path(path).unlink()
    store = SQLiteStore(path)
    assert store.count("commits") == 20
    store.close()
    assert checks == [1] and not sqlite_checked.mark_path(path).exists()


def test_store_check_finding_damage_removes_the_mark(tmp_path, checks, make_record):
    path = tmp_path / "dihub.db"
    _session(path, make_record, 300)
    st = path.stat()
    corrupt_middle_page(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))      # as bad blocks would
    mark = json.loads(sqlite_checked.mark_path(path).read_text())
    mark["file"] = [path.stat().st_ino, path.stat().st_size, path.stat().st_mtime_ns]
    sqlite_checked.mark_path(path).write_text(json.dumps(mark))
    assert SQLiteStore(path).check()                 # `dihub store check` finds it
    assert not sqlite_checked.mark_path(path).exists()
    with pytest.raises(StoreDamaged, match="is damaged"):
        _session(path, make_record)
