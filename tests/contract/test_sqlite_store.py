"""SQLiteStore beyond the shared contract: file setup, index use, several processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from dihub.errors import EXIT_TEMPFAIL, FatalError
from dihub.store.keyset import encode_cursor
from dihub.store.sqlite import SQLiteStore
from tests.support.sqlitefiles import index_names


@pytest.fixture
def db(tmp_path):
    store = SQLiteStore(tmp_path / "deep" / "er" / "dihub.db")
    yield store
    store.close()


def test_file_parent_dirs_and_schema_are_created_on_first_use(db):
    assert not db.path.parent.exists()
    assert db.count("commits") == 0
    assert db.path.exists()
    with sqlite3.connect(db.path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    raw.close()
    assert {"records", "sync_state", "audit_log", "run_metrics", "meta"} <= tables
    assert db._connection().execute("PRAGMA synchronous").fetchone()[0] == 1   # NORMAL


def _plan_of_last_query(db, **query_args) -> str:
    conn = db._connection()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        db.query("commits", **query_args)
    finally:
        conn.set_trace_callback(None)
    [select] = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    return " | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + select))


@pytest.mark.parametrize("args", [
    {}, {"source": "gh"}, {"since": "2026-01-01", "until": "2026-02-01"},
    {"source": "gh", "cursor": encode_cursor("2026-01-05T00:00:00Z", "gh:commits:x")},
    {"cursor": encode_cursor(None, "gh:commits:x")},
])
def test_pages_are_read_from_an_index_in_order_without_sorting_or_offset(db, args,
                                                                        make_record):
    db.upsert_many([make_record(f"r{i}", f"2026-01-{1 + i % 20:02d}T00:00:00Z")
                    for i in range(50)])
    plan = _plan_of_last_query(db, limit=10, **args)
    assert "USING INDEX records_by_" in plan or "USING COVERING INDEX records_by_" in plan, plan
    assert "TEMP B-TREE" not in plan, plan          # no sort of the whole match set
    if "cursor" in args:                             # a seek to the key, not a skip
        assert "(updated_at,id)>(?,?)" in plan, plan


def test_unchanged_records_cause_no_writes(db, make_record):
    db.upsert_many([make_record(f"r{i}") for i in range(10)])
    conn = db._connection()
    before = conn.total_changes
    assert db.upsert_many([make_record(f"r{i}") for i in range(10)]).unchanged == 10
    assert conn.total_changes == before
    db.upsert_many([make_record("r1", signature="new")])
    assert conn.total_changes == before + 1


def test_closed_store_refuses_work(db):
    db.count("commits")
    db.close()
    with pytest.raises(FatalError, match="closed"):
        db.count("commits")


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from dihub.store.sqlite import SQLiteStore
    path, tag = Path(sys.argv[1]), sys.argv[2]
    store = SQLiteStore(path)
    for batch in range(40):
        store.upsert_many(
            [{"_id": f"{tag}:{batch}:{i}", "entity": "commits", "source": tag,
              "updated_at": "2026-01-01T00:00:00Z", "raw_signature": "s"} for i in range(10)]
            + [{"_id": f"shared:{batch}", "entity": "commits", "source": "shared",
                "updated_at": "2026-01-01T00:00:00Z", "raw_signature": tag}])
        store.put_meta(f"progress:{tag}", {"batch": batch})
    store.close()
""")


def test_two_processes_write_one_file_at_once(tmp_path):
    path = tmp_path / "shared.db"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag],
                              stderr=subprocess.PIPE, text=True) for tag in ("p1", "p2")]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    store = SQLiteStore(path)
    try:
        assert store.count("commits", source="p1") == 400
        assert store.count("commits", source="p2") == 400
        assert store.count("commits", source="shared") == 40
        assert store.get_meta("progress:p2") == {"batch": 39}
    finally:
        store.close()


LEASER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from dihub.errors import LeaseHeld
    from dihub.store.sqlite import SQLiteStore
    store = SQLiteStore(Path(sys.argv[1]))
    try:
        store.acquire_lease("github", "commits", "o/r", "other-process", 600)
    except LeaseHeld as exc:
        print(exc.holder)
        sys.exit(exc.exit_code)
""")


def test_a_lease_excludes_another_process(db):
    db.acquire_lease("github", "commits", "o/r", "this-process", 600)
    done = subprocess.run([sys.executable, "-c", LEASER, str(db.path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_TEMPFAIL, done.stderr
    assert done.stdout.strip() == "this-process"
    db.release_lease("github", "commits", "o/r", "this-process")
    done = subprocess.run([sys.executable, "-c", LEASER, str(db.path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert db.get_state("github", "commits", "o/r").lease_owner == "other-process"


def _plan_of_find(db, call) -> str:
    conn = db._connection()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    [select] = [s for s in statements if s.lstrip().upper().startswith("SELECT DOC")]
    return " | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + select))


def test_commits_are_found_by_sha_through_their_index(db, make_record):
    db.upsert_many([make_record(f"r{i}", commit_id=f"{i:040x}") for i in range(50)])
    for call in (lambda: db.find_by("commits", "commit_id", [f"{3:040x}", f"{4:040x}"]),
                 lambda: db.find_by_prefix("commits", "commit_id", "0000000", 5)):
        plan = _plan_of_find(db, call)
        assert "USING INDEX records_by_commits_commit_id" in plan, plan


def test_issues_pull_requests_and_builds_are_found_through_their_indexes(db, make_record):
    db.upsert_many([make_record(f"i{i}", entity="issues", issue_id=f"ENG-{i}")
                    for i in range(50)]
                   + [make_record(f"p{i}", entity="pull_requests", number=i) for i in range(50)]
                   + [make_record(f"b{i}", entity="builds", run_id=str(i)) for i in range(50)])
    for index, call in (
            ("records_by_issues_issue_id", lambda: db.find_by("issues", "issue_id", ["ENG-3"])),
            ("records_by_pull_requests_number",
             lambda: db.find_by("pull_requests", "number", [3])),
            ("records_by_builds_run_id", lambda: db.find_by("builds", "run_id", ["3"]))):
        plan = _plan_of_find(db, call)
        assert f"USING INDEX {index}" in plan, plan


def test_a_version_3_file_gains_the_sha_index_and_one_without_it_still_answers(tmp_path,
                                                                              make_record):
    path = tmp_path / "dihub.db"
    store = SQLiteStore(path)
    store.upsert_many([make_record(f"r{i}", commit_id=f"{i:040x}") for i in range(5)])
    store.close()
    with sqlite3.connect(path) as raw:
        raw.execute("DROP INDEX records_by_commits_commit_id")
        raw.execute("PRAGMA user_version = 3")
    raw.close()
    store = SQLiteStore(path)         # migrated on open: the index is back
    assert [d["_id"] for d in store.find_by("commits", "commit_id", [f"{2:040x}"])] == [
        "gh:commits:r2"]
    assert "records_by_commits_commit_id" in index_names(path)
    store.close()
    with sqlite3.connect(path) as raw:   # as a read-only file that could not migrate
        raw.execute("DROP INDEX records_by_commits_commit_id")
        raw.execute("PRAGMA user_version = 4")
    raw.close()
    store = SQLiteStore(path)
    assert [d["_id"] for d in store.find_by_prefix("commits", "commit_id", f"{4:040x}",
                                                   5)] == ["gh:commits:r4"]
    store.close()
