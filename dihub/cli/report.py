"""`dihub metrics dora|flow` and `dihub report --html FILE`: metrics computed from the
store (see dihub/hub/dora.py and dihub/hub/flow.py for the definitions)."""

import typer

from dihub.cli.state import handles_errors, state

KINDS = ("dora", "flow")
SINCE_HELP = "Start (a date or ISO time; default: 12 weeks before --until)."
UNTIL_HELP = "End, exclusive (default: now)."


def _window(since: str | None, until: str | None, weeks: int) -> tuple[str, str]:
    from datetime import UTC, datetime, timedelta

    end = until or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if since:
        return since, end
    try:
        parsed = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return end, end     # make_scope says what is wrong with it
    return (parsed - timedelta(weeks=weeks)).isoformat(), end


def _compute(kind: str, since, until, source, project, team, no_cache, weeks=12):
    from dihub.hub.facts import load_facts
    from dihub.hub.flow import make_scope

    settings = state.config().settings.metrics
    store = state.store()
    try:
        since, until = _window(since, until, weeks)
        scope = make_scope(settings, since, until, source=source, project=project, team=team,
                           store=store)
        facts = load_facts(store, use_cache=settings.cache and not no_cache)
        if kind == "dora":
            from dihub.hub.dora import compute_dora

            result = compute_dora(facts, settings, scope)
        else:
            from dihub.hub.flow import compute_flow

            result = compute_flow(facts, settings, scope)
        facts.save()
    finally:
        store.close()
    return result


UNITS = {"_hours": "hours", "_days": "days", "_per_week": "per week", "_rate": "share",
         "_points": "points"}


def _unit(name: str) -> str:
    for suffix, unit in UNITS.items():
        if name.endswith(suffix):
            return unit
    return ""


def show_metrics(kind: str, since: str | None, until: str | None, source: str | None,
                 project: str | None, team: str | None, fmt: str | None,
                 no_cache: bool = False) -> None:
    """`dihub metrics dora|flow`: the summary as a table (80 columns), json (summary, weekly
    series, sprints) or csv (metric,value,unit)."""
    import csv
    import json
    import sys

    from dihub.errors import UsageError

    if kind not in KINDS:
        raise UsageError(f"unknown metrics {kind!r}; use dora or flow (or nothing for the "
                         "run metrics)")
    fmt = fmt or "table"
    if fmt not in ("table", "json", "csv"):
        raise UsageError(f"unknown --format {fmt!r} for metrics {kind}; use table, json or csv")
    result = _compute(kind, since, until, source, project, team, no_cache)
    rows = [{"metric": k, "value": v, "unit": _unit(k)} for k, v in result["summary"].items()]
    if fmt == "json":
        result.pop("walked_deployments", None)
        json.dump(result, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=["metric", "value", "unit"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        from rich.console import Console

        from dihub import output

        console = Console()
        for r in rows:
            r["metric"] = r["metric"].replace("_", " ")
            r["value"] = "-" if r["value"] is None else r["value"]
        output.write_table(rows, ["metric", "value", "unit"], console,
                           title=f"{kind} metrics", wide=False)
        weekly = result.get("weekly") or []
        if weekly:
            columns = list(weekly[0])
            output.write_table(weekly, columns, console, title=f"{kind} per ISO week",
                               keep=4)


@handles_errors
def report(
    html_file: str = typer.Option(..., "--html", metavar="FILE",
                                  help="Write the self-contained HTML page here."),
    since: str = typer.Option(None, "--since", metavar="TIME",
                              help="Start (default: 26 weeks before --until)."),
    until: str = typer.Option(None, "--until", metavar="TIME", help=UNTIL_HELP),
    source: str = typer.Option(None, "--source", metavar="SOURCE", help="Only this source."),
    project: str = typer.Option(None, "--project", metavar="KEY",
                                help="Jira project key or repository."),
    team: str = typer.Option(None, "--team", metavar="TEAM", help="A team of metrics.teams."),
    no_cache: bool = typer.Option(False, "--no-cache",
                                  help="Read every record again (ignore the facts cache)."),
) -> None:
    """Write one HTML page (works offline: nothing from a CDN) with the DORA and flow charts
    per ISO week, sprint commitment, per-source sync health and people/link coverage."""
    import os
    import tempfile
    from pathlib import Path

    from dihub.hub.facts import load_facts
    from dihub.hub.flow import make_scope
    from dihub.hub.report import build_report

    settings = state.config().settings.metrics
    store = state.store()
    try:
        since, until = _window(since, until, 26)
        scope = make_scope(settings, since, until, source=source, project=project, team=team,
                           store=store)
        facts = load_facts(store, use_cache=settings.cache and not no_cache)
        page, _data = build_report(store, facts, settings, scope)
        facts.save()
    finally:
        store.close()
    target = Path(html_file)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".report-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(page)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)       # as a plain file would be, not mkstemp's 0600
    os.replace(tmp, target)
    if not state.quiet:
        typer.echo(f"wrote {target} ({len(page.encode()) // 1024} KiB)", err=True)
