"""Paginators: how to ask for the next page, and when there is none.

    for page in client.paginate("/items", LinkHeader(), {"per_page": 100}):
        page.items, page.response, page.next      # `next`: where the next page starts
    page.data, page.size, ...                  # the response's attributes

`paginate(get, path, paginator, params, start=...)` is the one paging loop: it asks
the paginator for each request, sends it with `get(url, params)` (the client's GET,
or a connector's own call that checks its upstream's error shapes), and yields a
`Fetched` per page. `next` is the position of the page after it (None after the
last): a stream saves it in the page's checkpoint, and `start=` resumes there.

* `LinkHeader()`: follow the `Link: <...>; rel="next"` URL verbatim (RFC 8288);
  the position is that URL.
* `JsonCursor(token, param)`: a next-page token in the body (dotted path `token`),
  sent back as the query parameter `param`; stops without one, or when the body's
  `last` field is true. The position is the token.
* `PageNumber(param)`: numbered pages, until no `rel="next"` link or an empty page;
  the position is the page number.
* `Offset(param)`: an item offset (`startAt`, `offset`), advanced by the items of each
  page. Stop rules, any of `"is_last"` (the body's `last` field is true), `"total"`
  (the offset reached the body's `total`), `"empty"` (a page with no items); `done(body, items,
  offset)` adds one of the caller's. The position is the offset.

`items` names where a page's items are (a dotted path in the body; None: the body
itself when it is a list).

`pages_at_once(get_page, numbers, width)` reads numbered pages `width` at a time, for
a listing whose pages do not move while it is read (one anchored at a commit SHA)
and whose last page is known, or for requests whose answers never change: a page that
sits out a Retry-After then holds itself, not the pages after it.

Paging that an upstream forces to be different (an offset that moves with the data,
reads that interleave other requests) stays with its connector, which says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from dihub import waits

Get = Callable[[str, Any], Any]         # (path or URL, params) -> Response


def dig(data: Any, path: str | None) -> Any:
    """`data["a"]["b"]` for path "a.b"; None where a level is missing or not a dict."""
    if path is None:
        return data
    for key in path.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    return data


def items_at(data: Any, path: str | None) -> list[Any]:
    value = dig(data, path)
    return list(value) if isinstance(value, list) else []


@dataclass
class Fetched:
    """One page: its response, its items, the position it was requested at (`at`, None
    for the first page when no start was given) and the next page's (`next`, None after
    the last)."""

    response: Any
    items: list[Any]
    at: Any = None
    next: Any = None

    def __getattr__(self, name: str) -> Any:
        """The response's attributes (`data`, `size`, `text`, `etag`, ...), so a page can
        stand for its response (e.g. in `session.page(page.items, page)`)."""
        if name == "response":          # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.response, name)

    @property
    def last(self) -> bool:
        return self.next is None


class Paginator(Protocol):
    def request(self, path: str, params: dict[str, Any], at: Any) -> tuple[str, Any]:
        """The (path or URL, params) of the page at position `at` (None: the first)."""
        ...

    def items(self, response: Any) -> list[Any]: ...

    def after(self, response: Any, items: list[Any], at: Any) -> Any:
        """The next page's position, or None when this page is the last."""
        ...


class LinkHeader:
    def __init__(self, items: str | None = None):
        self._items = items

    def request(self, path: str, params: dict[str, Any], at: Any) -> tuple[str, Any]:
        return (path, params) if at is None else (at, None)   # the next URL has its query

    def items(self, response: Any) -> list[Any]:
        return items_at(response.data, self._items)

    def after(self, response: Any, items: list[Any], at: Any) -> Any:
        return response.next_url


class JsonCursor:
    def __init__(self, token: str, param: str, *, items: str | None = None,
                 last: str | None = None):
        self.token, self.param, self._items, self.last = token, param, items, last

    def request(self, path: str, params: dict[str, Any], at: Any) -> tuple[str, Any]:
        return path, ({**params, self.param: at} if at else params)

    def items(self, response: Any) -> list[Any]:
        return items_at(response.data, self._items)

    def after(self, response: Any, items: list[Any], at: Any) -> Any:
        token = dig(response.data, self.token)
        if not token or (self.last and dig(response.data, self.last) is True):
            return None
        return token


class PageNumber:
    """Numbered pages (`?page=N`, the first sent without it). Stop rules: `"link"` (no
    `rel="next"` Link), `"empty"` (a page with no items); `done(body, items, n)` adds
    one of the caller's. The position is the page number."""

    def __init__(self, param: str = "page", *, items: str | None = None,
                 stop: tuple[str, ...] = ("link", "empty"),
                 done: Callable[[Any, list[Any], int], bool] | None = None):
        unknown = set(stop) - {"link", "empty"}
        if unknown:
            raise ValueError(f"unknown stop rules {sorted(unknown)}; one of link, empty")
        self.param, self._items, self.stop, self.done = param, items, tuple(stop), done

    def request(self, path: str, params: dict[str, Any], at: Any) -> tuple[str, Any]:
        return path, ({**params, self.param: at} if at and at > 1 else params)

    def items(self, response: Any) -> list[Any]:
        return items_at(response.data, self._items)

    def after(self, response: Any, items: list[Any], at: Any) -> Any:
        n = at or 1
        if ("empty" in self.stop and not items) \
                or ("link" in self.stop and not response.next_url) \
                or (self.done is not None and self.done(response.data, items, n)):
            return None
        return n + 1


