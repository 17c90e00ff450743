"""Request URLs as keys: merge a URL's query with parameters, and the stable key of a
request (method, path, sorted parameters) that ETags and checkpoints are stored under.

The bottom of dihub.http: it imports nothing from the package, so the client and
the conditional-request cache can both use it without importing each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

# never part of a stored key: credentials some APIs accept as query parameters
_SECRET_PARAM = re.compile(r"(?i)(token|secret|password|passwd|api_?key|signature|sig)$")


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
