"""`dihub auth slack`: store a bot token (xoxb-...), show who it is, forget it.

A Slack app's bot token is copied from the app's "OAuth & Permissions" page;
there is no device flow. The token is read from stdin (`--with-token`) or
prompted for without echo, checked with `auth.test`, and stored by
`dihub.secrets` (keyring, or the opt-in 0600 file), bound to the API host (slack.com
unless `base_url` says otherwise). In CI and cron, the
variable named by `token_env` is used instead. The token never appears in a
message, a status dict or a repr.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dihub import secrets
from dihub.connectors.base import check_failure
from dihub.connectors.slack.client import (
    DEFAULT_BASE_URL,
    TOKEN_NAME,
    BearerAuth,
    SlackClient,
    auth_hint,
)
from dihub.connectors.slack.limits import POLICY as SLACK_LIMITS
from dihub.errors import AuthError, DihubError
from dihub.http import HttpClient
from dihub.settings import HttpSettings, RateLimitSettings, RetrySettings

BOT_PREFIX = "xoxb-"
CHECK_TIMEOUT_S = 5.0      # `auth status --check`: one attempt, this long
SCOPES_HINT = ("channels:read, groups:read, channels:history, groups:history, users:read "
               "(and users:read.email for emails)")
Prompt = Callable[..., str]


def api_host(config: Any) -> str:
    """The host a stored bot token is bound to."""
    return secrets.host_of(str(getattr(config, "base_url", None) or DEFAULT_BASE_URL))


def auth_test(source: str, config: Any, token: str,
              settings: HttpSettings | None = None) -> dict[str, Any]:
    """Slack's auth.test for this token: team, bot user, ids, granted scopes."""
    base = str(getattr(config, "base_url", None) or DEFAULT_BASE_URL)
    settings = settings or HttpSettings(timeout_s=30,
                                        retry=RetrySettings(attempts=3, backoff_s=[1, 2]))
    with HttpClient(base, source=source, settings=settings, auth=BearerAuth(token),
                    limits=SLACK_LIMITS, auth_hint=auth_hint(source, config)) as http:
        resp = SlackClient(http, source).call("auth.test")
    data = resp.data
    scopes = resp.headers.get("x-oauth-scopes")
    return {"team": data.get("team"), "team_id": data.get("team_id"),
            "bot_user": data.get("user"), "bot_user_id": data.get("user_id"),
            "bot_id": data.get("bot_id"), "url": data.get("url"),
            "scopes": [s.strip() for s in scopes.split(",") if s.strip()] if scopes else None}


class SlackAuth:
    def login(self, source: str, config: Any, *, with_token: str | None = None,
              allow_file: bool = False, on_code: Any = None,
              prompt: Prompt | None = None) -> str:
        """Take a bot token (stdin or prompt), check it with auth.test, store it.
        Returns "<bot user> in <team>"."""
        if with_token is not None:
            token = with_token.strip()
        elif prompt is not None:
            token = prompt(f"Slack bot token for source '{source}' (xoxb-...)",
                           secret=True).strip()
        else:
            raise AuthError("no token given",
                            hint=f"Pipe one in: `echo $SLACK_BOT_TOKEN | dihub auth {source} "
                                 "--with-token`.")
        if not token:
            raise AuthError("no token given",
                            hint=f"Pipe one in: `echo $SLACK_BOT_TOKEN | dihub auth {source} "
                                 "--with-token`.")
        secrets.register_for_redaction(token)
        if not token.startswith(BOT_PREFIX):
            kind = f"a {token[:5]}... token" if token[:3] in ("xox", "xap") else \
                "a value that is not a Slack token"
            raise AuthError(
                f"expected a Slack bot token (xoxb-...), got {kind}",
                hint="Copy the Bot User OAuth Token from your app's OAuth & Permissions "
                     f"page at https://api.slack.com/apps (scopes: {SCOPES_HINT}).")
        secrets.check_storable(source, TOKEN_NAME, allow_file=allow_file)
        info = auth_test(source, config, token)
        secrets.set_secret(source, TOKEN_NAME, token, allow_file=allow_file,
                           host=api_host(config))
        return f"{info['bot_user']} in {info['team']}"

    def status(self, source: str, config: Any, *, check: bool = False,
               timeout_s: float = CHECK_TIMEOUT_S) -> dict[str, Any]:
        """Where the token comes from (`via`: env, keyring, file) and the host it is bound
        to, without contacting anyone; with `check`, one auth.test (one attempt,
        `timeout_s`) says which team and bot user it is. `state`: missing, present (not
        checked), ok, rejected, unreachable, or error. Never the token."""
        result: dict[str, Any] = {
            "source": source, "api": str(getattr(config, "base_url", None) or
                                         DEFAULT_BASE_URL), "host": api_host(config),
            "logged_in": False, "via": None, "team": None, "bot_user": None, "scopes": None,
            "error": None, "state": "missing"}
        try:
            found = secrets.get_secret(source, TOKEN_NAME, host=result["host"],
                                       env_var=getattr(config, "token_env", None))
        except AuthError as exc:
            result["error"] = str(exc)
            return result
        if found is None:
            result["error"] = "no token stored"
            return result
        result["via"] = found.where
        result["state"] = "present"
        if not check:
            return result
        settings = HttpSettings(timeout_s=timeout_s,
                                retry=RetrySettings(attempts=1, backoff_s=[]),
                                rate_limit=RateLimitSettings(max_wait_s=0))
        try:
            info = auth_test(source, config, found.value, settings=settings)
        except DihubError as exc:
            result.update(check_failure(exc))
            return result
        result.update(logged_in=True, team=_named(info["team"], info["team_id"]),
                      bot_user=_named(info["bot_user"], info["bot_user_id"]),
                      scopes=info["scopes"], state="ok")
        return result

    def logout(self, source: str) -> bool:
        """Forget the stored token, for every host (keyring and file); an env var is left
        alone."""
        return secrets.delete_secret(source, TOKEN_NAME)


def _named(name: str | None, ident: str | None) -> str | None:
    if name and ident:
        return f"{name} ({ident})"
    return name or ident
