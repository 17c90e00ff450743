"""GitLabSimulator: a threaded HTTP server on 127.0.0.1 serving a Dataset as GitLab's
REST API v4 (under /api/v4) and its OAuth endpoints (under /oauth).

Order of checks for an API request: scripted response → random fault → rate limit
(429 "Retry later" once the window's quota is spent) → token → route → ETag (304).
Every API request that reaches the rate limiter counts against the window, whatever its
answer (a 304 included), as GitLab's request throttle counts requests; faults count
nothing. Every API response carries RateLimit-Limit, -Observed, -Remaining, -Reset
(epoch seconds) and -ResetTime (HTTP date).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from ..common import Faults, Record, Reply, SimHandler, SimulatorServer
from . import routes
from .auth import READ_SCOPES, DeviceFlow, TokenAuth, form_params, token_of
from .data import WEB, Dataset
from .faults import fault_reply, throttled
from .paging import COUNT_LIMIT, Params

API = "/api/v4"
API_HEADERS = {
    "cache-control": "max-age=0, private, must-revalidate",
    "vary": "Accept-Encoding, Origin",
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "x-gitlab-meta": '{"correlation_id":"sim","version":"1"}',
}
_SCOPES_FOR = {"/user": READ_SCOPES + ("read_user",), "/personal_access_tokens/self": ()}


class _Handler(SimHandler):
    server_version = "nginx"


class RateLimit:
    """GitLab's request throttle: `limit` requests per fixed window of `window_s`.

    Tests force the state with `set(remaining=0, reset_in=1)` or `reset()`."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.time):
        self.limit, self.window_s, self._clock = limit, window_s, clock
        self._lock = threading.Lock()
        self.observed = 0
        self.reset_at = clock() + window_s

    def _roll(self) -> None:
        if self._clock() >= self.reset_at:
            self.observed = 0
            self.reset_at = self._clock() + self.window_s

    def hit(self) -> bool:
        """Count one request; False when it is over the quota (answer 429)."""
        with self._lock:
            self._roll()
            self.observed += 1
            return self.observed <= self.limit

    @property
    def remaining(self) -> int:
        with self._lock:
            self._roll()
            return max(self.limit - self.observed, 0)

    def set(self, *, remaining: int | None = None, reset_in: float | None = None) -> None:
        with self._lock:
            if remaining is not None:
                self.observed = max(self.limit - remaining, 0)
            if reset_in is not None:
                self.reset_at = self._clock() + reset_in

    def reset(self) -> None:
        with self._lock:
            self.observed = 0
            self.reset_at = self._clock() + self.window_s

    def retry_after(self) -> int:
        with self._lock:
            return max(int(self.reset_at - self._clock() + 0.999), 0)

    def headers(self) -> dict[str, str]:
        with self._lock:
            self._roll()
            reset = int(self.reset_at + 0.999)
            return {"ratelimit-limit": str(self.limit),
                    "ratelimit-observed": str(self.observed),
                    "ratelimit-remaining": str(max(self.limit - self.observed, 0)),
                    "ratelimit-reset": str(reset),
                    "ratelimit-resettime": email.utils.formatdate(reset, usegmt=True)}


