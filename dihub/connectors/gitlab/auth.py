"""GitLab login: the OAuth 2.0 device authorization grant, or a pasted access token.

Device flow (GitLab 17.2+, RFC 8628): POST {base}/oauth/authorize_device with the OAuth
application's `client_id` and `scope` (default `read_api`) gives a user code to show,
a verification URL and a polling `interval`; POST {base}/oauth/token (grant type
`urn:ietf:params:oauth:grant-type:device_code`) is then polled, no faster than
`interval`, and answers 400 with `error` until the person approves:
`authorization_pending` (poll again), `slow_down` (5 s more between polls),
`expired_token` (the code timed out) or `access_denied` (refused in the browser).

GitLab's OAuth access tokens expire (two hours by default) and come with a refresh
token: both are kept, and a token within a minute of its expiry is refreshed before a
run (POST {base}/oauth/token, grant type `refresh_token`). A refresh GitLab refuses
means logging in again. Personal, project and group access tokens (`--with-token`,
`token_env`) are used as given: they need the `read_api` scope, which `login` checks
(GET /api/v4/personal_access_tokens/self).

Tokens are kept by `dihub.secrets`, bound to the instance's host (gitlab.com or the
self-managed host in `base_url`), and never appear in an exception, a status dict or
a repr.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from dihub import secrets
from dihub.connectors.oauth import (
    GRANT_TYPE,
    denied,
    open_client,
    piped_token,
    poll_token,
    positive,
    post_form,
    print_code,
    scope_string,
    token_status,
)
from dihub.errors import AuthError, TemporaryError
from dihub.redact import register_secret

DEFAULT_BASE = "https://gitlab.com"
DEFAULT_SCOPES = "read_api"
API_SCOPES = ("read_api", "api")         # either lets dihub read everything it syncs
FLOW_HINT = ("Check `base_url`: the device flow needs GitLab 17.2 or later and an OAuth "
             "application with the device flow enabled.")
DEFAULT_INTERVAL = 5
DEFAULT_EXPIRES_IN = 300
REFRESH_MARGIN_S = 60
TOKEN_NAME = "token"
OAUTH_NAME = "oauth"                     # {"refresh_token", "expires_at", "client_id"}
CHECK_TIMEOUT_S = 5.0

OnCode = Callable[[str, str], None]


def base_of(config: Any) -> str:
    base = str(getattr(config, "base_url", None) or DEFAULT_BASE).rstrip("/")
    return base[: -len("/api/v4")] if base.endswith("/api/v4") else base


def relogin_hint(source: str, env: str | None = None) -> str:
    also = f", or put a valid token in ${env}" if env else ""
    return f"Run `dihub auth {source}` to log in again{also}."


def scope_hint(source: str, env: str | None = None) -> str:
    also = f" (or put it in ${env})" if env else ""
    return (f"The token lacks the `read_api` scope. Create a token with `read_api` and run "
            f"`dihub auth {source} --with-token`{also}, or log in with `dihub auth {source}` "
            "(the device flow asks for read_api).")


def device_flow(http: httpx.Client, base: str, client_id: str, scopes: str, *,
                on_code: OnCode, sleep: Callable[[float], None] = time.sleep,
                clock: Callable[[], float] = time.monotonic,
                source: str = "<source>") -> dict[str, Any]:
    """Run GitLab's device authorization grant; returns the token response (access_token,
    refresh_token, expires_in, ...). `sleep` and `clock` are injectable for tests."""
    start = post_form(http, f"{base}/oauth/authorize_device",
                      {"client_id": client_id, "scope": scopes}, hint=FLOW_HINT)
    if start.get("error"):
        raise _oauth_error(start, source)
    try:
        device_code = str(start["device_code"])
        user_code = str(start["user_code"])
    except KeyError:
        raise AuthError(f"{base}/oauth/authorize_device answered without a device code",
                        hint="Check `base_url` (GitLab 17.2 or later) and `client_id`.") from None
    uri = str(start.get("verification_uri") or f"{base}/oauth/device")
    interval = positive(start.get("interval"), DEFAULT_INTERVAL)
    deadline = clock() + positive(start.get("expires_in"), DEFAULT_EXPIRES_IN)
    on_code(user_code, uri)
    form = {"client_id": client_id, "device_code": device_code, "grant_type": GRANT_TYPE}
    return poll_token(http, f"{base}/oauth/token", form, interval=interval, deadline=deadline,
                      sleep=sleep, clock=clock, source=source, oauth_error=_oauth_error,
                      hint=FLOW_HINT)


class GitLabAuth:
    """`dihub auth <source>` for GitLab: login, status, logout, and the token streams use."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, timeout_s: float = 30.0):
        self._sleep, self._clock, self._wall, self._timeout = sleep, clock, wall, timeout_s

    def login(self, source: str, config: Any, *, with_token: str | None = None,
              allow_file: bool = False, on_code: OnCode | None = None,
              prompt: Any = None, http: httpx.Client | None = None) -> str:
        """Get a token (stdin via `with_token`, else the device flow), check that it reads
        the API (`read_api`), store it bound to the host. Returns the GitLab username."""
        base = base_of(config)
        oauth: dict[str, Any] | None = None
        if with_token is not None:
            token = piped_token(with_token, source)
        else:
            client_id = getattr(config, "client_id", None)
            if not client_id:
                raise AuthError(
                    f"the device flow needs an OAuth application's client ID for source "
                    f"'{source}'",
                    hint=f"Set `client_id` under sources.{source} (an OAuth application on "
                         f"{base} with the device flow, non-confidential, scope read_api), or "
                         f"pipe an access token with `dihub auth {source} --with-token`.")
        secrets.check_storable(source, TOKEN_NAME, allow_file=allow_file)
        with open_client(http, self._timeout) as client:
            if with_token is None:
                scopes = scope_string(getattr(config, "scopes", None), DEFAULT_SCOPES)
                body = device_flow(client, base, client_id, scopes,
                                   on_code=on_code or print_code, sleep=self._sleep,
                                   clock=self._clock, source=source)
                token = str(body["access_token"])
                oauth = self._oauth_record(body, client_id)
            register_secret(token)
            user = check_token(client, base, token, source)
        host = secrets.host_of(base)
        secrets.set_secret(source, TOKEN_NAME, token, allow_file=allow_file, host=host)
        if oauth is not None:
            secrets.set_secret(source, OAUTH_NAME, json.dumps(oauth), allow_file=allow_file,
                               host=host)
        else:
            secrets.delete_secret(source, OAUTH_NAME)
        return user["username"]

    def status(self, source: str, config: Any, http: httpx.Client | None = None, *,
               check: bool = False, timeout_s: float = CHECK_TIMEOUT_S) -> dict[str, Any]:
        """Where the token comes from (`via`) and the host it is bound to; with `check`,
        one GET /api/v4/user says whose it is (and a second its scopes). Never the token."""
        base = base_of(config)
        host = secrets.host_of(base)
        result: dict[str, Any] = {"source": source, "api": f"{base}/api/v4", "host": host,
                                  "logged_in": False, "via": None, "user": None,
                                  "scopes": None, "error": None, "state": "missing"}
        def whoami(client: httpx.Client, token: str) -> dict[str, Any]:
            user = check_token(client, base, token, source)
            return {"user": user["username"], "scopes": user["scopes"]}

        return token_status(result, source, TOKEN_NAME, host=host,
                            token_env=getattr(config, "token_env", None), check=check,
                            http=http, timeout_s=timeout_s, whoami=whoami,
                            rejected=(401, 403))

    def logout(self, source: str) -> bool:
        secrets.delete_secret(source, OAUTH_NAME)
        return secrets.delete_secret(source, TOKEN_NAME)

    def token(self, source: str, config: Any, http: httpx.Client | None = None) -> str:
        """The token for the configured host: `token_env`, else the stored login, refreshed
        first when it is an OAuth token about to expire."""
        base = base_of(config)
        host = secrets.host_of(base)
        env = getattr(config, "token_env", None)
        found = secrets.get_secret(source, TOKEN_NAME, env_var=env, host=host)
        if found is None:
            return secrets.require_secret(source, TOKEN_NAME, env, host=host,
                                          what="GitLab token")
        token, via = found
        if via == "env":
            return token
        saved = secrets.get_secret(source, OAUTH_NAME, host=host)
        if saved is None:
            return token
        try:
            oauth = json.loads(saved.value)
        except ValueError:
            return token
        register_secret(oauth.get("refresh_token"))
        expires = oauth.get("expires_at")
        if not isinstance(expires, int | float) or expires - REFRESH_MARGIN_S > self._wall():
            return token
        with open_client(http, self._timeout) as client:
            body = post_form(client, f"{base}/oauth/token",
                             {"grant_type": "refresh_token",
                              "refresh_token": str(oauth.get("refresh_token") or ""),
                              "client_id": str(oauth.get("client_id") or "")}, hint=FLOW_HINT)
        if not body.get("access_token"):
            raise AuthError(f"the GitLab login of source '{source}' expired and could not be "
                            f"refreshed ({body.get('error') or 'no token'})",
                            hint=relogin_hint(source, env))
        token = str(body["access_token"])
        register_secret(token)
        allow_file = via == "file"
        secrets.set_secret(source, TOKEN_NAME, token, allow_file=allow_file, host=host)
        secrets.set_secret(source, OAUTH_NAME,
                           json.dumps(self._oauth_record(body, oauth.get("client_id"))),
                           allow_file=allow_file, host=host)
        return token

    def _oauth_record(self, body: dict[str, Any], client_id: Any) -> dict[str, Any]:
        expires_in = body.get("expires_in")
        register_secret(body.get("refresh_token"))
        return {"refresh_token": body.get("refresh_token"), "client_id": client_id,
                "expires_at": self._wall() + expires_in
                if isinstance(expires_in, int | float) else None}


