"""One sync pass:

    lease → load state → for each page: normalize → key + signature → upsert
    the batch → checkpoint the cursor → audit → metrics → release the lease.

Records are always written before the cursor that covers them is saved, and
upserts are idempotent, so a crash anywhere loses nothing and duplicates
nothing (at-least-once delivery + idempotent writes).

Pages wait in the buffer until `batch_size` records (a page whose items would take
the buffer past it is preceded by a write), or until the pages buffered weigh
`batch_bytes` (their upstream payload size, which the HTTP layer measures anyway;
pages that report no size count by records only), so a run of fat pages (long
descriptions, embedded histories) is not held in memory a thousand records at a
time. A page that carries a cursor is also written, with the pages before it, once
they hold half a batch (a partition holding up to a whole one, with four partitions
at once, raised a Slack sync's peak RSS with the size of its channels:
BENCHMARKS.md), once the oldest unwritten page has waited `checkpoint_s`
(`store.checkpoint_s`, 2 s; 0 writes every such page at once), and before the HTTP
client waits a second or more (a rate limit, a retry's backoff: dihub/waits.py).
Each write is one transaction per entity, and a transaction rewrites the index pages
its records touch: written page by page, they were a third of a first sync's CPU
(BENCHMARKS.md). A run stopped by a signal (SIGTERM, Ctrl-C, exit 75) writes and
checkpoints every page it read; one killed outright (SIGKILL, a crash) reads again
at most the pages of its last `checkpoint_s` (and at most half of `batch_size`
records), and loses nothing.

Every state write and checkpoint carries the partition's lease (owner and
generation): once the lease has passed to another run (it expired while this run
was slow), the store refuses the write (LeaseLost, exit 75) and the partition
stops without writing more, so a stale cursor never replaces the new holder's.
Records are written only after the lease was renewed for that batch (the renewal is
fenced the same way), so a run that lost its lease writes no record either. A
heartbeat thread renews the lease every `lease_ttl_s / 3` while the pass runs, also
through long waits (a rate-limit pause longer than the TTL); when a renewal finds the
lease passed on, the pass stops at its next page. A lease held by a process that is
gone is taken over at once on the same host, and once it expires (`lease_ttl_s`,
by the store's clock) from any other host. The host is the machine's name, or
$DIHUB_HOSTNAME when set (containers that share a name, tests).

The run's connector session (`Connector.open(run)`, see dihub/connectors/session.py)
is opened at the first stream and closed when the run ends: `Runner.run(streams)` and
`with Runner(...)` close it in a `finally`; a Runner driven stream by stream through
`run_stream` closes it with `close()` (or, failing that, when it is collected). Every
stream's partitions, fetch and normalize receive a view of it bound to the stream.

Ctrl-C and SIGTERM (`Runner.interrupt`) stop every running partition at its next
page. A write and its checkpoint are shielded: a signal that arrives during one
takes effect when it is done, so the counts in the audit log are what was written.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dihub import waits
from dihub.connectors.stream import Context, Page, Stream
from dihub.engine import schedule
from dihub.engine.counters import Counters
from dihub.errors import (
    DihubError,
    FatalError,
    LeaseHeld,
    PartitionSkipped,
    SkippableRecord,
    TemporaryError,
)
from dihub.malloc import limit_arenas
from dihub.models import AuditEntry, RunMetrics, SyncState
from dihub.models.documents import as_records, to_document
from dihub.models.lease import Lease
from dihub.models.plain import PlainRecord
from dihub.store.base import UpsertResult
from dihub.store.errors import LeaseLost
from dihub.timeutil import now_iso

log = logging.getLogger("dihub.engine")

# A stream's pool has a thread for each partition that may be under way, so partitions
# that have not started can take the places of those that wait (dihub/engine/schedule.py).
_THREADS_PER_PLACE = schedule.Slots.UNDER_WAY

Progress = Callable[..., None]


@dataclass
class PassOptions:
    full_refresh: bool = False
    dry_run: bool = False
    batch_size: int = 1000
    batch_bytes: int | None = None   # None: `store.batch_bytes` of the settings (8 MiB)
    checkpoint_s: float | None = None  # None: `store.checkpoint_s` of the settings (2 s)
    lease_ttl_s: float = 600
    concurrency: int = 4
    raw_payloads: bool = False


@dataclass
class PartitionResult:
    source: str
    stream: str
    partition: str
    outcome: str = "ok"             # ok | failed | skipped | busy
    records: int = 0                # upstream items read (of the stream's entity)
    written: UpsertResult = field(default_factory=UpsertResult)
    error: DihubError | None = None
    entity: str = ""                # the stream's entity: what `records` counts
    by_entity: dict[str, UpsertResult] = field(default_factory=dict)   # `written`, per entity
    total: int | None = None        # items this pass will read, when the upstream says

    @property
    def label(self) -> str:
        return f"{self.source}/{self.stream}" + ("" if self.partition == "*" else
                                                 f" [{self.partition}]")


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + os.urandom(3).hex()


def hostname() -> str:
    """The host named in lease owners: $DIHUB_HOSTNAME, else the machine's name."""
    return os.environ.get("DIHUB_HOSTNAME") or socket.gethostname()


