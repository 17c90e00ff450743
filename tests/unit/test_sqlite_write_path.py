"""The embedded store's write path: a batch is written in (entity, updated_at, id) order,
whatever order it arrives in (a newest-first batch would leave the time indexes half full)."""

from __future__ import annotations

import sqlite3

import pytest

from dihub.store.sqlite import SQLiteStore


def _rec(i: int, updated_at: str, entity: str = "commits") -> dict:
    return {"_id": f"git:{entity}:{i:040x}", "source": "git", "entity": entity,
            "source_id": str(i), "updated_at": updated_at, "raw_signature": f"s{i}",
            "ingested_at": "2026-03-01T10:00:00Z", "message": "x" * 200}


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "s.db")
    yield s
    s.close()


def test_a_newest_first_batch_is_inserted_oldest_first(store, tmp_path):
    # newest first, as git log gives them; rowids show the order of insertion
    batch = [_rec(i, f"2026-01-{28 - i:02d}T00:00:00Z") for i in range(20)]
    batch.append(_rec(99, ""))                      # no updated_at: sorts first
    result = store.upsert_many(batch)
    assert result.inserted == 21
    conn = sqlite3.connect(tmp_path / "s.db")
    rows = conn.execute("SELECT updated_at, id FROM records ORDER BY rowid").fetchall()
    conn.close()
    assert rows == sorted(rows)
    assert rows[0][0] == ""
    # what is stored does not depend on the order: every record reads back as given
    assert {d["_id"]: d["updated_at"] for d in store.iter_records("commits")} == {
        r["_id"]: r["updated_at"] for r in batch}
