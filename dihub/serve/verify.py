"""Webhook signature checks. Pure functions: no I/O, no logging.

Every comparison is `hmac.compare_digest`; nothing here puts a secret, a received
signature or an expected one into an exception message or a return value.
"""

from __future__ import annotations

import hashlib
import hmac

SLACK_VERSION = "v0"


class Rejected(Exception):
    """A delivery that is not accepted. `str()` says why, never with a secret in it."""

    def __init__(self, reason: str, status: int = 401):
        super().__init__(reason)
        self.reason, self.status = reason, status


def _hex_hmac(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def hub_signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """GitHub `X-Hub-Signature-256` and Jira Cloud `X-Hub-Signature`: `sha256=<hex>` of
    the HMAC-SHA256 of the raw body."""
    if not header or not secret:
        return False
    expected = "sha256=" + _hex_hmac(secret, body)
    return hmac.compare_digest(header.strip().encode("utf-8"), expected.encode("utf-8"))


def token_ok(secret: str, header: str | None) -> bool:
    """GitLab `X-Gitlab-Token`: the secret itself (GitLab signs nothing), compared in
    constant time."""
    if not header or not secret:
        return False
    return hmac.compare_digest(header.strip().encode("utf-8"), secret.encode("utf-8"))


def slack_timestamp(header: str | None, now: float, max_age_s: float) -> str:
    """The `X-Slack-Request-Timestamp`, checked for freshness (replay protection)."""
    if not header:
        raise Rejected("missing X-Slack-Request-Timestamp")
    try:
        ts = int(header.strip())
    except ValueError:
        raise Rejected("X-Slack-Request-Timestamp is not a number") from None
    if abs(now - ts) > max_age_s:
        raise Rejected("X-Slack-Request-Timestamp is too old (or in the future): "
                       "a replayed or delayed request")
    return str(ts)


def slack_signature_ok(secret: str, timestamp: str, body: bytes, header: str | None) -> bool:
    """Slack `X-Slack-Signature`: `v0=<hex>` of HMAC-SHA256 over `v0:<timestamp>:<body>`."""
    if not header or not secret:
        return False
    base = f"{SLACK_VERSION}:{timestamp}:".encode() + body
    expected = f"{SLACK_VERSION}=" + _hex_hmac(secret, base)
    return hmac.compare_digest(header.strip().encode("utf-8"), expected.encode("utf-8"))


def sign_hub(secret: str, body: bytes) -> str:
    """The header value a sender computes (tests and the benchmark use it)."""
    return "sha256=" + _hex_hmac(secret, body)


def sign_slack(secret: str, timestamp: str, body: bytes) -> str:
    return f"{SLACK_VERSION}=" + _hex_hmac(secret, f"{SLACK_VERSION}:{timestamp}:".encode() + body)
