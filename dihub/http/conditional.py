"""Conditional requests: remember ETags per URL, send If-None-Match, skip on 304.

SyncState.etags is a dict `etag_key(url, params) -> etag`. A stream copies it
into an ETagCache at the start of a pass, fetches through `conditional_get`,
and hands `cache.snapshot()` to the engine in `Page(etags=...)` so it is
checkpointed with the cursor. A 304 costs no quota (GitHub) and carries no body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

if TYPE_CHECKING:
    from dihub.http.client import HttpClient, Response

# never part of a stored key: credentials some APIs accept as query parameters
_SECRET_PARAM = re.compile(r"(?i)(token|secret|password|passwd|api_?key|signature|sig)$")
MAX_ETAGS = 500          # per SyncState; the oldest are dropped beyond this


def _str(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def _pairs(params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, str]]:
    if not params:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    out: list[tuple[str, str]] = []
    for key, value in items:
        if isinstance(value, list | tuple):
            out.extend((str(key), _str(v)) for v in value)
        else:
            out.append((str(key), _str(value)))
    return out


def merge_params(url: str, params: Any = None) -> tuple[str, list[tuple[str, str]]]:
    """Split `url` into (url without query, parameters): the URL's own query
    parameters, with those named in `params` replaced by its values. (httpx would
    drop the URL's query altogether when `params` is given.)"""
    parts = urlsplit(url)
    extra = _pairs(params)
    names = {k for k, _ in extra}
    own = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return parts._replace(query="", fragment="").geturl(), own + extra


def etag_key(url: str, params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
             method: str = "GET") -> str:
    """`GET /repos/o/r/commits?per_page=100&sha=main`: method, path, sorted parameters.

    Parameters in the URL and in `params` are merged (as `merge_params`); the host
    is left out (the key lives in one source's state) and credential-like
    parameters are dropped.
    """
    bare, pairs = merge_params(url, params)
    parts = urlsplit(bare)
    kept = sorted((k, v) for k, v in pairs if not _SECRET_PARAM.search(k))
    query = urlencode(kept)
    return f"{method.upper()} {parts.path or '/'}" + (f"?{query}" if query else "")


class ETagCache:
    """A working copy of SyncState.etags for one pass (thread-safe enough for dict ops)."""

    def __init__(self, etags: Mapping[str, str] | None = None, *, limit: int = MAX_ETAGS):
        self._etags: dict[str, str] = dict(etags or {})
        self._limit = limit
        self.changed = False

    def get(self, url: str, params: Any = None) -> str | None:
        return self._etags.get(etag_key(url, params))

    def remember(self, url: str, params: Any, response: Response) -> None:
        """Store the response's ETag (a 304 keeps the one already stored)."""
        if response.not_modified or not response.etag:
            return
        key = etag_key(url, params)
        if self._etags.get(key) == response.etag:
            return
        self._etags.pop(key, None)
        self._etags[key] = response.etag
        while len(self._etags) > self._limit:
            self._etags.pop(next(iter(self._etags)))
        self.changed = True

    def forget(self, url: str, params: Any = None) -> None:
        if self._etags.pop(etag_key(url, params), None) is not None:
            self.changed = True

    def snapshot(self) -> dict[str, str]:
        return dict(self._etags)

    def __len__(self) -> int:
        return len(self._etags)


def conditional_get(client: HttpClient, cache: ETagCache, url: str,
                    params: Any = None, **kwargs: Any) -> Response:
    """GET with the cached ETag; remembers the new one. Check `response.not_modified`."""
    absolute = client.absolute_url(url)
    response = client.get(url, params=params, etag=cache.get(absolute, params), **kwargs)
    cache.remember(absolute, params, response)
    return response
