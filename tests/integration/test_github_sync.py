"""`dihub sync github` end to end against the simulator: exact counts at the issue's size,
a no-change re-sync that spends no quota, and a faulty upstream that changes nothing."""

from __future__ import annotations

import json

from tests.integration.conftest import Dihub, summary_counts
from tests.simulators.github import Dataset, Faults, GitHubSimulator
from tests.support.github import (
    ENTITIES,
    REPOS,
    cursors,
    expected,
    github_config,
    records,
    with_token,
)

ISSUE_SIZE = dict(commits_per_repo=5000, prs_per_repo=1000, issues_per_repo=1000,
                  runs_per_repo=500, seed=11)


def _delta(after: dict, before: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def test_exact_sync_at_issue_size_then_a_free_no_change_resync(tmp_path):
    data = Dataset.generate(REPOS, **ISSUE_SIZE)
    want = expected(data)
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url))
        first = dihub.run("sync", "github", "--all", check_code=0)
        store = dihub.store()
        got = {e: store.count(e, "github") for e in ENTITIES}
        assert got == want["counts"]
        assert want["counts"]["commits"] == 10_000 and want["counts"]["pull_requests"] == 2000
        assert want["counts"]["issues"] == 2000 and want["counts"]["builds"] > 1000
        assert {d["commit_id"] for d in store.iter_records("commits", "github")} == want["shas"]
        assert {(int(d["run_id"]), d["run_attempt"])
                for d in store.iter_records("builds", "github")} == want["builds"]
        assert summary_counts(first.stderr)["inserted"] == sum(want["counts"].values())

        # paging: 100 a page; one extra request per stream and repo to learn the ETag of
        # the next run's first URL (commits, issues); earlier attempts of re-runs
        routes = sim.stats.snapshot()["by_route"]
        assert routes["GET /repos/{owner}/{repo}/commits"] == 2 * (50 + 1)
        assert routes["GET /repos/{owner}/{repo}/pulls"] == 2 * 10
        assert routes["GET /repos/{owner}/{repo}/issues"] == 2 * (20 + 1)
        assert routes["GET /repos/{owner}/{repo}/actions/runs"] == 2 * 5
        reruns = want["counts"]["builds"] - 2 * 500
        assert routes["GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/"
                      "{attempt_number}"] == reruns

        before_states = cursors(store)
        before_records = {e: records(store, e) for e in ENTITIES}
        snap = sim.stats.snapshot()
        again = dihub.run("sync", "github", "--all", check_code=0)
        after = sim.stats.snapshot()
        assert after["quota_spent"] == snap["quota_spent"]
        requests = after["requests"] - snap["requests"]
        assert requests > 0
        assert _delta(after["by_status"], snap["by_status"]) == {"304": requests}
        assert summary_counts(again.stderr) == {"records": 0, "inserted": 0, "updated": 0,
                                                "unchanged": 0}
        assert cursors(store) == before_states
        assert {e: records(store, e) for e in ENTITIES} == before_records

        run_id = again.stderr.rsplit("run ", 1)[1].split(":", 1)[0]
        metrics = [m for m in store.query_metrics(source="github") if m.run_id == run_id]
        # `--all` passes over `reviews` too: off (not in `streams:`), so no partition runs
        assert sorted(m.stream for m in metrics) == ["commits", "issues", "pull_requests",
                                                     "reviews", "workflow_runs"]
        assert sum(m.requests for m in metrics) == requests
        assert all(m.not_modified == m.requests and m.outcome == "ok" for m in metrics)
        audit = json.loads(dihub.run("audit", "--format", "json", "--limit", "500",
                                     check_code=0).stdout)
        calls = [e for e in audit if e["run_id"] == run_id and e["action"] == "requests"]
        assert sum(e["detail"]["calls"] for e in calls) == requests
        assert all(e["detail"]["not_modified"] == e["detail"]["calls"] for e in calls)


def test_five_percent_faults_end_with_the_clean_runs_data(tmp_path):
    """Three fault seeds, together hitting every kind (500, 502, 429, secondary 403,
    dropped connection, truncated JSON), each against a clean run of the same data."""
    data = Dataset.generate(REPOS, commits_per_repo=1200, prs_per_repo=250,
                            issues_per_repo=250, runs_per_repo=150, seed=5)
    kinds: set[str] = set()
    clean = None
    for seed in (None, 3, 5, 7):
        faults = Faults(rate=0.05, seed=seed, retry_after=0) if seed else None
        with GitHubSimulator(data, faults=faults, rate_limit=100_000) as sim:
            dihub = with_token(Dihub(tmp_path / f"seed-{seed}"))
            dihub.write_config(github_config(sim.api_url, batch_size=250))
            dihub.run("sync", "github", "--all", check_code=0)
            hit = sim.stats.snapshot()["faults"]
        store = dihub.store()
        if clean is None:
            clean = {e: records(store, e) for e in ENTITIES}
            assert {e: len(v) for e, v in clean.items()} == expected(data)["counts"]
            continue
        kinds |= set(hit)
        metrics = store.query_metrics(source="github")
        assert sum(m.retries for m in metrics) == sum(hit.values()) > 0
        for entity in ENTITIES:
            assert records(store, entity) == clean[entity], (seed, entity)
    assert kinds == {"500", "502", "429", "secondary_403", "drop", "truncated"}


def test_reviews_end_to_end_then_only_the_pull_request_reviewed_since(tmp_path):
    """`streams: [pull_requests, reviews]`: every review of every pull request (one has
    two pages), its reviewer as a user; a no-change re-sync reads no pull request's
    reviews; a new review (which updates its pull request) costs that one request."""
    data = Dataset.generate(REPOS[:1], commits_per_repo=30, prs_per_repo=120,
                            issues_per_repo=5, runs_per_repo=0, seed=4, reviews_per_pull=2)
    repo = data.repo(REPOS[0])
    want = {str(rv["id"]) for rvs in repo.reviews.values() for rv in rvs}
    route = "GET /repos/{owner}/{repo}/pulls/{number}/reviews"
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url, REPOS[:1],
                                         extra="streams: [pull_requests, reviews]"))
        dihub.run("sync", "github", "--all", check_code=0)
        store = dihub.store()
        got = {d["review_id"] for d in store.iter_records("reviews", "github")}
        assert got == want and len(want) > 130
        assert sim.stats.snapshot()["by_route"][route] == 120 + 1
        reviewers = {d["reviewer_id"] for d in store.iter_records("reviews", "github")}
        users = {d["source_id"] for d in store.iter_records("users", "github")}
        assert reviewers <= users           # the account ids, as a pull request's author

        snap = sim.stats.snapshot()["by_route"].get(route, 0)
        dihub.run("sync", "github", "--all", check_code=0)
        assert sim.stats.snapshot()["by_route"].get(route, 0) == snap

        old = repo.pulls[7]["number"]
        late = data.add_review(REPOS[0], old, state="CHANGES_REQUESTED")
        dihub.run("sync", "github", "--all", check_code=0)
        assert sim.stats.snapshot()["by_route"][route] == snap + 1
        stored = {d["review_id"]: d for d in store.iter_records("reviews", "github")}
        assert set(stored) == want | {str(late["id"])}
        assert stored[str(late["id"])]["state"] == "CHANGES_REQUESTED"
        assert stored[str(late["id"])]["number"] == old
