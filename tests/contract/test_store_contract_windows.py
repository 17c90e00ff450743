"""Keyset pages inside a --since/--until window, and --where filters, page by page: the
same records as one unbounded read, whatever the cursor and the window (every backend)."""

from __future__ import annotations

import itertools

import pytest

from dihub.store.keyset import encode_cursor


def _all_pages(store, limit, **query):
    out, cursor = [], None
    while True:
        page = store.query("commits", cursor=cursor, limit=limit, **query)
        out += [r["_id"] for r in page.records]
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


@pytest.fixture
def filled(store, make_record):
    times = [None, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z",
             "2026-01-04T00:00:00Z"]
    recs = [make_record(f"r{i:02d}", times[i % 5], author=f"a{i % 3}",
                        labels=[f"l{i % 2}", "all"], size=i % 4)
            for i in range(40)]
    store.upsert_many(recs)
    ordered = sorted(recs, key=lambda r: (r["updated_at"] or "", r["_id"]))
    return store, ordered


@pytest.mark.parametrize("since, until", [
    (None, None), ("2026-01-02T00:00:00Z", None), (None, "2026-01-03T00:00:00Z"),
    ("2026-01-02T00:00:00Z", "2026-01-04T00:00:00Z"), ("2026-01-05T00:00:00Z", None)])
@pytest.mark.parametrize("limit", [1, 3, 7, 100])
def test_pages_of_a_window_are_the_window(filled, since, until, limit):
    store, ordered = filled
    expected = [r["_id"] for r in ordered
                if (since is None or (r["updated_at"] or "") >= since)
                and (until is None or "" < (r["updated_at"] or "") < until)]
    assert _all_pages(store, limit, source="gh", since=since, until=until) == expected


@pytest.mark.parametrize("since, until", [
    ("2026-01-03T00:00:00Z", None), (None, "2026-01-03T00:00:00Z"),
    ("2026-01-02T00:00:00Z", "2026-01-04T00:00:00Z")])
def test_a_cursor_before_or_after_the_window_start(filled, since, until):
    store, ordered = filled
    for pos in range(len(ordered)):
        last = ordered[pos]
        cursor = encode_cursor(last["updated_at"], last["_id"])
        expected = [r["_id"] for r in ordered[pos + 1:]
                    if (since is None or (r["updated_at"] or "") >= since)
                    and (until is None or "" < (r["updated_at"] or "") < until)]
        page = store.query("commits", since=since, until=until, cursor=cursor, limit=100)
        assert [r["_id"] for r in page.records] == expected, pos


@pytest.mark.parametrize("name, value", [("author", "a1"), ("labels", "l0"), ("labels", "all"),
                                         ("size", 2), ("size", 2.0), ("missing", None),
                                         ("author", None), ("size", "2")])
def test_where_pages_match_one_read(filled, name, value):
    store, ordered = filled

    def match(r):
        v = r.get(name)
        if value is None:
            return v is None or (isinstance(v, list) and None in v)
        if isinstance(v, list):
            return any(type(x) is type(value) or isinstance(x, int | float)
                       and isinstance(value, int | float) and x == value for x in v
                       if x == value)
        return (v == value and isinstance(v, str) == isinstance(value, str))

    expected = [r["_id"] for r in ordered if match(r)]
    for limit in (1, 4, 100):
        assert _all_pages(store, limit, filters={name: value}) == expected
    assert list(itertools.islice(store.iter_records("commits", filters={name: value}),
                                 1000)) == [r for r in store.iter_records("commits")
                                            if r["_id"] in expected]
