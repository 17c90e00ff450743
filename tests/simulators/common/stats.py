"""Request statistics every simulator keeps: one `Record` per request, totals in `Stats`."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any


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
