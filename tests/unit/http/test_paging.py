"""The paginators of dihub.http.paging, each page's position and stop rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from dihub.http.paging import JsonCursor, LinkHeader, Offset, PageNumber, paginate


@dataclass
class Resp:
    data: Any
    next_url: str | None = None


def fake(pages: list[Resp]):
    sent: list[tuple[str, Any]] = []

    def get(url: str, params: Any) -> Resp:
        sent.append((url, params))
        return pages[len(sent) - 1]
    return get, sent


def test_link_header_follows_next_urls_verbatim():
    get, sent = fake([Resp([1, 2], "https://x/items?page=2"), Resp([3])])
    pages = list(paginate(get, "/items", LinkHeader(), {"per_page": 2}))
    assert sent == [("/items", {"per_page": 2}), ("https://x/items?page=2", None)]
    assert [p.items for p in pages] == [[1, 2], [3]]
    assert [p.next for p in pages] == ["https://x/items?page=2", None]


def test_json_cursor_until_no_token_or_last():
    get, sent = fake([Resp({"v": [1], "meta": {"next": "t1"}}), Resp({"v": [2], "meta": {}})])
    pages = list(paginate(get, "m", JsonCursor("meta.next", "cursor", items="v"), {"a": 1}))
    assert sent == [("m", {"a": 1}), ("m", {"a": 1, "cursor": "t1"})]
    assert [(p.items, p.next) for p in pages] == [([1], "t1"), ([2], None)]
    get, sent = fake([Resp({"issues": [1], "tok": "t", "isLast": True})])
    pages = list(paginate(get, "s", JsonCursor("tok", "tok", items="issues", last="isLast"),
                          start="t0"))
    assert sent == [("s", {"tok": "t0"})] and pages[0].next is None and pages[0].at == "t0"


@pytest.mark.parametrize("body, stop, expected", [
    ({"values": [1, 2], "isLast": True}, ("is_last",), None),
    ({"values": [1, 2], "total": 7}, ("total",), None),       # 5 + 2 >= 7
    ({"values": [1, 2], "total": 9}, ("total",), 7),
    ({"values": []}, ("empty",), None),
    ({"values": [1], "isLast": True}, ("empty",), 6),          # only an empty page ends
])
def test_offset_stop_rules(body, stop, expected):
    get, sent = fake([Resp(body)])
    page = next(paginate(get, "/v", Offset(items="values", size_param="max", size=2,
                                           stop=stop), {"q": 1}, start=5))
    assert sent == [("/v", {"q": 1, "startAt": 5, "max": 2})]
    assert page.next == expected


def test_offset_counts_from_zero_and_takes_a_callers_rule():
    get, sent = fake([Resp({"values": [1, 2]}), Resp({"values": [3]})])
    pages = list(paginate(get, "/v", Offset(items="values",
                                            done=lambda data, items, n: n >= 3)))
    assert [s[1]["startAt"] for s in sent] == [0, 2] and [p.next for p in pages] == [2, None]
    with pytest.raises(ValueError):
        Offset(stop=("short",))


def test_page_numbers_omit_the_first_and_stop_without_a_next_link():
    get, sent = fake([Resp([1], "u?page=3"), Resp([2], None)])
    pages = list(paginate(get, "/l", PageNumber(), {"per_page": 1}, start=2))
    assert sent == [("/l", {"per_page": 1, "page": 2}), ("/l", {"per_page": 1, "page": 3})]
    assert [(p.at, p.next) for p in pages] == [(2, 3), (3, None)]
    get, sent = fake([Resp({"c": [1]}, "next"), Resp({"c": [2]}, "next")])
    pages = list(paginate(get, "/c", PageNumber(items="c", stop=("empty",),
                                                done=lambda d, items, n: n >= 2), {}))
    assert sent == [("/c", {}), ("/c", {"page": 2})] and pages[-1].last


def test_a_page_stands_for_its_response():
    get, _ = fake([Resp({"v": [1]})])
    page = next(paginate(get, "/x", JsonCursor("t", "t", items="v")))
    assert page.data == {"v": [1]} and page.next_url is None and page.last


# -- pages_at_once ---------------------------------------------------------------------------

def test_pages_at_once_reads_width_at_a_time_and_yields_them_as_they_arrive():
    import threading
    import time

    from dihub.http.paging import pages_at_once

    lock = threading.Lock()
    under_way, most = [0], [0]

    def get_page(n):
        with lock:
            under_way[0] += 1
            most[0] = max(most[0], under_way[0])
        time.sleep(0.3 if n == 2 else 0.01)       # page 2 sits out a wait
        with lock:
            under_way[0] -= 1
        return f"page {n}"

    got = list(pages_at_once(get_page, range(1, 11), 3))
    assert sorted(got) == [(n, f"page {n}") for n in range(1, 11)]
    assert most[0] == 3
    order = [n for n, _ in got]
    assert order.index(2) > order.index(5)        # the pages after it went on


def test_pages_at_once_raises_a_pages_error_and_starts_no_more():
    from dihub.http.paging import pages_at_once

    started = []

    def get_page(n):
        started.append(n)
        if n == 3:
            raise RuntimeError("page 3 failed")
        return n

    got = []
    with pytest.raises(RuntimeError, match="page 3"):
        for n, _ in pages_at_once(get_page, range(1, 101), 2):
            got.append(n)
    assert 3 not in got and len(started) < 10


def test_pages_at_once_stopped_by_its_caller_starts_no_more_and_waits_for_those_sent():
    import threading

    from dihub.http.paging import pages_at_once

    gate = threading.Event()
    started, finished = [], []

    def get_page(n):
        started.append(n)
        if n > 1:
            gate.wait(5)
        finished.append(n)
        return n

    pages = pages_at_once(get_page, range(1, 101), 2)
    assert next(pages) == (1, 1)
    threading.Timer(0.2, gate.set).start()
    pages.close()                  # returns once the pages under way have arrived
    assert gate.is_set() and set(started) <= {1, 2, 3}
    assert set(finished) == set(started)


def test_page_number_of_a_link():
    from dihub.http.paging import page_number

    assert page_number("https://x/repos/o/r/commits?sha=abc&per_page=100&page=27") == 27
    assert page_number("https://x/items?per_page=100") == 1
    assert page_number(None) is None
    assert page_number("https://x/items?page=last") is None


def test_pages_at_once_yields_the_part_a_reader_read_before_its_error():
    from dihub.http.paging import Partial, pages_at_once

    def get_page(n):
        if n == 2:
            raise Partial("half of page 2", RuntimeError("stopped in page 2"))
        return f"page {n}"

    got = []
    with pytest.raises(RuntimeError, match="stopped in page 2"):
        for item in pages_at_once(get_page, [1, 2, 3], 3):
            got.append(item)
    assert sorted(got) == [(1, "page 1"), (2, "half of page 2"), (3, "page 3")]
