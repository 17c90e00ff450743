"""The Slack Web API client: the bot token, method calls, cursor paging, and
Slack's `{"ok": false, "error": ...}` answers turned into dihub errors.

All HTTP policy is dihub.http's: retries with backoff, 429 `Retry-After`,
the per-method pacing of Slack's rate-limit tiers (limits.py's policy, which
the shared governor follows), the persisted circuit breaker, redaction and
accounting. This module adds only what is Slack's own. One HttpClient is made
per source per run (the session's) and shared by the threads syncing its
channels, so the pacing is per method per workspace, as Slack counts it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cached_property
from typing import Any

from dihub import secrets
from dihub.connectors.session import Once, Session
from dihub.connectors.slack.errors import error_from_response
from dihub.connectors.slack.limits import MIN_INTERVAL_S
from dihub.connectors.slack.limits import POLICY as LIMITS
from dihub.http import BearerAuth, HttpClient, Response
from dihub.http.paging import JsonCursor, paginate
from dihub.jsoncodec import reading

DEFAULT_BASE_URL = "https://slack.com/api"
CURSOR_PAGES = JsonCursor("response_metadata.next_cursor", "cursor")
TOKEN_NAME = "token"


def method_intervals(overrides: Mapping[str, float] | None) -> dict[str, float]:
    """Seconds between two calls of each method: Slack's tiers, then `min_interval_s`
    from the config (`"*"` sets every method, e.g. 0 against a local simulator)."""
    intervals = dict(MIN_INTERVAL_S)
    if overrides:
        if "*" in overrides:
            intervals = dict.fromkeys(intervals, float(overrides["*"]))
        intervals.update({k: float(v) for k, v in overrides.items() if k != "*"})
    return intervals


def token_for(source: str, config: Any) -> str:
    """The bot token: the variable named by `token_env`, else the keyring login."""
    return secrets.require_secret(source, TOKEN_NAME, getattr(config, "token_env", None),
                                  host=secrets.host_of(getattr(config, "base_url", None)
                                                       or DEFAULT_BASE_URL),
                                  what="Slack token", how=" to store a bot token (xoxb-...)")


def auth_hint(source: str, config: Any) -> str:
    env = getattr(config, "token_env", None)
    also = f" or update {env}" if env else ""
    return (f"Slack rejected the bot token of source {source!r}: run `dihub auth {source}` "
            f"with a valid xoxb- token{also}.")


class SlackClient:
    """Calls Web API methods; every answer is checked for `ok`."""

    def __init__(self, http: HttpClient, source: str):
        self.http = http
        self.source = source

    def call(self, method: str, params: Mapping[str, Any] | None = None, *,
             channel: str | None = None, shape: Any = None) -> Response:
        """One call; the Response whose `data` is Slack's `ok: true` body.

        `channel` names the channel in error messages (`#name` or an id); `shape` (see
        shapes.py) is what of the body to read.
        """
        if shape is None:
            resp = self.http.get(method, params=dict(params or {}))
        else:
            with reading(shape):
                resp = self.http.get(method, params=dict(params or {}))
        body = resp.data if isinstance(resp.data, dict) else None
        err = error_from_response(method, body, status=resp.status, headers=resp.headers,
                                  channel=channel, source=self.source)
        if err is not None:
            raise err
        return resp

    def pages(self, method: str, params: Mapping[str, Any], *,
              channel: str | None = None, keep_body: bool = True,
              shape: Any = None) -> Iterator[Response]:
        """Every page of a cursor-paged method, following response_metadata.next_cursor;
        each body read into `shape` when given (see shapes.py).

        With `keep_body` false, each Response comes without its body bytes (`text` is
        empty; `data` and `size` stay), and this generator keeps no reference to a page
        once it is handed over, so a page the caller lets go is freed at once."""
        if keep_body:
            def call(name: str, query: Any) -> Response:
                return self.call(name, query, channel=channel, shape=shape)
            for page in paginate(call, method, CURSOR_PAGES, params):
                yield page.response
            return
        query: dict[str, Any] | None = dict(params)
        while query is not None:
            yield _next_page(self, method, query, channel, shape)
            if "cursor" not in query:
                query = None

    def first_page(self, method: str, params: Mapping[str, Any], *,
                   channel: str | None = None, keep_body: bool = True,
                   shape: Any = None) -> Response:
        """The first page `pages(...)` would give, read on its own (ahead, in another
        thread); the pages after it are `pages(...)` from its `next_cursor`."""
        resp = self.call(method, params, channel=channel, shape=shape)
        if not keep_body and getattr(resp, "raw", None) is not None:
            resp = replace(resp, raw=None)
        return resp


def next_cursor(resp: Response) -> str | None:
    """The cursor of the page after `resp`, or None after the last page."""
    meta = resp.data.get("response_metadata") if isinstance(resp.data, dict) else None
    return (meta or {}).get("next_cursor") or None


def _next_page(client: SlackClient, method: str, query: dict[str, Any],
               channel: str | None, shape: Any = None) -> Response:
    """One page, without its body bytes; sets query["cursor"] to the next page's, or
    removes it after the last page."""
    resp = client.call(method, query, channel=channel, shape=shape)
    cursor = next_cursor(resp)
    if cursor:
        query["cursor"] = cursor
    else:
        query.pop("cursor", None)
    return replace(resp, raw=None) if getattr(resp, "raw", None) is not None else resp


class AheadWeight:
    """The bytes of the replies pages read ahead and not taken yet, summed over every
    channel pass of a run (several are under way while others wait out a Retry-After),
    so what the read-ahead holds does not grow with the passes under way."""

    def __init__(self) -> None:
        self.held = 0
        self._lock = threading.Lock()

    def add(self, size: int) -> None:
        with self._lock:
            self.held += size


class SlackSession(Session):
    """One run of a Slack source: its client, the channel listing and channel names."""

    def __init__(self, run: Any):
        super().__init__(run)
        self.channels: Once[list[dict[str, Any]]] = Once()   # conversations.list, once
        self.names: dict[str, str | None] = {}               # channel id -> name
        self._replies: Once[ThreadPoolExecutor] = Once()      # see replies_pool
        self.ahead = AheadWeight()                            # ... and what it holds

    def replies_pool(self) -> ThreadPoolExecutor:
        """The run's threads that read thread replies ahead of the channel passes that
        use them (dihub/connectors/slack/messages.py, _Ahead): four times
        `http.concurrency`, shared by every channel of the run, so that several of them
        waiting out a Retry-After at once leave the others reading."""
        workers = 4 * self.http_concurrency
        return self._replies.get(lambda: ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"dihub-{self.source}-replies"))

    def close(self) -> None:
        """Let the replies being read finish (their pass no longer waits for them), then
        close the client."""
        pool = self._replies.peek()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        super().close()

    def open_http(self) -> HttpClient:
        cfg = self.config
        return self.build_http(
            cfg.base_url, auth=BearerAuth(token_for(self.source, cfg)),
            limits=LIMITS.with_intervals(method_intervals(cfg.min_interval_s)),
            auth_hint=auth_hint(self.source, cfg))

    @cached_property
    def message_options(self) -> tuple[bool, Any]:
        """(store_text, classifier) of the config, read once: the messages stream's
        normalizer needs them for every message."""
        cfg = self.config
        return cfg.store_text, cfg.classifier

    @property
    def slack(self) -> SlackClient:
        """Web API calls over this stream's view of the run's client."""
        return SlackClient(self.http, self.source)