STOP_RULES = ("is_last", "total", "empty")


class Offset:
    def __init__(self, param: str = "startAt", *, items: str | None = None,
                 size_param: str | None = None, size: int | None = None,
                 stop: tuple[str, ...] = STOP_RULES, last: str = "isLast",
                 total: str = "total", done: Callable[[Any, list[Any], int], bool] | None = None):
        unknown = set(stop) - set(STOP_RULES)
        if unknown:
            raise ValueError(f"unknown stop rules {sorted(unknown)}; one of {STOP_RULES}")
        self.param, self._items, self.stop = param, items, tuple(stop)
        self.size = {size_param: size} if size_param and size is not None else {}
        self.last, self.total, self.done = last, total, done

    def request(self, path: str, params: dict[str, Any], at: Any) -> tuple[str, Any]:
        return path, {**params, self.param: at or 0, **self.size}

    def items(self, response: Any) -> list[Any]:
        return items_at(response.data, self._items)

    def after(self, response: Any, items: list[Any], at: Any) -> Any:
        data = response.data
        offset = (at or 0) + len(items)
        total = dig(data, self.total)
        if ("empty" in self.stop and not items) \
                or ("is_last" in self.stop and dig(data, self.last) is True) \
                or ("total" in self.stop and isinstance(total, int) and offset >= total) \
                or (self.done is not None and self.done(data, items, offset)):
            return None
        return offset


def paginate(get: Get, path: str, paginator: Paginator,
             params: Mapping[str, Any] | None = None, *, start: Any = None
             ) -> Iterator[Fetched]:
    """Every page from position `start` (None: the first page) to the last."""
    at = start
    while True:
        url, query = paginator.request(path, dict(params or {}), at)
        response = get(url, query)
        items = paginator.items(response)
        after = paginator.after(response, items, at)
        yield Fetched(response, items, at, after)
        del response, items     # not alive here during the next request (a page's memory)
        if after is None:
            return
        at = after


PATIENCE_S = 0.5        # no page of pages_at_once arrived by then: the caller lends its place


def page_number(url: str | None, param: str = "page") -> int | None:
    """The page number a paging URL asks for (`rel="last"`'s), None without one."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get(param)
    try:
        return int(values[-1]) if values else 1
    except ValueError:
        return None


def pages_at_once(get_page: Callable[[int], Any], numbers: Iterable[int], width: int
                  ) -> Iterator[tuple[int, Any]]:
    """(n, get_page(n)) for every page number, in the order the pages arrive: up to
    `width` are read at once, in threads of this call, and the next is started as one
    is yielded, so at most `width` pages are held. Only for pages that stay the same
    however late they are read. An error reading a page is raised when that page's turn
    comes, after the pages under way then have arrived (a quota reserve reached stops
    the pages together: what they read is not read again; a reader that read part of
    what it was asked raises `Partial` with it); the pages not started are cancelled.
    When the caller stops, those under way finish unused (it returns once they have).
    While none arrives for PATIENCE_S, the caller's thread waits as `waits.elsewhere()`
    (it writes its pages and lends its place)."""
    todo = iter(numbers)
    pool = ThreadPoolExecutor(max_workers=max(1, width), thread_name_prefix="dihub-pages")
    running: dict[Future, int] = {}

    def start() -> None:
        n = next(todo, None)
        if n is not None:
            running[pool.submit(get_page, n)] = n

    try:
        for _ in range(max(1, width)):
            start()
        while running:
            done, _ = wait(running, timeout=PATIENCE_S, return_when=FIRST_COMPLETED)
            if not done:
                with waits.elsewhere():
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=running.__getitem__):
                n = running.pop(future)
                error = future.exception()
                if error is not None:
                    if isinstance(error, Partial):
                        yield n, error.result
                        error = error.cause
                    yield from _arrived(running)
                    raise error
                result = future.result()
                start()
                yield n, result
                del result
    finally:    # nothing of this call is left sending once it returns (its client closes)
        for future in running:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _arrived(running: dict[Future, int]) -> Iterator[tuple[int, Any]]:
    """The pages under way once one has failed: none more started, those that arrive."""
    for future in running:
        future.cancel()
    for future in sorted(running, key=running.__getitem__):
        if future.cancelled():
            continue
        error = future.exception()
        if error is None:
            yield running[future], future.result()
        elif isinstance(error, Partial):
            yield running[future], error.result
    running.clear()


class Partial(Exception):
    """Raised by a `pages_at_once` reader that read part of what it was asked before
    `cause`: `result` is yielded for it like a whole one, then `cause` is raised."""

    def __init__(self, result: Any, cause: BaseException):
        super().__init__(str(cause))
        self.result, self.cause = result, cause
