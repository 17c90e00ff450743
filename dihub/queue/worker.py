"""`dihub worker`: a Dramatiq worker in this process, N threads, until SIGTERM/Ctrl-C.

On SIGTERM or Ctrl-C the running passes stop at their next page (what was read is
written and checkpointed, the leases released) and their jobs are queued again, so
another worker continues them at once; jobs fetched but not started go back to the
queue. With `burst`, the worker also stops once no job is queued, delayed or running
on any worker (benchmarks, tests, a one-off catch-up).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

log = logging.getLogger("dihub.worker")

POLL_S = 0.5
WORKER_POLL_MS = 100          # the longest a consumer waits between two polls of Redis


def run_worker(config: Any, *, threads: int | None = None, burst: bool = False,
               stop: threading.Event | None = None, store: Any = None) -> int:
    """Run jobs until `stop` is set (or SIGTERM/SIGINT in the main thread; with `burst`,
    until the queue is drained). Returns how many jobs this worker ran."""
    from dramatiq import Worker

    from dihub.queue.broker import declare, describe, make_broker, queued
    from dihub.queue.jobs import Jobs

    settings = config.settings
    n = threads or settings.queue.threads
    stop = stop or threading.Event()
    broker = make_broker(settings)
    own_store = store is None
    if own_store:
        from dihub.store import open_configured_store

        store = open_configured_store(config)
    jobs = Jobs(config, store, broker)
    declare(broker, jobs.sync, jobs.inbox)
    # Take no more jobs than there are threads to run them (a job waiting behind a long
    # one here could run on an idle worker elsewhere); with no prefetch to hide it, the
    # consumer's idle poll is kept short so a free thread gets its next job at once.
    worker = Worker(broker, worker_threads=n, worker_timeout=WORKER_POLL_MS)
    worker.queue_prefetch = n
    previous = {}
    if threading.current_thread() is threading.main_thread():
        def handler(signum, frame):
            log.info("%s: finishing the pages in hand, then stopping",
                     signal.Signals(signum).name)
            stop.set()

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info("dihub worker: %d thread%s on %s", n, "" if n == 1 else "s", describe(settings))
    worker.start()
    try:
        while not stop.wait(POLL_S):
            if burst and jobs.running == 0 and queued(broker) == 0:
                time.sleep(POLL_S)          # a retry is queued before its job is acked
                if jobs.running == 0 and queued(broker) == 0:
                    break
    finally:
        jobs.stop()
        worker.stop(timeout=int(settings.lease_ttl_s * 1000))
        jobs.flush()
        broker.close()
        if own_store:
            store.close()
        for sig, old in previous.items():
            signal.signal(sig, old)
    log.info("dihub worker: stopped after %d job%s", jobs.done, "" if jobs.done == 1 else "s")
    return jobs.done
