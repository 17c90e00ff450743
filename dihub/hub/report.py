"""`dihub report --html FILE`: one self-contained HTML page.

DORA and flow charts per ISO week, sprint commitment vs completion, per-source sync
health (from run metrics and the audit log) and people/link coverage. Everything is
inlined: the charting library (uPlot, the copy vendored for `dihub serve`), its CSS, the
data as JSON and the drawing script, so the page opens offline from a cron job's output
folder. Each chart's container carries `data-points` (the number of x values it was given)
and, once drawn, `data-drawn` (the number uPlot holds), for tests and scripts.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from dihub.hub.dora import compute_dora
from dihub.hub.facts import Facts
from dihub.hub.flow import Scope, compute_flow

# (chart id, title, section, series: [(key, label, colour)], kind)
CHARTS = [
    ("deployments", "Deployments per week", "dora",
     [("deployments", "deployments", "#2a6f97"), ("failed_deployments", "failed", "#c9184a")]),
    ("lead-time", "Lead time for changes, median (hours)", "dora",
     [("lead_time_median_hours", "lead time (h)", "#2a6f97")]),
    ("cfr", "Change failure rate", "dora",
     [("change_failure_rate", "change failure rate", "#c9184a")]),
    ("restore", "Time to restore, median (hours)", "dora",
     [("time_to_restore_median_hours", "time to restore (h)", "#8d6a9f")]),
    ("throughput", "Throughput and WIP per week", "flow",
     [("throughput", "done", "#2a6f97"), ("wip", "WIP at week end", "#e09f3e")]),
    ("cycle-time", "Cycle time, median (days)", "flow",
     [("cycle_time_median_days", "cycle time (d)", "#2a6f97")]),
    ("sprints", "Sprint commitment vs completion (points)", "sprints",
     [("committed_points", "committed", "#2a6f97"), ("completed_points", "completed", "#3a7d44"),
      ("added_points", "added mid-sprint", "#e09f3e")]),
]

_SCRIPT = r"""
(function () {
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var charts = data.charts;
  Object.keys(charts).forEach(function (id) {
    var c = charts[id], el = document.getElementById(id);
    if (!el) { return; }
    if (!c.x.length) { el.textContent = "No data in this period."; el.dataset.drawn = "0"; return; }
    var series = [{ label: c.xlabel }];
    var columns = [c.x.map(function (_, i) { return i; })];
    c.series.forEach(function (s) {
      series.push({ label: s.label, stroke: s.color, width: 2,
                    points: { show: true, size: 6 }, spanGaps: true });
      columns.push(s.values);
    });
    var opts = {
      width: Math.min(860, Math.max(320, el.clientWidth || 860)), height: 220,
      series: series, scales: { x: { time: false } },
      axes: [{ values: function (u, ticks) {
                 return ticks.map(function (t) { return c.x[t] === undefined ? "" : c.x[t]; });
               }, incrs: [1], space: 40 }, {}]
    };
    var plot = new uPlot(opts, columns, el);
    el.dataset.drawn = String(plot.data[0].length);
  });
  document.body.dataset.ready = "1";
})();
"""

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 920px;
       color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.chart { margin: 12px 0 24px; min-height: 40px; } .chart h3 { font-size: 15px; margin: 4px 0; }
.muted { color: #777; } .bad { color: #c9184a; } .ok { color: #3a7d44; }
"""


def _asset(name: str) -> str:
    return (resources.files("dihub.serve") / "static" / name).read_text(encoding="utf-8")


def _series(rows: list[dict[str, Any]], x_key: str, spec: list) -> dict[str, Any]:
    return {"x": [r[x_key] for r in rows], "xlabel": x_key,
            "series": [{"label": label, "color": color, "values": [r.get(key) for r in rows]}
                       for key, label, color in spec]}


def sync_health(store: Any) -> list[dict[str, Any]]:
    """Per source: the last run (newest stream run), its outcome, and over the latest run
    of each of its streams: records, requests, failures; failed audit entries in total."""
    from dihub.metrics_export import latest_per_stream

    latest = latest_per_stream(store.query_metrics(limit=10_000))
    by_source: dict[str, dict[str, Any]] = {}
    for m in latest:
        row = by_source.setdefault(m.source, {"source": m.source, "last_run": "",
                                              "outcome": "", "streams": 0, "records": 0,
                                              "requests": 0, "failures": 0,
                                              "failed_audit_entries": 0})
        row["streams"] += 1
        row["records"] += m.records
        row["requests"] += m.requests
        row["failures"] += m.failures
        if m.finished_at > row["last_run"]:
            row["last_run"], row["outcome"] = m.finished_at, m.outcome
        if m.outcome != "ok":
            row["outcome"] = m.outcome if row["outcome"] == "ok" else row["outcome"]
    for source, row in by_source.items():
        row["failed_audit_entries"] = len(store.query_audit(source=source, outcome="failed",
                                                            limit=10_000))
    return sorted(by_source.values(), key=lambda r: r["source"])