class GitLabSimulator(SimulatorServer):
    """`with GitLabSimulator(dataset) as sim: httpx.get(sim.api_url + "/user")`.

    dataset        the Dataset served (mutable between and during runs)
    faults         Faults(...) (use tests.simulators.gitlab.Faults for GitLab's defaults)
    rate_limit     requests per `rate_window_s` (GitLab.com: 2,000 a minute per user)
    auth           TokenAuth(...) to accept only some tokens; None accepts any request
    device_flow    DeviceFlow(...) or a list of outcomes for POST /oauth/token
    count_limit    above this many rows a list drops x-total, x-total-pages, rel="last"
    offset_limit   page * per_page above this is refused on keyset-capable lists
                   (group projects) with 405; 0 disables it (GitLab's default: 50,000)
    """

    handler = _Handler
    thread_name = "gitlab-sim"

    def __init__(self, dataset: Dataset, faults: Faults | None = None,
                 rate_limit: int = 2000, *, rate_window_s: float = 60,
                 auth: TokenAuth | None = None,
                 device_flow: DeviceFlow | list[str] | tuple[str, ...] | None = None,
                 retry_after: float = 1, port: int = 0, count_limit: int = COUNT_LIMIT,
                 offset_limit: int = 50_000):
        super().__init__(port, faults)
        self.dataset = dataset
        self.quota = RateLimit(rate_limit, rate_window_s)
        self.auth = auth
        self._retry_after = retry_after
        self.count_limit = count_limit
        self.offset_limit = offset_limit
        if device_flow is None or isinstance(device_flow, list | tuple):
            device_flow = DeviceFlow(device_flow or ("success",))
        self.device_flow = device_flow
        if device_flow.on_token is None and auth is not None:
            device_flow.on_token = self._grant

    @property
    def api_url(self) -> str:
        return self.base_url + API

    @property
    def retry_after(self) -> float:
        return self.faults.retry_after if self.faults else self._retry_after

    def _grant(self, token: str, scopes: list[str], expires_at: float,
               replaces: str | None) -> None:
        assert self.auth is not None
        self.auth.add(token, scopes, expires_at=expires_at, kind="oauth")
        if replaces:
            self.auth.revoke(replaces)

    # -- SimulatorServer hooks ----------------------------------------------------------
    def route_of(self, path: str) -> str:
        if path.startswith(API + "/"):
            return routes.route_of(path[len(API):])
        return path

    def fault_reply(self, kind: str) -> Reply:
        return fault_reply(kind, self.retry_after)

    def respond(self, rec: Record, raw: bytes) -> Reply:
        if rec.path.startswith("/oauth/"):
            return self._oauth(rec, raw)
        if not rec.path.startswith(API + "/"):
            return Reply(404, {"message": "404 Not Found"})
        rec.spent = True
        if not self.quota.hit():
            return throttled(self.quota.retry_after(),
                             {"ratelimit-name": "throttle_authenticated_api"})
        return self._api(rec)

    def finish(self, reply: Reply, rec: Record) -> None:
        if rec.path.startswith(API + "/"):
            reply.headers = {**API_HEADERS, **self.quota.headers(),
                             "x-request-id": uuid.uuid4().hex[:26].upper(),
                             "x-runtime": "0.012345", **reply.headers}

    # -- OAuth ----------------------------------------------------------------------------
    def _oauth(self, rec: Record, raw: bytes) -> Reply:
        if rec.method != "POST":
            return Reply(404, {"error": "Not Found"})
        params = form_params(rec.query, raw, rec.headers.get("content-type", ""))
        path = rec.path.rstrip("/")
        if path == "/oauth/authorize_device":
            return self.device_flow.authorize_device(params, self.base_url)
        if path == "/oauth/token":
            return self.device_flow.token(params)
        return Reply(404, {"error": "Not Found"})

    # -- API ------------------------------------------------------------------------------
    def _api(self, rec: Record) -> Reply:
        path = rec.path[len(API):].rstrip("/") or "/"
        token = token_of(rec.headers, rec.query)
        info = None
        if self.auth is not None:
            refused = self.auth.check(token, _SCOPES_FOR.get(path, READ_SCOPES))
            if refused is not None:
                return refused
            info = self.auth.get(token)
        if rec.method not in ("GET", "HEAD"):
            return Reply(405, {"message": "405 Method Not Allowed"})
        params = Params(parse_qsl(rec.query, keep_blank_values=True))
        ctx = routes.Ctx(self.dataset, self.base_url, rec.path, params,
                         info.username if info else None, info, self.count_limit,
                         self.offset_limit)
        with self.dataset.lock:
            reply = routes.dispatch(path, ctx)
            reply.body = self._encode(reply.body)
        if reply.status != 200 or rec.fault == "truncated":
            return reply
        etag = f'W/"{hashlib.md5(reply.body).hexdigest()}"'
        reply.headers["etag"] = etag
        if _matches(rec.headers.get("if-none-match"), etag):
            return Reply(304, None, dict(reply.headers))
        return reply

    def _encode(self, body: Any) -> bytes:
        data = json.dumps(body, separators=(",", ":")).encode()
        return data.replace(WEB.encode(), self.base_url.encode())


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    bare = etag.removeprefix("W/")
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == bare for t in tags)