# ---------------------------------------------------------------- helpers


def check_token(http: httpx.Client, base: str, token: str, source: str) -> dict[str, Any]:
    """GET /api/v4/user (who), then the token's scopes where GitLab tells them (personal,
    project and group tokens: /personal_access_tokens/self). A token that cannot read the
    API (403 insufficient_scope, or scopes without read_api/api) is an AuthError saying so."""
    api = f"{base}/api/v4"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    resp = _get(http, f"{api}/user", headers)
    if resp.status_code == 401:
        raise _status_error(f"GitLab rejected the token for source '{source}' (401: "
                            f"{_message(resp) or 'invalid or expired'})",
                            relogin_hint(source), 401)
    if resp.status_code == 403:
        raise _status_error(f"the token for source '{source}' cannot read the GitLab API "
                            f"(403 insufficient_scope)", scope_hint(source), 403)
    if resp.status_code != 200:
        raise _status_error(f"GET {api}/user failed with HTTP {resp.status_code} while "
                            f"checking the token for source '{source}'",
                            "Check `base_url` (the GitLab instance, e.g. https://gitlab.com).",
                            resp.status_code)
    try:
        username = str(resp.json()["username"])
    except (ValueError, KeyError, TypeError):
        raise AuthError(f"GET {api}/user did not return a user",
                        hint="Check that `base_url` points at a GitLab instance.") from None
    scopes = None
    info = _get(http, f"{api}/personal_access_tokens/self", headers)
    if info.status_code == 200:
        try:
            scopes = [str(s) for s in info.json().get("scopes") or []]
        except (ValueError, AttributeError):
            scopes = None
        if scopes is not None and not set(scopes) & set(API_SCOPES):
            raise _status_error(f"the token for source '{source}' has the scopes "
                                f"{', '.join(scopes) or 'none'}, not read_api",
                                scope_hint(source), 403)
    return {"username": username, "scopes": scopes}


def _get(http: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response:
    try:
        return http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise TemporaryError(f"could not reach {url} ({type(exc).__name__})",
                             hint="Check the network and the source's `base_url`.") from None


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return str(body.get("error_description") or body.get("message") or body.get("error")
                   or "")
    return ""


def _status_error(message: str, hint: str, status: int) -> AuthError:
    err = AuthError(message, hint=hint)
    err.status = status
    return err


def _oauth_error(body: dict[str, Any], source: str) -> AuthError:
    code = str(body.get("error") or "unknown_error")
    if code == "access_denied":
        return denied(source)
    text = body.get("error_description") or "GitLab refused the login"
    hint = {"invalid_client": "Check `client_id`: an OAuth application of this GitLab "
                              "instance, non-confidential, with the device flow.",
            "invalid_scope": "Check `scopes` (read_api is enough)."}.get(
        code, f"Run `dihub auth {source}` again.")
    return AuthError(f"GitLab device flow failed: {text} ({code})", hint=hint)
