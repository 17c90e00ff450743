"""The simulator's counters: the primary rate-limit quota and the request statistics."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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


@dataclass
class Record:
    """One request as the simulator saw it (kept in `Stats.log`, newest last)."""

    method: str
    path: str
    query: str
    route: str
    status: int | None                   # None: the connection was dropped
    fault: str | None
    spent: bool
    headers: dict[str, str] = field(repr=False, default_factory=dict)


class Stats:
    """Requests served: totals, by path, by route template, by status, faults, quota."""

    def __init__(self, log_size: int = 10_000):
        self._lock = threading.Lock()
        self._log_size = log_size
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.by_path: Counter[str] = Counter()
            self.by_route: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.faults: Counter[str] = Counter()
            self.not_modified = 0
            self.quota_spent = 0
            self.log: deque[Record] = deque(maxlen=self._log_size)

    def record(self, rec: Record) -> None:
        with self._lock:
            self.requests += 1
            self.by_path[rec.path] += 1
            self.by_route[f"{rec.method} {rec.route}"] += 1
            if rec.status is not None:
                self.by_status[rec.status] += 1
            if rec.fault:
                self.faults[rec.fault] += 1
            if rec.status == 304:
                self.not_modified += 1
            if rec.spent:
                self.quota_spent += 1
            self.log.append(rec)

    def requests_to(self, path_part: str) -> list[Record]:
        """Logged requests whose path contains `path_part`."""
        with self._lock:
            return [r for r in self.log if path_part in r.path]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self.requests, "by_path": dict(self.by_path),
                    "by_route": dict(self.by_route),
                    "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                    "faults": dict(self.faults), "not_modified": self.not_modified,
                    "quota_spent": self.quota_spent}
