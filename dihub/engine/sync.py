"""One `dihub sync`: choose the streams, run their passes, purge, and report.

The CLI parses the options and prints the report; this module owns everything in
between, so `dihub serve`, tests and other front ends run a sync the same way:

    report = run_sync(config, "github", ["commits"], SyncOptions(), progress)
    report.results, report.exit_code, report.stopped_by

SIGINT and SIGTERM stop the pass at the next page (`signals_stop`): what was read
is written and checkpointed and the leases are released; the report then says
which signal stopped it and the exit code is 130 / 143. See docs/architecture.md.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dihub.collector import freeze_once
from dihub.connectors.base import Connector
from dihub.engine.runner import PartitionResult, PassOptions, Progress, Runner
from dihub.errors import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_TEMPFAIL,
    EXIT_USAGE,
    ConfigError,
    UsageError,
)

EXIT_SIGINT, EXIT_SIGTERM = 130, 143


@dataclass
class SyncOptions:
    full_refresh: bool = False
    dry_run: bool = False
    concurrency: int | None = None      # None: the source's (or the global) http.concurrency
    all_streams: bool = False


@dataclass
class SyncReport:
    source: str
    streams: list[str]
    run_id: str
    dry_run: bool = False
    results: list[PartitionResult] = field(default_factory=list)
    stopped_by: str | None = None       # "SIGINT" / "SIGTERM" when a signal stopped the run

    @property
    def exit_code(self) -> int:
        if self.stopped_by:
            return EXIT_SIGTERM if self.stopped_by == "SIGTERM" else EXIT_SIGINT
        return exit_code(self.results)


def exit_code(results: list[PartitionResult]) -> int:
    """2 for a config error met during the pass; 1 if something failed for good; else 75
    if something should be retried later; 1 if every partition was skipped; else 0."""
    failed = [r for r in results if r.outcome == "failed"]
    if any(r.error is not None and r.error.exit_code == EXIT_USAGE for r in failed):
        return EXIT_USAGE
    if any(r.error is None or r.error.exit_code != EXIT_TEMPFAIL for r in failed):
        return EXIT_FAILURE
    if failed or any(r.outcome == "busy" for r in results):
        return EXIT_TEMPFAIL
    if results and all(r.outcome == "skipped" for r in results):
        return EXIT_FAILURE
    return EXIT_OK


def select_streams(connector: Connector, source: str, streams: list[str] | None,
                   default: list[str] | None, all_streams: bool = False) -> list[str]:
    """The stream names a sync runs: `--all`, the ones named (each once), the source's
    `streams:` from the config, or every stream of the connector."""
    if streams and all_streams:
        raise UsageError("give stream names or --all, not both")
    names = list(connector.streams) if all_streams else (streams or default
                                                          or list(connector.streams))
    names = list(dict.fromkeys(names))   # `sync git commits commits` runs the stream once
    unknown = [n for n in names if n not in connector.streams]
    if unknown:
        raise UsageError(
            f"source {source!r} ({connector.name} connector) has no stream "
            f"{', '.join(map(repr, unknown))}",
            hint=f"Streams of {connector.name}: {', '.join(connector.streams)}")
    return names


def run_sync(config: Any, source: str, streams: list[str] | None,
             options: SyncOptions | None = None, progress: Progress | None = None, *,
             store: Any = None, open_store: Callable[[], Any] | None = None) -> SyncReport:
    """Run one pass of each selected stream of `source` (a name in `config`, a loaded
    dihub.config.Config). The store is `store`, else `open_store()`, else the configured
    one; it is closed when the run ends, after the connector's session (its HTTP
    client), which is closed whatever happened. Usage errors (an unknown stream) are raised
    before anything is opened; every other outcome is in the report."""
    from dihub.connectors.registry import load_connector

    options = options or SyncOptions()
    source_cfg = config.source(source)
    connector = load_connector(source_cfg.connector)
    freeze_once()       # the imports are done: keep their objects out of the collector's walks
    names = select_streams(connector, source, streams, source_cfg.streams, options.all_streams)
    settings = config.settings
    http = getattr(source_cfg, "http", None) or settings.http
    pass_options = PassOptions(full_refresh=options.full_refresh, dry_run=options.dry_run,
                               batch_size=settings.store.batch_size,
                               lease_ttl_s=settings.lease_ttl_s,
                               concurrency=options.concurrency or http.concurrency,
                               raw_payloads=settings.store.raw_payloads.enabled)
    if store is None:
        if open_store is None:
            from dihub.store import open_configured_store

            def open_store():
                return open_configured_store(config)
        store = open_store()
    runner = None
    report = SyncReport(source, names, run_id="", dry_run=options.dry_run)
    try:
        runner = Runner(store, source, source_cfg, settings, options=pass_options,
                        progress=progress, connector=connector)
        report.run_id = runner.run_id
        report.results = runner.results
        with signals_stop(runner):
            # one connector session for every stream, closed when they end, however
            runner.run([connector.streams[name] for name in names])
        if not options.dry_run:
            from dihub.timeutil import now_iso

            store.purge(now_iso(), settings.store.audit_retention_days,
                        settings.store.raw_payloads.retention_days)
            refresh_hub_after_sync(store, settings, report)
    except KeyboardInterrupt:
        if runner is None:
            raise
        report.stopped_by = runner.stopped_by or "SIGINT"
    finally:
        try:
            if runner is not None:
                runner.close()   # idempotent: covers a signal that lands outside run()
        finally:
            store.close()
    for r in report.results:
        if isinstance(r.error, ConfigError):
            r.error = config.locate(r.error, source)
    return report


@contextmanager
def signals_stop(runner: Runner) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM (cron, systemd, container runtimes) both stop the pass
    at the next page: what was read is written, leases are released."""

    def handler(signum, frame):
        runner.interrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def refresh_hub_after_sync(store: Any, settings: Any, report: SyncReport) -> None:
    """`hub.refresh_after_sync` (default on): after a successful sync that inserted or
    updated records, bring people and links up to date (dihub.hub.refresh reads only what
    was written since its last run). A failure is a warning: the sync's records are
    written and its exit code stands; `dihub hub refresh` catches up."""
    import logging

    hub = getattr(settings, "hub", None)
    if hub is not None and not hub.refresh_after_sync:
        return
    if report.exit_code != EXIT_OK or not any(
            r.written.inserted or r.written.updated for r in report.results):
        return
    try:
        from dihub.hub import refresh

        refresh(store, settings)
    except Exception as exc:   # noqa: BLE001 - never fails the sync
        logging.getLogger("dihub.hub").warning(
            "people and links were not refreshed after the sync (%s: %s); run "
            "`dihub hub refresh`", type(exc).__name__, exc)
