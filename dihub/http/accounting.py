"""Accounting: counters for every request, audit entries for what is unusual.

Successful requests only go into the counters (requests, latency, 304s, quota);
retries, waits, failures, deferrals and breaker transitions each get an audit
entry too. Every string is redacted before it leaves this module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from dihub.models import AuditEntry
from dihub.redact import redact, redact_value
from dihub.timeutil import to_iso

log = logging.getLogger("dihub.http")

AuditFn = Callable[[AuditEntry], None]


class Recorder:
    def __init__(self, *, source: str, run_id: str, counters: Any = None,
                 audit: AuditFn | None = None, clock: Callable[[], float] = time.time):
        self.source = source
        self.run_id = run_id
        self.counters = counters
        self.audit_fn = audit
        self._clock = clock

    def bind(self, *, counters: Any = None, audit: AuditFn | None = None) -> Recorder:
        return Recorder(source=self.source, run_id=self.run_id, counters=counters,
                        audit=audit, clock=self._clock)

    # -- counters -------------------------------------------------------------------------
    def request(self, latency_ms: float, status: int | None) -> None:
        if self.counters is not None:
            self.counters.request(round(latency_ms, 2), status)

    def quota(self, remaining: int | None) -> None:
        if self.counters is not None and remaining is not None:
            self.counters.quota(max(0, remaining))

    # -- counters and audit ---------------------------------------------------------------
    def retry(self, *, method: str, path: str, attempt: int, wait_s: float,
              reason: str | None, error: str, status: int | None,
              rate_limited: bool, extra: dict | None = None) -> None:
        if self.counters is not None:
            self.counters.retry(transient=not rate_limited)
            if rate_limited:
                self.counters.wait(wait_s)
        self._audit("retry", "retried", error=error, detail={
            "method": method, "path": path, "attempt": attempt, "status": status,
            "wait_s": round(wait_s, 3), "reason": reason, **(extra or {})})

    def wait(self, *, method: str, path: str, wait_s: float, reason: str | None,
             audited: bool = True, extra: dict | None = None) -> None:
        if self.counters is not None:
            self.counters.wait(wait_s)
        if audited:
            self._audit("wait", "ok", detail={
                "method": method, "path": path, "wait_s": round(wait_s, 3),
                "reason": reason, **(extra or {})})

    def deferred(self, *, method: str, path: str, error: str, reset_at: float | None,
                 reason: str | None, extra: dict | None = None) -> None:
        self._audit("wait", "warning", error=error, detail={
            "method": method, "path": path, "reason": reason,
            "reset_at": to_iso(reset_at) if reset_at else None, **(extra or {})})

    def failure(self, *, method: str, path: str, status: int | None, error: str,
                kind: str) -> None:
        if self.counters is not None:
            self.counters.failure()
        self._audit("request", "failed", error=error, detail={
            "method": method, "path": path, "status": status, "error_type": kind})

    def breaker(self, old: str, new: str, doc: dict[str, Any]) -> None:
        outcome = "warning" if new == "open" else "ok"
        self._audit("breaker", outcome, detail={
            "from": old, "to": new, "failures": doc.get("failures"),
            "cooldown_s": doc.get("cooldown")})
        log.warning("%s: circuit breaker %s -> %s (%s consecutive failures)",
                    self.source, old, new, doc.get("failures"))

    def _audit(self, action: str, outcome: str, *, error: str | None = None,
               detail: dict | None = None) -> None:
        if self.audit_fn is None:
            return
        clean = {k: v for k, v in (detail or {}).items() if v is not None}
        entry = AuditEntry(run_id=self.run_id, source=self.source, action=action,
                           outcome=outcome, timestamp=to_iso(self._clock()) or "",
                           error=redact(error) if error else None,
                           detail=redact_value(clean) or None)
        try:
            self.audit_fn(entry)
        except Exception as exc:   # the audit log is a side channel: never fail a fetch
            log.warning("%s: could not write an audit entry: %s", self.source,
                        redact(exc))
