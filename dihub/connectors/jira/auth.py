"""Jira login: Cloud = account email + API token (HTTP basic); Data Center = a personal
access token (HTTP bearer).

`dihub auth jira` asks for what is missing (the email unless `email:` is configured,
then the token, not echoed), or reads the token from stdin with `--with-token`,
checks it against GET /rest/api/{3|2}/myself, and stores it through `dihub.secrets`
bound to the site's host: the keyring, or with `--insecure-store-file` a 0600 file on a
machine without one. In CI, the variable named by `token_env` holds the token and
`email:` the account.
Tokens never appear in an exception, a status dict or a repr.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from dihub import secrets
from dihub.connectors.base import check_failure
from dihub.connectors.jira.limits import POLICY as JIRA_LIMITS
from dihub.connectors.oauth import stored_token
from dihub.errors import AuthError, DihubError, TemporaryError
from dihub.http.auth import BearerAuth

TOKEN, EMAIL = "token", "email"
API_TOKENS_URL = "https://id.atlassian.com/manage-profile/security/api-tokens"
CHECK_TIMEOUT_S = 5.0      # `auth status --check`: one attempt, this long


def _check_settings(timeout_s: float) -> Any:
    """One attempt within `timeout_s`, no waiting for a rate limit: a check answers fast."""
    from dihub.settings import HttpSettings, RateLimitSettings, RetrySettings

    return HttpSettings(timeout_s=timeout_s, retry=RetrySettings(attempts=1, backoff_s=[]),
                        rate_limit=RateLimitSettings(max_wait_s=0))

Prompt = Callable[..., str]


def login_hint(source: str, config: Any) -> str:
    """What to do when Jira refuses the credentials (every 401 says this)."""
    env = getattr(config, "token_env", None)
    if getattr(config, "is_cloud", True):
        what = (f"your Atlassian account email and an API token ({API_TOKENS_URL})")
    else:
        what = "a personal access token (Jira profile → Personal Access Tokens)"
    also = f", or set ${env} (token_env)" if env else \
        ", or set `token_env` to a variable holding the token (CI)"
    return f"Log in again with `dihub auth {source}` using {what}{also}."


def site_host(config: Any) -> str:
    """The host stored credentials are bound to: the Jira site's."""
    return secrets.host_of(config.base_url)


def credentials(source: str, config: Any) -> httpx.Auth:
    """The httpx auth for a sync: basic (Cloud) or bearer (Data Center)."""
    found = secrets.get_secret(source, TOKEN, env_var=getattr(config, "token_env", None),
                               host=site_host(config))
    if found is None:
        raise AuthError(f"no Jira credentials for source '{source}'",
                        hint=login_hint(source, config))
    if not config.is_cloud:
        return BearerAuth(found.value)
    email = _email(source, config)
    if not email:
        raise AuthError(f"no account email for Jira Cloud source '{source}' (the API token "
                        "is sent with the email it belongs to)",
                        hint=f"Set `email:` under sources.{source}, or run "
                             f"`dihub auth {source}`.")
    return httpx.BasicAuth(email, found.value)


def _email(source: str, config: Any) -> str | None:
    if getattr(config, "email", None):
        return config.email
    stored = secrets.get_secret(source, EMAIL, host=site_host(config))
    return stored.value if stored else None