def lease_owner(run_id: str) -> str:
    return f"{hostname()} pid {os.getpid()} run {run_id}"


class Heartbeat:
    """Renews one partition's lease every `ttl_s / 3` from a thread while its pass runs,
    so a long wait (a rate-limit pause, a slow upstream) does not let it expire. `box[0]`
    is the current lease; renewals replace it. Once a renewal finds the lease passed on
    (LeaseLost), `lost` is set and renewals stop: the pass stops at its next page. A
    store that fails to answer is asked again at the next beat (the lease lasts ttl_s)."""

    def __init__(self, store: Any, box: list[Lease | None], ttl_s: float, label: str):
        self.store, self.box, self.ttl_s, self.label = store, box, ttl_s, label
        self.lost: LeaseLost | None = None
        self.beats = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()      # one renewal at a time (beat or write)
        self._thread = threading.Thread(target=self._run, name=f"dihub-lease {label}",
                                        daemon=True)

    def __enter__(self) -> Heartbeat:
        if self.box[0] is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def renew(self) -> Lease:
        """Renew now (also from the pass, before it writes records); LeaseLost if lost."""
        with self._lock:
            if self.lost is not None:
                raise self.lost
            try:
                self.box[0] = self.store.renew_lease(self.box[0], self.ttl_s)
            except LeaseLost as lost:
                self.lost = lost
                raise
            return self.box[0]

    def _run(self) -> None:
        while not self._stop.wait(max(0.05, self.ttl_s / 3)):
            try:
                self.renew()
                self.beats += 1
            except LeaseLost as lost:
                log.warning("%s", lost)
                return
            except Exception as exc:   # noqa: BLE001 - the store is down: try at the next beat
                log.warning("%s: the lease was not renewed (%s: %s); trying again",
                            self.label, type(exc).__name__, exc)


