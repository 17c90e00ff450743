"""GitHub login: the OAuth device flow, or a pasted token, for github.com and GHES.

Device flow (https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps):
POST {web}/login/device/code gives a user code to show and a polling `interval`;
POST {web}/login/oauth/access_token is then polled, no faster than `interval`, and
answers HTTP 200 with an `error` until the person approves. `slow_down` adds 5 seconds
to the interval (the response carries the new interval, which wins when present).
GitHub Enterprise Server serves the same endpoints on its web host.

Tokens are kept by `dihub.secrets` (env var named by `token_env`, keyring, or the
opt-in 0600 file), bound to the API host they were checked against (api.github.com, or
the GHES host), and never appear in an exception, a status dict or a repr.

With `app:` (a GitHub App, app.py) the credential is the app's private key: `login_app`
checks it (GET /app with a JWT) and stores it like a token; `status` says where the key
comes from and, with `check`, the app and its installations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from dihub import secrets
from dihub.connectors.github import app as ghapp
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
from dihub.errors import AuthError, ConfigError, TemporaryError, UsageError

DEFAULT_API = "https://api.github.com"
DEFAULT_SCOPES = "repo read:org"        # private repos need `repo`; org repo listing `read:org`
FLOW_HINT = ("Check `base_url`; on GitHub Enterprise Server the device flow needs 3.1+ and "
             "must be enabled in the OAuth app's settings.")
DEFAULT_INTERVAL = 5
DEFAULT_EXPIRES_IN = 900
TOKEN_NAME = "token"
CHECK_TIMEOUT_S = 5.0                   # `auth status --check`: one attempt, this long

OnCode = Callable[[str, str], None]


def web_base_for(api_base_url: str | None) -> str:
    """The web host that serves /login/... for an API base URL.

    https://api.github.com → https://github.com; GHES https://ghe.example.com/api/v3 →
    https://ghe.example.com; GHE.com https://api.octo.ghe.com → https://octo.ghe.com.
    """
    parts = urlsplit((api_base_url or DEFAULT_API).strip())
    scheme = parts.scheme or "https"
    host = parts.netloc
    path = parts.path.rstrip("/")
    if path.endswith("/api/v3"):
        return f"{scheme}://{host}{path[: -len('/api/v3')]}"
    hostname = (parts.hostname or "").lower()
    if hostname == "api.github.com" or (hostname.startswith("api.")
                                        and hostname.endswith(".ghe.com")):
        host = host[len("api."):]
    return f"{scheme}://{host}"


def device_flow(http: httpx.Client, web_base: str, client_id: str, scopes: str, *,
                on_code: OnCode, sleep: Callable[[float], None] = time.sleep,
                clock: Callable[[], float] = time.monotonic, source: str = "<source>") -> str:
    """Run GitHub's OAuth device flow and return the access token.

    `on_code(user_code, verification_uri)` shows the code to the person; `sleep` and
    `clock` are injectable so tests run without waiting. `source` only names the source
    in error hints.
    """
    web_base = web_base.rstrip("/")
    start = post_form(http, f"{web_base}/login/device/code",
                      {"client_id": client_id, "scope": scopes}, hint=FLOW_HINT)
    if start.get("error"):
        raise _oauth_error(start, source)
    try:
        device_code = str(start["device_code"])
        user_code = str(start["user_code"])
    except KeyError:
        raise AuthError(f"{web_base}/login/device/code answered without a device code",
                        hint="Check `base_url` and that device flow is enabled for the "
                             "OAuth app (`client_id`).") from None
    verification_uri = str(start.get("verification_uri") or f"{web_base}/login/device")
    interval = positive(start.get("interval"), DEFAULT_INTERVAL)
    deadline = clock() + positive(start.get("expires_in"), DEFAULT_EXPIRES_IN)
    on_code(user_code, verification_uri)

    form = {"client_id": client_id, "device_code": device_code, "grant_type": GRANT_TYPE}
    body = poll_token(http, f"{web_base}/login/oauth/access_token", form, interval=interval,
                      deadline=deadline, sleep=sleep, clock=clock, source=source,
                      oauth_error=_oauth_error, hint=FLOW_HINT)
    return str(body["access_token"])


class GitHubAuth:
    """`dihub auth <source>`: login, status, logout, and the token lookup streams use.

    `config` is the source config: attributes `base_url`, `client_id` (may be None),
    `token_env` (may be None) and optionally `scopes`.
    """

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, timeout_s: float = 30.0):
        self._sleep, self._clock, self._timeout = sleep, clock, timeout_s

    def login(self, source: str, config: Any, *, with_token: str | None = None,
              allow_file: bool = False, on_code: OnCode | None = None,
              prompt: Any = None, http: httpx.Client | None = None) -> str:
        """Get a token (stdin via `with_token`, else the device flow), verify it, store it.

        Returns the GitHub login the token belongs to.
        """
        api = _api_base(config)
        if with_token is not None:
            token = piped_token(with_token, source)
        else:
            client_id = getattr(config, "client_id", None)
            if not client_id:
                raise AuthError(
                    f"the device flow needs an OAuth app client ID for source '{source}'",
                    hint=f"Set `client_id` under sources.{source} in the config (an OAuth app "
                         f"with device flow enabled on {web_base_for(api)}), or pipe a token "
                         f"with `dihub auth {source} --with-token`.")
        # fail before anyone approves in a browser if the token could not be kept
        secrets.check_storable(source, TOKEN_NAME, allow_file=allow_file)
        with open_client(http, self._timeout) as client:
            if with_token is None:
                scopes = scope_string(getattr(config, "scopes", None), DEFAULT_SCOPES)
                token = device_flow(client, web_base_for(api), client_id, scopes,
                                    on_code=on_code or print_code, sleep=self._sleep,
                                    clock=self._clock, source=source)
            secrets.register_for_redaction(token)
            user = _get_user(client, api, token, source)
        secrets.set_secret(source, TOKEN_NAME, token, allow_file=allow_file,
                           host=secrets.host_of(api))
        return user["login"]

    def status(self, source: str, config: Any, http: httpx.Client | None = None, *,
               check: bool = False, timeout_s: float = CHECK_TIMEOUT_S) -> dict[str, Any]:
        """Where the token comes from (`via`: env, keyring, file) and the host it is bound
        to, without contacting anyone; with `check`, one GET {api}/user within `timeout_s`
        says whose it is. `state`: missing, present (not checked), ok, rejected (401),
        unreachable, or error. Never the token."""
        api = _api_base(config)
        host = secrets.host_of(api)
        result: dict[str, Any] = {"source": source, "api": api, "host": host,
                                  "logged_in": False, "via": None, "user": None,
                                  "scopes": None, "error": None, "state": "missing"}
        if getattr(config, "app", None) is not None:
            return _app_status(result, source, config, http, check=check, timeout_s=timeout_s)
        def whoami(client: httpx.Client, token: str) -> dict[str, Any]:
            user = _get_user(client, api, token, source)
            return {"user": user["login"], "scopes": user["scopes"]}

        return token_status(result, source, TOKEN_NAME, host=host,
                            token_env=getattr(config, "token_env", None), check=check,
                            http=http, timeout_s=timeout_s, whoami=whoami)

    def logout(self, source: str) -> bool:
        """Forget the stored token and app key, for every host (keyring and file); env
        vars and key files are left alone."""
        token = secrets.delete_secret(source, TOKEN_NAME)
        key = secrets.delete_secret(source, ghapp.KEY_NAME)
        return token or key

    def login_app(self, source: str, config: Any, *, private_key: str,
                  app_id: str | None = None, allow_file: bool = False,
                  http: httpx.Client | None = None) -> str:
        """Check a GitHub App's private key (GET /app with its JWT) and store it in the
        keyring (or the opt-in file), bound to the base_url's host. Returns "app <slug>"."""
        app = getattr(config, "app", None)
        if app is None:
            raise ConfigError(f"source '{source}' has no `app:` section",
                              key=f"sources.{source}.app",
                              hint=f"Add `app: {{app_id: {app_id or 'APP_ID'}}}` under "
                                   f"sources.{source} in the config, then run this again.")
        if app_id is not None and str(app_id).strip() != app.app_id:
            raise UsageError(f"--app-id {app_id} is not the app_id of sources.{source}.app "
                             f"({app.app_id})",
                             hint="Fix `app.app_id` in the config or the --app-id option.")
        pem = private_key.strip()
        ghapp.register_key(pem)
        key = ghapp.signing_key(pem, source, config)
        secrets.check_storable(source, ghapp.KEY_NAME, allow_file=allow_file)
        api = _api_base(config)
        with open_client(http, self._timeout) as client:
            info = _app_get(client, api, "/app", ghapp.AppJWT(app.app_id, key)(), source,
                            config)
        secrets.set_secret(source, ghapp.KEY_NAME, pem, allow_file=allow_file,
                           host=secrets.host_of(api))
        return f"app {info.get('slug') or app.app_id}"

    def token(self, source: str, config: Any) -> str:
        """The token for the configured API host: `token_env`, else the login stored for
        that host (HostMismatch when the stored one is for another host)."""
        return secrets.require_secret(source, TOKEN_NAME, getattr(config, "token_env", None),
                                      host=secrets.host_of(_api_base(config)),
                                      what="GitHub token")


