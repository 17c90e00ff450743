"""The retry loop: tenacity with exponential backoff, jitter and server hints.

An attempt that should be retried raises `Transient`. The wait before the next
attempt is, by precedence:

1. `wait_s` when the server said exactly how long (Retry-After, a near reset);
2. otherwise `backoff_s[n]` (the last value repeats) minus up to `jitter` of it
   at random, but at least `min_wait_s` (a policy's secondary-limit floor,
   a 503's Retry-After).

`attempts` counts every try: 5 attempts with backoff 1,2,4,8,16 wait 1,2,4,8.
Sleeping goes through the injected `sleep`, so tests run instantly.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base

from dihub.settings import RetrySettings


class Transient(Exception):
    """One attempt failed in a way worth retrying (internal to dihub.http)."""

    def __init__(self, description: str, *, status: int | None = None,
                 wait_s: float | None = None, min_wait_s: float | None = None,
                 reason: str | None = None, rate_limited: bool = False,
                 final: bool = False, extra: dict | None = None):
        super().__init__(description)
        self.description = description
        self.status = status
        self.wait_s = wait_s
        self.min_wait_s = min_wait_s
        self.reason = reason
        self.rate_limited = rate_limited
        self.final = final              # do not retry (e.g. Retry-After beyond max_wait)
        self.extra = extra or {}


class BackoffWait(wait_base):
    """tenacity wait strategy: backoff_s with jitter, overridden by server hints."""

    def __init__(self, settings: RetrySettings, rand: Callable[[], float] = _random.random):
        self.backoff = [float(x) for x in settings.backoff_s] or [1.0]
        self.jitter = float(settings.jitter)
        self.rand = rand

    def backoff_for(self, retry_number: int) -> float:
        """The jittered delay before retry `retry_number` (1 = after the first failure)."""
        base = self.backoff[min(retry_number, len(self.backoff)) - 1]
        return base * (1.0 - self.jitter * self.rand())

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, Transient) and exc.wait_s is not None:
            return max(0.0, exc.wait_s)
        delay = self.backoff_for(retry_state.attempt_number)
        if isinstance(exc, Transient) and exc.min_wait_s is not None:
            delay = max(delay, exc.min_wait_s)
        return delay


def _retriable(exc: BaseException) -> bool:
    return isinstance(exc, Transient) and not exc.final


def retrying(*, attempts: int, wait: BackoffWait, sleep: Callable[[float], Any],
             before_sleep: Callable[[RetryCallState], None]) -> Retrying:
    """A tenacity Retrying for one call. Non-Transient exceptions pass straight through;
    after the last attempt the last Transient is re-raised."""
    return Retrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait,
        retry=retry_if_exception(_retriable),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
