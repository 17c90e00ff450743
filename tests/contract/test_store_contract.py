"""Store contract, records: upserts and keyset queries (every backend in conftest)."""

from __future__ import annotations

import pytest

from dihub.errors import UsageError
from dihub.store.base import QueryPage, Store, UpsertResult


def ids(records):
    return [r["_id"] for r in records]


def test_backend_implements_the_store_protocol(store):
    assert isinstance(store, Store)


# -- upsert_many -----------------------------------------------------------------------


def test_inserted_records_come_back_exactly_as_stored(store, make_record):
    rec = make_record("c1", message="fix: é ünïcode", parents=["a", "b"], additions=3,
                      payload={"nested": {"list": [1, 2.5, None, True], "s": "x"}}, draft=False)
    result = store.upsert_many([rec])
    assert result == UpsertResult(inserted=1)
    assert store.query("commits").records == [rec]


def test_same_signature_is_unchanged_and_not_written(store, make_record):
    store.upsert_many([make_record("c1", message="first", ingested_at="2026-02-01T00:00:00Z")])
    again = make_record("c1", message="not written", ingested_at="2026-03-01T00:00:00Z")
    assert store.upsert_many([again]) == UpsertResult(unchanged=1)
    [stored] = store.query("commits").records
    assert stored["ingested_at"] == "2026-02-01T00:00:00Z"
    assert stored["message"] == "first"


def test_changed_signature_replaces_the_document(store, make_record):
    store.upsert_many([make_record("c1", signature="v1", message="old", branch="main")])
    new = make_record("c1", signature="v2", message="new", ingested_at="2026-03-01T00:00:00Z")
    assert store.upsert_many([new]) == UpsertResult(updated=1)
    [stored] = store.query("commits").records
    assert stored == new            # replaced, not merged: `branch` is gone
    assert "branch" not in stored


def test_mixed_batch_counts_each_outcome(store, make_record):
    store.upsert_many([make_record("a", signature="1"), make_record("b", signature="1")])
    result = store.upsert_many([make_record("a", signature="1"), make_record("b", signature="2"),
                                make_record("c")])
    assert result == UpsertResult(inserted=1, updated=1, unchanged=1)
    assert result.total == 3
    assert store.count("commits") == 3


def test_duplicate_id_in_one_batch_keeps_the_last_and_counts_once(store, make_record):
    batch = [make_record("c1", signature="v1", message="first"),
             make_record("c1", signature="v2", message="last")]
    assert store.upsert_many(batch) == UpsertResult(inserted=1)
    [stored] = store.query("commits").records
    assert stored["message"] == "last"
    # Against a stored record: the last duplicate decides (here it matches the store).
    batch = [make_record("c1", signature="v3", message="x"),
             make_record("c1", signature="v2", message="y")]
    assert store.upsert_many(batch) == UpsertResult(unchanged=1)
    assert store.query("commits").records[0]["message"] == "last"


def test_empty_batch_and_generators_are_accepted(store, make_record):
    assert store.upsert_many([]) == UpsertResult()
    assert store.upsert_many(make_record(f"g{i}") for i in range(3)) == UpsertResult(inserted=3)
    assert store.count("commits") == 3


def test_record_without_signature_is_always_written(store, make_record):
    rec = make_record("c1")
    rec["raw_signature"] = None
    store.upsert_many([rec])
    assert store.upsert_many([{**rec, "message": "again"}]) == UpsertResult(updated=1)
    assert store.query("commits").records[0]["message"] == "again"


def test_missing_ingested_at_is_set_to_the_write_time(store, make_record):
    rec = make_record("c1")
    del rec["ingested_at"]
    store.upsert_many([rec])
    assert "ingested_at" not in rec  # the caller's dict is not modified
    stored = store.query("commits").records[0]
    assert stored["ingested_at"].endswith("Z") and stored["ingested_at"] > "2026-01-01"


def test_the_records_given_are_not_changed(store, make_record):
    # stored as given when they carry their stamp (no copy), copied when one is added
    from dihub.models.plain import CheckedDocument

    given = [make_record("c1", message="m"), CheckedDocument(make_record("c2", message="m")),
             make_record("c3", message="m")]
    del given[2]["ingested_at"]
    before = [dict(r) for r in given]
    assert store.upsert_many(given) == UpsertResult(inserted=3)
    assert [dict(r) for r in given] == before
    assert [type(r) for r in given] == [dict, CheckedDocument, dict]
    stored = store.query("commits").records
    assert [r["message"] for r in stored] == ["m"] * 3
    assert stored[2]["ingested_at"] > "2026-01-01" and stored[:2] == before[:2]


