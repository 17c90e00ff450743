"""`dihub serve` read API end to end: a delivery then a poll of the same objects (one
record, one signature), /api/fetch paging against `dihub fetch`, /api/health, the
background sync and its 409, the bearer token."""

from __future__ import annotations

import json
import time

import pytest

from dihub.models import SyncState
from dihub.timeutil import to_iso
from tests.integration.serve_support import AUTH, Served, config_text, fixture, free_port
from tests.simulators.github import Dataset, GitHubSimulator

REPO = "octo-org/repo-a"


def _pages(s: Served, path: str, limit: int) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = s.http.get(path, params=params, headers=AUTH)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_delivery_then_poll_is_one_record_with_one_signature(tmp_path):
    data = Dataset.generate([REPO], commits_per_repo=30, prs_per_repo=8, issues_per_repo=8,
                            runs_per_repo=6, seed=5)
    rd = data.repo(REPO)
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        s = Served(tmp_path, config_text(github_url=sim.api_url, repos=REPO),
                   env={"GH_TOKEN": "gh-token-for-tests"}).start()
        try:
            run = rd.runs[0][-1]
            pull = rd.pulls[0]
            issue = next(i for i in rd.issues if "pull_request" not in i)
            envelope = {"repository": rd.info, "sender": pull["user"]}
            for event, key, obj, base in (
                    ("workflow_run", "workflow_run", run, "workflow_run.completed.json"),
                    ("pull_request", "pull_request", pull, "pull_request.opened.json"),
                    ("issues", "issue", issue, "issues.opened.json")):
                payload = {**fixture(base), **envelope, key: obj}
                assert s.github(event, payload).status_code == 200
            assert s.wait_processed()["failed"] == 0
            hooked = {e: {d["_id"]: d["raw_signature"] for d in s.records(e, "gh")}
                      for e in ("builds", "pull_requests", "issues")}
            assert all(len(v) == 1 for v in hooked.values()), hooked

            s.cli("sync", "gh", "workflow_runs", "pull_requests", "issues")
            for entity, ids in hooked.items():
                polled = {d["_id"]: d["raw_signature"] for d in s.records(entity, "gh")}
                for record_id, sig in ids.items():
                    assert polled[record_id] == sig, entity     # same id, same signature
                # one record per object: the poll did not add a second one
                assert len(polled) == len(set(polled))
            # the poller found them unchanged: nothing rewritten
            store = s.store()
            try:
                audit = [a for a in store.query_audit(source="gh", limit=1000)
                         if a.action == "sync"]
            finally:
                store.close()
            assert sum(a.unchanged for a in audit) >= 3

            # /api/fetch pages are `dihub fetch`'s records, in its order, cursor for cursor
            cli = [json.loads(x) for x in
                   s.cli("fetch", "gh", "builds", "--format", "jsonl").stdout.splitlines()]
            pages = _pages(s, "/api/fetch/gh/builds", limit=4)
            assert [r for p in pages for r in p] == cli and len(pages) > 1
            first = s.cli("fetch", "gh", "builds", "--format", "jsonl", "--limit", "4")
            cursor = first.stderr.split("--cursor ")[1].split()[0]
            r = s.http.get("/api/fetch/gh/builds", params={"limit": 4}, headers=AUTH).json()
            assert r["next_cursor"] == cursor
            since = cli[2]["updated_at"]
            r = s.http.get("/api/fetch/gh/builds", params={"since": since, "limit": 1000},
                           headers=AUTH).json()
            assert r["data"] == [x for x in cli if x["updated_at"] >= since]
        finally:
            s.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("api"), config_text(max_age=3600)).start()
    yield s
    s.close()


def test_the_read_api_needs_the_token(served):
    s = served
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic !!"}):
        assert s.http.get("/api/fetch/gh/builds", headers=headers).status_code == 401
        assert s.http.get("/metrics", headers=headers).status_code == 401
        assert s.http.post("/api/sync/gh/issues", headers=headers).status_code == 401
    assert s.http.get("/api/fetch/gh/builds", headers=AUTH).json() == {"data": [],
                                                                       "next_cursor": None}
    assert s.http.get("/api/fetch/nope/builds", headers=AUTH).status_code == 404
    assert s.http.get("/api/fetch/gh/sprints", headers=AUTH).status_code == 404
    assert s.http.get("/api/fetch/gh/builds", params={"since": "yesterday-ish"},
                      headers=AUTH).status_code == 400
    metrics = s.http.get("/metrics", headers=AUTH)
    assert metrics.status_code == 200
    assert "dihub_webhook_inbox_deliveries" in metrics.text
    assert "dihub_webhook_processing_lag_seconds_count" in metrics.text
    assert s.http.get("/openapi.json").json()["paths"]["/api/fetch/{source}/{entity}"]


def test_health_turns_503_when_a_sync_is_older_than_the_threshold(served):
    s = served
    assert s.http.get("/api/health").status_code == 200
    store = s.store()
    try:
        old = to_iso(time.time() - 7200)
        store.put_state(SyncState(source="gh", stream="issues", partition="octo-org/octo-repo",
                                  status="ok", last_sync_at=old, last_success_at=old))
        r = s.http.get("/api/health")
        assert r.status_code == 503
        assert any("gh/issues" in reason for reason in r.json()["reasons"])
        fresh = to_iso(time.time())
        store.put_state(SyncState(source="gh", stream="issues", partition="octo-org/octo-repo",
                                  status="ok", last_sync_at=fresh, last_success_at=fresh))
        assert s.http.get("/api/health").status_code == 200
    finally:
        store.close()


def test_sync_runs_in_the_background_and_409_while_running(served):
    s = served
    store = s.store()
    try:
        lease = store.acquire_lease("gh", "pull_requests", "octo-org/octo-repo",
                                    "cron pid 1 on another host", 600)
        r = s.http.post("/api/sync/gh/pull_requests", headers=AUTH)
        assert r.status_code == 409 and "cron pid 1" in r.json()["detail"]
        store.release_lease("gh", "pull_requests", lease.partition, lease.owner)
    finally:
        store.close()
    assert s.http.post("/api/sync/gh/nope", headers=AUTH).status_code == 404
    # no token for the GitHub source: the pass runs and fails, as `dihub sync` would
    r = s.http.post("/api/sync/gh/pull_requests", headers=AUTH)
    assert r.status_code == 202 and r.json()["run_id"]
    deadline = time.time() + 30
    while time.time() < deadline:
        store = s.store()
        try:
            states = [st for st in store.list_states("gh") if st.stream == "pull_requests"]
        finally:
            store.close()
        if states and all(st.status == "failed" for st in states):
            break
        time.sleep(0.2)
    assert states and all(st.status == "failed" for st in states)
    assert all("token" in (st.error or "") for st in states)


def test_health_is_503_when_the_store_is_unreachable(tmp_path):
    port = free_port()      # nothing listens there
    s = Served(tmp_path, config_text(), env={
        "DIHUB_STORE_URI": f"mongodb://127.0.0.1:{port}/dihub?serverSelectionTimeoutMS=300"
                           "&connectTimeoutMS=300&timeoutMS=1000"})
    try:
        s.start()
        r = s.http.get("/api/health")
        assert r.status_code == 503
        assert r.json()["store"] == "unreachable"
        # a delivery cannot be made durable: not acknowledged, the sender retries
        assert s.github("issues", fixture("issues.opened.json")).status_code == 503
    finally:
        s.close()
