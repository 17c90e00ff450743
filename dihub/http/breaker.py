"""A circuit breaker per upstream whose state outlives the process.

dihub runs as one-shot cron processes, so an in-memory breaker would forget
every minute that the upstream was failing. The state is a small document kept
with `store.get_meta(key)` / `store.put_meta(key, value)`:

    {"state": "closed" | "open" | "half_open", "failures": int,
     "opened_at": epoch | None, "cooldown": seconds}

* closed: calls go through; each failed call (after its retries) adds one to
  `failures`, a successful one resets it; at `breaker.failures` it opens.
* open: `check()` raises UpstreamUnavailable without calling the upstream,
  until `cooldown` seconds after `opened_at`.
* half_open: one probe call is let through (other threads of this process wait
  for its outcome); success closes the breaker, failure opens it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from dihub.errors import UpstreamUnavailable
from dihub.settings import BreakerSettings
from dihub.timeutil import to_iso

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class MetaStore(Protocol):
    def get_meta(self, key: str) -> dict[str, Any] | None: ...

    def put_meta(self, key: str, value: dict[str, Any]) -> None: ...


class MemoryMetaStore:
    """A dict-backed meta store: the default without a Store, and for tests."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get_meta(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            value = self.data.get(key)
            return dict(value) if value is not None else None

    def put_meta(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self.data[key] = dict(value)


def breaker_key(source: str, host: str) -> str:
    return f"http.breaker:{source}:{host}"


Transition = Callable[[str, str, dict[str, Any]], None]   # (old, new, doc)


class CircuitBreaker:
    def __init__(self, key: str, settings: BreakerSettings, *, store: MetaStore | None = None,
                 clock: Callable[[], float] = time.time, name: str = "upstream",
                 on_transition: Transition | None = None, probe_wait_s: float = 60.0):
        self.key = key
        self.settings = settings
        self.store = store if store is not None else MemoryMetaStore()
        self.name = name                      # "<source> (<host>)" for messages
        self._clock = clock
        self._on_transition = on_transition
        self._probe_wait_s = probe_wait_s
        self._doc: dict[str, Any] | None = None
        self._probing = False
        self._cond = threading.Condition()

    # -- state ----------------------------------------------------------------------------
    def _fresh(self) -> dict[str, Any]:
        return {"state": CLOSED, "failures": 0, "opened_at": None,
                "cooldown": self.settings.cooldown_s}

    def _load(self, force: bool = False) -> dict[str, Any]:
        if self._doc is None or force:
            doc = self.store.get_meta(self.key) or {}
            merged = self._fresh()
            merged.update({k: v for k, v in doc.items() if k in merged})
            if merged["state"] not in (CLOSED, OPEN, HALF_OPEN):
                merged["state"] = CLOSED
            self._doc = merged
        return self._doc

    def _save(self, **changes: Any) -> None:
        doc = self._load()
        old = doc["state"]
        doc.update(changes)
        self.store.put_meta(self.key, dict(doc))
        if doc["state"] != old and self._on_transition is not None:
            self._on_transition(old, doc["state"], dict(doc))

    @property
    def state(self) -> str:
        with self._cond:
            return self._load()["state"]

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return dict(self._load())

    # -- the protocol around a call ---------------------------------------------------------
    def check(self) -> bool:
        """Before a call. Returns True when this call is the half-open probe.

        Raises UpstreamUnavailable while the breaker is open (no request is made).
        """
        with self._cond:
            doc = self._load()
            if doc["state"] != CLOSED:
                doc = self._load(force=True)    # another process may have closed it
            deadline = None
            while True:
                state = doc["state"]
                if state == CLOSED:
                    return False
                now = self._clock()
                reopen_at = float(doc["opened_at"] or 0) + float(doc["cooldown"])
                if state == OPEN and now < reopen_at:
                    raise self._unavailable(doc, reopen_at)
                if not self._probing:
                    self._probing = True
                    if state != HALF_OPEN:
                        self._save(state=HALF_OPEN)
                    return True
                # another thread is probing: wait for its outcome, then look again
                if deadline is None:
                    deadline = time.monotonic() + self._probe_wait_s
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise UpstreamUnavailable(
                        f"{self.name}: still probing whether the upstream is back",
                        hint="Another request is checking the upstream; cron will retry.")
                self._cond.wait(remaining)
                doc = self._load()

    def success(self, probe: bool = False) -> None:
        with self._cond:
            doc = self._load()
            if doc["state"] != CLOSED or doc["failures"]:
                self._save(state=CLOSED, failures=0, opened_at=None)
            if probe:
                self._probing = False
            self._cond.notify_all()

    def failure(self, probe: bool = False) -> None:
        with self._cond:
            doc = self._load()
            failures = int(doc["failures"]) + 1
            if probe or (doc["state"] != OPEN and failures >= self.settings.failures):
                self._save(state=OPEN, failures=failures, opened_at=self._clock(),
                           cooldown=self.settings.cooldown_s)
            else:
                self._save(failures=failures)
            if probe:
                self._probing = False
            self._cond.notify_all()

    def release(self, probe: bool = False) -> None:
        """The call ended neither way (e.g. rate limited): let the next call probe."""
        if not probe:
            return
        with self._cond:
            self._probing = False
            self._cond.notify_all()

    def _unavailable(self, doc: dict[str, Any], reopen_at: float) -> UpstreamUnavailable:
        since = to_iso(doc["opened_at"]) if doc["opened_at"] else "earlier"
        return UpstreamUnavailable(
            f"{self.name} is marked unavailable: {doc['failures']} consecutive failed "
            f"requests, breaker open since {since}; the next attempt is allowed after "
            f"{to_iso(reopen_at)}",
            hint="Nothing was requested; cron will retry after the cooldown "
                 "(http.breaker.cooldown_s). Check the upstream's status page.")