def test_same_id_in_two_entities_is_two_records(store, make_record):
    a = make_record("x", entity="commits")
    b = {**make_record("x", entity="issues"), "_id": a["_id"]}
    assert store.upsert_many([a, b]) == UpsertResult(inserted=2)
    assert store.query("commits").records == [a]
    assert store.query("issues").records == [b]


def test_invalid_records_are_rejected(store, make_record):
    rec = make_record("c1")
    del rec["_id"]
    with pytest.raises(ValueError):
        store.upsert_many([rec])
    with pytest.raises(UsageError):
        store.upsert_many([make_record("c2", entity="audit_log")])
    with pytest.raises(UsageError):
        store.upsert_many([make_record("c3", entity="bad name")])
    assert store.count("commits") == 0


def test_data_is_visible_to_another_store_on_the_same_storage(backend, make_record):
    first = backend.open()
    first.upsert_many([make_record("c1")])
    first.close()
    assert backend.open().query("commits").records == [make_record("c1")]


# -- query -----------------------------------------------------------------------------


def test_order_is_updated_at_then_id_with_missing_timestamps_first(store, make_record):
    no_field = make_record("n2")
    del no_field["updated_at"]
    store.upsert_many([
        make_record("b", "2026-01-02T00:00:00Z"), make_record("a", "2026-01-02T00:00:00Z"),
        make_record("z", "2026-01-01T00:00:00Z"), make_record("n1", None), no_field,
    ])
    assert ids(store.query("commits").records) == [
        "gh:commits:n1", "gh:commits:n2", "gh:commits:z", "gh:commits:a", "gh:commits:b"]


def test_since_is_inclusive_and_until_exclusive(store, make_record):
    store.upsert_many([make_record(str(d), f"2026-01-0{d}T00:00:00Z") for d in range(1, 6)]
                      + [make_record("none", None)])
    got = store.query("commits", since="2026-01-02T00:00:00Z", until="2026-01-04T00:00:00Z")
    assert ids(got.records) == ["gh:commits:2", "gh:commits:3"]
    # a bound excludes records that have no updated_at
    assert "gh:commits:none" not in ids(store.query("commits", since="2026-01-01").records)
    assert ids(store.query("commits", until="2026-01-02").records) == ["gh:commits:1"]
    # empty bounds mean no bound
    assert len(store.query("commits", since="", until="").records) == 6


def test_source_filter_and_count(store, make_record):
    store.upsert_many([make_record("1", source="gh"), make_record("2", source="ghe"),
                       make_record("3", source="ghe"), make_record("4", entity="issues")])
    assert ids(store.query("commits", source="ghe").records) == ["ghe:commits:2",
                                                                 "ghe:commits:3"]
    assert store.count("commits") == 3
    assert store.count("commits", source="ghe") == 2
    assert store.count("commits", source="nope") == 0
    assert store.count("builds") == 0
    assert store.query("builds") == QueryPage(records=[], next_cursor=None)


def test_equality_filters_on_top_level_fields(store, make_record):
    store.upsert_many([
        make_record("1", repo="a/x", additions=3, draft=True, branch=None, labels=["bug", "ui"]),
        make_record("2", repo="a/x", additions=3.0, draft=False, labels=[]),
        make_record("3", repo="a/y", additions=1, draft=True, branch="main",
                    meta={"repo": "a/x"}),
    ])

    def match(**filters):
        return sorted(r["source_id"] for r in store.query("commits", filters=filters).records)

    assert match(repo="a/x") == ["1", "2"]
    assert match(repo="a/x", additions=3) == ["1", "2"]     # 3 == 3.0
    assert match(additions=1) == ["3"]
    assert match(draft=True) == ["1", "3"]
    assert match(draft=False) == ["2"]
    assert match(additions=True) == []                       # a bool is not a number
    assert match(branch=None) == ["1", "2"]                  # null or missing
    assert match(branch="main") == ["3"]
    assert match(labels="bug") == ["1"]                      # array contains the value
    assert match(meta="a/x") == []                           # objects are not searched
    assert match(repo="a/z") == []
    assert match(source="gh", repo="a/y") == ["3"]
    with pytest.raises(UsageError):
        store.query("commits", filters={"labels": ["bug"]})
    with pytest.raises(UsageError):
        store.query("commits", filters={"a.b": 1})


