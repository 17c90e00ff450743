"""Conditional requests: remember ETags per URL, send If-None-Match, skip on 304.

SyncState.etags is a dict `etag_key(url, params) -> etag`. A stream copies it
into an ETagCache at the start of a pass, fetches through `conditional_get`,
and hands `cache.snapshot()` to the engine in `Page(etags=...)` so it is
checkpointed with the cursor. A 304 carries no body (and for many upstreams costs no quota).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dihub.http.urls import etag_key, merge_params

if TYPE_CHECKING:    # for annotations only; client.py does not import this module
    from dihub.http.client import HttpClient, Response

__all__ = ["MAX_ETAGS", "ETagCache", "conditional_get", "etag_key", "merge_params"]

MAX_ETAGS = 500          # per SyncState; the oldest are dropped beyond this


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
