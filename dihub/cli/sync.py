"""`dihub sync`: one checkpointed ingestion pass per stream (run it from cron)."""

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
                                    help="Partitions (repositories, channels...) synced at "
                                         "once, of all the streams of the run (1: the "
                                         "streams one after the other). "
                                         "Default: http.concurrency (4)."),
    enqueue: bool = typer.Option(False, "--enqueue",
                                 help="Queue one job per stream and partition for "
                                      "`dihub worker` (queue.url) instead of running them."),
) -> None:
    """Sync SOURCE's streams into the store: `dihub sync github commits`, `dihub sync github --all`.

    Each pass takes a lease per stream and partition, so overlapping cron runs never process
    the same stream twice (the second exits 75). Records are written before the cursor moves.
    """
    from dihub.cli.progress import make_progress
    from dihub.cli.summary import print_summary
    from dihub.engine.sync import SyncOptions, run_sync

    if enqueue:
        _enqueue(source, streams, all_streams=all_streams, full_refresh=full_refresh,
                 dry_run=dry_run)
        return
    options = SyncOptions(full_refresh=full_refresh, dry_run=dry_run, concurrency=concurrency,
                          all_streams=all_streams)
    cfg = state.config(source)
    with make_progress(state.quiet) as progress:
        report = run_sync(cfg, source, streams, options, progress, open_store=state.store)
    code = report.exit_code
    print_summary(report.results, run_id=report.run_id, dry_run=dry_run, quiet=state.quiet,
                  code=code)
    if report.stopped_by:
        from dihub.cli.state import print_error
        from dihub.errors import TemporaryError

        term = report.stopped_by == "SIGTERM"
        print_error(TemporaryError(
            f"{'terminated (SIGTERM)' if term else 'interrupted'}: what was read is written "
            "and checkpointed, the leases are released; the next run continues from there"),
            exit_code=code)
    raise typer.Exit(code)


def _enqueue(source: str, streams: list[str] | None, *, all_streams: bool,
             full_refresh: bool, dry_run: bool) -> None:
    """`--enqueue`: one job per (source, stream, partition); exit 0 once they are queued
    (75 if a stream's partitions could not be listed: the next cron run tries again)."""
    from dihub.errors import EXIT_TEMPFAIL, UsageError
    from dihub.queue.broker import describe
    from dihub.queue.enqueue import enqueue_sync

    if dry_run:
        raise UsageError("--enqueue and --dry-run do not go together",
                         hint="A dry run runs in this process: drop --enqueue.")
    cfg = state.config(source)
    report = enqueue_sync(cfg, source, streams, full_refresh=full_refresh,
                          all_streams=all_streams)
    code = 0
    for stream, err in report.failed:
        from dihub.cli.state import print_error

        err_code = getattr(err, "exit_code", 1)
        print_error(err, label=f"{source}/{stream}", exit_code=err_code)
        code = code or (EXIT_TEMPFAIL if err_code == EXIT_TEMPFAIL else 1)
    if not state.quiet:
        typer.echo(f"queued {len(report.queued)} job(s) for {source} "
                   f"({', '.join(report.streams)}) on {describe(cfg.settings)}"
                   + (f"; {len(report.waiting)} already waiting" if report.waiting else ""),
                   err=True)
    raise typer.Exit(code)
