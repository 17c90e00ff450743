"""Thread-safe counters for one (run, source, stream): what run metrics are made of.

The HTTP layer calls `request`, `retry`, `wait`, `quota`; the engine reads
`snapshot()` when it writes RunMetrics.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return round(sorted_values[idx], 2)


@dataclass
class Counters:
    requests: int = 0
    retries: int = 0
    not_modified: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    failures: int = 0
    transient_retries: int = 0      # of `retries` (not in snapshot())
    quota_remaining: int | None = None
    latencies_ms: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def request(self, latency_ms: float, status: int | None = None) -> None:
        with self._lock:
            self.requests += 1
            self.latencies_ms.append(latency_ms)
            if status == 304:
                self.not_modified += 1

    def retry(self, transient: bool = False) -> None:
        """One retry; `transient`: of a 5xx, a dropped connection or a broken body (not
        of a rate limit)."""
        with self._lock:
            self.retries += 1
            if transient:
                self.transient_retries += 1

    def failure(self) -> None:
        with self._lock:
            self.failures += 1

    def wait(self, seconds: float) -> None:
        with self._lock:
            self.rate_limit_waits += 1
            self.rate_limit_wait_s += seconds

    def quota(self, remaining: int) -> None:
        with self._lock:
            self.quota_remaining = remaining

    def snapshot(self) -> dict:
        with self._lock:
            lat = sorted(self.latencies_ms)
            return {
                "requests": self.requests,
                "retries": self.retries,
                "not_modified": self.not_modified,
                "rate_limit_waits": self.rate_limit_waits,
                "rate_limit_wait_s": round(self.rate_limit_wait_s, 3),
                "failures": self.failures,
                "quota_remaining": self.quota_remaining,
                "latency_p50_ms": percentile(lat, 0.50),
                "latency_p95_ms": percentile(lat, 0.95),
                "latency_p99_ms": percentile(lat, 0.99),
            }
