"""Slack Web API `{"ok": false, "error": ...}` answers → dihub errors a person can act on.

Slack answers most failures with HTTP 200 and an error code; rate limits come
as HTTP 429 with `Retry-After` seconds. No token ever reaches a message: the
functions take none, and anything token-shaped is masked anyway.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dihub.errors import (
    AuthError,
    DihubError,
    FatalError,
    PartitionSkipped,
    RateLimited,
    RetriableError,
    SkippableRecord,
)

AUTH_ERRORS = {
    "invalid_auth": "Slack rejected the token (invalid_auth)",
    "not_authed": "no Slack token was sent (not_authed)",
    "token_revoked": "the Slack token was revoked (token_revoked)",
    "token_expired": "the Slack token expired (token_expired)",
    "account_inactive": "the Slack account or app that owns the token is deactivated "
                        "(account_inactive)",
}
RETRIABLE_ERRORS = ("internal_error", "service_unavailable")
APPS_PAGE = "https://api.slack.com/apps"
_TOKEN = re.compile(r"xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")


class ChannelSkipped(PartitionSkipped):
    """One channel cannot be read (bot not a member, channel gone); the others go on."""

    def __init__(self, message: str, *, channel: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.channel = channel


class ThreadSkipped(SkippableRecord):
    """A thread vanished between listing the channel and reading its replies."""


class MissingScope(AuthError):
    """The token works but lacks a scope; the app must be given it and reinstalled."""

    def __init__(self, message: str, *, needed: str | None, provided: str | None,
                 hint: str | None = None):
        super().__init__(message, hint=hint)
        self.needed, self.provided = needed, provided


def slack_error(method: str, error: str, *, channel: str | None = None,
                needed: str | None = None, provided: str | None = None,
                source: str | None = None, retry_after: float | None = None,
                reset_at: float | None = None) -> DihubError:
    """The dihub error for Slack's `error` code from `method`.

    `channel` is the channel id or name the call was about, `needed`/`provided`
    the scopes Slack lists with missing_scope, `source` the configured source
    name (for the `dihub auth` hint), `retry_after`/`reset_at` what the HTTP
    layer read from a 429.
    """
    err = _build(method, error or "unknown_error", channel=channel, needed=needed,
                 provided=provided, source=source or "<source>", retry_after=retry_after,
                 reset_at=reset_at)
    err.args = (_mask(str(err)),)
    err.hint = _mask(err.hint) if err.hint else err.hint
    err.slack_error = error         # the raw code, for audit entries and tests
    return err


def error_from_response(method: str, body: Mapping[str, Any] | None, *, status: int = 200,
                        headers: Mapping[str, str] | None = None, channel: str | None = None,
                        source: str | None = None, now: float | None = None,
                        ) -> DihubError | None:
    """The error a Web API response stands for, or None when it is `ok`.

    `now` (epoch seconds) turns a `Retry-After` header into `reset_at`.
    """
    body = body if isinstance(body, Mapping) else {}
    if body.get("ok") is True and status < 400:
        return None
    error = body.get("error")
    if status == 429 and not error:
        error = "ratelimited"
    elif not error:
        error = f"http_{status}"
    retry_after = _retry_after(headers)
    reset_at = now + retry_after if now is not None and retry_after is not None else None
    return slack_error(method, str(error), channel=channel, needed=body.get("needed"),
                       provided=body.get("provided"), source=source,
                       retry_after=retry_after, reset_at=reset_at)


def _build(method: str, error: str, *, channel: str | None, needed: str | None,
           provided: str | None, source: str, retry_after: float | None,
           reset_at: float | None) -> DihubError:
    where = _channel_label(channel)
    if error == "not_in_channel":
        return ChannelSkipped(
            f"{method}: the bot is not in {where}; invite it with /invite @<your app> "
            f"in {where}", channel=channel,
            hint="Until then this channel is skipped; the other channels are synced. "
                 "Or remove it from the source's `channels:` in the config.")
    if error == "channel_not_found":
        return ChannelSkipped(
            f"{method}: channel {channel or '(no id given)'} was not found; skipping it",
            channel=channel,
            hint="Check the channel id in the config. A private channel is only visible "
                 "to the app once it is invited and has the groups:history scope.")
    if error == "thread_not_found":
        return ThreadSkipped(
            f"{method}: a thread in {where} no longer exists (its parent was deleted); "
            "skipping it")
    if error == "missing_scope":
        scope = needed or "(Slack did not name it)"
        granted = f" (granted: {provided})" if provided else ""
        return MissingScope(
            f"{method}: the Slack app lacks the {scope} scope{granted}",
            needed=needed, provided=provided,
            hint=f"Add {scope} under OAuth & Permissions → Scopes in your app at {APPS_PAGE}, "
                 f"reinstall the app to the workspace, then run `dihub auth {source}` "
                 "with the new token.")
    if error in AUTH_ERRORS:
        return AuthError(f"{method}: {AUTH_ERRORS[error]}",
                         hint=f"Run `dihub auth {source}` to log in again.")
    if error == "ratelimited":
        wait = f"; Slack asks to wait {retry_after:g}s" if retry_after is not None else ""
        return RateLimited(f"{method}: rate limited by Slack{wait}", reset_at=reset_at,
                           hint="dihub backs off and retries; from cron, exit code 75 means "
                                "the next run continues where this one stopped.")
    if error in RETRIABLE_ERRORS:
        return RetriableError(f"{method}: Slack had a temporary failure ({error!r})",
                              hint="Try again later; cron will.")
    hint = None
    if error == "invalid_cursor":
        hint = "The pagination cursor was rejected; run the sync again to start the listing anew."
    return FatalError(f"{method}: Slack API error {error!r}", hint=hint)


def _channel_label(channel: str | None) -> str:
    if not channel:
        return "the channel"
    if channel.startswith("#") or _CHANNEL_ID.match(channel):
        return channel
    return f"#{channel}"


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


def _mask(text: str) -> str:
    return _TOKEN.sub("xox…(masked)", text)
