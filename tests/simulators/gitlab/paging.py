"""GitLab's pagination headers: offset (with or without counts) and keyset.

Offset (every list): `x-page`, `x-per-page`, `x-next-page` and `x-prev-page` (empty when
there is none) and a `Link` header with rel="prev", "next", "first" and, when counted,
"last"; counted lists add `x-total` and `x-total-pages`. A list is counted only while it
has at most `count_limit` rows (GitLab: 10,000); the commits list is never counted and
announces a next page whenever a page is full (so the page after an exact multiple is
empty). Link URLs are absolute, carry the request's parameters plus the path `id`, sorted
by name, with `page` and `per_page` replaced, as GitLab builds them.

Keyset (`pagination=keyset`): only a `Link: <...>; rel="next"` while the page is full;
at the end there is no Link and the page is empty or short.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

COUNT_LIMIT = 10_000
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


class ApiError(Exception):
    """A request GitLab refuses: status and body."""

    def __init__(self, status: int, body: Any):
        super().__init__(str(body))
        self.status, self.body = status, body


def bad_param(name: str, problem: str = "is invalid") -> ApiError:
    return ApiError(400, {"error": f"{name} {problem}"})


@dataclass
class Params:
    """Query parameters: `get` gives the last value; `all` gives every value of a key."""

    pairs: list[tuple[str, str]]

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in reversed(self.pairs):
            if k == key:
                return v
        return default

    def all(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k == key]

    def int(self, key: str, default: int) -> int:
        value = self.get(key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise bad_param(key) from None

    def bool(self, key: str) -> bool | None:
        value = self.get(key)
        if value is None:
            return None
        if value.lower() in ("true", "1", "yes", "t"):
            return True
        if value.lower() in ("false", "0", "no", "f"):
            return False
        raise bad_param(key)

    def choice(self, key: str, allowed: Sequence[str], default: str) -> str:
        value = self.get(key) or default
        if value not in allowed:
            raise ApiError(400, {"error": f"{key} does not have a valid value"})
        return value

    def page(self) -> tuple[int, int]:
        per_page = self.int("per_page", DEFAULT_PER_PAGE)
        per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
        return max(self.int("page", 1), 1), per_page


class Linker:
    """Builds page URLs on the request's path with its parameters (plus `id`)."""

    def __init__(self, base_url: str, path: str, params: Params, path_id: str | None):
        self.url = base_url + path
        merged: dict[str, list[str]] = {}
        for k, v in params.pairs:
            merged.setdefault(k, []).append(v)
        if path_id is not None:
            merged.setdefault("id", [path_id])
        self.params = merged

    def href(self, **replace: Any) -> str:
        values = {k: list(v) for k, v in self.params.items()}
        for k, v in replace.items():
            values[k] = [str(v)]
        pairs = [(k, v) for k in sorted(values) for v in values[k]]
        return f"{self.url}?{urlencode(pairs)}"


def offset_page(rows: Sequence[Any], params: Params, linker: Linker, *,
                counted: bool = True, count_limit: int = COUNT_LIMIT
                ) -> tuple[list[Any], dict[str, str]]:
    """One offset page of `rows` and its headers."""
    page, per_page = params.page()
    start = (page - 1) * per_page
    chunk = list(rows[start:start + per_page])
    total = len(rows)
    counted = counted and total <= count_limit
    has_next = start + per_page < total
    return chunk, _offset_headers(linker, page, per_page, has_next,
                                  total if counted else None)


def commits_page(rows: Sequence[Any], params: Params, linker: Linker
                 ) -> tuple[list[Any], dict[str, str]]:
    """The commits list: never counted; a full page always announces a next one."""
    page, per_page = params.page()
    start = (page - 1) * per_page
    chunk = list(rows[start:start + per_page])
    return chunk, _offset_headers(linker, page, per_page, len(chunk) == per_page, None)


def _offset_headers(linker: Linker, page: int, per_page: int, has_next: bool,
                    total: int | None) -> dict[str, str]:
    prev_page = page - 1 if page > 1 else None
    next_page = page + 1 if has_next else None
    links = []
    if prev_page:
        links.append(f'<{linker.href(page=prev_page, per_page=per_page)}>; rel="prev"')
    if next_page:
        links.append(f'<{linker.href(page=next_page, per_page=per_page)}>; rel="next"')
    links.append(f'<{linker.href(page=1, per_page=per_page)}>; rel="first"')
    headers = {"x-page": str(page), "x-per-page": str(per_page),
               "x-next-page": str(next_page or ""), "x-prev-page": str(prev_page or "")}
    if total is not None:
        pages = max((total + per_page - 1) // per_page, 1)
        links.append(f'<{linker.href(page=pages, per_page=per_page)}>; rel="last"')
        headers.update({"x-total": str(total), "x-total-pages": str(pages)})
    headers["link"] = ", ".join(links)
    return headers


def keyset_page(rows: Sequence[Any], params: Params, linker: Linker, *, cursor_param: str,
                make_cursor: Callable[[Any], dict[str, str]]) -> tuple[list[Any], dict[str, str]]:
    """A keyset page of `rows` (already sorted and started after the request's cursor):
    a `rel="next"` Link carrying `make_cursor(last row)` while the page is full."""
    _, per_page = params.page()
    chunk = list(rows[:per_page])
    headers: dict[str, str] = {}
    if chunk and len(chunk) == per_page:
        linker.params = {k: v for k, v in linker.params.items()
                         if k not in ("page", cursor_param)}
        headers["link"] = f'<{linker.href(**make_cursor(chunk[-1]))}>; rel="next"'
    return chunk, headers


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except (ValueError, TypeError):
        raise bad_param("cursor") from None
    if not isinstance(value, dict):
        raise bad_param("cursor")
    return value
