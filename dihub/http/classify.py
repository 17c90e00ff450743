"""What a response means for the caller: use it, retry it, defer the run, or fail.

`classify(response, ...)` is pure (no I/O, no sleeping): the client turns the
verdict into a return value, a tenacity retry, or a dihub error.

  2xx                                  -> ok
  304                                  -> not_modified
  429 / 403 with Retry-After           -> retry after exactly that long, or defer
  429 / 403 with x-ratelimit-remaining: 0 -> retry after the reset, or defer
  403/429 the policy calls secondary  -> retry after at least policy.secondary_min_wait_s
  429 with no hint                     -> retry with backoff
  5xx                                  -> retry with backoff (at least Retry-After)
  401, 403 "Bad credentials"           -> auth
  other 4xx, other 403                 -> fatal, quoting the upstream message

"defer" means the wait is longer than rate_limit.max_wait_s: RateLimited, exit 75.
Which answers are an upstream's secondary (abuse) limit is the connector's
RateLimitPolicy's to say (dihub.http.policy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from dihub.http import ratelimit
from dihub.http.policy import DEFAULT_POLICY, RateLimitPolicy
from dihub.redact import redact

MAX_MESSAGE_CHARS = 300

OK, NOT_MODIFIED, RETRY, DEFER, GIVE_UP, AUTH, FATAL = (
    "ok", "not_modified", "retry", "defer", "give_up", "auth", "fatal")


@dataclass(frozen=True)
class Verdict:
    kind: str
    status: int
    message: str = ""               # upstream message, redacted and shortened
    wait_s: float | None = None     # wait exactly this long (the server said so)
    min_wait_s: float | None = None  # wait at least this long (backoff may be longer)
    reset_at: float | None = None   # local epoch when waiting is over
    reason: str | None = None       # why: "secondary rate limit", "quota exhausted", ...
    rate_limited: bool = False      # the wait is a rate-limit wait (counted as such)
    exhausted: bool = False         # the quota headers say none is left (not a lone 429)


def upstream_message(response: httpx.Response) -> str:
    """The error message the upstream sent, for quoting in an exception."""
    text = response.text if response.content else ""
    message = ""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts: list[str] = []
        for key in ("message", "error_description", "error", "errorMessage"):
            if isinstance(body.get(key), str) and body[key]:
                parts.append(body[key])
                break
        msgs = body.get("errorMessages")
        if isinstance(msgs, list):
            parts.extend(str(m) for m in msgs if m)
        errors = body.get("errors")
        if isinstance(errors, dict):          # {"field": "problem"}
            parts.extend(f"{k}: {v}" for k, v in errors.items())
        elif isinstance(errors, list):        # [{"resource","field","code"}]
            for err in errors[:3]:
                if isinstance(err, dict):
                    bits = [str(err[k]) for k in ("resource", "field", "code", "message")
                            if err.get(k)]
                    parts.append(" ".join(bits))
                else:
                    parts.append(str(err))
        message = "; ".join(p for p in parts if p)
    elif text and not text.lstrip().startswith("<"):
        message = text.strip()
    message = redact(" ".join(message.split()))
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS - 1] + "…"
    return message


def _rate_limit_verdict(status: int, message: str, headers: httpx.Headers, now: float,
                        max_wait_s: float, policy: RateLimitPolicy) -> Verdict | None:
    q = ratelimit.quota(headers, now)
    after = ratelimit.retry_after(headers, now)
    secondary = policy.secondary(status, message.lower())
    reason = q.reason
    if after is not None:
        wait = after
        reason = reason or ("secondary rate limit" if secondary or status == 403
                            else "rate limited")
    elif q.exhausted and q.reset_at is not None:
        wait = max(0.0, q.reset_at - now) + ratelimit.RESET_MARGIN_S
        reason = reason or "quota exhausted"
    elif status == 429 and q.reset_at is not None and q.reset_at > now:
        # a 429 may come with only X-RateLimit-Reset (e.g. ISO 8601): wait for it
        wait = q.reset_at - now + ratelimit.RESET_MARGIN_S
        reason = reason or "rate limited"
    elif secondary:
        return Verdict(RETRY, status, message, min_wait_s=policy.secondary_min_wait_s,
                       reason="secondary rate limit", rate_limited=True)
    elif status == 429:
        return Verdict(RETRY, status, message, reason=reason or "rate limited",
                       rate_limited=True)
    else:
        return None
    kind = DEFER if wait > max_wait_s else RETRY
    return Verdict(kind, status, message, wait_s=wait, reset_at=now + wait, reason=reason,
                   rate_limited=True, exhausted=q.exhausted)


def classify(response: httpx.Response, *, now: float, max_wait_s: float,
             policy: RateLimitPolicy | None = None) -> Verdict:
    status = response.status_code
    if 200 <= status < 300:
        return Verdict(OK, status)
    if status == 304:
        return Verdict(NOT_MODIFIED, status)
    message = upstream_message(response)
    headers = response.headers
    if status in (403, 429):
        verdict = _rate_limit_verdict(status, message, headers, now, max_wait_s,
                                      policy or DEFAULT_POLICY)
        if verdict is not None:
            return verdict
    if status == 401 or (status == 403 and "bad credentials" in message.lower()):
        return Verdict(AUTH, status, message)
    if status >= 500:
        after = ratelimit.retry_after(headers, now)
        if after is not None and after > max_wait_s:
            return Verdict(GIVE_UP, status, message, reset_at=now + after,
                           reason=f"asked to retry after {after:.0f} s")
        return Verdict(RETRY, status, message, min_wait_s=after, reason="server error")
    return Verdict(FATAL, status, message)
