"""What a `dihub worker` does with a job: a pass of one partition, or a batch of webhook
deliveries. One `Jobs` per worker process, shared by its threads (and its one store)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from dihub.errors import EXIT_TEMPFAIL, DihubError

log = logging.getLogger("dihub.worker")


class Jobs:
    def __init__(self, config: Any, store: Any, broker: Any):
        self.config, self.store, self.broker = config, store, broker
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._runners: set[Any] = set()
        self._inbox: Any = None
        self.done = 0                     # jobs that ended (any outcome), for the log

    def stop(self) -> None:
        """Every running pass stops at its next page (written and checkpointed); its job
        is queued again for another worker. Jobs not started yet are not run here."""
        self.stopping.set()
        with self._lock:
            for runner in self._runners:
                runner.stop("SIGTERM")

    def flush(self) -> None:
        """Write the webhook metrics not written yet (the worker is stopping)."""
        if self._inbox is not None:
            self._inbox.flush_metrics(force=True)

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._runners)

    # -- a pass of one partition -------------------------------------------------
    def sync(self, source: str, stream: str, partition: str, full_refresh: bool = False
             ) -> None:
        """The job: one pass of the partition, its outcome in the audit log and the
        worker's log. A temporary failure (exit 75: busy, rate limited, lease lost,
        stopping) raises Retry, so the queue runs it again later."""
        from dramatiq import Retry

        from dihub.connectors.registry import load_connector
        from dihub.engine.runner import PassOptions, Runner
        from dihub.queue.enqueue import pending_key

        self.broker.client.delete(pending_key(self.broker.namespace, source, stream, partition))
        if self.stopping.is_set():
            raise Retry("the worker is stopping", delay=1000)
        label = f"{source}/{stream} [{partition}]"
        try:
            source_cfg = self.config.source(source)
            connector = load_connector(source_cfg.connector)
            stream_obj = connector.streams[stream]
        except (DihubError, KeyError) as err:
            log.error("%s: not run: %s", label, err)    # the config changed: drop the job
            return
        settings = self.config.settings
        options = PassOptions(full_refresh=full_refresh, batch_size=settings.store.batch_size,
                              lease_ttl_s=settings.lease_ttl_s, concurrency=1,
                              raw_payloads=settings.store.raw_payloads.enabled)
        runner = Runner(self.store, source, source_cfg, settings, options=options,
                        connector=connector)
        with self._lock:
            self._runners.add(runner)
        try:
            if self.stopping.is_set():
                runner.stop("SIGTERM")
            results = runner.run_stream(stream_obj, [partition])
        finally:
            with self._lock:
                self._runners.discard(runner)
            runner.close()
            self.done += 1
        result = results[0] if results else None
        if result is None:
            return
        log.info("%s: %s, %d records (run %s)%s", label, result.outcome, result.records,
                 runner.run_id, f": {result.error}" if result.error else "")
        if runner.stopped_by:
            raise Retry("the worker stopped; another continues from the checkpoint",
                        delay=1000)
        if result.outcome == "busy":
            raise Retry(f"{label} is busy", delay=_busy_delay_ms(result.error))
        if result.outcome == "failed" and getattr(result.error, "exit_code", 1) == EXIT_TEMPFAIL:
            reset_at = getattr(result.error, "reset_at", None)
            delay = int(max(1.0, reset_at - time.time()) * 1000) if reset_at else None
            raise Retry(f"{label}: {result.error}", delay=delay)

    # -- webhook deliveries ------------------------------------------------------
    def inbox(self, ids: list[int]) -> None:
        """Process the deliveries `dihub serve` claimed and handed over (those still
        pending: a delivery processed meanwhile is not processed again)."""
        from dihub.engine.runner import new_run_id
        from dihub.inbox.batch import InboxBatches, Stats

        with self._lock:
            if self._inbox is None:
                self._inbox = InboxBatches(self.config, self.store, Stats(),
                                           "worker-" + new_run_id())
            inbox = self._inbox
        batch = [d for d in (self.store.inbox_get(i) for i in ids)
                 if d is not None and d["status"] == "pending"]
        n = inbox.process_batch(batch) if batch else 0
        inbox.flush_metrics()        # one metrics row per source per minute, as serve writes
        self.done += 1
        log.info("webhook deliveries: %d processed of %d handed over", n, len(ids))


def _busy_delay_ms(err: Any) -> int:
    """Until the holder's lease expires (by this host's clock, + 1 s): a holder that is
    alive renews it and the job finds it busy again; a dead one's expires and the job
    takes the partition over from its last checkpoint."""
    from dihub.timeutil import parse

    until = getattr(err, "until", None)
    try:
        left = parse(until).timestamp() - time.time() if until else 0.0
    except (TypeError, ValueError):
        left = 0.0
    return int((max(0.0, left) + 1.0) * 1000)