def coverage(store: Any, facts: Facts) -> dict[str, Any]:
    """Share of commits (distinct shas) linked to an issue: by the hub's links when it has
    computed them (`dihub hub refresh`), else by an issue key or #number in the message;
    share of accounts (users of every source) that belong to a person the hub resolved
    across sources (a person holding accounts of at least two sources)."""
    shas: dict[str, bool] = {}
    for c in facts.commits():
        shas[c.sha] = shas.get(c.sha, False) or c.linked
    linked_by = "message"
    try:
        linked_ids = {d.get("from_id") for d in store.iter_records(
            "links", filters={"kind": "mentions_issue", "from_entity": "commits"})
            if d.get("active", True)}
    except Exception:       # a store without the hub's entities
        linked_ids = set()
    if linked_ids:
        linked_by = "hub links"
        commits = facts.by_entity["commits"]
        linked_shas = {commits[i].sha for i in linked_ids if i in commits}
        shas = {sha: sha in linked_shas for sha in shas}
    accounts = {(u.source, u.user_id) for u in facts.users()}
    resolved: set[tuple[str, str]] = set()
    people = 0
    try:
        for person in store.iter_records("people", source="hub"):
            if person.get("merged_into"):
                continue
            people += 1
            owned = {(a.get("source"), a.get("user_id")) for a in person.get("accounts") or []}
            if len({s for s, _u in owned}) >= 2:
                resolved |= owned
    except Exception:
        pass
    resolved_by = "hub people"
    if not people:      # the hub has not grouped accounts: by a shared email
        resolved_by = "shared email"
        sources_of: dict[str, set[str]] = {}
        for u in facts.users():
            email = u.email or (u.user_id[6:] if u.user_id.startswith("email:") else None)
            if email:
                sources_of.setdefault(email, set()).add(u.source)
        for u in facts.users():
            email = u.email or (u.user_id[6:] if u.user_id.startswith("email:") else None)
            if email and len(sources_of[email]) >= 2:
                resolved.add((u.source, u.user_id))
    resolved &= accounts
    return {"commits": len(shas), "commits_linked": sum(shas.values()),
            "commits_linked_share": round(sum(shas.values()) / len(shas), 4) if shas else None,
            "linked_by": linked_by, "accounts": len(accounts),
            "accounts_resolved": len(resolved),
            "accounts_resolved_share": round(len(resolved) / len(accounts), 4)
            if accounts else None, "resolved_by": resolved_by}


def build_report(store: Any, facts: Facts, settings: Any, scope: Scope,
                 generated_at: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """The page and the data it shows."""
    dora = compute_dora(facts, settings, scope)
    flow = compute_flow(facts, settings, scope)
    charts: dict[str, Any] = {}
    for chart_id, _title, section, spec in CHARTS:
        rows = {"dora": dora["weekly"], "flow": flow["weekly"], "sprints": flow["sprints"]}[section]
        charts[chart_id] = _series(rows, "sprint" if section == "sprints" else "week", spec)
    data = {"charts": charts, "dora": dora["summary"], "flow": flow["summary"],
            "sync": sync_health(store), "coverage": coverage(store, facts)}
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return _page(data, scope, when), data


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".")
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _kv_table(rows: dict[str, Any]) -> str:
    cells = "".join(f"<tr><td>{html.escape(k.replace('_', ' '))}</td>"
                    f"<td class=n>{html.escape(_fmt(v))}</td></tr>" for k, v in rows.items())
    return f"<table>{cells}</table>"


def _sync_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p class=muted>No runs recorded yet.</p>"
    head = "".join(f"<th>{html.escape(h.replace('_', ' '))}</th>" for h in rows[0])
    body = ""
    for r in rows:
        cells = ""
        for k, v in r.items():
            cls = "n" if isinstance(v, int | float) else ""
            if k == "outcome":
                cls = "ok" if v == "ok" else "bad"
            cells += f"<td class='{cls}'>{html.escape(_fmt(v))}</td>"
        body += f"<tr>{cells}</tr>"
    return f"<table id=sync-health><tr>{head}</tr>{body}</table>"


def _page(data: dict[str, Any], scope: Scope, when: str) -> str:
    since = datetime.fromtimestamp(scope.since, scope.zone).strftime("%Y-%m-%d %H:%M")
    until = datetime.fromtimestamp(scope.until, scope.zone).strftime("%Y-%m-%d %H:%M")
    sections = {"dora": "", "flow": "", "sprints": ""}
    for chart_id, title, section, _spec in CHARTS:
        points = len(data["charts"][chart_id]["x"])
        sections[section] += (f"<div class=chart><h3>{html.escape(title)}</h3>"
                              f"<div id='{chart_id}' data-points='{points}'></div></div>")
    cov = data["coverage"]
    coverage_rows = {
        f"commits linked to an issue (by {cov['linked_by']})":
            f"{cov['commits_linked']:,} of {cov['commits']:,}"
            + (f" ({cov['commits_linked_share']:.0%})" if cov["commits_linked_share"] is not None
               else ""),
        f"accounts resolved to people across sources (by {cov['resolved_by']})":
            f"{cov['accounts_resolved']:,} of {cov['accounts']:,}"
            + (f" ({cov['accounts_resolved_share']:.0%})"
               if cov["accounts_resolved_share"] is not None else ""),
    }
    blob = json.dumps(data, sort_keys=True).replace("</", "<\\/")
    filters = ", ".join(f"{k} {v}" for k, v in (("source", scope.source),
                                                 ("project", scope.project)) if v)
    team_note = " (team filter)" if scope.team is not None else ""
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width, initial-scale=1">
<link rel=icon href="data:,">
<title>dihub report</title>
<style>{_asset("uPlot.min.css")}{_CSS}</style></head>
<body>
<h1>dihub report</h1>
<p class=muted>{html.escape(since)} to {html.escape(until)} ({html.escape(str(scope.zone))})
{html.escape(filters)}{team_note}; generated {html.escape(when)}.</p>
<h2>DORA</h2>{_kv_table(data["dora"])}{sections["dora"]}
<h2>Flow</h2>{_kv_table(data["flow"])}{sections["flow"]}
<h2>Sprints</h2>{sections["sprints"]}
<h2>Sync health</h2>{_sync_table(data["sync"])}
<h2>Coverage</h2>{_kv_table(coverage_rows)}
<script type="application/json" id="report-data">{blob}</script>
<script>{_asset("uPlot.iife.min.js")}</script>
<script>{_SCRIPT}</script>
</body></html>
"""


