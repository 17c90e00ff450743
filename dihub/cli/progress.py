"""Sync progress: a rich live display on a terminal, plain log lines otherwise (cron)."""

from __future__ import annotations

import logging
import sys
import threading

log = logging.getLogger("dihub.sync")


class LogProgress:
    """For cron and CI: one line per partition start/end, one per batch at -v."""

    def __init__(self):
        self._lock = threading.Lock()

    def __call__(self, event: str, result, records: int = 0) -> None:
        if event == "start":
            log.info("%s: starting", result.label)
        elif event == "batch":
            log.debug("%s: %d records so far (%d new, %d changed)", result.label,
                      result.records, result.written.inserted, result.written.updated)
        elif event == "end":
            _log_result(result)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class RichProgress:
    def __init__(self):
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"),
            TextColumn("[bold]{task.fields[records]:>9,}[/] records"),
            TextColumn("[green]+{task.fields[inserted]:,}[/] [yellow]~{task.fields[updated]:,}[/]"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=False)
        self._tasks: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, event: str, result, records: int = 0) -> None:
        with self._lock:
            key = result.label
            if event == "start":
                self._tasks[key] = self._progress.add_task(key, total=None, records=0,
                                                           inserted=0, updated=0)
                return
            task = self._tasks.get(key)
            if task is None:
                return
            desc = key if event != "end" else f"{key} [{_style(result.outcome)}]"
            self._progress.update(task, description=desc, records=result.records,
                                  inserted=result.written.inserted,
                                  updated=result.written.updated)
            if event == "end":
                self._progress.update(task, total=1, completed=1)
                if result.error is not None:
                    self._progress.console.print(f"  {key}: {result.error}", highlight=False)

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc):
        self._progress.stop()
        return False


def _style(outcome: str) -> str:
    return {"ok": "[green]ok[/]", "busy": "[yellow]busy[/]", "skipped": "[yellow]skipped[/]"}.get(
        outcome, "[red]failed[/]")


def _log_result(r) -> None:
    w = r.written
    # With --log-format json these become fields of the line (see dihub.log).
    fields = {"partition": r.label, "outcome": r.outcome, "records": r.records,
              "inserted": w.inserted, "updated": w.updated, "unchanged": w.unchanged}
    if r.outcome == "ok":
        log.info("%s: ok, read %d items; records: %d inserted, %d updated, %d unchanged",
                 r.label, r.records, w.inserted, w.updated, w.unchanged,
                 extra={"fields": fields})
    else:
        level = logging.WARNING if r.outcome in ("busy", "skipped") else logging.ERROR
        log.log(level, "%s: %s after %d records: %s", r.label, r.outcome, r.records, r.error,
                extra={"fields": fields})


def make_progress(quiet: bool):
    """The live display on a terminal; log lines for cron, --quiet and --log-format json."""
    from dihub import log as dihub_log

    if not quiet and sys.stderr.isatty() and not dihub_log.json_enabled():
        return RichProgress()
    return LogProgress()