class Runner:
    """Runs passes for one source. Knows the Stream and Store protocols only."""

    def __init__(self, store, source: str, source_config: Any, settings: Any, *,
                 run_id: str | None = None, options: PassOptions | None = None,
                 progress: Progress | None = None, secrets: Any = None,
                 connector: Any = None):
        limit_arenas()      # before the partitions' threads start (dihub/malloc.py)
        self.store = store
        self.source = source
        self.source_config = source_config
        self.settings = settings
        self.run_id = run_id or new_run_id()
        self.options = options or PassOptions()
        self.progress = progress or (lambda *a, **k: None)
        # a stream counts what it will read only for a display that shows it
        self._wants_totals = bool(getattr(progress, "wants_totals", progress is not None))
        self.owner = lease_owner(self.run_id)
        self.secrets = secrets
        self.connector = connector         # None: the one `source_config.connector` names
        self._sessions: list[Any] = []     # the run's session, once opened
        self._session_lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _close_sessions, self._sessions)
        self.results: list[PartitionResult] = []   # every partition's result, as they end
        self.stopped_by: str | None = None   # "SIGINT" / "SIGTERM" once interrupt() was called
        self._stop = threading.Event()     # set on Ctrl-C: running partitions stop at a page
        self._shield = 0                   # > 0 while the main thread writes a batch
        self._deferred = False             # a signal arrived while shielded
        self._running: dict[tuple[str, str], PartitionResult] = {}   # (stream, partition)
        self._slots = schedule.Slots(self.options.concurrency)   # partitions working at once

    # -- signals -------------------------------------------------------------
    def interrupt(self, signal_name: str = "SIGINT") -> None:
        """Called from a signal handler (main thread): stop at the next page.

        Raises KeyboardInterrupt at once, unless the main thread is writing a batch
        and its checkpoint: then it is raised as soon as that write is done."""
        self.stopped_by = self.stopped_by or signal_name
        self._stop.set()
        if self._shield and threading.current_thread() is threading.main_thread():
            self._deferred = True
            return
        raise KeyboardInterrupt(signal_name)

    @contextmanager
    def _shielded(self) -> Iterator[None]:
        """No interrupt() takes effect inside; one that arrived is raised on leaving."""
        main = threading.current_thread() is threading.main_thread()
        if main:
            self._shield += 1
        try:
            yield
        finally:
            if main:
                self._shield -= 1
        if main and not self._shield and self._deferred:
            self._deferred = False
            raise KeyboardInterrupt(self.stopped_by or "SIGINT")

    # -- the run's session ---------------------------------------------------
    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, streams: list[Stream]) -> list[PartitionResult]:
        """Run `streams` in one session, closed in a finally: together, or one after the
        other with a concurrency of 1. Together, as many partitions work at once as the
        widest stream has, at least two, at most `concurrency` (a run of one or two
        repositories works on two, whichever streams they are of), and a partition that
        waits lends its place (dihub/engine/schedule.py). Results come in the streams'
        order."""
        order = schedule.ordered(streams)
        try:
            if len(order) > 1 and self.options.concurrency > 1:
                # two places, or as wide as the widest stream listed so far (run_stream
                # widens it)
                self._slots = schedule.Slots(schedule.TOGETHER_MIN, cap=self.options.concurrency)
                schedule.run_together(order, self.run_stream, self._stop.set)
            else:
                for stream in order:
                    self.run_stream(stream)
        finally:
            self.close()
            rank = {s.name: i for i, s in enumerate(order)}
            self.results.sort(key=lambda r: rank.get(r.stream, len(rank)))
        return self.results

    def close(self) -> None:
        """End the run: close the connector session (its HTTP client). Idempotent."""
        _close_sessions(self._sessions)

    def _session(self, ctx: Context) -> Any:
        """The run's session (opened on first use), as a view bound to `ctx`'s stream."""
        with self._session_lock:
            if not self._sessions:
                run = Context(source=self.source, config=self.source_config,
                              run_id=self.run_id, store=self.store, audit=self.audit,
                              log=logging.getLogger(f"dihub.{self.source}"),
                              settings=self.settings, secrets=self.secrets)
                self._sessions.append(self._open(run))
            return self._sessions[0].bind(ctx)

    def _open(self, run: Context) -> Any:
        connector = self.connector
        name = getattr(self.source_config, "connector", None)
        if connector is None and isinstance(name, str):
            from dihub.connectors.registry import load_connector

            try:
                connector = load_connector(name)
            except DihubError:
                connector = None
        if connector is None:
            from dihub.connectors.session import Session

            return Session(run)
        return connector.open(run)

    # -- audit ---------------------------------------------------------------
    def audit(self, entry: AuditEntry) -> None:
        if not self.options.dry_run:
            self.store.append_audit(entry)

    def _entry(self, stream: Stream, partition: str | None, action: str, outcome: str,
               **kw) -> AuditEntry:
        return AuditEntry(run_id=self.run_id, source=self.source, entity=stream.entity,
                          stream=stream.name, partition=partition, action=action,
                          outcome=outcome, timestamp=now_iso(), **kw)

    # -- one stream ----------------------------------------------------------
    def stop(self, signal_name: str = "SIGTERM") -> None:
        """Stop every running partition at its next page, from any thread (a queue
        worker shutting down): what was read is written and checkpointed."""
        self.stopped_by = self.stopped_by or signal_name
        self._stop.set()

    def list_partitions(self, stream: Stream) -> list[str]:
        """The stream's partitions, as a pass would run them (opens the run's session)."""
        ctx = Context(source=self.source, config=self.source_config, run_id=self.run_id,
                      store=self.store, metrics=Counters(), audit=self.audit,
                      log=logging.getLogger(f"dihub.{self.source}"), settings=self.settings,
                      secrets=self.secrets)
        return list(stream.partitions(self._session(ctx)))

    def run_stream(self, stream: Stream,
                   partitions: list[str] | None = None) -> list[PartitionResult]:
        """One pass of `stream`: of every partition, or of those given (a queue job)."""
        counters = Counters()
        def report_total(partition: str, total: int) -> None:
            result = self._running.get((stream.name, partition))
            if result is not None:
                result.total = total
                self.progress("total", result=result, total=total)

        ctx = Context(source=self.source, config=self.source_config, run_id=self.run_id,
                      store=self.store, metrics=counters, audit=self.audit,
                      log=logging.getLogger(f"dihub.{self.source}"), settings=self.settings,
                      secrets=self.secrets,
                      report_total=report_total if self._wants_totals else None)
        started, t0 = now_iso(), time.monotonic()
        try:
            ctx = self._session(ctx)    # partitions, fetch and normalize get the session
            if partitions is None:
                partitions = stream.partitions(ctx)
        except DihubError as err:
            results = [PartitionResult(self.source, stream.name, "*", "failed", error=err,
                                       entity=stream.entity)]
            if not self.options.dry_run:
                self._audit_result(stream, results[0])
                for st in self.store.list_states(self.source):
                    if st.stream == stream.name:   # `status` must not keep saying "ok"
                        self._mark_failed(st, err)
            self.results += results
        else:
            results = []
            self._slots.widen(len(partitions))
            try:
                self._run_partitions(ctx, stream, partitions, results)
            except BaseException:
                # interrupted: what ran is written and checkpointed; count it
                if not self.options.dry_run:
                    with self._shielded():
                        self._record_metrics(stream, results, counters, started,
                                             time.monotonic() - t0)
                raise
        if not self.options.dry_run:
            with self._shielded():
                self._record_metrics(stream, results, counters, started,
                                     time.monotonic() - t0)
        return results

    def _run_partitions(self, ctx: Context, stream: Stream, partitions: list[str],
                        results: list[PartitionResult]) -> None:
        """Runs every partition, appending each result (to `results` and `self.results`)
        as it ends, so an interrupted stream still reports what it did."""
        def run(p: str) -> PartitionResult:
            with self._slots.taken():
                return self._run_partition(ctx, stream, p, sinks=(results, self.results))

        if len(partitions) > 1:
            self.progress("partitions", total=len(partitions), result=PartitionResult(
                self.source, stream.name, "*", entity=stream.entity))
        # more threads than places: a partition that waits lends its place (schedule.py)
        workers = max(1, min(_THREADS_PER_PLACE * self.options.concurrency, len(partitions)))
        if workers == 1:
            for p in partitions:
                if self._stop.is_set():
                    break
                run(p)
            return
        pool = ThreadPoolExecutor(workers, thread_name_prefix="dihub-sync")
        try:
            futures = [pool.submit(run, p) for p in partitions]
            for f in futures:
                f.result()
        except BaseException:
            # Signals reach only this thread: tell the workers to stop at their next page
            # (what they read so far is written and checkpointed), and wait for them.
            self._stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
        order = {p: i for i, p in enumerate(partitions)}
        results.sort(key=lambda r: order.get(r.partition, 0))

    def _mark_failed(self, st: SyncState, err: DihubError) -> None:
        """Mark a partition's state failed under its lease; skip it if another run holds
        it (that run's own outcome is what `status` should show)."""
        try:
            lease = self.store.acquire_lease(st.source, st.stream, st.partition, self.owner,
                                             self.options.lease_ttl_s)
        except LeaseHeld:
            return
        try:
            fresh = self.store.get_state(st.source, st.stream, st.partition) or st
            fresh.status, fresh.error = "failed", str(err)
            self.store.put_state(fresh, lease=lease)
        finally:
            self.store.release_lease(st.source, st.stream, st.partition, self.owner)

    def _record_metrics(self, stream: Stream, results: list[PartitionResult],
                        counters: Counters, started: str, duration: float) -> None:
        written = UpsertResult()
        for r in results:
            written += r.written
        outcome = _overall(results)
        self.store.record_metrics(RunMetrics(
            run_id=self.run_id, source=self.source, stream=stream.name, started_at=started,
            finished_at=now_iso(), duration_s=round(duration, 3), outcome=outcome,
            records=sum(r.records for r in results), inserted=written.inserted,
            updated=written.updated, unchanged=written.unchanged,
            **{**counters.snapshot(),
               "failures": counters.failures + sum(r.outcome == "failed" for r in results)},
        ))

    # -- one partition -------------------------------------------------------
    def _run_partition(self, ctx: Context, stream: Stream, partition: str,
                       sinks: tuple[list[PartitionResult], ...] = ()) -> PartitionResult:
        """One partition's pass; its result is appended to each of `sinks` when it ends,
        also when a signal interrupts it."""
        result = PartitionResult(self.source, stream.name, partition, entity=stream.entity)
        for sink in sinks:
            sink.append(result)
        self._running[(stream.name, partition)] = result
        self.progress("start", result=result)
        dry = self.options.dry_run
        lease: list[Lease | None] = [None]    # the current lease (renewals replace it)
        try:
            if not dry:
                lease[0] = self._take_lease(stream, partition)
        except LeaseHeld as err:
            result.outcome, result.error = "busy", err
            self._audit_result(stream, result)
            self.progress("end", result=result)
            return result
        state = self.store.get_state(self.source, stream.name, partition) or SyncState(
            source=self.source, stream=stream.name, partition=partition)
        try:
            with Heartbeat(self.store, lease, self.options.lease_ttl_s,
                           result.label) as heartbeat:
                self._pass(ctx, stream, partition, state, result, lease, heartbeat)
        except BaseException as exc:   # noqa: BLE001 - every failure is recorded, then judged
            with self._shielded():
                err = _as_dihub_error(exc, result, self.stopped_by)
                if self._stop.is_set() and isinstance(err, FatalError):
                    # e.g. `git log` got the terminal's Ctrl-C too: the cause is the stop
                    log.debug("%s: stopped: %s", result.label, err)
                    err = _stop_error(self.stopped_by)
                result.error = err
                result.outcome = ("skipped" if isinstance(err, PartitionSkipped) else "failed")
                if not dry and not isinstance(err, LeaseLost):   # the state is not ours now
                    state.status = "partial" if result.outcome == "skipped" else "failed"
                    state.error = str(err)
                    self._put_state_after_failure(state, lease[0])
            if not isinstance(exc, Exception):
                raise
        finally:
            with self._shielded():
                if not dry:
                    self._audit_result(stream, result)
                    self.store.release_lease(self.source, stream.name, partition, self.owner)
                self.progress("end", result=result)
        return result

    def _put_state_after_failure(self, state: SyncState, lease: Lease | None) -> None:
        try:
            self.store.put_state(state, lease=lease)
        except LeaseLost as lost:
            log.warning("%s", lost)

    def _take_lease(self, stream: Stream, partition: str) -> Lease:
        try:
            return self.store.acquire_lease(self.source, stream.name, partition, self.owner,
                                            self.options.lease_ttl_s)
        except LeaseHeld as err:
            if not _holder_is_dead(err.holder):
                raise
            log.warning("%s/%s: taking over the lease of %s, which no longer runs",
                        self.source, stream.name, err.holder)
            self.store.release_lease(self.source, stream.name, partition, err.holder)
            return self.store.acquire_lease(self.source, stream.name, partition, self.owner,
                                            self.options.lease_ttl_s)

    def _pass(self, ctx: Context, stream: Stream, partition: str, state: SyncState,
              result: PartitionResult, lease: list[Lease | None],
              heartbeat: Heartbeat | None = None) -> None:
        """`lease[0]` is the partition's lease (None on a dry run); renewals replace it.
        `heartbeat` renews it (see Heartbeat); every batch of records is written only
        after a renewal that confirmed the lease is still this run's."""
        heartbeat = heartbeat or Heartbeat(self.store, lease, self.options.lease_ttl_s,
                                           result.label)
        opts = self.options
        dry = opts.dry_run
        fetch_state = state.model_copy(deep=True)
        if opts.full_refresh:
            fetch_state.cursor, fetch_state.etags = None, {}
        if not dry:
            state.status, state.last_sync_at, state.error = "running", now_iso(), None
            self.store.put_state(state, lease=lease[0])

        buffer: dict[str, dict[str, Any]] = {}
        pending: list[Page] = []
        pending_bytes = 0           # upstream payload bytes of the pages in `pending`
        batch_bytes = _batch_bytes(opts, self.settings)
        checkpoint_s = _checkpoint_s(opts, self.settings)
        oldest = 0.0                # monotonic time the first page in `pending` arrived
        store_failed = False
        deferred: list[BaseException] = []    # a write that failed before a wait

        def flush() -> None:
            nonlocal buffer, pending, pending_bytes, store_failed, ingested_at
            if not pending:
                return
            docs = list(buffer.values())
            with self._shielded():
                if not dry:
                    write(docs)
                # emptied before a signal deferred by the shield is raised: the handler's
                # flush must not write (and count) this batch a second time
                buffer, pending, pending_bytes = {}, [], 0
                # the next batch gets its own stamp: one `ingested_at` per batch keeps
                # the store's (entity, ingested_at, id) index appending at its end
                # instead of inserting a whole pass at random ids; every stamp is still
                # at or after the pass's `last_sync_at` (see dihub.hub.dataset.closed_mark)
                ingested_at = now_iso()
                self.progress("batch", result=result, records=len(docs))

        def write(docs: list[dict[str, Any]]) -> None:
            nonlocal store_failed
            try:
                # fencing: no record is written once the lease has passed on
                heartbeat.renew()
                # one write per entity, so the summary can count each (commits, users)
                by_entity: dict[str, list[dict[str, Any]]] = {}
                for doc in docs:
                    by_entity.setdefault(doc.get("entity") or stream.entity, []).append(doc)
                written = UpsertResult()
                for entity, group in by_entity.items():
                    part = self.store.upsert_many(group)
                    written += part
                    result.written += part
                    result.by_entity.setdefault(entity, UpsertResult())
                    result.by_entity[entity] += part
                moved = [p for p in pending if p.moves_cursor]
                if moved:
                    state.cursor = moved[-1].cursor
                for p in pending:
                    if p.etags is not None:
                        state.etags = p.etags
                # checkpoint: only after the write, and only while the lease is ours
                self.store.put_state(state, lease=lease[0])
            except BaseException:
                store_failed = True    # includes LeaseLost: write nothing more
                raise
            self.audit(self._entry(
                stream, partition, "batch", "ok", records=len(docs),
                inserted=written.inserted, updated=written.updated,
                unchanged=written.unchanged,
                payload_size=sum(p.raw_size for p in pending),
                detail={"pages": len(pending)}))

        def before_wait(seconds: float) -> None:
            # the HTTP client is about to wait in this thread, between two pages: write
            # the whole pages read so far. A failure is raised at the next page, by the
            # pass (the connector between here and there must not swallow it).
            if dry or store_failed or deferred or not any(p.moves_cursor for p in pending):
                return
            try:
                flush()
            except BaseException as exc:   # noqa: BLE001 - raised again below
                deferred.append(exc)

        # A shared record (an account many items mention: `Record.repeated`) already
        # buffered in this pass with the same content is not written again: the store
        # holds it, or holds it once the batch is written (docs/architecture.md, "The pass")
        repeats: dict[str, str] = {}        # its key -> its signature
        ingested_at = now_iso()
        try:
            with waits.before_waiting(before_wait, lend=self._slots.lent):
                for page in stream.fetch(ctx, partition, fetch_state):
                    if deferred:
                        raise deferred[0]
                    if self._stop.is_set():
                        raise _stop_error(self.stopped_by)
                    if heartbeat.lost is not None:
                        store_failed = True    # write nothing more: the lease is another's
                        raise heartbeat.lost
                    if pending and len(buffer) + len(page.items) > opts.batch_size:
                        flush()     # hold about batch_size records, whatever the pages
                    for raw in page.items:
                        try:
                            models = as_records(stream.normalize(raw, ctx, partition))
                            for model in models:
                                if type(model) is PlainRecord and model.shared \
                                        and _repeated(repeats, model):
                                    continue
                                doc = to_document(model, ingested_at)
                                buffer[doc["_id"]] = doc
                        except SkippableRecord as err:
                            self.audit(self._entry(stream, partition, "normalize", "skipped",
                                                   error=str(err)))
                            continue
                        result.records += 1
                    items, page.items = len(page.items), []   # normalized: the raw items need
                    if opts.raw_payloads and page.raw_payload is not None and not dry:  # not wait
                        self.audit(self._entry(stream, partition, "page", "ok",
                                               records=items,
                                               payload_size=page.raw_size,
                                               raw_payload=page.raw_payload))
                    if not pending:
                        oldest = time.monotonic()
                    for held in pending:     # only the newest position and ETags are saved
                        if page.moves_cursor and held.moves_cursor:
                            held.forget_cursor()
                        if page.etags is not None:
                            held.etags = None
                    pending.append(page)
                    pending_bytes += page.raw_size or 0
                    if len(buffer) >= opts.batch_size or pending_bytes >= batch_bytes \
                            or page.moves_cursor \
                            and (len(buffer) >= opts.batch_size // 2
                                 or time.monotonic() - oldest >= checkpoint_s):
                        flush()
                if deferred:
                    raise deferred[0]
        except BaseException:
            # Pages that arrived whole are still written and checkpointed: the
            # failure happened after them, so their cursor is safe to keep. A store
            # that just failed is not asked again.
            if not store_failed:
                flush()
            raise
        flush()
        if not dry:
            state.status, state.error, state.last_success_at = "ok", None, now_iso()
            self.store.put_state(state, lease=lease[0])

    def _audit_result(self, stream: Stream, r: PartitionResult) -> None:
        outcome = {"busy": "skipped", "skipped": "warning"}.get(r.outcome, r.outcome)
        self.audit(self._entry(
            stream, r.partition, "sync", outcome, records=r.records,
            inserted=r.written.inserted, updated=r.written.updated,
            unchanged=r.written.unchanged, error=str(r.error) if r.error else None,
            detail={"owner": self.owner}))    # which host and process ran the pass


