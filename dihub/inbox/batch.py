"""A batch of claimed webhook deliveries -> records, audit entries, outcomes, metrics.

Used by the inbox thread of `dihub serve` (dihub/serve/worker.py) and, in queue mode,
by the `dihub worker` job that processes a batch handed over to the queue
(dihub/queue/jobs.py). Each delivery is normalized (dihub/inbox/process.py); the
records of the batch are written in one `upsert_many` (key + signature: unchanged =
no write); the audit log gets one entry per source and kind; a delivery that fails
is retried after `serve.inbox.backoff_s[attempt]` seconds, up to `max_attempts`,
then it is `failed`. Records are written before a delivery is marked done, so a
crash at any point processes it again (idempotently), never loses it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any

from dihub.inbox.process import Processor, Work
from dihub.models import AuditEntry, RunMetrics
from dihub.store.base import UpsertResult
from dihub.timeutil import now_iso, to_iso

log = logging.getLogger("dihub.serve")

LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Stats:
    """Process-wide counters for /metrics (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: Counter = Counter()     # (kind, source) -> accepted and stored
        self.duplicates: Counter = Counter()
        self.rejected: Counter = Counter()     # (kind, reason)
        self.processed: Counter = Counter()    # (kind, source)
        self.failed: Counter = Counter()
        self.lag_buckets = [0] * len(LAG_BUCKETS)
        self.lag_count = 0
        self.lag_sum = 0.0
        self.last_lag_s = 0.0

    def inc(self, counter: str, key: tuple, n: int = 1) -> None:
        with self.lock:
            getattr(self, counter)[key] += n

    def observe_lag(self, seconds: float) -> None:
        with self.lock:
            self.lag_count += 1
            self.lag_sum += seconds
            self.last_lag_s = seconds
            for i, bound in enumerate(LAG_BUCKETS):
                if seconds <= bound:
                    self.lag_buckets[i] += 1


class InboxBatches:
    """Processes claimed deliveries for one process (`run_id` names it in the audit
    log); `flush_metrics` writes one RunMetrics row per source per minute."""

    def __init__(self, cfg: Any, store: Any, stats: Stats, run_id: str):
        self.cfg, self.store, self.stats, self.run_id = cfg, store, stats, run_id
        self.settings = cfg.settings.serve.inbox
        self.processor = Processor(cfg, store)
        self._written: dict[tuple[str, str], list] = {}   # (source, kind) -> totals
        self._last_flush = time.monotonic()

    def process_batch(self, batch: list[dict[str, Any]]) -> int:
        """Process claimed deliveries: records, audit, outcomes. Returns len(batch)."""
        s = self.settings
        upserts: dict[str, dict[str, Any]] = {}
        insert_only: dict[str, dict[str, Any]] = {}
        done, failures = [], []
        for d in batch:
            try:
                work: Work = self.processor.records_for(d)
            except Exception as exc:   # noqa: BLE001 - every failure is recorded and retried
                failures.append((d, exc))
                continue
            for doc in work.upserts:
                upserts[doc["_id"]] = doc
            for doc in work.insert_only:
                insert_only.setdefault(doc["_id"], doc)
            done.append(d)
        written = UpsertResult()
        if upserts:
            written += self.store.upsert_many(list(upserts.values()))
        if insert_only:
            fresh = []
            by_entity: dict[str, list[dict[str, Any]]] = {}
            for doc in insert_only.values():
                if doc["_id"] not in upserts:
                    by_entity.setdefault(doc["entity"], []).append(doc)
            for entity, docs in by_entity.items():
                stored = self.store.existing_ids(entity, [d["_id"] for d in docs])
                fresh += [d for d in docs if d["_id"] not in stored]
            if fresh:
                written += self.store.upsert_many(fresh)
        now = time.time()
        outcomes = []
        for d in done:
            outcomes.append({"id": d["id"], "status": "done", "attempts": d["attempts"] + 1,
                             "processed_ts": now, "drop_body": self._drop_body(d)})
        for d, exc in failures:
            attempts = d["attempts"] + 1
            gave_up = attempts >= s.max_attempts
            delay = s.backoff_s[min(attempts - 1, len(s.backoff_s) - 1)] if s.backoff_s else 1
            outcomes.append({"id": d["id"], "status": "failed" if gave_up else "pending",
                             "attempts": attempts, "next_attempt_ts": now + delay,
                             "error": f"{type(exc).__name__}: {exc}"[:2000]})
        self._audit(batch, done, failures, written)
        self.store.inbox_finish(outcomes)
        for d in done:
            self.stats.inc("processed", (d["kind"], d["source"]))
            self.stats.observe_lag(now - d["received_ts"])
        for d, _ in failures:
            self.stats.inc("failed", (d["kind"], d["source"]))
        return len(batch)

    def _drop_body(self, d: dict[str, Any]) -> bool:
        config = self.cfg.sources.get(d["source"])
        return d["kind"] == "slack" and not getattr(config, "store_text", False)

    def _audit(self, batch: list, done: list, failures: list, written: UpsertResult) -> None:
        ts = now_iso()
        per_source = Counter((d["source"], d["kind"]) for d in done)
        for (source, kind), n in per_source.items():
            events = Counter(d.get("event") or "?" for d in done if d["source"] == source)
            share = n == len(done)   # the write counts are per batch; exact for one source
            self.store.append_audit(AuditEntry(
                run_id=self.run_id, source=source, stream="webhooks", action="webhook",
                outcome="ok", records=n, timestamp=ts,
                inserted=written.inserted if share else 0,
                updated=written.updated if share else 0,
                unchanged=written.unchanged if share else 0,
                detail={"kind": kind, "deliveries": n, "events": dict(events)}))
            totals = self._written.setdefault((source, kind), [0, 0, 0, 0, 0])
            totals[0] += n
            if share:
                totals[1] += written.inserted
                totals[2] += written.updated
                totals[3] += written.unchanged
        for d, exc in failures:
            self._written.setdefault((d["source"], d["kind"]), [0, 0, 0, 0, 0])[4] += 1
            self.store.append_audit(AuditEntry(
                run_id=self.run_id, source=d["source"], stream="webhooks", action="webhook",
                outcome="failed" if d["attempts"] + 1 >= self.settings.max_attempts
                else "retried", timestamp=ts, error=f"{type(exc).__name__}: {exc}"[:2000],
                detail={"kind": d["kind"], "delivery": d["id"], "event": d.get("event"),
                        "attempt": d["attempts"] + 1}))

    def flush_metrics(self, force: bool = False) -> None:
        """One RunMetrics row per source per minute (`dihub metrics`, the dashboard)."""
        elapsed = time.monotonic() - self._last_flush
        if not self._written or (elapsed < 60 and not force):
            return
        finished = now_iso()
        started = to_iso(time.time() - elapsed)
        for (source, _kind), (n, ins, upd, unch, fails) in self._written.items():
            try:
                self.store.record_metrics(RunMetrics(
                    run_id=self.run_id, source=source, stream="webhooks", started_at=started,
                    finished_at=finished, duration_s=round(elapsed, 3),
                    outcome="ok" if not fails else "partial", records=n, inserted=ins,
                    updated=upd, unchanged=unch, failures=fails))
            except Exception as exc:   # noqa: BLE001
                log.warning("webhook metrics: %s", exc)
        self._written.clear()
        self._last_flush = time.monotonic()