# ---------------------------------------------------------------- helpers


def _app_status(result: dict[str, Any], source: str, config: Any,
                http: httpx.Client | None, *, check: bool, timeout_s: float) -> dict[str, Any]:
    """`status` of a GitHub App source: where the key comes from; with `check`, the app's
    slug and its installations (account and id). Never the key or a JWT."""
    result["app"] = config.app.app_id
    try:
        pem, result["via"] = ghapp.load_private_key(source, config)
        key = ghapp.signing_key(pem, source, config)
    except AuthError as exc:
        result["error"] = str(exc)
        return result
    result["state"] = "present"
    if not check:
        return result
    token = ghapp.AppJWT(config.app.app_id, key)()
    api = _api_base(config)
    try:
        with open_client(http, timeout_s) as client:
            info = _app_get(client, api, "/app", token, source, config)
            installs = _app_get(client, api, "/app/installations?per_page=100", token,
                                source, config)
    except TemporaryError as exc:
        result.update(state="unreachable", error=str(exc))
        return result
    except AuthError as exc:
        code = getattr(exc, "status", None) or 0
        state = "rejected" if code == 401 else "unreachable" if code >= 500 else "error"
        result.update(state=state, error=str(exc), http_status=code or None)
        return result
    result["installations"] = [f"{(i.get('account') or {}).get('login')} ({i.get('id')})"
                               for i in installs if isinstance(i, dict)] \
        if isinstance(installs, list) else []
    result.update(logged_in=True, user=f"app {info.get('slug') or config.app.app_id}",
                  state="ok")
    return result