DEFAULT_BATCH_BYTES = 8 * 1024 * 1024
DEFAULT_CHECKPOINT_S = 2.0
REPEATS_MAX = 4096          # shared records remembered by a pass; emptied when full


def _repeated(repeats: dict[str, str], record: PlainRecord) -> bool:
    """True when the pass has buffered this shared record with the same content already;
    else remembers it. A record whose signature cannot be computed is always written."""
    signature = record.signature(record.doc)
    if signature is None:
        return False
    key = record.key()
    if repeats.get(key) == signature:
        return True
    if len(repeats) >= REPEATS_MAX:
        repeats.clear()
    repeats[key] = signature
    return False


def _batch_bytes(opts: PassOptions, settings: Any) -> int:
    """The payload bytes after which buffered pages are written: the pass's option, else
    `store.batch_bytes` of the settings, else DEFAULT_BATCH_BYTES."""
    if opts.batch_bytes:
        return opts.batch_bytes
    return _store_setting(settings, "batch_bytes", DEFAULT_BATCH_BYTES,
                          lambda v: isinstance(v, int) and v > 0)


def _checkpoint_s(opts: PassOptions, settings: Any) -> float:
    """How long a page with a cursor may wait unwritten: the pass's option, else
    `store.checkpoint_s` of the settings, else DEFAULT_CHECKPOINT_S."""
    if opts.checkpoint_s is not None:
        return opts.checkpoint_s
    return float(_store_setting(settings, "checkpoint_s", DEFAULT_CHECKPOINT_S,
                                lambda v: isinstance(v, int | float) and v >= 0))


