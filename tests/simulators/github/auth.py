"""Token checking for API requests, and the scripted OAuth device flow.

Device flow endpoints (served on the same base URL; GitHub serves them on the web
host): POST /login/device/code and POST /login/oauth/access_token, parameters as
form body, JSON body or query string. Answers are JSON when the request's Accept
asks for application/json, else form-encoded (GitHub's default); errors come with
HTTP 200, as on GitHub. Bodies are the fixtures of fixtures/oauth.
"""

from __future__ import annotations

import base64
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from ..common import Reply
from ..common.cli import form_params
from . import fixtures
from .common import error_body

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5


class TokenAuth:
    """Accept only the given tokens (`Authorization: Bearer X` or `token X`).

    `tokens`: iterable of tokens, or a mapping token → login (whom /user returns).
    An unknown or revoked token → 401 Bad credentials; no token → 401 Requires
    authentication unless `allow_anonymous`.
    """

    def __init__(self, tokens: Iterable[str] | Mapping[str, str] = (), *,
                 allow_anonymous: bool = False, default_login: str | None = None):
        items = tokens.items() if isinstance(tokens, Mapping) else ((t, None) for t in tokens)
        self.tokens: dict[str, str | None] = dict(items)
        self.allow_anonymous = allow_anonymous
        self.default_login = default_login
        self._lock = threading.Lock()

    def add(self, token: str, login: str | None = None) -> None:
        with self._lock:
            self.tokens[token] = login

    def revoke(self, token: str) -> None:
        with self._lock:
            self.tokens.pop(token, None)

    def check(self, token: str | None) -> Reply | None:
        """None when the request may proceed, else the 401 to send."""
        if token is None:
            if self.allow_anonymous:
                return None
            return Reply(401, error_body("Requires authentication", 401))
        with self._lock:
            if token in self.tokens:
                return None
        return Reply(401, error_body("Bad credentials", 401))

    def login_for(self, token: str | None) -> str | None:
        with self._lock:
            return self.tokens.get(token) if token else None


def bearer(header: str | None) -> str | None:
    """The token of an Authorization header (Bearer, token, or Basic's password)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme in ("bearer", "token"):
        return value or ""
    if scheme == "basic":
        try:
            return base64.b64decode(value).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return ""
    return ""


class DeviceFlow:
    """A scripted device flow. Each poll of /login/oauth/access_token with a valid
    request takes the next outcome ("authorization_pending", "slow_down",
    "success", "expired_token", "access_denied", or any other error code); when
    the queue runs out the last outcome repeats.

    `interval` is what /login/device/code announces (GitHub: 5); `slow_down`
    answers the current interval + 5 and keeps it. `client_id` (None = any) is
    checked on both endpoints. Every request's parameters are kept in `requests`.
    """

    def __init__(self, outcomes: Iterable[str] = ("success",), *, interval: int = 5,
                 expires_in: int = 900, client_id: str | None = None,
                 access_token: str | None = None, scope: str | None = None,
                 on_token: Callable[[str], None] | None = None):
        self._lock = threading.Lock()
        code = fixtures.body(fixtures.DEVICE_CODE)
        self.device_code, self.user_code = code["device_code"], code["user_code"]
        self.verification_uri = code["verification_uri"]
        self.expires_in, self.client_id = expires_in, client_id
        success = fixtures.body(fixtures.TOKEN_SUCCESS)
        self.access_token = access_token or success["access_token"]
        self.scope = scope if scope is not None else success["scope"]
        self.on_token = on_token
        self.requests: list[dict[str, Any]] = []
        self.script(outcomes, interval=interval)

    def script(self, outcomes: Iterable[str], *, interval: int | None = None) -> None:
        with self._lock:
            self.outcomes: deque[str] = deque(outcomes)
            if not self.outcomes:
                raise ValueError("a device flow script needs at least one outcome")
            self._last = self.outcomes[0]
            if interval is not None:
                self.start_interval = interval
            self.interval = self.start_interval
            self.polls = 0

    # -- endpoints -----------------------------------------------------------------
    def device_code_reply(self, params: dict[str, str], accept: str) -> Reply:
        self._log("device_code", params, accept)
        if self.client_id is not None and params.get("client_id") != self.client_id:
            return _render(_error("incorrect_client_credentials"), accept)
        with self._lock:
            self.interval = self.start_interval
        return _render({"device_code": self.device_code, "user_code": self.user_code,
                        "verification_uri": self.verification_uri,
                        "expires_in": self.expires_in, "interval": self.interval}, accept)

    def token_reply(self, params: dict[str, str], accept: str) -> Reply:
        self._log("access_token", params, accept)
        if params.get("grant_type") != GRANT_TYPE:
            return _render(_error("unsupported_grant_type"), accept)
        if self.client_id is not None and params.get("client_id") != self.client_id:
            return _render(_error("incorrect_client_credentials"), accept)
        if params.get("device_code") != self.device_code:
            return _render(_error("incorrect_device_code"), accept)
        with self._lock:
            self.polls += 1
            outcome = self.outcomes.popleft() if self.outcomes else self._last
            self._last = outcome
            if outcome == "slow_down":
                self.interval += SLOW_DOWN_STEP
            interval = self.interval
        if outcome == "success":
            if self.on_token:
                self.on_token(self.access_token)
            return _render({"access_token": self.access_token, "token_type": "bearer",
                            "scope": self.scope}, accept)
        if outcome in fixtures.TOKEN_OUTCOMES:
            body = fixtures.body(fixtures.TOKEN_OUTCOMES[outcome])
            if outcome == "slow_down":
                body["interval"] = interval
            return _render(body, accept)
        return _render(_error(outcome), accept)

    def _log(self, endpoint: str, params: dict[str, str], accept: str) -> None:
        with self._lock:
            self.requests.append({"endpoint": endpoint, "accept": accept, **params})


def _error(code: str) -> dict[str, str]:
    described = fixtures.load(fixtures.DEVICE_ERROR_CODES)["error_codes"]
    body = {"error": code}
    if code in described:
        body["error_description"] = described[code]
        body["error_uri"] = ("https://docs.github.com/developers/apps/authorizing-oauth-apps"
                             "#error-codes-for-the-device-flow")
    return body


def _render(body: dict[str, Any], accept: str) -> Reply:
    if "application/json" in (accept or ""):
        return Reply(200, body, content_type="application/json; charset=utf-8")
    text = urlencode({k: v for k, v in body.items() if v is not None})
    return Reply(200, text.encode(), content_type="application/x-www-form-urlencoded")


oauth_params = form_params
