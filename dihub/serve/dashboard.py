"""The dashboard at `/`: plain server-rendered HTML, one vendored chart library.

Sources (connector, credential present, breaker state), the last sync of every
stream with its outcome and age, recent runs as a chart (records, requests,
duration; uPlot served from /static, no CDN), recent failures from the audit
log, and the webhook inbox. No request leaves the page but /static: it works
offline.
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

from dihub.serve.health import breakers, is_open
from dihub.timeutil import parse

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.ok{color:#1b7837}.bad{color:#b2182b}.muted{color:#777}
"""


def _age(iso: str | None, now: float) -> str:
    if not iso:
        return "never"
    seconds = max(0, now - parse(iso).timestamp())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _credential(name: str, model: Any) -> str:
    from dihub import secrets

    url = getattr(model, "base_url", None)
    if not url:
        return "not needed"
    try:
        found = secrets.get_secret(name, "token", getattr(model, "token_env", None),
                                   host=secrets.host_of(url))
    except Exception:   # noqa: BLE001 - a keyring problem is shown, not raised
        return "unreadable"
    return f"present ({found.where})" if found else "missing"


def _table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _mark(ok: bool, text: str) -> str:
    return f'<span class="{"ok" if ok else "bad"}">{escape(text)}</span>'


def render(server: Any) -> str:
    store, cfg = server.store, server.cfg
    now = time.time()
    brk = breakers(server)
    sources = []
    for name, model in sorted(cfg.sources.items()):
        cred = _credential(name, model)
        doc = brk.get(name)
        state = "open" if doc and is_open(doc, now) else (doc or {}).get("state", "closed")
        secret = next((s.secret is not None for s in server.sources.get(model.connector, [])
                       if s.name == name), None)
        sources.append([escape(name), escape(model.connector),
                        _mark(not cred.startswith(("missing", "unreadable")), cred),
                        _mark(state != "open", state),
                        "n/a" if secret is None else _mark(secret, "set" if secret else "not set")])
    streams = []
    for st in sorted(store.list_states(), key=lambda s: (s.source, s.stream, s.partition)):
        label = st.stream + ("" if st.partition == "*" else f" [{st.partition}]")
        streams.append([escape(st.source), escape(label), _mark(st.status == "ok", st.status),
                        escape(_age(st.last_success_at, now)), escape(_age(st.last_sync_at, now)),
                        escape((st.error or "")[:200])])
    runs = list(reversed(store.query_metrics(limit=60)))
    chart = {"t": [], "records": [], "requests": [], "duration": []}
    run_rows = []
    for m in runs:
        chart["t"].append(round(parse(m.started_at).timestamp()))
        chart["records"].append(m.records)
        chart["requests"].append(m.requests)
        chart["duration"].append(m.duration_s)
    for m in reversed(runs[-15:]):
        run_rows.append([escape(m.started_at), escape(f"{m.source}/{m.stream}"),
                         _mark(m.outcome == "ok", m.outcome), str(m.records), str(m.requests),
                         f"{m.duration_s:.1f} s"])
    failures = [[escape(a.timestamp), escape(a.source), escape(a.stream or a.entity or ""),
                 escape(a.action), escape((a.error or "")[:300])]
                for a in store.query_audit(outcome="failed", limit=15)]
    inbox = store.inbox_stats(now)
    pending = inbox["pending"]
    inbox_line = (f"{pending} pending (oldest {inbox['oldest_pending_age_s']:.1f} s), "
                  f"{inbox['done']} processed (kept for their TTL), {inbox['failed']} failed")
    where = store.describe() if hasattr(store, "describe") else type(store).__name__
    data = json.dumps(chart).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dihub</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/uPlot.min.css"><style>{_CSS}</style></head>
<body><h1>dihub</h1>
<p class="muted">{escape(where)}</p>
<h2>Sources</h2>
{_table(["source", "connector", "credential", "breaker", "webhook secret"], sources,
        "No sources configured.")}
<h2>Streams</h2>
{_table(["source", "stream", "last outcome", "last success", "last attempt", "error"], streams,
        "Nothing synced yet.")}
<h2>Recent runs</h2>
<div id="runs-chart"></div>
<script type="application/json" id="runs-data">{data}</script>
{_table(["started", "stream", "outcome", "records", "requests", "duration"], run_rows,
        "No runs recorded yet.")}
<h2>Recent failures</h2>
{_table(["when", "source", "stream", "action", "error"], failures, "No failures recorded.")}
<h2>Webhook inbox</h2>
<p id="inbox">{_mark(inbox['failed'] == 0, inbox_line)}</p>
<script src="/static/uPlot.iife.min.js"></script>
<script src="/static/dashboard.js"></script>
</body></html>"""