def _store_setting(settings: Any, name: str, default: Any, valid: Callable[[Any], bool]):
    """`settings.store.<name>` when the settings have it and it is valid, else `default`
    (a Runner may be given no settings, or settings without a store section)."""
    value = getattr(getattr(settings, "store", None), name, None)
    return value if valid(value) else default


def _close_sessions(sessions: list[Any]) -> None:
    while sessions:
        sessions.pop().close()


def _holder_is_dead(holder: str) -> bool:
    """True when the holder is a process on this host that has exited (a killed cron run)."""
    host, _, rest = holder.partition(" pid ")
    pid = rest.split(" ", 1)[0]
    if host != hostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def _stopped(signal_name: str | None) -> str:
    return "terminated (SIGTERM)" if signal_name == "SIGTERM" else "interrupted"


def _stop_error(signal_name: str | None) -> TemporaryError:
    """A partition stopped by Ctrl-C or SIGTERM; `stopped_by` tells the CLI it need not say
    it once per partition (it says it once for the run)."""
    err = TemporaryError(f"{_stopped(signal_name)}; the next run continues from the last "
                         "checkpoint")
    err.stopped_by = signal_name or "SIGINT"
    return err


def _as_dihub_error(exc: BaseException, result: PartitionResult,
                    signal_name: str | None = None) -> DihubError:
    if isinstance(exc, DihubError):
        return exc
    if isinstance(exc, KeyboardInterrupt):
        return _stop_error(signal_name)
    from dihub.store.errors import store_error

    translated = store_error(exc)
    if translated is not None:
        return translated
    log.debug("unexpected error in %s:\n%s", result.label, traceback.format_exc())
    return FatalError(f"{result.label}: unexpected {type(exc).__name__}: {exc}",
                      hint="Run with -v for the traceback and report it if it persists.")


def _overall(results: list[PartitionResult]) -> str:
    outcomes = {r.outcome for r in results}
    if outcomes <= {"ok"}:
        return "ok"
    if "ok" in outcomes or "skipped" in outcomes and "failed" not in outcomes:
        return "partial"
    return "failed"
