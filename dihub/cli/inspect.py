"""Read-only views: `audit`, `metrics`, `status`, `connectors`."""

from __future__ import annotations

import typer

from dihub.cli.state import handles_errors, state


def _console():
    from rich.console import Console

    return Console()


def _fmt_check(fmt: str, allowed: tuple[str, ...]) -> None:
    from dihub.errors import UsageError

    if fmt not in allowed:
        raise UsageError(f"unknown --format {fmt!r}; use one of {', '.join(allowed)}")


# Every outcome an audit entry can have (see dihub.models.state.AuditEntry).
AUDIT_OUTCOMES = ("ok", "failed", "skipped", "warning", "retried")


def _check_choice(flag: str, value: str | None, allowed, what: str) -> None:
    from dihub.errors import UsageError

    if value is not None and value not in allowed:
        raise UsageError(f"{flag} {value!r}: no such {what}",
                         hint=f"Use one of: {', '.join(allowed) or 'none'}")


def _check_source(store, source: str | None) -> None:
    """A --source filter must name a configured source, or one the store has state for (a
    source since removed from the config): a typo is exit 2, not an empty listing."""
    from dihub.errors import UsageError

    if source is None:
        return
    cfg = state.config()
    if source in cfg.sources:
        return
    stored = sorted({s.source for s in store.list_states()} - set(cfg.sources))
    if source in stored:
        return
    where = cfg.path or "the config"
    known = f"Configured sources ({where}): {', '.join(sorted(cfg.sources)) or 'none'}"
    if stored:
        known += f"; others with sync state: {', '.join(stored)}"
    raise UsageError(f"--source {source!r}: unknown source", hint=known)


def _check_stream(store, source: str | None, stream: str | None) -> None:
    from dihub.connectors.registry import load_connector
    from dihub.errors import DihubError

    if stream is None:
        return
    cfg = state.config()
    known: set[str] = set()
    for name, src in cfg.sources.items():
        if source is None or name == source:
            try:
                known |= set(load_connector(src.connector).streams)
            except DihubError:
                pass
    if stream in known:
        return
    known |= {s.stream for s in store.list_states(source=source)}
    _check_choice("--stream", stream, sorted(known), "stream" + (
        f" for source {source!r}" if source else ""))


def _emit(rows: list[dict], fmt: str, columns: list[str], title: str) -> None:
    import sys

    from dihub import output

    if fmt == "json":
        output.write_json(rows, sys.stdout)
    elif fmt == "jsonl":
        output.write_jsonl(rows, sys.stdout)
    else:
        output.write_table(rows, columns, _console(), title=title)


@handles_errors
def audit(
    source: str = typer.Option(None, "--source", help="Only this source."),
    entity: str = typer.Option(None, "--entity", help="Only this entity."),
    outcome: str = typer.Option(None, "--outcome",
                                help="ok, failed, skipped, warning or retried."),
    since: str = typer.Option(None, "--since", help="Only entries at or after this time."),
    limit: int = typer.Option(50, "--limit", min=1, help="Newest entries first, at most this."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or jsonl."),
) -> None:
    """Show the audit log: every sync pass, batch, retry, wait and failure."""
    from dihub.cli.fetch import _when
    from dihub.models import ENTITIES

    _fmt_check(fmt, ("table", "json", "jsonl"))
    _check_choice("--outcome", outcome, AUDIT_OUTCOMES, "outcome")
    _check_choice("--entity", entity, list(ENTITIES), "entity")
    since_iso = _when(since, "--since")
    store = state.store()
    try:
        _check_source(store, source)
        entries = store.query_audit(source=source, entity=entity, outcome=outcome,
                                    since=since_iso, limit=limit)
    finally:
        store.close()
    rows = [e.model_dump(exclude_none=fmt == "table") for e in entries]
    _emit(rows, fmt, ["timestamp", "run_id", "source", "stream", "partition", "action",
                      "outcome", "records", "inserted", "updated", "unchanged", "error"],
          "audit log")


@handles_errors
def metrics(
    source: str = typer.Option(None, "--source", help="Only this source."),
    stream: str = typer.Option(None, "--stream", help="Only this stream."),
    limit: int = typer.Option(20, "--limit", min=1, help="Newest runs first, at most this."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or prom."),
    textfile: str = typer.Option(None, "--textfile",
                                 help="Write Prometheus text format to this file (atomically), "
                                      "for node_exporter's textfile collector."),
) -> None:
    """Show run metrics per run and stream: records, requests, retries, waits, latency."""
    from dihub.metrics_export import latest_per_stream, to_prometheus, write_textfile

    _fmt_check(fmt, ("table", "json", "prom"))
    store = state.store()
    try:
        _check_source(store, source)
        _check_stream(store, source, stream)
        runs = store.query_metrics(source=source, stream=stream, limit=limit)
        if fmt == "prom" or textfile:
            latest = latest_per_stream(store.query_metrics(source=source, stream=stream,
                                                           limit=10_000))
    finally:
        store.close()
    if textfile:
        write_textfile(textfile, to_prometheus(latest))
        if fmt != "prom":
            return
    if fmt == "prom":
        if not textfile:
            typer.echo(to_prometheus(latest), nl=False)
        return
    rows = [m.model_dump() for m in runs]
    _emit(rows, fmt, ["finished_at", "source", "stream", "outcome", "records", "inserted",
                      "updated", "unchanged", "requests", "retries", "rate_limit_waits",
                      "latency_p95_ms", "duration_s"], "run metrics")


@handles_errors
def status(
    source: str = typer.Option(None, "--source", help="Only this source."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Show the sync state of every source, stream and partition, and the store in use
    (`sqlite /abs/path.db` or `mongodb host/db`) in the table's title."""
    from dihub.store.factory import describe_configured_store

    _fmt_check(fmt, ("table", "json"))
    where = describe_configured_store(state.config())
    store = state.store()
    try:
        _check_source(store, source)
        states = store.list_states(source=source)
    finally:
        store.close()
    rows = []
    for s in states:
        row = s.model_dump(exclude={"etags"})
        row["etags"] = len(s.etags)
        if fmt == "table":
            from dihub.output import _short

            row["cursor"] = _short(row["cursor"], 40)
            row["lease"] = f"{s.lease_owner} until {s.lease_until}" if s.lease_owner else ""
        rows.append(row)
    _emit(rows, fmt, ["source", "stream", "partition", "status", "last_success_at", "cursor",
                      "lease", "error"], f"sync state in {where}")


@handles_errors
def connectors(
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """List the installed connectors and their streams."""
    from dihub.connectors.registry import all_connectors

    _fmt_check(fmt, ("table", "json"))
    loaded, broken = all_connectors()
    for name, error in broken.items():
        from dihub.cli.state import print_error
        from dihub.errors import UsageError

        print_error(UsageError(error), label="warning", connector=name)
    rows = []
    for c in loaded:
        rows.append({
            "connector": c.name, "description": c.description, "login": c.auth is not None,
            "streams": {name: {"entity": s.entity, "also": list(s.also_emits)}
                        for name, s in c.streams.items()},
        })
    if fmt == "json":
        _emit(rows, fmt, [], "")
        return
    table_rows = [{**r, "streams": ", ".join(
        f"{n} → {s['entity']}" + (f" (+{', '.join(s['also'])})" if s["also"] else "")
        for n, s in r["streams"].items())} for r in rows]
    _emit(table_rows, fmt, ["connector", "streams", "login", "description"], "connectors")
