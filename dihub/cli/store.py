"""`dihub store check`: verify the embedded store's file and say what to do when it is damaged."""

import typer

from dihub.cli.state import handles_errors, state

app = typer.Typer(help="Check the store.", no_args_is_help=True)


def _rebuild_commands(cfg) -> str:
    config = f" --config {cfg.path}" if cfg.path else ""
    names = sorted(cfg.sources) or ["SOURCE"]
    return "; ".join(f"dihub{config} sync {name} --full-refresh" for name in names)


@app.command("check")
@handles_errors
def check(
    max_problems: int = typer.Option(20, "--max-problems", min=1, max=10_000,
                                     help="Report at most this many problems."),
) -> None:
    """Run SQLite's integrity check on the embedded store: exit 0 when it is sound, 1 when
    it is damaged (the problems go to stdout, what to do to stderr). Writes nothing."""
    from dihub.errors import UsageError
    from dihub.store.errors import StoreDamaged
    from dihub.store.factory import describe_configured_store
    from dihub.store.sqlite import SQLiteStore

    cfg = state.config()
    store = state.store()
    try:
        if not isinstance(store, SQLiteStore):
            raise UsageError(
                f"`dihub store check` checks the embedded SQLite store; this config uses "
                f"{describe_configured_store(cfg)}",
                hint="MongoDB checks its own files: run db.<collection>.validate() in mongosh "
                     "for a collection you suspect.")
        problems = store.check(max_problems)
    finally:
        store.close()
    if not problems:
        size = store.path.stat().st_size / 1e6
        typer.echo(f"ok: {store.describe()} ({size:.1f} MB) passed the integrity check")
        return
    for problem in problems:
        typer.echo(f"{store.path}: {problem}")
    raise StoreDamaged(
        f"the embedded store {store.path} is damaged "
        f"({len(problems)}{'+' if len(problems) >= max_problems else ''} problem(s) above)",
        hint=f"Stop the cron jobs that use it. Restore the file from a backup, or move it away "
             f"(keep it: `sqlite3 FILE .recover` can salvage rows) and rebuild the store: "
             f"{_rebuild_commands(cfg)}")
