"""Token checks for API requests (`TokenAuth`) and the OAuth 2.0 device authorization
grant (`DeviceFlow`), with GitLab's wording.

API errors, as GitLab's API guard renders them:

- no token, or an unknown one: 401 `{"message":"401 Unauthorized"}`
- an expired token: 401 `{"error":"invalid_token","error_description":"Token is expired.
  You can either do re-authorization or token refresh."}` with
  `WWW-Authenticate: Bearer realm="Protected by OAuth 2.0", error="invalid_token", ...`
- a revoked token: the same with "Token was revoked. You have to re-authorize from the user."
- a token without `api` / `read_api`: 403 `{"error":"insufficient_scope",
  "error_description":"The request requires higher privileges than provided by the access
  token.","scope":"api read_api"}` (GitLab sends no WWW-Authenticate with it; set
  `TokenAuth(challenge_403=True)` to add one)

Device flow (GitLab 17.2+): POST /oauth/authorize_device and POST /oauth/token with
grant_type=urn:ietf:params:oauth:grant-type:device_code. Errors are RFC 8628 / RFC 6749
JSON bodies with HTTP 400 (invalid_client: 401). `grant_type=refresh_token` is served too.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl

from ..common import Reply
from ..common.cli import form_params  # noqa: F401  (shared parser)

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5
READ_SCOPES = ("api", "read_api")
REALM = "Protected by OAuth 2.0"
EXPIRED = "Token is expired. You can either do re-authorization or token refresh."
REVOKED = "Token was revoked. You have to re-authorize from the user."
INSUFFICIENT = "The request requires higher privileges than provided by the access token."
OAUTH_ERRORS = {      # RFC 8628 section 3.5 and RFC 6749 section 5.2 descriptions
    "authorization_pending": "The authorization request is still pending as the end user "
                             "hasn't yet completed the user interaction steps.",
    "slow_down": "A variant of \"authorization_pending\", the authorization request is "
                 "still pending and polling should continue, but the interval MUST be "
                 "increased by 5 seconds for this and all subsequent requests.",
    "expired_token": "The \"device_code\" has expired, and the device authorization "
                     "session has concluded.",
    "access_denied": "The resource owner or authorization server denied the request.",
    "invalid_grant": "The provided authorization grant is invalid, expired, revoked, does "
                     "not match the redirection URI used in the authorization request, or "
                     "was issued to another client.",
    "invalid_client": "Client authentication failed due to unknown client, no client "
                      "authentication included, or unsupported authentication method.",
    "unsupported_grant_type": "The authorization grant type is not supported by the "
                              "authorization server.",
    "invalid_request": "The request is missing a required parameter, includes an "
                       "unsupported parameter value, or is otherwise malformed.",
}


def unauthorized() -> Reply:
    return Reply(401, {"message": "401 Unauthorized"})


def _bearer_error(status: int, error: str, description: str, **extra: str) -> Reply:
    header = f'Bearer realm="{REALM}", error="{error}", error_description="{description}"'
    return Reply(status, {"error": error, "error_description": description, **extra},
                 {"www-authenticate": header})


@dataclass
class Token:
    """One token: its scopes, an optional expiry (a date "2026-12-31" — GitLab's access
    tokens expire at the start of that day, UTC — or an ISO datetime / epoch seconds),
    the user it belongs to, and whether it is revoked."""

    scopes: tuple[str, ...] = ("api",)
    expires_at: str | float | None = None
    username: str | None = None
    revoked: bool = False
    name: str = "dihub"
    id: int = 0
    created_at: str = "2026-01-05T09:00:00.000Z"
    kind: str = "personal"                    # "personal" or "oauth"

    def expired(self, now: float | None = None) -> bool:
        if self.expires_at is None:
            return False
        now = time.time() if now is None else now
        value = self.expires_at
        if isinstance(value, int | float):
            return now >= value
        if len(value) == 10:
            d = date.fromisoformat(value)
            return now >= datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()
        return now >= datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class TokenAuth:
    """Accept only the given tokens (`PRIVATE-TOKEN: X`, `Authorization: Bearer X`, or
    `?private_token=` / `?access_token=`).

    `tokens`: an iterable of tokens (scope `api`), or a mapping token → scopes (a string
    "read_api" / "api read_user" or a list), a dict of `Token` fields, or a `Token`.
    """

    def __init__(self, tokens: Iterable[str] | Mapping[str, Any] = (), *,
                 allow_anonymous: bool = False, challenge_403: bool = False):
        self.tokens: dict[str, Token] = {}
        self.allow_anonymous = allow_anonymous
        self.challenge_403 = challenge_403
        self._lock = threading.Lock()
        items = tokens.items() if isinstance(tokens, Mapping) else ((t, None) for t in tokens)
        for token, spec in items:
            self.tokens[token] = _token(spec, len(self.tokens) + 1)

    def add(self, token: str, scopes: Iterable[str] | str = ("api",), *,
            expires_at: str | float | None = None, username: str | None = None,
            kind: str = "personal") -> Token:
        with self._lock:
            info = _token({"scopes": scopes, "expires_at": expires_at, "username": username,
                           "kind": kind}, len(self.tokens) + 1)
            self.tokens[token] = info
            return info

    def revoke(self, token: str) -> None:
        with self._lock:
            if token in self.tokens:
                self.tokens[token].revoked = True

    def expire(self, token: str) -> None:
        with self._lock:
            self.tokens[token].expires_at = time.time() - 1

    def get(self, token: str | None) -> Token | None:
        with self._lock:
            return self.tokens.get(token) if token else None

    def check(self, token: str | None, needs: tuple[str, ...] = READ_SCOPES) -> Reply | None:
        """None when the request may proceed, else the 401/403 to send. `needs`: any one
        of these scopes suffices (empty: any valid token)."""
        if token is None:
            return None if self.allow_anonymous else unauthorized()
        info = self.get(token)
        if info is None:
            return unauthorized()
        if info.revoked:
            return _bearer_error(401, "invalid_token", REVOKED)
        if info.expired():
            return _bearer_error(401, "invalid_token", EXPIRED)
        if needs and not set(needs) & set(info.scopes):
            wanted = " ".join(needs)
            reply = Reply(403, {"error": "insufficient_scope",
                                "error_description": INSUFFICIENT, "scope": wanted})
            if self.challenge_403:
                reply.headers["www-authenticate"] = (
                    f'Bearer realm="{REALM}", error="insufficient_scope", '
                    f'error_description="{INSUFFICIENT}", scope="{wanted}"')
            return reply
        return None


def _token(spec: Any, number: int) -> Token:
    if isinstance(spec, Token):
        return spec
    if spec is None:
        spec = {}
    if isinstance(spec, str | list | tuple):
        spec = {"scopes": spec}
    spec = dict(spec)
    scopes = spec.get("scopes", ("api",))
    spec["scopes"] = tuple(scopes.replace(",", " ").split() if isinstance(scopes, str)
                           else scopes)
    spec = {k: v for k, v in spec.items() if v is not None}
    spec.setdefault("id", number)
    return Token(**spec)


def token_of(headers: dict[str, str], query: str) -> str | None:
    """The token of a request: PRIVATE-TOKEN, Authorization: Bearer, or the query."""
    if headers.get("private-token"):
        return headers["private-token"].strip()
    auth = headers.get("authorization", "").strip()
    if auth:
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""
    for key, value in parse_qsl(query):
        if key in ("private_token", "access_token"):
            return value
    return None


def oauth_error(code: str) -> Reply:
    status = 401 if code == "invalid_client" else 400
    body = {"error": code}
    if code in OAUTH_ERRORS:
        body["error_description"] = OAUTH_ERRORS[code]
    return Reply(status, body, {"cache-control": "no-store", "pragma": "no-cache"})


@dataclass
class DeviceFlow:
    """A scripted device authorization grant.

    Each valid poll of POST /oauth/token takes the next outcome: "authorization_pending",
    "slow_down" (the interval grows by 5 s), "success", "expired_token", "access_denied",
    or any other error code; once the list runs out the last outcome repeats.
    `client_id` (None = any) is checked on both endpoints. `scope` (None = the scope the
    client asked for, else "read_api") is what the token gets. Every call's parameters
    are kept in `requests`; issued tokens reach `on_token(token, scopes, expires_at)`.
    """

    outcomes: Iterable[str] = ("success",)
    interval: int = 5
    expires_in: int = 300
    client_id: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    scope: str | None = None
    token_expires_in: int = 7200
    on_token: Callable[..., Any] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.device_code = "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS"
        self.user_code = "0A44L90H"
        self._issued = 0
        self._asked_scope = "read_api"
        self._refresh: dict[str, str] = {}
        self.script(self.outcomes)

    def script(self, outcomes: Iterable[str], *, interval: int | None = None) -> None:
        with self._lock:
            self._queue: deque[str] = deque(outcomes)
            if not self._queue:
                raise ValueError("a device flow script needs at least one outcome")
            self._last = self._queue[0]
            if interval is not None:
                self.interval = interval
            self.current_interval = self.interval
            self.polls = 0

    # -- endpoints -----------------------------------------------------------------
    def authorize_device(self, params: dict[str, str], base_url: str) -> Reply:
        self._log("authorize_device", params)
        if not params.get("client_id") or (
                self.client_id is not None and params["client_id"] != self.client_id):
            return oauth_error("invalid_client")
        with self._lock:
            self.current_interval = self.interval
            self._asked_scope = params.get("scope") or "read_api"
        uri = f"{base_url}/oauth/device"
        return Reply(200, {"device_code": self.device_code, "user_code": self.user_code,
                           "verification_uri": uri,
                           "verification_uri_complete": f"{uri}?user_code={self.user_code}",
                           "expires_in": self.expires_in, "interval": self.interval})

    def token(self, params: dict[str, str]) -> Reply:
        self._log("token", params)
        grant = params.get("grant_type")
        if grant == "refresh_token":
            return self._refresh_grant(params)
        if grant != GRANT_TYPE:
            return oauth_error("unsupported_grant_type" if grant else "invalid_request")
        if self.client_id is not None and params.get("client_id") != self.client_id:
            return oauth_error("invalid_client")
        if params.get("device_code") != self.device_code:
            return oauth_error("invalid_grant")
        with self._lock:
            self.polls += 1
            outcome = self._queue.popleft() if self._queue else self._last
            self._last = outcome
            if outcome == "slow_down":
                self.current_interval += SLOW_DOWN_STEP
        if outcome == "success":
            return self._issue()
        return oauth_error(outcome)

    def _refresh_grant(self, params: dict[str, str]) -> Reply:
        old = self._refresh.pop(params.get("refresh_token") or "", None)
        if old is None:
            return oauth_error("invalid_grant")
        return self._issue(replaces=old)

    def _issue(self, replaces: str | None = None) -> Reply:
        with self._lock:
            self._issued += 1
            n = self._issued
        seed = f"{self.device_code}:{n}"
        access = (self.access_token if n == 1 and self.access_token
                  else hashlib.sha256(f"access:{seed}".encode()).hexdigest())
        refresh = (self.refresh_token if n == 1 and self.refresh_token
                   else hashlib.sha256(f"refresh:{seed}".encode()).hexdigest())
        scope = self.scope if self.scope is not None else self._asked_scope
        created = int(time.time())
        self._refresh[refresh] = access
        if self.on_token:
            self.on_token(access, scope.split(), created + self.token_expires_in, replaces)
        return Reply(200, {"access_token": access, "token_type": "Bearer",
                           "expires_in": self.token_expires_in, "refresh_token": refresh,
                           "scope": scope, "created_at": created},
                     {"cache-control": "no-store", "pragma": "no-cache"})

    def _log(self, endpoint: str, params: dict[str, str]) -> None:
        with self._lock:
            self.requests.append({"endpoint": endpoint, **params})
