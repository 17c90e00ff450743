"""GitHub's primary rate-limit quota (the request statistics are the shared
tests.simulators.common.stats)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Quota:
    """GitHub's primary limit for the `core` resource: `limit` per window.

    The window opens at the first use and resets on the wall clock after
    `window_s` (x-ratelimit-reset is that instant in epoch seconds). Tests set
    the state directly with `set(...)` / `reset()` instead of waiting.
    """

    def __init__(self, limit: int = 5000, window_s: float = 3600.0,
                 clock: Callable[[], float] = time.time):
        self.limit, self.window_s, self._clock = limit, window_s, clock
        self._lock = threading.Lock()
        self.used = 0
        self.reset_at = int(clock() + window_s)
        self.spent_total = 0                 # across windows, for stats

    def _roll(self) -> None:
        if self._clock() >= self.reset_at:
            self.used = 0
            self.reset_at = int(self._clock() + self.window_s)

    @property
    def remaining(self) -> int:
        with self._lock:
            self._roll()
            return max(self.limit - self.used, 0)

    def exhausted(self) -> bool:
        return self.remaining == 0

    def spend(self, units: int = 1) -> None:
        with self._lock:
            self._roll()
            self.used = min(self.used + units, self.limit)
            self.spent_total += units

    def set(self, *, remaining: int | None = None, reset_in: float | None = None) -> None:
        """Force the state, e.g. `set(remaining=0, reset_in=1)` to test waiting."""
        with self._lock:
            if remaining is not None:
                self.used = max(self.limit - remaining, 0)
            if reset_in is not None:
                self.reset_at = int(self._clock() + reset_in)

    def reset(self) -> None:
        with self._lock:
            self.used = 0
            self.reset_at = int(self._clock() + self.window_s)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            self._roll()
            return {"limit": self.limit, "used": self.used,
                    "remaining": max(self.limit - self.used, 0), "reset": self.reset_at}

    def headers(self, *, exhausted: bool = False) -> dict[str, str]:
        snap = self.snapshot()
        if exhausted:
            snap.update(remaining=0, used=snap["limit"])
        return {"x-ratelimit-limit": str(snap["limit"]),
                "x-ratelimit-remaining": str(snap["remaining"]),
                "x-ratelimit-used": str(snap["used"]),
                "x-ratelimit-reset": str(snap["reset"]),
                "x-ratelimit-resource": "core"}
