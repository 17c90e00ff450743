"""Read-only views: `audit`, `metrics`, `status`, `connectors`."""

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


WIDE_HELP = "Table: every column, never cut (the default fits the terminal's width)."
FIELDS_HELP = "Comma-separated columns to show, in this order (table, json and jsonl)."


def _columns(spec: str | None, known: list[str]) -> list[str] | None:
    """`--fields a,b`: the chosen columns, checked against `known`."""
    from dihub.errors import UsageError

    if spec is None:
        return None
    chosen = [f.strip() for f in spec.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in known]
    if not chosen or unknown:
        raise UsageError(f"--fields {spec!r}: " + (
            f"unknown field(s) {', '.join(unknown)}" if unknown
            else "give comma-separated field names"), hint=f"Fields: {', '.join(known)}")
    return chosen


def _emit(rows: list[dict], fmt: str, columns: list[str], title: str, *, keep: int | None = None,
          fields: list[str] | None = None, wide: bool = False, seconds: bool = True) -> None:
    """Print `rows` as json, jsonl or a table. The table shows `columns`: the first `keep`
    always, the rest while they fit (all of them with `wide`); `fields` replaces both."""
    import sys

    from dihub import output

    if fields is not None:
        rows = [{f: r.get(f) for f in fields} for r in rows]
        columns, keep = fields, None
    if fmt == "json":
        output.write_json(rows, sys.stdout)
    elif fmt == "jsonl":
        output.write_jsonl(rows, sys.stdout)
    else:
        output.write_table(rows, columns, _console(), title=title, keep=keep, wide=wide,
                           seconds=seconds)


AUDIT_COLUMNS = ["timestamp", "source", "stream", "action", "outcome", "records", "error",
                 "partition", "entity", "inserted", "updated", "unchanged", "run_id",
                 "payload_size"]


@handles_errors
def audit(
    source: str = typer.Option(None, "--source", metavar="SOURCE", help="Only this source."),
    entity: str = typer.Option(None, "--entity", metavar="ENTITY", help="Only this entity."),
    outcome: str = typer.Option(None, "--outcome", metavar="OUTCOME",
                                help="ok, failed, skipped, warning or retried."),
    since: str = typer.Option(None, "--since", metavar="TIME",
                              help="Only entries at or after this time."),
    limit: int = typer.Option(50, "--limit", min=1, metavar="N",
                              help="Newest entries first, at most this."),
    fmt: str = typer.Option("table", "--format", "-f", metavar="FORMAT",
                            help="table, json or jsonl."),
    wide: bool = typer.Option(False, "--wide", "-w", help=WIDE_HELP),
    fields: str = typer.Option(None, "--fields", metavar="F1,F2", help=FIELDS_HELP),
) -> None:
    """Show the audit log: every sync pass, batch, retry, wait and failure.

    The table shows time, source, stream, action, outcome and records, and more columns
    (error, partition, entity, counts, run id) when the terminal is wide enough."""
    from dihub.cli.fetch import _when
    from dihub.models import ENTITIES
    from dihub.models.state import AuditEntry

    _fmt_check(fmt, ("table", "json", "jsonl"))
    _check_choice("--outcome", outcome, AUDIT_OUTCOMES, "outcome")
    _check_choice("--entity", entity, list(ENTITIES), "entity")
    chosen = _columns(fields, list(AuditEntry.model_fields))
    since_iso = _when(since, "--since")
    store = state.store()
    try:
        _check_source(store, source)
        entries = store.query_audit(source=source, entity=entity, outcome=outcome,
                                    since=since_iso, limit=limit)
    finally:
        store.close()
    rows = [e.model_dump(exclude_none=fmt == "table") for e in entries]
    _emit(rows, fmt, AUDIT_COLUMNS, "audit log, newest first", keep=6, fields=chosen, wide=wide)


METRICS_COLUMNS = ["finished_at", "source", "stream", "outcome", "records", "requests",
                   "duration_s", "inserted", "updated", "unchanged", "retries",
                   "rate_limit_waits", "failures", "latency_p95_ms", "quota_remaining",
                   "not_modified", "rate_limit_wait_s", "latency_p50_ms", "latency_p99_ms",
                   "started_at", "run_id"]


