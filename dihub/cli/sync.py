"""`dihub sync`: one checkpointed ingestion pass per stream (run it from cron)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from dihub.cli.state import handles_errors, state


@handles_errors
def sync(
    source: str = typer.Argument(..., help="A source name from the config (e.g. github, git)."),
    streams: list[str] = typer.Argument(None, help="Streams to sync. Default: the source's "
                                                   "`streams:` from config, or all of them."),
    all_streams: bool = typer.Option(False, "--all", help="Sync every stream of the source."),
    full_refresh: bool = typer.Option(False, "--full-refresh",
                                      help="Ignore saved cursors and re-read everything "
                                           "(writes only what changed)."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Fetch and normalize, write nothing (no state, no audit)."),
    concurrency: int = typer.Option(None, "--concurrency", min=1, max=32,
                                    help="Partitions (e.g. repositories) synced at once. "
                                         "Default: http.concurrency (4)."),
) -> None:
    """Sync SOURCE's streams into the store: `dihub sync github commits`, `dihub sync github --all`.

    Each pass takes a lease per stream and partition, so overlapping cron runs never process
    the same stream twice (the second exits 75). Records are written before the cursor moves.
    """
    from dihub.cli.progress import make_progress
    from dihub.cli.summary import exit_code, print_summary
    from dihub.connectors.registry import load_connector
    from dihub.engine.runner import PassOptions, Runner
    from dihub.errors import UsageError

    cfg = state.config()
    source_cfg = cfg.source(source)
    connector = load_connector(source_cfg.connector)
    if streams and all_streams:
        raise UsageError("give stream names or --all, not both")
    names = list(connector.streams) if all_streams else (streams or source_cfg.streams
                                                          or list(connector.streams))
    names = list(dict.fromkeys(names))   # `sync git commits commits` runs the stream once
    unknown = [n for n in names if n not in connector.streams]
    if unknown:
        raise UsageError(
            f"source {source!r} ({connector.name} connector) has no stream "
            f"{', '.join(map(repr, unknown))}",
            hint=f"Streams of {connector.name}: {', '.join(connector.streams)}")
    settings = cfg.settings
    http = getattr(source_cfg, "http", None) or settings.http
    options = PassOptions(full_refresh=full_refresh, dry_run=dry_run,
                          batch_size=settings.store.batch_size, lease_ttl_s=settings.lease_ttl_s,
                          concurrency=concurrency or http.concurrency,
                          raw_payloads=settings.store.raw_payloads.enabled)
    store = state.store()
    runner = None
    stopped = False
    try:
        with make_progress(state.quiet) as progress:
            runner = Runner(store, source, source_cfg, settings, options=options,
                            progress=progress)
            with _signals_stop(runner):
                for name in names:
                    runner.run_stream(connector.streams[name])
        if not dry_run:
            from dihub.timeutil import now_iso

            store.purge(now_iso(), settings.store.audit_retention_days,
                        settings.store.raw_payloads.retention_days)
    except KeyboardInterrupt:
        if runner is None:
            raise
        stopped = True
    finally:
        store.close()
    from dihub.errors import ConfigError

    results = runner.results
    for r in results:
        if isinstance(r.error, ConfigError):
            r.error = cfg.locate(r.error, source)
    term = runner.stopped_by == "SIGTERM"
    code = (143 if term else 130) if stopped else exit_code(results)
    print_summary(results, run_id=runner.run_id, dry_run=dry_run, quiet=state.quiet, code=code)
    if stopped:
        from dihub.cli.state import print_error
        from dihub.errors import TemporaryError

        print_error(TemporaryError(
            f"{'terminated (SIGTERM)' if term else 'interrupted'}: what was read is written "
            "and checkpointed, the leases are released; the next run continues from there"),
            exit_code=code)
    raise typer.Exit(code)


@contextmanager
def _signals_stop(runner) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM (cron, systemd, container runtimes) both stop the pass
    at the next page: what was read is written, leases are released."""
    import signal

    def handler(signum, frame):
        runner.interrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
