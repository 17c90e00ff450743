"""The dashboard in a real headless browser (Debian's chromium via Playwright's Python
package; no downloaded browser): it loads offline, draws its chart, logs no console
error, and a screenshot is taken."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from dihub.models import AuditEntry, RunMetrics, SyncState
from dihub.timeutil import to_iso
from tests.integration.serve_support import API_TOKEN, Served, config_text, fixture

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed "
                                       "(apt-get install -y chromium)")


def _history(s: Served) -> None:
    store = s.store()
    try:
        now = time.time()
        for i in range(6):
            start = to_iso(now - 3600 * (6 - i))
            store.record_metrics(RunMetrics(
                run_id=f"r{i}", source="gh", stream="issues", started_at=start,
                finished_at=to_iso(now - 3600 * (6 - i) + 30), duration_s=30.0 + i,
                outcome="ok" if i != 3 else "failed", records=100 * i, requests=10 + i))
        store.append_audit(AuditEntry(run_id="r3", source="gh", stream="issues",
                                      entity="issues", action="sync", outcome="failed",
                                      timestamp=to_iso(now - 3 * 3600),
                                      error="GitHub answered 502 <script>alert(1)</script>"))
        store.put_state(SyncState(source="gh", stream="issues", partition="octo-org/octo-repo",
                                  status="ok", last_sync_at=to_iso(now - 60),
                                  last_success_at=to_iso(now - 60)))
    finally:
        store.close()


def test_dashboard_loads_in_headless_chromium_without_console_errors(tmp_path):
    s = Served(tmp_path, config_text()).start()
    try:
        _history(s)
        s.github("issues", fixture("issues.opened.json"))
        s.wait_processed()
        assert s.http.get("/").status_code == 401      # the token is needed
        errors: list[str] = []
        requests: list[str] = []
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                context = browser.new_context(
                    http_credentials={"username": "dihub", "password": API_TOKEN},
                    viewport={"width": 1100, "height": 1400})
                page = context.new_page()
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else 0)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("request", lambda r: requests.append(r.url))
                response = page.goto(s.base + "/", wait_until="networkidle")
                assert response is not None and response.status == 200
                page.wait_for_selector("#runs-chart canvas", timeout=10_000)
                text = page.inner_text("body")
                shot = tmp_path / "dashboard.png"
                page.screenshot(path=str(shot), full_page=True)
            finally:
                browser.close()
        assert errors == []
        assert all(u.startswith(s.base) for u in requests)       # nothing from a CDN
        assert shot.stat().st_size > 10_000
        for expected in ("gh", "github", "sl", "slack", "jr", "jira", "issues",
                         "GitHub answered 502 <script>alert(1)</script>", "processed",
                         "Recent runs", "Webhook inbox"):
            assert expected in text, expected
    finally:
        s.close()