@handles_errors
def metrics(
    kind: str = typer.Argument(None, metavar="[dora|flow]",
                               help="DORA or flow metrics instead of the run metrics.",
                               show_default=False),
    source: str = typer.Option(None, "--source", metavar="SOURCE", help="Only this source."),
    stream: str = typer.Option(None, "--stream", metavar="STREAM", help="Only this stream."),
    history: bool = typer.Option(False, "--history",
                                 help="Table: every run, newest first (at most --limit), "
                                      "not only the latest per source and stream."),
    limit: int = typer.Option(20, "--limit", min=1, metavar="N",
                              help="json and --history: newest runs first, at most this."),
    fmt: str = typer.Option(None, "--format", "-f", metavar="FORMAT",
                            help="table (default), json or prom.", show_default=False),
    textfile: str = typer.Option(None, "--textfile", metavar="FILE",
                                 help="Write the Prometheus text format to FILE (atomically), "
                                      "for node_exporter's textfile collector, and print "
                                      "nothing unless --format is given."),
    wide: bool = typer.Option(False, "--wide", "-w", help=WIDE_HELP),
    fields: str = typer.Option(None, "--fields", metavar="F1,F2", help=FIELDS_HELP),
    since: str = typer.Option(None, "--since", metavar="TIME",
                              help="dora|flow: start (default: 12 weeks before --until)."),
    until: str = typer.Option(None, "--until", metavar="TIME",
                              help="dora|flow: end, exclusive (default: now)."),
    project: str = typer.Option(None, "--project", metavar="KEY",
                                help="dora|flow: a Jira project key or repository."),
    team: str = typer.Option(None, "--team", metavar="TEAM",
                             help="dora|flow: a team of metrics.teams."),
) -> None:
    """Show run metrics: the latest run of each source and stream (when, outcome, records,
    requests, duration), with `--history` every run. `dihub metrics dora` and
    `dihub metrics flow` show the DORA and flow metrics instead (--format table, json or
    csv; --since, --until, --source, --project, --team).

    More columns (inserted, updated, retries, rate-limit waits, p95 latency, quota) appear
    when the terminal is wide enough, or with --wide or --fields. `--format json` lists
    every run, newest first; `--format prom` and `--textfile` give the latest run per
    stream in the Prometheus text format."""
    if kind is not None:
        from dihub.cli.report import show_metrics

        show_metrics(kind, since, until, source, project, team, fmt)
        return
    if any(v is not None for v in (since, until, project, team)):
        from dihub.errors import UsageError

        raise UsageError("--since, --until, --project and --team apply to `dihub metrics dora` "
                         "and `dihub metrics flow`, not to the run metrics")
    from dihub.metrics_export import latest_per_stream, to_prometheus, write_textfile
    from dihub.models.state import RunMetrics

    if fmt is not None:
        _fmt_check(fmt, ("table", "json", "prom"))
    chosen = _columns(fields, list(RunMetrics.model_fields))
    if chosen is not None and fmt == "prom":
        from dihub.errors import UsageError

        raise UsageError("--fields does not apply to --format prom (it writes every metric)")
    store = state.store()
    try:
        _check_source(store, source)
        _check_stream(store, source, stream)
        runs = store.query_metrics(source=source, stream=stream, limit=limit)
        latest = None
        if fmt == "prom" or textfile or (fmt in (None, "table") and not history):
            latest = latest_per_stream(store.query_metrics(source=source, stream=stream,
                                                           limit=10_000))
    finally:
        store.close()
    if textfile:
        write_textfile(textfile, to_prometheus(latest))
        if fmt is None:
            return
    if fmt == "prom":
        typer.echo(to_prometheus(latest), nl=False)
        return
    fmt = fmt or "table"
    if fmt == "table" and not history:
        runs = sorted(latest, key=lambda m: (m.source, m.stream))
        title = "run metrics: the latest run of each stream"
    else:
        title = "run metrics: every run, newest first"
    rows = [m.model_dump() for m in runs]
    _emit(rows, fmt, METRICS_COLUMNS, title, keep=7, fields=chosen, wide=wide, seconds=False)


STATUS_COLUMNS = ["source", "stream", "partition", "status", "last_success_at", "error",
                  "lease", "last_sync_at", "cursor", "etags", "lease_generation"]


@handles_errors
def status(
    source: str = typer.Option(None, "--source", metavar="SOURCE", help="Only this source."),
    fmt: str = typer.Option("table", "--format", "-f", metavar="FORMAT", help="table or json."),
    wide: bool = typer.Option(False, "--wide", "-w", help=WIDE_HELP),
    fields: str = typer.Option(None, "--fields", metavar="F1,F2", help=FIELDS_HELP),
) -> None:
    """Show the sync state of every source, stream and partition, and the store in use
    (`sqlite /abs/path.db` or `mongodb host/db`) in the table's title.

    The table shows source, stream, partition, status and last success, and the error,
    lease, cursor when the terminal is wide enough, or with --wide or --fields."""
    from dihub.models.state import SyncState
    from dihub.store.factory import describe_configured_store

    _fmt_check(fmt, ("table", "json"))
    chosen = _columns(fields, [*SyncState.model_fields, "lease"])
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
        row["lease"] = f"{s.lease_owner} until {s.lease_until}" if s.lease_owner else None
        if fmt == "json" and chosen is None:
            del row["lease"]
        rows.append(row)
    _emit(rows, fmt, STATUS_COLUMNS, f"sync state in {where}", keep=5, fields=chosen, wide=wide)


CONNECTOR_COLUMNS = ["connector", "stream", "records", "login", "description"]


@handles_errors
def connectors(
    fmt: str = typer.Option("table", "--format", "-f", metavar="FORMAT", help="table or json."),
    wide: bool = typer.Option(False, "--wide", "-w", help=WIDE_HELP),
) -> None:
    """List the installed connectors and their streams: one table row per stream, with the
    records it writes (its entity first)."""
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
    table_rows = [{"connector": r["connector"], "stream": name,
                   "records": ", ".join([s["entity"], *s["also"]]), "login": r["login"],
                   "description": r["description"] if i == 0 else None}  # once per connector
                  for r in rows for i, (name, s) in enumerate(r["streams"].items())]
    _emit(table_rows, fmt, CONNECTOR_COLUMNS, "connectors", keep=4, wide=wide)