def _app_get(http: httpx.Client, api: str, path: str, jwt_token: str, source: str,
             config: Any) -> Any:
    url = f"{api}{path}"
    try:
        resp = http.get(url, headers={"Authorization": f"Bearer {jwt_token}",
                                      "Accept": "application/vnd.github+json"})
    except httpx.HTTPError as exc:
        raise TemporaryError(f"could not reach {api}{path.split('?')[0]} "
                             f"({type(exc).__name__})",
                             hint="Check the network and the source's `base_url`.") from None
    if resp.status_code != 200:
        try:
            message = str(resp.json().get("message") or "")
        except (ValueError, AttributeError):
            message = ""
        said = f': "{message}"' if message else ""
        err = AuthError(f"GitHub rejected the JWT of app {config.app.app_id} for source "
                        f"'{source}' (GET {path.split('?')[0]} -> HTTP {resp.status_code}{said})",
                        hint="The private key is not this app's, or was deleted, or `app_id` "
                             "is wrong: generate a private key in the app's settings and run "
                             f"`{ghapp.fix_command(source, config)}`. Also check this host's "
                             "clock.")
        err.status = resp.status_code
        raise err
    try:
        return resp.json()
    except ValueError:
        raise AuthError(f"GET {url} did not return JSON",
                        hint="Check that `base_url` points at the GitHub API.") from None


def _api_base(config: Any) -> str:
    return str(getattr(config, "base_url", None) or DEFAULT_API).rstrip("/")


def _get_user(http: httpx.Client, api: str, token: str, source: str) -> dict[str, Any]:
    url = f"{api}/user"
    try:
        resp = http.get(url, headers={"Authorization": f"Bearer {token}",
                                      "Accept": "application/vnd.github+json"})
    except httpx.HTTPError as exc:
        raise TemporaryError(f"could not reach {url} ({type(exc).__name__})",
                             hint="Check the network and the source's `base_url`.") from None
    if resp.status_code == 401:
        err = AuthError(f"GitHub rejected the token for source '{source}' (401 Bad "
                        "credentials)", hint=f"The token is wrong, expired or revoked: run "
                                             f"`dihub auth {source}` again.")
        err.status = 401
        raise err
    if resp.status_code != 200:
        err = AuthError(f"GET {url} failed with HTTP {resp.status_code} while checking the "
                        f"token for source '{source}'",
                        hint="Check `base_url` and the token's access.")
        err.status = resp.status_code
        raise err
    try:
        login = resp.json()["login"]
    except (ValueError, KeyError, TypeError):
        raise AuthError(f"GET {url} did not return a user",
                        hint="Check that `base_url` points at the GitHub API.") from None
    header = resp.headers.get("X-OAuth-Scopes")
    scopes = [s.strip() for s in header.split(",") if s.strip()] if header is not None else None
    return {"login": str(login), "scopes": scopes}


def _oauth_error(body: dict[str, Any], source: str) -> AuthError:
    code = str(body.get("error") or "unknown_error")
    if code == "access_denied":
        return denied(source)
    text = body.get("error_description") or _DESCRIPTIONS.get(code) or "GitHub refused the login"
    hint = _HINTS.get(code, f"Run `dihub auth {source}` again.").replace("<source>", source)
    return AuthError(f"GitHub device flow failed: {text} ({code})", hint=hint)


_DESCRIPTIONS = {
    "unsupported_grant_type": "the grant type must be " + GRANT_TYPE,
    "incorrect_client_credentials": "the client_id is not a known OAuth app",
    "incorrect_device_code": "the device_code is not valid",
    "device_flow_disabled": "device flow is not enabled in the OAuth app's settings",
}
_HINTS = {
    "incorrect_client_credentials": "Check `client_id` in the source config.",
    "device_flow_disabled": "Enable \"Device Flow\" in the OAuth app's settings, or pipe a "
                            "token with `dihub auth <source> --with-token`.",
}
