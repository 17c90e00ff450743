"""SlackSimulator: a threaded HTTP server on 127.0.0.1 serving a Workspace under
`/api/<method>` with Slack's token checks, scopes, cursor paging, per-method rate
limits (429 + Retry-After) and injected faults.

Order of checks: scripted response → random fault → token → per-method rate
limit → method. The server scaffolding (tests.simulators.common), the random
fault draw (`Faults`), scripts (`Script`) and statistics (`Stats`) are shared
with the other simulators; only the bodies are Slack's.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from ..common import Faults, Record, Reply, Script, SimHandler, SimulatorServer, seconds
from . import api, fixtures
from .data import Workspace

SLACK_FAULT_KINDS = ("500", "502", "503", "429", "drop", "truncated")
_BAD_GATEWAY = b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"


class _Handler(SimHandler):
    server_version = "Apache"          # what slack.com answers with

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError):   # the client hung up ("drop", a killed run)
            self.close_connection = True


class RateLimits:
    """Per-method limits: at most `n` requests per `window_s` (a fixed window that
    opens at the first request). Past it: 429 with `Retry-After` = the seconds left
    in the window, rounded up, as Slack sends whole seconds."""

    def __init__(self, limits: dict[str, tuple[int, float]] | None = None,
                 clock=time.monotonic):
        self.limits = dict(limits or {})
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def check(self, method: str) -> float | None:
        """None to serve the request, else the Retry-After seconds."""
        if method not in self.limits:
            return None
        n, window = self.limits[method]
        with self._lock:
            now = self._clock()
            opened, used = self._windows.get(method, (now, 0))
            if now - opened >= window:
                opened, used = now, 0
            if used >= n:
                self._windows[method] = (opened, used)
                return max(1.0, math.ceil(opened + window - now))
            self._windows[method] = (opened, used + 1)
            return None


class SlackSimulator(SimulatorServer):
    """`with SlackSimulator(ws) as sim:` then point a client at `sim.api_url`.

    workspace    the Workspace served (mutable between syncs: add_message, edit, ...)
    faults       Faults(rate=..., kinds=SLACK_FAULT_KINDS, retry_after=0) or None
    tokens       accepted tokens; None accepts any non-empty token
    scopes       the scopes the token has (missing ones give `missing_scope`)
    rate_limits  {"conversations.replies": (50, 60.0), ...}: requests per window
    """

    handler = _Handler
    thread_name = "slack-sim"

    def __init__(self, workspace: Workspace, faults: Faults | None = None, *,
                 tokens: Iterable[str] | None = None,
                 scopes: Iterable[str] = api.DEFAULT_SCOPES,
                 rate_limits: dict[str, tuple[int, float]] | None = None, port: int = 0):
        super().__init__(port, faults)
        self.workspace = workspace
        self.tokens = set(tokens) if tokens is not None else None
        self.scopes = frozenset(scopes)
        self.rate_limits = RateLimits(rate_limits)

    @property
    def api_url(self) -> str:
        """What a client's `base_url` is set to (https://slack.com/api on Slack)."""
        return f"{self.base_url}/api"

    # -- test controls -------------------------------------------------------------------
    def fail(self, api_method: str, error: str, times: int = 1, **extra: Any) -> Script:
        """The next `times` calls of `api_method` answer `{"ok": false, "error": ...}`."""
        body = {"ok": False, "error": error, **extra}
        return self.script(r"^/api/" + re.escape(api_method) + r"(\?|$)",
                           [{"status": 200, "body": body}] * times)

    # -- request handling (called from handler threads) ------------------------------------
    def route_of(self, path: str) -> str:
        """The API method (`/api/conversations.history` → conversations.history)."""
        return path.rsplit("/", 1)[-1] if path.startswith("/api/") else path

    def fault_reply(self, kind: str) -> Reply:
        return fault_reply(kind, self.faults.retry_after if self.faults else 0)

    def respond(self, rec: Record, raw: bytes) -> Reply:
        return self._api(rec.method, rec.route, rec.query, rec.headers, raw)

    def finish(self, reply: Reply, rec: Record) -> None:
        reply.headers.setdefault("x-oauth-scopes", ",".join(sorted(self.scopes)))

    def _api(self, method: str, api_method: str, query: str, headers: dict[str, str],
             raw: bytes) -> Reply:
        if not api_method or method not in ("GET", "POST"):
            return Reply(404, {"ok": False, "error": "unknown_method"})
        params = dict(parse_qsl(query, keep_blank_values=True))
        if method == "POST" and raw:
            if "json" in headers.get("content-type", ""):
                try:
                    params.update({k: str(v) for k, v in json.loads(raw).items()})
                except (ValueError, AttributeError):
                    return Reply(200, {"ok": False, "error": "invalid_json"})
            else:
                params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        token = _bearer(headers.get("authorization")) or params.pop("token", None)
        if not token:
            return Reply(200, {"ok": False, "error": "not_authed"})
        if self.tokens is not None and token not in self.tokens:
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        wait = self.rate_limits.check(api_method)
        if wait is not None:
            return ratelimited_reply(wait)
        call = api.Call(self.workspace, api_method, params, self.scopes)
        with self.workspace.lock:
            body = api.dispatch(call)
            data = json.dumps(body, separators=(",", ":")).encode()
        return Reply(200, data)


def fault_reply(kind: str, retry_after: float) -> Reply:
    wait = {"retry-after": seconds(retry_after)}
    if kind == "500":
        return Reply(500, {"ok": False, "error": "internal_error"}, fault=kind)
    if kind == "502":
        return Reply(502, _BAD_GATEWAY, content_type="text/html", fault=kind)
    if kind == "503":
        return Reply(503, {"ok": False, "error": "service_unavailable"}, wait, fault=kind)
    if kind == "429":
        return ratelimited_reply(retry_after, fault=kind)
    raise ValueError(f"no Slack response for fault kind {kind!r}; use {SLACK_FAULT_KINDS}")


def ratelimited_reply(retry_after: float, fault: str | None = None) -> Reply:
    """Slack's 429: the recorded body and a Retry-After in seconds."""
    hdrs, body = fixtures.ratelimited()
    return Reply(429, body, {"retry-after": seconds(retry_after)},
                 content_type=hdrs["content-type"], fault=fault)


def slack_faults(rate: float = 0.05, *, seed: int = 1, retry_after: float = 0,
                 kinds: tuple[str, ...] = SLACK_FAULT_KINDS, max_consecutive: int = 3
                 ) -> Faults:
    """Random faults with Slack's failure modes (429 with Retry-After, 5xx, dropped
    connections, truncated JSON), on every /api/ path."""
    return Faults(rate=rate, kinds=kinds, seed=seed, retry_after=retry_after,
                  paths=r"^/api/", max_consecutive=max_consecutive)


def _bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
