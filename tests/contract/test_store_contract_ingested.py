"""Store.iter_ingested_since: the records written at or after a time (by `ingested_at`),
in (ingested_at, _id) order, across pages; what the hub's refresh reads (every backend)."""

from __future__ import annotations

from dihub.store.keyset import DEFAULT_PAGE_SIZE

T1, T2, T3 = "2026-02-01T00:00:01Z", "2026-02-01T00:00:02Z", "2026-02-01T00:00:03Z"


def _ids(docs):
    return [d["_id"] for d in docs]


def test_since_is_inclusive_ordered_and_filters_entity_and_source(store, make_record):
    store.upsert_many([make_record("b", ingested_at=T2), make_record("a", ingested_at=T2),
                       make_record("c", ingested_at=T1), make_record("d", ingested_at=T3),
                       make_record("e", source="jira", ingested_at=T3),
                       make_record("x", entity="issues", ingested_at=T3)])
    assert _ids(store.iter_ingested_since("commits", T2)) == [
        "gh:commits:a", "gh:commits:b", "gh:commits:d", "jira:commits:e"]
    assert _ids(store.iter_ingested_since("commits", T3, source="jira")) == ["jira:commits:e"]
    assert _ids(store.iter_ingested_since("commits")) == [
        "gh:commits:c", "gh:commits:a", "gh:commits:b", "gh:commits:d", "jira:commits:e"]
    assert list(store.iter_ingested_since("commits", "2026-02-01T00:00:04Z")) == []
    assert list(store.iter_ingested_since("builds", None)) == []
    doc = next(iter(store.iter_ingested_since("commits", T3, source="gh")))
    assert doc["source_id"] == "d" and doc["raw_signature"] == "sig-d"


def test_an_update_moves_the_record_to_its_new_write_time(store, make_record):
    store.upsert_many([make_record("a", ingested_at=T1), make_record("b", ingested_at=T1)])
    store.upsert_many([make_record("a", "2026-01-02T00:00:00Z", signature="new",
                                   ingested_at=T3)])
    assert _ids(store.iter_ingested_since("commits", T2)) == ["gh:commits:a"]
    # unchanged (same signature): not written, so not read again
    store.upsert_many([make_record("b", ingested_at=T3)])
    assert _ids(store.iter_ingested_since("commits", T2)) == ["gh:commits:a"]


def test_pages_through_more_than_one_page_within_one_second(store, make_record):
    n = DEFAULT_PAGE_SIZE + 7
    store.upsert_many([make_record(f"r{i:05d}", ingested_at=T2) for i in range(n)]
                      + [make_record("z-late", ingested_at=T3)])
    got = _ids(store.iter_ingested_since("commits", T2))
    assert len(got) == n + 1 and len(set(got)) == n + 1
    assert got == sorted(got[:-1]) + ["gh:commits:z-late"]
