"""The end-of-sync summary and the exit code it implies."""

from __future__ import annotations

import sys

from dihub.cli.state import err_console, print_error
from dihub.errors import EXIT_FAILURE, EXIT_OK, EXIT_TEMPFAIL, EXIT_USAGE


def exit_code(results) -> int:
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


def print_summary(results, *, run_id: str, dry_run: bool, quiet: bool,
                  code: int | None = None) -> None:
    """Each distinct error, then one closing line (not with --quiet). With `--log-format
    json` each is one JSON object; the summary's has run_id, records, inserted, updated,
    unchanged, partitions (count by outcome), dry_run and exit_code."""
    from dihub import log

    shown_errors = set()
    for r in results:
        if r.error is not None and str(r.error) not in shown_errors:
            shown_errors.add(str(r.error))
            print_error(r.error, label="warning" if r.outcome == "skipped" else None,
                        partition=r.label, outcome=r.outcome)
    if quiet:
        return
    total = sum(r.records for r in results)
    ins = sum(r.written.inserted for r in results)
    upd = sum(r.written.updated for r in results)
    same = sum(r.written.unchanged for r in results)
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    parts = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
    verb = "would sync" if dry_run else "synced"
    line = (f"run {run_id}: {verb} {total} records in {len(results)} partition(s) ({parts}); "
            f"{ins} inserted, {upd} updated, {same} unchanged")
    if log.emit("info", "summary", line, run_id=run_id, dry_run=dry_run, records=total,
                inserted=ins, updated=upd, unchanged=same,
                partitions=dict(sorted(outcomes.items())),
                exit_code=exit_code(results) if code is None else code):
        return
    if sys.stderr.isatty():
        err_console().print(line, highlight=False)
    else:
        print(line, file=sys.stderr)