def test_keyset_pages_return_every_record_exactly_once(store, make_record):
    records = [make_record(f"r{i:05d}", f"2026-01-{1 + i % 28:02d}T00:00:00Z")
               for i in range(2500)]
    records += [make_record(f"n{i}", None) for i in range(3)]
    store.upsert_many(records)
    seen, sizes, cursor = [], [], None
    while True:
        page = store.query("commits", cursor=cursor, limit=1000)
        seen += page.records
        sizes.append(len(page.records))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sizes == [1000, 1000, 503]
    assert len(set(ids(seen))) == len(seen) == 2503
    expected = sorted(records, key=lambda r: (r["updated_at"] or "", r["_id"]))
    assert ids(seen) == ids(expected)
    # iter_records streams the same sequence over its internal pages
    assert ids(store.iter_records("commits")) == ids(expected)


def test_last_page_has_no_cursor(store, make_record):
    store.upsert_many([make_record(f"r{i}") for i in range(4)])
    first = store.query("commits", limit=2)
    assert first.next_cursor is not None
    second = store.query("commits", cursor=first.next_cursor, limit=2)
    assert len(second.records) == 2 and second.next_cursor is None
    assert store.query("commits", limit=4).next_cursor is None
    assert store.query("commits", limit=5).next_cursor is None


def test_pages_cross_the_missing_timestamp_boundary(store, make_record):
    store.upsert_many([make_record("n1", None), make_record("n2", None), make_record("n3", None),
                       make_record("t1"), make_record("t2")])
    got, cursor = [], None
    for _ in range(10):
        page = store.query("commits", cursor=cursor, limit=2)
        got += ids(page.records)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [i.split(":")[-1] for i in got] == ["n1", "n2", "n3", "t1", "t2"]


def test_cursor_is_a_key_not_an_offset(store, make_record):
    store.upsert_many([make_record(f"r{i}", f"2026-01-0{i}T00:00:00Z") for i in range(2, 8)])
    first = store.query("commits", limit=3)
    # Records that sort before the cursor appear after page 1 was read: with an
    # offset they would shift page 2 and repeat r4; with a key they are skipped.
    store.upsert_many([make_record("early1", "2026-01-01T00:00:00Z"),
                       make_record("early2", "2026-01-01T00:00:00Z"),
                       make_record("late", "2026-01-09T00:00:00Z")])
    second = store.query("commits", cursor=first.next_cursor, limit=3)
    assert ids(first.records) == ["gh:commits:r2", "gh:commits:r3", "gh:commits:r4"]
    assert ids(second.records) == ["gh:commits:r5", "gh:commits:r6", "gh:commits:r7"]
    third = store.query("commits", cursor=second.next_cursor, limit=3)
    assert ids(third.records) == ["gh:commits:late"] and third.next_cursor is None


def test_pagination_combines_with_source_window_and_filters(store, make_record):
    store.upsert_many(
        [make_record(f"a{i:02d}", f"2026-01-{1 + i:02d}T00:00:00Z", source="gh",
                     repo="x" if i % 2 else "y") for i in range(20)]
        + [make_record(f"b{i:02d}", f"2026-01-{1 + i:02d}T00:00:00Z", source="ghe", repo="x")
           for i in range(20)])
    args = dict(source="gh", since="2026-01-03", until="2026-01-18", filters={"repo": "x"})
    got, cursor = [], None
    while True:
        page = store.query("commits", cursor=cursor, limit=2, **args)
        got += page.records
        if not (cursor := page.next_cursor):
            break
    assert [r["source_id"] for r in got] == [f"a{i:02d}" for i in range(3, 17, 2)]
    assert ids(store.iter_records("commits", **args)) == ids(got)


@pytest.mark.parametrize("cursor", ["not a cursor", "e30", "W10", "WyJhIl0",
                                    "WzEsImEiXQ", "!!!!", "WyJhIiwiYiJd="])
def test_malformed_cursor_is_a_usage_error(store, cursor):
    with pytest.raises(UsageError, match="invalid --cursor"):
        store.query("commits", cursor=cursor)


def test_invalid_query_arguments_are_usage_errors(store):
    for bad in (0, -1, 100_001, True):
        with pytest.raises(UsageError):
            store.query("commits", limit=bad)
    with pytest.raises(UsageError):
        store.query("meta")
    with pytest.raises(UsageError):
        store.count("Not An Entity")
