"""Rate limits, the persisted circuit breaker, and the token never leaking anywhere."""

from __future__ import annotations

import json

from tests.integration.conftest import Dihub
from tests.simulators.github import Dataset, Faults, GitHubSimulator, TokenAuth
from tests.support.github import REPOS, TOKEN, github_config, with_token


def small() -> Dataset:
    return Dataset.generate(REPOS, commits_per_repo=150, prs_per_repo=30, issues_per_repo=30,
                            runs_per_repo=10, seed=9)


def audit(dihub: Dihub) -> list[dict]:
    out = dihub.run("audit", "--format", "json", "--limit", "100000", check_code=0).stdout
    return json.loads(out)


def test_secondary_limit_403_and_429_wait_as_retry_after_says(tmp_path):
    with GitHubSimulator(small(), rate_limit=100_000, retry_after=1) as sim:
        sim.script(r"/pulls\?", ["secondary_403"])
        sim.script(r"/issues\?", ["429"])
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url, [REPOS[0]]))
        dihub.run("sync", "github", "pull_requests", "issues", check_code=0)
        assert sim.stats.snapshot()["faults"] == {"secondary_403": 1, "429": 1}
    retries = {(e["detail"]["status"], e["detail"]["wait_s"]) for e in audit(dihub)
               if e["action"] == "retry"}
    assert retries == {(403, 1.0), (429, 1.0)}
    metrics = {m.stream: m for m in dihub.store().query_metrics(source="github")}
    for stream in ("pull_requests", "issues"):
        assert metrics[stream].retries == 1
        assert metrics[stream].rate_limit_waits >= 1
        assert metrics[stream].rate_limit_wait_s >= 1.0
    assert dihub.store().count("pull_requests", "github") == 30


def test_exhausted_quota_far_from_reset_exits_75_then_resumes(tmp_path):
    with GitHubSimulator(small(), rate_limit=5000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url))
        sim.quota.set(remaining=0, reset_in=3600)
        res = dihub.run("sync", "github", "commits", check_code=75)
        assert "rate limited" in res.stderr and "quota exhausted" in res.stderr
        assert "max_wait_s" in res.stderr
        sim.quota.reset()
        dihub.run("sync", "github", "commits", check_code=0)
        assert dihub.store().count("commits", "github") == 300


def test_open_breaker_makes_the_next_run_exit_75_without_calling_github(tmp_path):
    http = ("  retry: {attempts: 2, backoff_s: [0], jitter: 0}\n"
            "  breaker: {failures: 2, cooldown_s: 900}\n")
    with GitHubSimulator(small(), rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url, http=http))
        sim.script(r"^/", ["500"] * 1000)
        first = dihub.run("sync", "github", "--all", check_code=75)
        assert "500" in first.stderr
        entries = audit(dihub)
        assert [e["detail"]["to"] for e in entries if e["action"] == "breaker"] == ["open"]
        sim.clear_scripts()                      # the upstream is back, but within cooldown
        before = sim.stats.requests
        second = dihub.run("sync", "github", "--all", check_code=75)
        assert sim.stats.requests == before
        assert "marked unavailable" in second.stderr and "cooldown" in second.stderr
        assert dihub.store().count("commits", "github") == 0


def test_no_token_in_logs_audit_metrics_errors_or_the_store(tmp_path):
    token_auth = TokenAuth({TOKEN: "octo-ci"})
    faults = Faults(rate=0.2, seed=5, retry_after=0)
    with GitHubSimulator(small(), faults=faults, auth=token_auth, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url, raw_payloads=True))
        outputs = [dihub.run("-vv", "sync", "github", "--all", check_code=0)]
        sim.dataset.add_commit(REPOS[0])
        sim.script(r"/commits\?", ["401"])
        outputs.append(dihub.run("-vv", "sync", "github", "--all", check_code=1))
        token_auth.revoke(TOKEN)
        sim.faults = None
        outputs.append(dihub.run("-vv", "--log-format", "json", "sync", "github", "--all",
                                 check_code=1))
        sent = {r.headers.get("authorization") for r in sim.stats.log}
        assert f"Bearer {TOKEN}" in sent              # it was used: a leak had a chance
        assert sum(sim.stats.snapshot()["faults"].values()) >= 3
    for args in (("audit", "--format", "json", "--limit", "100000"),
                 ("metrics", "--format", "json", "--limit", "1000"),
                 ("metrics", "--format", "prom"), ("status",), ("auth", "status")):
        outputs.append(dihub.run(*args, check_code=0))
    texts = [p.stdout + p.stderr for p in outputs]
    entries = json.loads(outputs[3].stdout)
    assert any(e["action"] == "retry" for e in entries)
    assert sum(bool(e.get("raw_payload")) for e in entries) >= 8      # kept in the store too
    assert any(e["outcome"] == "failed" and "401" in (e["error"] or "") for e in entries)
    assert any("Bad credentials" in t for t in texts) and any("DEBUG" in t for t in texts)
    for text in texts:
        assert TOKEN not in text
    dihub.store().close()
    stored = [p for p in tmp_path.iterdir() if p.name.startswith("store.db")]
    assert stored
    for path in stored:
        assert TOKEN.encode() not in path.read_bytes(), path
