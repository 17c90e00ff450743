"""Injected failures: random at a seeded rate (`Faults`), or scripted per path (`Script`).

A random decision depends only on (seed, method, request target, how many times
that target was requested before), so it does not change with thread timing or
with requests to other URLs, and a retry of the same URL is a fresh draw.
`max_consecutive` caps faults in a row on one target, so a client with a few
retries always gets through. Faulted responses never spend quota.

The kinds are those of every simulator; each simulator renders them with its own
bodies (its `fault_reply`), and "drop" and "truncated" are applied by the shared server.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .reply import Reply

RANDOM_KINDS = ("500", "502", "429", "secondary_403", "drop", "truncated")
KINDS = RANDOM_KINDS + ("503", "primary_403", "401", "404")
PASS = "pass"                  # a script item that lets the request through untouched


@dataclass
class Faults:
    """Random faults: each matching request fails with probability `rate`, the kind
    drawn uniformly from `kinds`. `retry_after` is the Retry-After seconds of 429 and
    secondary 403 (0 allowed). `paths` (regex, searched in the path) picks the
    requests that may fail; by default every API path, never the OAuth endpoints."""

    rate: float = 0.05
    kinds: tuple[str, ...] = RANDOM_KINDS
    seed: int = 1
    retry_after: float = 1
    paths: str = r"^/(?!login/)"
    max_consecutive: int = 3
    _seen: dict[str, int] = field(default_factory=lambda: defaultdict(int), repr=False)
    _streak: dict[str, int] = field(default_factory=lambda: defaultdict(int), repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError(f"fault rate must be within [0, 1], got {self.rate}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {KINDS}")
        self.kinds = tuple(self.kinds)
        self._paths = re.compile(self.paths)

    def draw(self, method: str, target: str, n: int) -> str | None:
        """The pure decision for the n-th request (0-based) to `target`."""
        digest = hashlib.blake2b(f"{self.seed}|{method}|{target}|{n}".encode(),
                                 digest_size=16).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= self.rate:
            return None
        return self.kinds[int.from_bytes(digest[8:], "big") % len(self.kinds)]

    def decide(self, method: str, path: str, target: str) -> str | None:
        """Fault kind for this request, or None; advances the per-target counters."""
        if not self._paths.search(path):
            return None
        with self._lock:
            n = self._seen[target]
            self._seen[target] = n + 1
            kind = self.draw(method, target, n)
            if kind and self._streak[target] >= self.max_consecutive:
                kind = None
            self._streak[target] = self._streak[target] + 1 if kind else 0
            return kind


class Script:
    """Forced responses for the next requests whose target (path + query) matches
    `pattern` (re.search). Items: a fault kind ("502", "401", "drop", ...), PASS, or a
    dict {status, body, headers} served as-is. Consumed in order, then inactive."""

    def __init__(self, pattern: str, responses: Iterable[str | dict[str, Any]],
                 method: str | None = None):
        self.pattern = re.compile(pattern)
        self.method = method.upper() if method else None
        self.pending: deque[str | dict[str, Any]] = deque(responses)
        for item in self.pending:
            if isinstance(item, str) and item not in KINDS and item != PASS:
                raise ValueError(f"unknown scripted response {item!r}; known: {KINDS}")
        self.served = 0

    @property
    def remaining(self) -> int:
        return len(self.pending)

    def take(self, method: str, target: str) -> str | dict[str, Any] | None:
        if not self.pending or (self.method and method != self.method):
            return None
        if not self.pattern.search(target):
            return None
        self.served += 1
        return self.pending.popleft()


def scripted_reply(item: dict[str, Any]) -> Reply:
    """A dict script item → Reply (status required; body JSON-able, str or bytes)."""
    return Reply(int(item["status"]), item.get("body"), dict(item.get("headers", {})),
                 item.get("content_type", "application/json; charset=utf-8"),
                 fault="scripted")


def seconds(value: float) -> str:
    """A Retry-After value: whole seconds as an integer ("1"), else as given ("0.5")."""
    return str(int(value)) if float(value).is_integer() else str(value)
