"""Injected faults and rate limits: the stored dataset must equal a clean run's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from tests.integration.conftest import Dihub
from tests.simulators.jira import Dataset, JiraSimulator, jira_faults
from tests.simulators.jira.testing import (
    FAST_RETRIES,
    TOKEN,
    TOKEN_ENV,
    config,
    credentials,
    issue_mismatches,
)

ENTITIES = ("issues", "users", "sprints")


def _records(store) -> dict[str, list[dict]]:
    """Every stored record without what differs between runs (ingestion time)."""
    out = {}
    for entity in ENTITIES:
        docs = [{k: v for k, v in d.items() if k != "ingested_at"}
                for d in store.iter_records(entity, "jira")]
        out[entity] = sorted(docs, key=lambda d: d["_id"])
    return out


def _sync(dihub: Dihub, sim: JiraSimulator) -> None:
    dihub.env[TOKEN_ENV] = TOKEN
    # small pages: more requests to fail, and page boundaries inside the bulk edit
    dihub.write_config(config(sim, top=FAST_RETRIES, extra="page_size: 10"))
    dihub.run("sync", "jira", "--all", check_code=0)


def test_five_percent_faults_give_the_clean_dataset(tmp_path):
    # 1,800 issues in pages of 10: ~190 requests (bulk changelogs keep the count low), so
    # a 5% rate injects ~9 faults
    ds = Dataset.generate(1800, sprints=12, boards=3, seed=11, long_changelogs=0.08,
                          bulk_edit=120)
    clean, faulty = Dihub(tmp_path / "clean"), Dihub(tmp_path / "faulty")
    with JiraSimulator(ds, credentials=credentials()) as sim:
        _sync(clean, sim)
    faults = jira_faults(0.05, seed=3)
    with JiraSimulator(ds, credentials=credentials(), faults=faults) as sim:
        _sync(faulty, sim)
        injected = dict(sim.stats.faults)
    assert sum(injected.values()) >= 3 and len(injected) >= 2, injected
    expected, got = _records(clean.store()), _records(faulty.store())
    for entity in ENTITIES:
        assert len(got[entity]) == len(expected[entity])
        assert got[entity] == expected[entity], entity
    assert issue_mismatches(faulty.store(), ds) == []
    metrics = faulty.store().query_metrics(source="jira")
    assert sum(m.retries for m in metrics) >= 2 and all(m.failures == 0 for m in metrics)


def _iso(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_429_retry_after_and_iso_reset_are_honoured_and_reasons_audited(dihub):
    ds = Dataset.generate(250, sprints=6, seed=5)
    with JiraSimulator(ds, credentials=credentials()) as sim:
        sim.script(r"/search/jql", [
            {"status": 429, "body": "", "headers": {
                "Retry-After": "1", "RateLimit-Reason": "jira-quota-global-based"}},
        ])
        sim.script(r"/search/jql\?.*nextPageToken", [
            {"status": 429, "body": "", "headers": {   # no Retry-After: the ISO reset rules
                "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": _iso(1), "RateLimit-Reason": "jira-burst-based"}},
        ])
        dihub.env[TOKEN_ENV] = TOKEN
        dihub.write_config(config(sim))
        dihub.run("sync", "jira", "issues", check_code=0)
        statuses = [r.status for r in sim.stats.log if "search/jql" in r.path]
    assert statuses.count(429) == 2 and statuses.count(200) == 3
    store = dihub.store()
    assert issue_mismatches(store, ds) == []
    reasons = {e.detail.get("rate_limit_reason"): e for e in store.query_audit(source="jira")
               if e.detail and e.detail.get("rate_limit_reason")}
    assert set(reasons) == {"jira-quota-global-based", "jira-burst-based"}
    assert reasons["jira-quota-global-based"].detail["wait_s"] == pytest.approx(1.0)
    assert reasons["jira-burst-based"].detail["wait_s"] >= 1.0   # until the reset + margin
    metrics = store.query_metrics(source="jira", stream="issues")[0]
    assert metrics.rate_limit_waits == 2


def test_a_long_rate_limit_checkpoints_and_exits_75_then_resumes(dihub):
    ds = Dataset.generate(300, sprints=6, seed=6)
    with JiraSimulator(ds, credentials=credentials()) as sim:
        sim.script(r"/search/jql\?.*nextPageToken", [
            {"status": 429, "body": "", "headers": {
                "Retry-After": "3600", "X-RateLimit-Reset": _iso(3600),
                "RateLimit-Reason": "jira-quota-tenant-based"}}])
        dihub.env[TOKEN_ENV] = TOKEN
        dihub.write_config(config(sim))
        first = dihub.run("sync", "jira", "issues", check_code=75)
        assert "rate limited" in first.stderr and "jira-quota-tenant-based" in first.stderr
        store = dihub.store()
        assert store.count("issues", "jira") == 100           # the first page is kept
        cursor = store.get_state("jira", "issues", "*").cursor
        assert cursor is not None
        deferred = [e for e in store.query_audit(source="jira", outcome="warning")
                    if e.action == "wait"]
        assert deferred and deferred[0].detail["rate_limit_reason"] == \
            "jira-quota-tenant-based"
        assert cursor["resume"]["token"]                      # the refused page's token
        dihub.run("sync", "jira", "issues", check_code=0)
        searches = [(r.status, parse_qs(r.query)) for r in sim.stats.log
                    if "search/jql" in r.path]
    assert issue_mismatches(store, ds) == []
    # resumed at the refused page: the same query and token, then the last page
    assert [status for status, _ in searches] == [200, 429, 200, 200]
    refused, resumed = searches[1][1], searches[2][1]
    assert resumed["nextPageToken"] == refused["nextPageToken"] == [cursor["resume"]["token"]]
    assert resumed["jql"] == refused["jql"]
    assert isinstance(store.get_state("jira", "issues", "*").cursor, str)   # pass complete
