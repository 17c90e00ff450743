"""Run metrics in the Prometheus text exposition format (node_exporter textfile collector)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dihub.timeutil import parse

GAUGES = [
    ("records", "dihub_sync_records", "Records read in the last run."),
    ("inserted", "dihub_sync_inserted", "Records inserted in the last run."),
    ("updated", "dihub_sync_updated", "Records updated in the last run."),
    ("unchanged", "dihub_sync_unchanged", "Records unchanged in the last run."),
    ("requests", "dihub_sync_requests", "HTTP requests in the last run."),
    ("retries", "dihub_sync_retries", "HTTP retries in the last run."),
    ("rate_limit_waits", "dihub_sync_rate_limit_waits", "Rate-limit waits in the last run."),
    ("failures", "dihub_sync_failures", "Failures in the last run."),
    ("duration_s", "dihub_sync_duration_seconds", "Duration of the last run."),
    ("latency_p95_ms", "dihub_sync_latency_p95_milliseconds", "p95 request latency."),
    ("quota_remaining", "dihub_sync_quota_remaining", "Upstream quota left after the run."),
]


def latest_per_stream(runs):
    """Newest RunMetrics per (source, stream); `runs` are newest first."""
    seen = {}
    for m in runs:
        seen.setdefault((m.source, m.stream), m)
    return list(seen.values())


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_prometheus(latest) -> str:
    lines: list[str] = []
    rows = sorted(latest, key=lambda m: (m.source, m.stream))

    def labels(m) -> str:
        return f'source="{_esc(m.source)}",stream="{_esc(m.stream)}"'

    for field, name, help_ in GAUGES:
        values = [(m, getattr(m, field)) for m in rows if getattr(m, field) is not None]
        if not values:
            continue
        lines += [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
        lines += [f"{name}{{{labels(m)}}} {float(v):g}" for m, v in values]
    if rows:
        lines += ["# HELP dihub_sync_success 1 if the last run of the stream succeeded.",
                  "# TYPE dihub_sync_success gauge"]
        lines += [f"dihub_sync_success{{{labels(m)}}} {1 if m.outcome == 'ok' else 0}"
                  for m in rows]
        lines += ["# HELP dihub_sync_last_run_timestamp_seconds When the last run finished.",
                  "# TYPE dihub_sync_last_run_timestamp_seconds gauge"]
        lines += [f"dihub_sync_last_run_timestamp_seconds{{{labels(m)}}} "
                  f"{parse(m.finished_at).timestamp():.0f}" for m in rows]
    return "\n".join(lines) + "\n" if lines else ""


def _cannot_write(target: Path, exc: OSError):
    from dihub.errors import FatalError

    return FatalError(f"cannot write the metrics textfile {target}: "
                      f"{exc.strerror or type(exc).__name__}",
                      hint="Point --textfile at a file in a writable folder (node_exporter's "
                           "--collector.textfile.directory).")


def write_textfile(path: str | os.PathLike, text: str) -> None:
    """Write then rename, so node_exporter never reads a half-written file."""
    target = Path(path)
    if target.is_dir():
        from dihub.errors import FatalError

        raise FatalError(
            f"the metrics textfile {target} is a directory",
            hint=f"Give a file name: --textfile {target / 'dihub.prom'} (node_exporter reads "
                 "the *.prom files of its --collector.textfile.directory).")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".dihub-", suffix=".prom.tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(target, exc) from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot_write(target, exc) from None
        raise