class JiraAuth:
    """`dihub auth <source>`: login, status, logout."""

    def __init__(self, *, transport: httpx.BaseTransport | None = None,
                 timeout_s: float = 30.0):
        self._transport, self._timeout = transport, timeout_s

    def login(self, source: str, config: Any, *, with_token: str | None = None,
              allow_file: bool = False, on_code: Any = None,
              prompt: Prompt | None = None) -> str:
        """Ask for (or take) the credentials, verify them, store them. Returns who."""
        cloud = config.is_cloud
        secrets.check_storable(source, TOKEN, allow_file=allow_file)
        email = None
        if cloud:
            email = getattr(config, "email", None) or _ask(
                prompt, "Atlassian account email", secret=False, source=source)
        token = with_token.strip() if with_token is not None else _ask(
            prompt, f"API token (create one at {API_TOKENS_URL})" if cloud
            else "Personal access token", secret=True, source=source)
        if not token:
            raise AuthError("no token given", hint=f"Run `dihub auth {source}` again.")
        secrets.register_for_redaction(token)
        auth = httpx.BasicAuth(email, token) if cloud else BearerAuth(token)
        me = self._myself(source, config, auth)
        host = site_host(config)
        secrets.set_secret(source, TOKEN, token, allow_file=allow_file, host=host)
        if email:
            secrets.set_secret(source, EMAIL, email, allow_file=allow_file, host=host)
        return _who(me)

    def status(self, source: str, config: Any, *, check: bool = False,
               timeout_s: float = CHECK_TIMEOUT_S) -> dict[str, Any]:
        """Where the credentials come from (`via`: env, keyring, file) and the host they
        are bound to, without contacting anyone; with `check`, one GET /myself (one
        attempt, `timeout_s`) says whose they are. `state`: missing, present (not
        checked), ok, rejected (401), unreachable, or error. Never the token."""
        result: dict[str, Any] = {
            "source": source, "site": config.base_url, "host": site_host(config),
            "deployment": "cloud" if config.is_cloud else "datacenter",
            "logged_in": False, "via": None, "user": None, "error": None, "state": "missing"}
        if stored_token(result, source, TOKEN, host=result["host"],
                        token_env=getattr(config, "token_env", None)) is None or not check:
            return result
        try:
            auth = credentials(source, config)
        except DihubError as exc:           # e.g. no account email for Cloud
            result.update(state="error", error=str(exc))
            return result
        try:
            me = self._myself(source, config, auth, settings=_check_settings(timeout_s))
        except DihubError as exc:
            result.update(check_failure(exc))
            return result
        result.update(logged_in=True, user=_who(me), state="ok")
        return result

    def logout(self, source: str) -> bool:
        """Forget the stored token and email, for every host (keyring and file); an env
        var is left alone."""
        removed = secrets.delete_secret(source, TOKEN)
        return secrets.delete_secret(source, EMAIL) or removed

    def token(self, source: str, config: Any) -> httpx.Auth:
        return credentials(source, config)

    def _myself(self, source: str, config: Any, auth: httpx.Auth,
                settings: Any = None) -> dict[str, Any]:
        from dihub.http import HttpClient

        api = "/rest/api/3" if config.is_cloud else "/rest/api/2"
        client = HttpClient(config.base_url, source=source, auth=auth, settings=settings or
                            getattr(config, "http", None),
                            limits=JIRA_LIMITS, transport=self._transport,
                            auth_hint=login_hint(source, config))
        try:
            resp = client.get(f"{api}/myself", headers={"Accept": "application/json"})
        except AuthError as exc:
            err = AuthError(f"Jira at {config.base_url} rejected the credentials for source "
                            f"'{source}' ({getattr(exc, 'status', None) or 401})",
                            hint=login_hint(source, config))
            err.status = getattr(exc, "status", None) or 401
            raise err from None
        except TemporaryError:
            raise
        finally:
            client.close()
        if not isinstance(resp.data, dict):
            raise AuthError(f"{config.base_url}{api}/myself did not return an account",
                            hint="Check `base_url` and `deployment` (cloud or datacenter).")
        return resp.data


def _ask(prompt: Prompt | None, text: str, *, secret: bool, source: str) -> str:
    if prompt is None:
        raise AuthError(f"cannot ask for the {text.split(' (')[0]} here (no terminal)",
                        hint=f"Pipe the token in: `echo $TOKEN | dihub auth {source} "
                             "--with-token` (and set `email:` in the config for Jira Cloud).")
    return (prompt(text, secret=secret) or "").strip()


def _who(me: dict[str, Any]) -> str:
    name = me.get("displayName") or me.get("name") or me.get("accountId") or "?"
    email = me.get("emailAddress")
    return f"{name} <{email}>" if email else str(name)
