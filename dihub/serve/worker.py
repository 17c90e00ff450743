"""The inbox worker: stored deliveries -> records, asynchronously, with retries.

One thread per server process. Each round claims up to `serve.inbox.batch` due
deliveries (a claim expires after `claim_s`, so a crashed process's deliveries are
taken again) and processes them (dihub/inbox/batch.py: normalize, write their records
in one `upsert_many` (key + signature: unchanged = no write), audit, mark them done).
A delivery that fails is retried after `backoff_s[attempt]` seconds, up to
`max_attempts`; then it is `failed`, listed by `dihub webhooks list --failed` and
put back by `dihub webhooks replay ID`. Processed deliveries are deleted after
`retention_days`; a Slack delivery's body is dropped once processed when the
source does not `store_text`. Records are written before a delivery is marked
done, so a crash at any point processes it again (idempotently), never loses it.

With a queue configured (`queue.url`, see dihub/queue), the thread hands each
claimed batch to the queue instead (one job with the deliveries' ids) and a
`dihub worker` processes it the same way (dihub/inbox/batch.py). The hand-off claim
lasts `max(claim_s, 10 * queue.redelivery_s)`: a job lost with its worker is
delivered again by the queue within that time; should the queue lose it, the
claim expires and the batch is handed over again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from dihub.engine.runner import new_run_id
from dihub.inbox.batch import LAG_BUCKETS, InboxBatches, Stats

__all__ = ["LAG_BUCKETS", "InboxWorker", "Stats"]

log = logging.getLogger("dihub.serve")


class InboxWorker(threading.Thread):
    def __init__(self, cfg: Any, store: Any, stats: Stats):
        super().__init__(name="dihub-inbox", daemon=True)
        self.cfg, self.store, self.stats = cfg, store, stats
        self.settings = cfg.settings.serve.inbox
        self.owner = f"{os.environ.get('DIHUB_HOSTNAME') or socket.gethostname()} pid {os.getpid()}"
        self._handoff: Any = None          # the queue's inbox actor, in queue mode
        if getattr(getattr(cfg.settings, "queue", None), "url", None):
            from dihub.queue import INBOX_ACTOR
            from dihub.queue.broker import declare, make_broker

            self._handoff = declare(make_broker(cfg.settings))[INBOX_ACTOR]
        self.run_id = "serve-" + new_run_id()
        self.batches = InboxBatches(cfg, store, stats, self.run_id)
        self.stopping = threading.Event()
        self.idle = threading.Event()
        self._last_purge = 0.0

    def stop(self, timeout: float) -> None:
        """Finish the batch in hand, then stop (SIGTERM drain)."""
        self.stopping.set()
        self.join(timeout)

    def run(self) -> None:
        if self.stopping.wait(self.settings.start_delay_s):
            return
        while not self.stopping.is_set():
            try:
                n = self.process_once()
            except Exception as exc:   # noqa: BLE001 - the store is down: try again later
                log.warning("webhook inbox: %s: %s", type(exc).__name__, exc)
                n = 0
                self.stopping.wait(min(5.0, self.settings.poll_interval_s * 10))
            if n == 0:
                self.idle.set()
                self.stopping.wait(self.settings.poll_interval_s)
            else:
                self.idle.clear()
            self._maintenance()
        self.batches.flush_metrics(force=True)

    def process_once(self) -> int:
        s = self.settings
        if self._handoff is not None:
            claim_s = max(s.claim_s, 10 * self.cfg.settings.queue.redelivery_s)
            batch = self.store.inbox_claim(time.time(), s.batch, claim_s, self.owner)
            if batch:
                self._handoff.send([d["id"] for d in batch])
            return len(batch)
        batch = self.store.inbox_claim(time.time(), s.batch, s.claim_s, self.owner)
        if not batch:
            return 0
        return self.batches.process_batch(batch)

    def _maintenance(self) -> None:
        self.batches.flush_metrics()
        now = time.time()
        if now - self._last_purge > 600:
            self._last_purge = now
            try:
                self.store.inbox_purge(now - self.settings.retention_days * 86400)
            except Exception as exc:   # noqa: BLE001
                log.warning("webhook inbox purge: %s", exc)
