"""`dihub metrics dora|flow` and `dihub report --html` over the hand-built dataset of
tests/support/hub_fixture.py, as a user runs them; the report in a real headless browser
(Debian's chromium via Playwright's Python package; no downloaded browser): it loads
offline with no console error, every chart draws the expected number of points, and a
screenshot is taken."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dihub.models import AuditEntry, RunMetrics
from dihub.store.sqlite import SQLiteStore
from tests.support import hub_fixture as fx

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WINDOW = ["--since", "2026-03-02", "--until", "2026-03-16"]


@pytest.fixture
def hub(tmp_path):
    store = SQLiteStore(tmp_path / "hub.db")
    fx.fill(store)
    for i, (source, stream, outcome) in enumerate([("git", "commits", "ok"),
                                                   ("github", "workflow_runs", "ok"),
                                                   ("jira", "issues", "failed")]):
        store.record_metrics(RunMetrics(
            run_id=f"r{i}", source=source, stream=stream, started_at="2026-03-15T10:00:00Z",
            finished_at=f"2026-03-15T10:0{i + 1}:00Z", duration_s=60.0, outcome=outcome,
            records=10 * (i + 1), requests=i, failures=int(outcome != "ok")))
    store.append_audit(AuditEntry(run_id="r2", source="jira", stream="issues",
                                  entity="issues", action="sync", outcome="failed",
                                  timestamp="2026-03-15T10:03:00Z",
                                  error="Jira answered 502 <script>alert(1)</script>"))
    store.close()
    (tmp_path / "dihub.yaml").write_text(
        "store: {uri: 'sqlite:///hub.db'}\n"
        "metrics: {teams: {web: [alice@example.com]}}\n")
    return tmp_path


def dihub(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80", "XDG_CACHE_HOME": str(folder / "cache")}
    return subprocess.run([sys.executable, "-m", "dihub", "--config",
                           str(folder / "dihub.yaml"), *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_metrics_dora_and_flow_in_every_format(hub):
    out = dihub(hub, "metrics", "dora", *WINDOW, "--format", "json")
    assert out.returncode == 0, out.stderr
    dora = json.loads(out.stdout)
    assert dora["summary"]["lead_time_median_hours"] == 16.0
    assert dora["summary"]["change_failure_rate"] == 0.5
    rows = list(csv.DictReader(io.StringIO(
        dihub(hub, "metrics", "flow", *WINDOW, "--project", "SHOP", "-f", "csv").stdout)))
    assert {r["metric"]: r["value"] for r in rows}["cycle_time_median_days"] == "4.75"
    team = json.loads(dihub(hub, "metrics", "dora", *WINDOW, "--team", "web",
                            "-f", "json").stdout)
    assert team["summary"]["lead_time_median_hours"] == 26.0
    table = dihub(hub, "metrics", "flow", *WINDOW, "--project", "SHOP")
    assert table.returncode == 0, table.stderr
    assert all(len(line) <= 80 for line in table.stdout.splitlines())
    assert "committed points" in table.stdout and "2026-W11" in table.stdout
    assert dihub(hub, "metrics", "nope").returncode == 2
    assert dihub(hub, "metrics", "dora", "--team", "nope").returncode == 2
    assert dihub(hub, "metrics", "--since", "2026-03-02").returncode == 2
    assert dihub(hub, "metrics").returncode == 0             # the run metrics, as before
    assert (hub / "cache").is_dir()                          # the facts cache was written


playwright = pytest.importorskip("playwright.sync_api")


@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_report_opens_offline_in_headless_chromium(hub):
    page_file = hub / "out" / "report.html"
    out = dihub(hub, "report", "--html", str(page_file), *WINDOW)
    assert out.returncode == 0, out.stderr
    text = page_file.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)   # no CDN
    errors: list[str] = []
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else 0)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri(), wait_until="load")
            page.wait_for_selector("body[data-ready='1']", timeout=10_000)
            drawn = page.evaluate("""() => Object.fromEntries(
                [...document.querySelectorAll('[data-points]')].map(
                    e => [e.id, [Number(e.dataset.points), Number(e.dataset.drawn),
                                 e.querySelectorAll('canvas').length]]))""")
            body = page.inner_text("body")
            shot = hub / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requests == [page_file.as_uri()]                  # nothing else is fetched
    weeks, sprints = 2, 1                                    # 2026-W10, W11; Sprint 1
    assert drawn == {"deployments": [weeks, weeks, 1], "lead-time": [weeks, weeks, 1],
                     "cfr": [weeks, weeks, 1], "restore": [weeks, weeks, 1],
                     "throughput": [weeks, weeks, 1], "cycle-time": [weeks, weeks, 1],
                     "sprints": [sprints, sprints, 1]}
    assert shot.stat().st_size > 10_000
    for expected in ("DORA", "lead time median hours", "Sync health", "jira", "failed",
                     "commits linked to an issue", "accounts resolved to people"):
        assert expected in body, expected
    assert "<script>alert(1)</script>" not in text            # audit text is not in the page
