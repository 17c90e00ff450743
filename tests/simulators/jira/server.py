"""JiraSimulator: a threaded HTTP server on 127.0.0.1 serving a Dataset as Jira Cloud
or Data Center would, with credentials, a rate limit and injected faults.

Order of checks: scripted response → random fault → credentials (401) → rate limit
(429) → route. Faulted and refused requests are recorded in `stats` like others.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.simulators.common import Faults, Record, Reply, SimHandler, SimulatorServer

from . import fixtures as fx
from . import routes
from .data import Dataset

JIRA_FAULTS = ("500", "502", "503", "429", "drop", "truncated")
_BAD_GATEWAY = (b"<html><body><h1>502 Bad Gateway</h1>\n"
                b"The server returned an invalid or incomplete response.\n</body></html>\n")
NOT_AUTHENTICATED = ("You are not authenticated. Authentication required to perform this "
                     "operation.")


def jira_faults(rate: float = 0.05, *, seed: int = 1, retry_after: float = 0,
                kinds: tuple[str, ...] = JIRA_FAULTS) -> Faults:
    """Random faults for the Jira API paths (the shared Faults, Jira's kinds)."""
    return Faults(rate=rate, kinds=kinds, seed=seed, retry_after=retry_after,
                  paths=r"^/rest/")


@dataclass
class Credentials:
    """Cloud: `email` + `token` as HTTP basic. Data Center: `token` as a bearer PAT."""

    token: str
    email: str | None = None

    def accepts(self, header: str | None, cloud: bool) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if cloud and scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return user == self.email and password == self.token
        return not cloud and scheme.lower() == "bearer" and value.strip() == self.token


class RateLimit:
    """At most `limit` requests per fixed `window_s` window; then 429 until it ends."""

    def __init__(self, limit: int, window_s: float = 1.0):
        self.limit, self.window_s = limit, window_s
        self._lock = threading.Lock()
        self._start, self._count = time.time(), 0
        self.refused = 0

    def check(self) -> float | None:
        """None if allowed, else the epoch time the window resets."""
        with self._lock:
            now = time.time()
            if now >= self._start + self.window_s:
                self._start, self._count = now, 0
            if self._count >= self.limit:
                self.refused += 1
                return self._start + self.window_s
            self._count += 1
            return None

    def next_window(self) -> None:
        """Start the next window now (the quota came back), whatever `window_s` says: a
        test of runs that each get one window, without waiting for it."""
        with self._lock:
            self._start, self._count = time.time(), 0


def rate_limited_reply(reset_at: float, reason: str = "jira-burst-based",
                       limit: int = 100) -> Reply:
    wait = max(0.0, reset_at - time.time())
    return Reply(429, b"", {
        "retry-after": str(math.ceil(wait)),
        "x-ratelimit-limit": str(limit), "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": datetime.fromtimestamp(reset_at, UTC).isoformat(
            timespec="seconds").replace("+00:00", "Z"),
        "ratelimit-reason": reason}, content_type="text/plain", fault="429")


def fault_reply(kind: str, retry_after: float) -> Reply:
    if kind == "500":
        return Reply(500, {"errorMessages": ["Internal server error"], "errors": {}},
                     fault=kind)
    if kind == "502":
        return Reply(502, _BAD_GATEWAY, content_type="text/html", fault=kind)
    if kind == "503":
        return Reply(503, {"errorMessages": ["Service Unavailable"], "errors": {}},
                     {"retry-after": str(int(retry_after))}, fault=kind)
    if kind == "429":
        return rate_limited_reply(time.time() + retry_after)
    raise ValueError(f"no canned Jira response for fault kind {kind!r}")


class _Handler(SimHandler):
    server_version = "AtlassianEdge"


class JiraSimulator(SimulatorServer):
    """`with JiraSimulator(Dataset.generate(500), credentials=...) as sim: sim.base_url`.

    credentials   Credentials(...) to accept; None accepts any request
    faults        jira_faults(rate) (or any shared Faults), or None
    rate_limit    RateLimit(limit, window_s) or None
    embed_max     histories embedded by `expand=changelog` in a Cloud search (the rest
                  come from /issue/{id}/changelog)
    """

    handler = _Handler
    thread_name = "jira-sim"

    def __init__(self, dataset: Dataset, *, credentials: Credentials | None = None,
                 faults: Faults | None = None, rate_limit: RateLimit | None = None,
                 embed_max: int = 40, port: int = 0):
        super().__init__(port, faults)
        self.dataset = dataset
        self.credentials = credentials
        self.rate_limit = rate_limit
        self.embed_max = embed_max
        # called with each Record once its reply is ready (e.g. to edit data between pages)
        self.after_request: Callable[[Record], None] | None = None
        # the JSON bodies of the POST requests answered (the bulk changelog's), oldest first
        self.posted: list[tuple[str, Any]] = []
        # (method, path, query) -> Reply for /_sim/ paths (see __main__.py); None: no such paths
        self.control: Callable[[str, str, str], Reply] | None = None

    @property
    def caller(self) -> dict[str, Any]:
        me = dict(self.dataset.humans()[0])
        if self.credentials and self.credentials.email:
            me["emailAddress"] = self.credentials.email
        return me

    def handle(self, method: str, target: str, headers: dict[str, str],
               raw: bytes) -> tuple[Reply | None, Record]:
        """/_sim/ paths go to `control` (when set), before any script or fault."""
        split = urlsplit(target)
        path = split.path or "/"
        if self.control is not None and path.startswith("/_sim/"):
            rec = Record(method, path, split.query, self.route_of(path), None, None, False,
                         headers)
            reply = self.control(method, path, split.query)
            rec.status = reply.status
            return reply, rec
        return self.answer(method, target, path, split.query, headers, raw)

    def route_of(self, path: str) -> str:
        return routes.route_of(path)

    def fault_reply(self, kind: str) -> Reply:
        return fault_reply(kind, self.faults.retry_after if self.faults else 0)

    def respond(self, rec: Record, raw: bytes) -> Reply:
        reply = self._api(rec.method, rec.path, rec.query, rec.headers, raw)
        if rec.method == "POST" and reply.status == 200:
            try:
                self.posted.append((rec.path, json.loads(raw)))
            except ValueError:
                pass
        return reply

    def finish(self, reply: Reply, rec: Record) -> None:
        if self.after_request is not None:
            self.after_request(rec)

    def _api(self, method: str, path: str, query: str, headers: dict[str, str],
             raw: bytes = b"") -> Reply:
        ds = self.dataset
        if self.credentials is not None and not self.credentials.accepts(
                headers.get("authorization"), ds.cloud):
            return routes.error(401, NOT_AUTHENTICATED)
        if self.rate_limit is not None:
            reset = self.rate_limit.check()
            if reset is not None:
                return rate_limited_reply(reset, limit=self.rate_limit.limit)
        if method not in ("GET", "POST"):
            return routes.error(405, "Method Not Allowed")
        with ds.lock:
            ctx = routes.Ctx(ds, dict(parse_qsl(query, keep_blank_values=True)),
                             self.embed_max, self.caller, ds.now, method, raw)
            reply = routes.dispatch(path, ctx)
            if reply.body is not None and not isinstance(reply.body, bytes | str):
                reply.body = json.dumps(reply.body, separators=(",", ":")).encode().replace(
                    fx.SITE.encode(), self.base_url.encode())
        return reply
