"""Sync progress: a rich live display on a terminal, plain log lines otherwise (cron)."""

from __future__ import annotations

import logging
import sys
import threading

log = logging.getLogger("dihub.sync")


class LogProgress:
    """For cron and CI: one line per partition start/end (and its total, when the upstream
    tells it), one per batch at -v."""

    def __init__(self):
        self._lock = threading.Lock()

    @property
    def wants_totals(self) -> bool:
        """A total is only logged (at INFO): with --quiet nobody would see it, and
        counting costs some sources work of their own (git's `rev-list --count`)."""
        return log.isEnabledFor(logging.INFO)

    def __call__(self, event: str, result, records: int = 0, total: int | None = None) -> None:
        if event == "start":
            log.info("%s: starting", result.label)
        elif event == "total":
            log.info("%s: %d %s to read", result.label, total, result.entity or "items",
                     extra={"fields": {"partition": result.label, "total": total}})
        elif event == "batch":
            of = f" of {result.total:,}" if result.total is not None else ""
            log.debug("%s: %d%s records so far (%d new, %d changed)", result.label,
                      result.records, of, result.written.inserted, result.written.updated)
        elif event == "end":
            _log_result(result)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _columns():
    """A bar with percentage, rate and ETA for a task whose total is known; a spinner and
    the count read so far otherwise. Built lazily: rich is imported only on a terminal."""
    from rich.progress import BarColumn, ProgressColumn, SpinnerColumn
    from rich.text import Text

    class BarOrSpinner(ProgressColumn):
        def __init__(self):
            super().__init__()
            self._bar, self._spinner = BarColumn(bar_width=12), SpinnerColumn()

        def render(self, task):
            if task.total is None:
                return self._spinner.render(task) if not task.finished else Text(" ")
            return self._bar.render(task)

    class Stats(ProgressColumn):
        """Running: `label 12,000/60,000 commits 20% 4,463/s eta 0:00:10` (count, rate
        and elapsed time without a total); ended: `label [ok] 60,000 commits +60,000 ~0
        0:00:14`. Short enough for 80 columns."""

        max_refresh = 0.5

        def render(self, task):
            f = task.fields
            done = int(task.completed)
            ended = f.get("status") is not None
            text = Text(f"{task.description} ")
            if ended:
                text.append("[")
                text.append_text(Text.from_markup(f["status"]))
                text.append("] ")
            if not f.get("items"):                  # a stream's partitions
                text.append(f"{done}/{int(task.total)} {f['unit']}", style="bold")
                return text
            known = task.total is not None and not ended
            announced = f.get("announced")          # the total the upstream said, if any
            count = (f"{done:,}/{int(task.total):,}" if known else
                     f"{done:,}/{announced:,}" if announced is not None else f"{done:,}")
            text.append(count, style="bold")
            text.append(f" {f['unit']}")
            speed = task.speed
            if known:
                text.append(f" {min(task.percentage, 100):3.0f}%")
            if speed and not ended:
                text.append(f" {speed:,.0f}/s")
            if known and speed and task.total > done:
                text.append(f" eta {_clock((task.total - done) / speed)}")
            elif not known:
                if ended:
                    text.append(f" +{f['inserted']:,}", style="green")
                    if f["updated"]:
                        text.append(f" ~{f['updated']:,}", style="yellow")
                text.append(f" {_clock(task.elapsed)}", style="dim")
            return text

    return BarOrSpinner(), Stats()


def _clock(seconds: float | None) -> str:
    s = int(seconds or 0)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class RichProgress:
    """On a terminal: one line per partition (a bar with %, rate and ETA when the upstream
    told its total, a spinner otherwise), and one per stream with several partitions
    (partitions done of all)."""

    def __init__(self, console=None):
        from rich.console import Console
        from rich.progress import Progress

        self._progress = Progress(*_columns(), console=console or Console(stderr=True),
                                  transient=False)
        self._tasks: dict[str, int] = {}
        self._streams: dict[str, int] = {}    # stream label → its partitions' task
        self._lock = threading.Lock()

    wants_totals = True                       # a bar with ETA needs them

    def __call__(self, event: str, result, records: int = 0, total: int | None = None) -> None:
        with self._lock:
            key = result.label
            if event == "partitions":
                self._streams[key] = self._progress.add_task(
                    key, total=total, unit="partitions", items=False, status=None)
                return
            if event == "start":
                self._tasks[key] = self._progress.add_task(
                    key, total=None, unit=result.entity or "records", items=True,
                    inserted=0, updated=0, status=None, announced=None)
                return
            task = self._tasks.get(key)
            if task is None:
                return
            if event == "total":
                self._progress.update(task, total=total, announced=total)
                return
            self._progress.update(task, completed=result.records,
                                  inserted=result.written.inserted,
                                  updated=result.written.updated)
            if event == "end":
                if result.outcome == "ok":        # done: whatever the estimate said
                    self._progress.update(task, total=result.records)
                self._progress.update(task, status=_style(result))
                self._progress.stop_task(task)
                stream = self._streams.get(f"{result.source}/{result.stream}")
                if stream is not None:
                    self._progress.advance(stream)
                # a stop (Ctrl-C, SIGTERM) is said once for the run, not per partition
                if result.error is not None and not getattr(result.error, "stopped_by", None):
                    self._progress.console.print(f"  {labelled(key, result.error)}",
                                                 highlight=False, markup=False)

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc):
        self._progress.stop()
        return False


def labelled(label: str, error) -> str:
    """`label: error`, without repeating the label when the message already starts with it
    (an unexpected error names its partition itself)."""
    text = str(error)
    return text if text.startswith(f"{label}: ") else f"{label}: {text}"


def _style(result) -> str:
    if getattr(result.error, "stopped_by", None):
        return "[yellow]stopped[/]"
    return {"ok": "[green]ok[/]", "busy": "[yellow]busy[/]", "skipped": "[yellow]skipped[/]"}.get(
        result.outcome, "[red]failed[/]")


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
        error = str(r.error)
        if error.startswith(f"{r.label}: "):        # the label is not said twice
            error = error[len(r.label) + 2:]
        log.log(level, "%s: %s after %d records: %s", r.label, r.outcome, r.records, error,
                extra={"fields": fields})


def make_progress(quiet: bool):
    """The live display on a terminal; log lines for cron, --quiet and --log-format json."""
    from dihub import log as dihub_log

    if not quiet and sys.stderr.isatty() and not dihub_log.json_enabled():
        return RichProgress()
    return LogProgress()
