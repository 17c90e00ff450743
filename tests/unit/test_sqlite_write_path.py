"""The embedded store's write path: a batch is written in (entity, updated_at, id) order,
whatever order it arrives in (a newest-first batch would leave the time indexes half full)."""

from __future__ import annotations

import sqlite3


def _rec(i: int, updated_at: str, entity: str = "commits") -> dict:
    return {"_id": f"git:{entity}:{i:040x}", "source": "git", "entity": entity,
            "source_id": str(i), "updated_at": updated_at, "raw_signature": f"s{i}",
            "ingested_at": "2026-03-01T10:00:00Z", "message": "x" * 200}


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


def test_lookups_of_any_length_use_a_few_statements(store):
    # sqlite3 keeps 128 prepared statements: one per IN-list length filled it with
    # statements of up to 500 parameters, memory that grew over a sync
    conn = store._connection()
    lengths: dict[str, set[int]] = {}     # a lookup's statement -> its IN-list lengths

    def trace(sql: str) -> None:
        if sql.startswith("SELECT id") and " IN (" in sql:
            head, _, in_list = sql.partition(" IN (")
            lengths.setdefault(head.split(" FROM ")[0], set()).add(in_list.count(",") + 1)

    conn.set_trace_callback(trace)
    n = 0
    for size in range(1, 130):
        batch = [_rec(n + i, "2026-01-01T00:00:00Z") for i in range(size)]
        n += size
        assert store.upsert_many(batch).inserted == size
        assert store.upsert_many(batch).unchanged == size      # each looked up again
    ids = [r["_id"] for r in (_rec(i, "") for i in range(n))]
    for size in (1, 3, 77, 500, 501, 1200):
        assert store.existing_ids("commits", ids[:size]) == set(ids[:size])
    assert store.existing_ids("commits", ["git:commits:none"]) == set()
    conn.set_trace_callback(None)
    assert len(lengths) == 2                    # upsert_many's and existing_ids'
    assert all(len(seen) <= 10 for seen in lengths.values()), lengths
