"""The rate-limit governor: decides, before each request, how long to hold it.

It learns the quota from responses (`observe`) and from rate-limit answers
(`block`), and before each request (`decide`) returns a Decision:

* blocked (a 429/403 said "come back at T") -> wait until T;
* quota exhausted (remaining 0, reset ahead) -> wait until the reset;
* below `rate_limit.reserve` remaining -> pace: spread the remaining requests
  evenly until the reset. If the reset is more than `max_wait_s` away, pacing
  would hold the run that long, so the decision is to defer instead (the
  client raises RateLimited, the engine checkpoints, cron resumes later) and
  the reserve is left to people and other tools sharing the token;
* pacing: a minimum interval between two calls of one method, when the
  connector's RateLimitPolicy names any (e.g. an upstream's per-method tiers).

Which quota (bucket) a path spends and the per-method intervals come from the
connector's `RateLimitPolicy` (dihub.http.policy); the governor names no upstream.
Where an upstream gives each credential a quota of its own (one client sending several
credentials, e.g. one per installation of an app), each call names its `quota` scope and
the buckets are kept per scope: `<quota>/<bucket>`; exhausting one never holds another.

Any wait longer than `max_wait_s` becomes `defer`; the governor never sleeps
itself (the client does, through its injectable sleeper). A 304 is not counted
as quota spent. Thread-safe: one governor is shared by a client's threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dihub.http import ratelimit
from dihub.http.policy import RateLimitPolicy, resolve
from dihub.settings import RateLimitSettings


@dataclass
class _Bucket:
    remaining: int | None = None
    limit: int | None = None
    reset_at: float | None = None
    next_slot: float = 0.0
    blocked_until: float = 0.0
    block_reason: str | None = None
    strikes: int = 0                  # short rate-limit answers within each other's waits
    strike_until: float = 0.0         # ... the latest of their waits
    strike_at: float = 0.0            # when the latest of them arrived


@dataclass(frozen=True)
class Decision:
    wait_s: float = 0.0
    reason: str | None = None
    reset_at: float | None = None
    defer: bool = False            # the wait is over max_wait_s: raise RateLimited
    audited: bool = True           # False for routine pacing (per-method intervals)
    charged: bool = False          # the local quota estimate was decremented
    detail: dict = field(default_factory=dict)


class Governor:
    def __init__(self, settings: RateLimitSettings, *, policy: RateLimitPolicy | None = None,
                 style: str | None = None, clock: Callable[[], float] = time.time,
                 min_interval: Mapping[str, float] | None = None):
        """`policy`, or the policy a connector registered as `style` (dihub.http.policy);
        `min_interval`, when given, replaces the policy's per-method intervals."""
        policy = resolve(policy, style)
        self.settings = settings
        self.policy = policy
        self._clock = clock
        self._min_interval = dict(policy.min_interval if min_interval is None
                                  else min_interval)
        self._buckets: dict[str, _Bucket] = {}
        self._last_call: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- which quota a path uses --------------------------------------------------------
    def bucket_name(self, path: str, quota: str | None = None) -> str:
        """The bucket `path` spends; with a `quota` scope, that scope's own bucket."""
        name = self.policy.bucket(path)
        return f"{quota}/{name}" if quota else name

    def _bucket(self, path: str, quota: str | None = None) -> _Bucket:
        return self._buckets.setdefault(self.bucket_name(path, quota), _Bucket())

    # -- before a request ---------------------------------------------------------------
    def decide(self, path: str, quota: str | None = None) -> Decision:
        """How long to hold a request to `path` (relative to the base URL), spending the
        `quota` scope's bucket."""
        max_wait = self.settings.max_wait_s
        with self._lock:
            now = self._clock()
            b = self._bucket(path, quota)
            if b.reset_at is not None and now >= b.reset_at:
                b.remaining, b.reset_at, b.next_slot = None, None, 0.0   # a new window
            wait, reason, reset_at, audited = 0.0, None, None, True
            new_slot = None
            if b.blocked_until > now:
                wait, reason, reset_at = b.blocked_until - now, b.block_reason, b.blocked_until
            elif b.remaining is not None and b.reset_at is not None:
                until_reset = b.reset_at - now
                if b.remaining <= 0:
                    wait = until_reset + ratelimit.RESET_MARGIN_S
                    reason, reset_at = "quota exhausted", b.reset_at + ratelimit.RESET_MARGIN_S
                elif b.remaining <= self.settings.reserve:
                    reset_at = b.reset_at
                    reason = (f"below reserve: {b.remaining} left, "
                              f"reserve {self.settings.reserve}")
                    if until_reset > max_wait:
                        wait = until_reset
                    else:
                        start = max(now, b.next_slot)
                        new_slot = start + max(0.0, b.reset_at - start) / b.remaining
                        wait = start - now
            method = self.policy.method(path) if self._min_interval else None
            method_start = None
            if method in self._min_interval:
                method_start = max(now, self._last_call.get(method, -1e18)
                                   + self._min_interval[method])
                if method_start - now > wait:
                    wait, reason, audited = method_start - now, f"pacing {method}", False
                    reset_at = method_start
            detail = {"bucket": self.bucket_name(path, quota), "remaining": b.remaining}
            if wait > max_wait:
                return Decision(wait, reason, reset_at or now + wait, defer=True,
                                detail=detail)
            if new_slot is not None:
                b.next_slot = new_slot
            if method_start is not None:
                self._last_call[method] = method_start
            charged = b.remaining is not None
            if charged:
                b.remaining -= 1
            return Decision(wait, reason, reset_at, audited=audited, charged=charged,
                            detail=detail)

    # -- after a response ---------------------------------------------------------------
    def observe(self, path: str, status: int, headers: Mapping[str, str],
                charged: bool = False, quota: str | None = None,
                sent_at: float | None = None) -> int | None:
        """Learn the quota from a response; returns the remaining estimate, if known.

        `sent_at` (the clock when the request went out): a success sent after the
        bucket's latest short rate-limit answer clears its strikes (see `block`)."""
        with self._lock:
            now = self._clock()
            b = self._bucket(path, quota)
            if (b.strikes and status < 400 and sent_at is not None
                    and sent_at >= b.strike_at):
                b.strikes = 0
            q = ratelimit.quota(headers, now)
            if status == 304:                 # conditional hit: no quota spent
                if charged and b.remaining is not None:
                    b.remaining += 1
                elif b.remaining is None and q.remaining is not None:
                    b.remaining, b.reset_at = q.remaining, q.reset_at
                return b.remaining
            if q.remaining is None:
                return b.remaining
            new_window = q.reset_at is not None and (
                b.reset_at is None or q.reset_at > b.reset_at + 2 * ratelimit.RESET_MARGIN_S)
            if new_window or b.remaining is None or q.remaining < b.remaining:
                b.remaining = q.remaining
            if q.reset_at is not None and (b.reset_at is None or new_window):
                b.reset_at = q.reset_at
            if q.limit is not None:
                b.limit = q.limit
            return b.remaining

    def block(self, path: str, until: float, reason: str | None = None,
              quota: str | None = None, *, short: bool = False,
              sent_at: float | None = None) -> None:
        """Hold every request to `path`'s quota until `until` (a 429 / secondary limit).

        `short`: the answer's wait is one the call itself sits out (a retry, not a
        deferral); under a policy with `hold_after` > 1 it holds the bucket only once that
        many such answers came each within the wait of the one before, with no success
        of a request sent after the one before in between (`observe`): a limit that is
        really reached answers every request with a 429, while a lone 429 among
        successes is not a reason to stop the other partitions. A 429 to a request
        `sent_at` before the one before it arrived is no second answer: it was in flight
        already (several partitions at once send several requests at once)."""
        with self._lock:
            b = self._bucket(path, quota)
            if short and self.policy.hold_after > 1:
                now = self._clock()
                if (b.strikes and b.strike_until > now and sent_at is not None
                        and sent_at < b.strike_at):
                    return
                b.strikes = b.strikes + 1 if b.strikes and b.strike_until > now else 1
                b.strike_at = now
                b.strike_until = max(b.strike_until, until) if b.strikes > 1 else until
                if b.strikes < self.policy.hold_after:
                    return
                until = b.strike_until
            if until > b.blocked_until:
                b.blocked_until, b.block_reason = until, reason

    def state(self, path: str = "/", quota: str | None = None) -> dict:
        with self._lock:
            b = self._bucket(path, quota)
            return {"bucket": self.bucket_name(path, quota), "remaining": b.remaining,
                    "limit": b.limit, "reset_at": b.reset_at,
                    "blocked_until": b.blocked_until or None}
