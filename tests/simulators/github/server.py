"""GitHubSimulator: a threaded HTTP server on 127.0.0.1 serving a Dataset with
GitHub's paging, rate-limit headers, ETags, token checks, device flow and faults.

Order of checks for an API request: scripted response → random fault → token →
primary quota (403 when exhausted) → route → ETag (304) → spend one unit on 200.
With a GitHub App (`app=App(...)`, apps.py), /app endpoints take its JWT, and an
installation token reaches its account's repositories on its installation's quota.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..common import Faults, Record, Reply, SimHandler, SimulatorServer
from . import fixtures, routes
from .apps import App, owner_of
from .auth import DeviceFlow, TokenAuth, bearer, oauth_params
from .common import API, error_body
from .data import Dataset
from .faults import fault_reply
from .query import Params
from .state import Quota

API_HEADERS = {
    "x-github-api-version-selected": "2022-11-28",
    "x-github-media-type": "github.v3; format=json",
    "cache-control": "private, max-age=60, s-maxage=60",
    "vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
    "access-control-expose-headers": "ETag, Link, Location, Retry-After, X-GitHub-OTP, "
    "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, "
    "X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, "
    "X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset",
}


class _Handler(SimHandler):
    server_version = "GitHub.com"


class GitHubSimulator(SimulatorServer):
    """`with GitHubSimulator(dataset) as sim: httpx.get(sim.base_url + "/rate_limit")`.

    dataset      the Dataset served (mutable: `sim.dataset.add_commit(...)` etc.)
    faults       Faults(...) for random failures, or None
    rate_limit   primary quota per `rate_window_s` (each 200 spends one unit)
    auth         TokenAuth(...) to accept only some tokens; None accepts any token
                 and anonymous requests (/user then answers as the first user)
    device_flow  DeviceFlow(...) or a list of outcomes for /login/oauth/access_token
    retry_after  Retry-After seconds of 429 / secondary 403 (Faults has its own)
    app          App(...): a GitHub App with its installations (apps.py)
    port         0 = an ephemeral port
    api_prefix   serve the API under this path, like GitHub Enterprise Server's "/api/v3"
                 (`sim.api_url`); /login/... stays at the root (the web host)

    `sim.base_url` is the API root and the web root for /login/... (web_base of
    http://127.0.0.1:N).
    """

    handler = _Handler
    thread_name = "github-sim"

    def __init__(self, dataset: Dataset, faults: Faults | None = None, rate_limit: int = 5000,
                 *, auth: TokenAuth | None = None,
                 device_flow: DeviceFlow | list[str] | tuple[str, ...] | None = None,
                 retry_after: float = 1, rate_window_s: float = 3600, port: int = 0,
                 scopes: str = "repo, read:org", api_prefix: str = "",
                 app: App | None = None):
        super().__init__(port, faults)
        self.app = app
        self.dataset = dataset
        self.api_prefix = api_prefix.rstrip("/")
        self.quota = Quota(rate_limit, rate_window_s)
        self.auth = auth
        self.retry_after = faults.retry_after if faults else retry_after
        self.scopes = scopes
        self._request_ids = iter(range(1, 1 << 62))
        if device_flow is None or isinstance(device_flow, list | tuple):
            device_flow = DeviceFlow(device_flow or ("success",))
        self.device_flow = device_flow
        if device_flow.on_token is None and auth is not None:
            device_flow.on_token = auth.add

    @property
    def api_url(self) -> str:
        """The API root: base_url plus `api_prefix` (the same as base_url without one)."""
        return self.base_url + self.api_prefix

    # -- request handling (called from handler threads) -----------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str],
               raw: bytes) -> tuple[Reply | None, Record]:
        """Under an `api_prefix`, only paths below it (served without it) and /login/."""
        split = urlsplit(target)
        path = split.path or "/"
        if self.api_prefix and not path.startswith("/login/"):
            if path != self.api_prefix and not path.startswith(self.api_prefix + "/"):
                rec = Record(method, path, split.query, "?", 404, None, False, headers)
                return Reply(404, error_body("Not Found", 404)), rec
            path = path[len(self.api_prefix):] or "/"
            target = target[len(self.api_prefix):]
        return self.answer(method, target, path, split.query, headers, raw)

    def route_of(self, path: str) -> str:
        return routes.route_of(path)

    def fault_reply(self, kind: str) -> Reply:
        return fault_reply(kind, self.retry_after)

    def respond(self, rec: Record, raw: bytes) -> Reply:
        if rec.path.startswith("/login/"):
            return self._oauth(rec.method, rec.path, rec.query, rec.headers, raw)
        reply, rec.spent = self._api(rec.method, rec.path, rec.query, rec.headers,
                                     charge=rec.fault is None)
        return reply

    def finish(self, reply: Reply, rec: Record) -> None:
        if not rec.path.startswith("/login/"):
            self._decorate(reply, rec.headers)

    def _oauth(self, method: str, path: str, query: str, headers: dict[str, str],
               raw: bytes) -> Reply:
        if method != "POST":
            return Reply(404, {"error": "Not Found"})
        params = oauth_params(query, raw, headers.get("content-type", ""))
        accept = headers.get("accept", "")
        if path.rstrip("/") == "/login/device/code":
            return self.device_flow.device_code_reply(params, accept)
        if path.rstrip("/") == "/login/oauth/access_token":
            return self.device_flow.token_reply(params, accept)
        return Reply(404, {"error": "Not Found"})

    def _api(self, method: str, path: str, query: str, headers: dict[str, str],
             charge: bool) -> tuple[Reply, bool]:
        token = bearer(headers.get("authorization"))
        quota, installation = self.quota, None
        if self.app is not None:
            if self.app.handles(path):
                with self.dataset.lock:
                    return self.app.respond(method, path, query, token, self.dataset,
                                            self.api_url), False
            installation = self.app.installation_of(token)
            if installation == -1:
                return Reply(401, error_body("Bad credentials", 401)), False
            if installation is None and token and self.app.check_jwt(token) is None:
                return Reply(401, error_body("A JSON web token is accepted only on the app's "
                                             "endpoints", 401)), False
        if installation is not None:
            owner = owner_of(path, self.dataset)
            if owner is not None and self.app.installations.get(owner.lower()) != installation:
                return Reply(404, error_body("Not Found", 404)), False
            self.app.first_use(installation)
            quota = self.app.quota(installation)
        elif self.auth is not None:
            refused = self.auth.check(token)
            if refused is not None:
                return refused, False
        if method not in ("GET", "HEAD"):
            return Reply(404, error_body("Not Found", 404)), False
        if path != "/rate_limit" and quota.exhausted():
            return Reply(403, fixtures.body(fixtures.RATE_PRIMARY), exhausted=True), False
        with self.dataset.lock:
            reply = routes.dispatch(path, self._ctx(query, token, quota))
            if reply.status == 200:
                reply.body = self._encode(reply.body)
        if reply.status != 200 or path == "/rate_limit" or not charge:
            return reply, False
        etag = f'"{hashlib.sha256(reply.body).hexdigest()}"'
        reply.headers["etag"] = etag
        if _matches(headers.get("if-none-match"), etag):
            # GitHub: a 304 costs nothing when the request was authorized.
            spend = token is None
            if spend:
                quota.spend()
            return Reply(304, None, {"etag": etag, **_keep(reply.headers)}), spend
        quota.spend()
        return reply, True

    def _quota_of(self, headers: dict[str, str]) -> Quota:
        """The quota a request's credential spends: its installation's, or the one quota."""
        if self.app is not None:
            issued = self.app.tokens.get(bearer(headers.get("authorization")) or "")
            if issued is not None:
                return self.app.quota(issued.installation)
        return self.quota

    def _ctx(self, query: str, token: str | None, quota: Quota | None = None) -> routes.Ctx:
        login = None
        if token is not None:
            login = self.auth.login_for(token) if self.auth else None
            login = login or (self.auth.default_login if self.auth else None)
            login = login or self.dataset.users.humans[0]["login"]
        return routes.Ctx(self.dataset, self.api_url,
                          Params(parse_qsl(query, keep_blank_values=True)), login,
                          (quota or self.quota).snapshot())

    def _encode(self, body: Any) -> bytes:
        data = json.dumps(body, separators=(",", ":")).encode()
        return data.replace(API.encode(), self.api_url.encode())

    def _decorate(self, reply: Reply, headers: dict[str, str]) -> None:
        """Headers every API response carries (the reply's own headers win)."""
        base = {**API_HEADERS, **self._quota_of(headers).headers(exhausted=reply.exhausted),
                "x-github-request-id": f"SIM:{next(self._request_ids):08X}"}
        if headers.get("authorization"):
            base["x-oauth-scopes"] = self.scopes
        reply.headers = {**base, **reply.headers}


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def _keep(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k == "link"}
