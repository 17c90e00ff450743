"""Reading rate-limit headers: Retry-After, x-ratelimit-* and the IETF RateLimit-*.

Every time here is epoch seconds on the *local* clock. Server times (a reset
epoch, an HTTP-date, an ISO timestamp) are shifted by the difference between the
local clock and the response's `Date` header, so a skewed local clock neither
hammers the upstream nor sleeps too long.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass

from dihub.timeutil import parse as parse_iso

RESET_MARGIN_S = 1.0        # reset headers have second precision; wait a little past them
EPOCH_THRESHOLD = 1_000_000_000   # a reset value above this is an epoch, below a delay


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None and not hasattr(headers, "get_list"):   # a plain dict: any case
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def clock_offset(headers: Mapping[str, str], now: float) -> float:
    """local clock minus server clock, from the `Date` header (0 when absent)."""
    value = _get(headers, "date")
    if not value:
        return 0.0
    try:
        server = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0.0
    if server is None:
        return 0.0
    return now - server.timestamp()


def _server_time(value: str) -> float | None:
    """An HTTP-date or ISO 8601 timestamp as epoch seconds (server clock)."""
    try:
        dt = email.utils.parsedate_to_datetime(value)
        if dt is not None:
            return dt.timestamp()
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return parse_iso(value).timestamp()
    except ValueError:
        return None


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or HTTP-date)."""
    value = _get(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    at = _server_time(value)
    if at is None:
        return None
    return max(0.0, at + clock_offset(headers, now) - now)


def reset_at(headers: Mapping[str, str], now: float) -> float | None:
    """When the quota window resets (local epoch seconds), from the reset headers.

    `x-ratelimit-reset` / `RateLimit-Reset` (IETF draft) as epoch seconds,
    delay-seconds or an ISO 8601 time: each upstream picks one.
    """
    value = _get(headers, "x-ratelimit-reset") or _get(headers, "ratelimit-reset")
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        at = _server_time(value)
        return None if at is None else at + clock_offset(headers, now)
    if number >= EPOCH_THRESHOLD:
        return number + clock_offset(headers, now)
    return now + max(0.0, number)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class Quota:
    """The quota a response reports. Any field may be unknown (None)."""

    remaining: int | None = None
    limit: int | None = None
    reset_at: float | None = None
    reason: str | None = None       # the RateLimit-Reason header, e.g. a quota's name

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


def quota(headers: Mapping[str, str], now: float) -> Quota:
    remaining = _int(_get(headers, "x-ratelimit-remaining")
                     or _get(headers, "ratelimit-remaining"))
    limit = _int(_get(headers, "x-ratelimit-limit") or _get(headers, "ratelimit-limit"))
    return Quota(remaining=remaining, limit=limit, reset_at=reset_at(headers, now),
                 reason=_get(headers, "ratelimit-reason"))
