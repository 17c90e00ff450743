"""Incremental `dihub sync github`: what changes upstream is exactly what arrives, and an
unchanged upstream costs no quota, whatever the stream's cursor shape."""

from __future__ import annotations

import json

from tests.integration.conftest import Dihub, summary_counts
from tests.simulators.github import Dataset, GitHubSimulator
from tests.support.github import ENTITIES, REPOS, expected, github_config, with_token

A, B = REPOS


def small(**kw) -> Dataset:
    sizes = dict(commits_per_repo=250, prs_per_repo=60, issues_per_repo=60, runs_per_repo=40,
                 seed=21)
    return Dataset.generate(REPOS, **{**sizes, **kw})


def counts(dihub: Dihub) -> dict[str, int]:
    store = dihub.store()
    return {e: store.count(e, "github") for e in ENTITIES}


def one(dihub: Dihub, entity: str, **where) -> dict:
    docs = [d for d in dihub.store().iter_records(entity, "github")
            if all(d.get(k) == v for k, v in where.items())]
    assert len(docs) == 1, (entity, where, len(docs))
    return docs[0]


def assert_free_resync(dihub: Dihub, sim: GitHubSimulator, *args: str) -> None:
    before = sim.stats.snapshot()
    res = dihub.run("sync", "github", *(args or ("--all",)), check_code=0)
    after = sim.stats.snapshot()
    assert after["quota_spent"] == before["quota_spent"], after["by_route"]
    assert after["not_modified"] - before["not_modified"] == \
        after["requests"] - before["requests"] > 0
    assert summary_counts(res.stderr)["inserted"] == summary_counts(res.stderr)["updated"] == 0


def test_changes_upstream_arrive_exactly_and_nothing_else_is_rewritten(tmp_path):
    data = small()
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url))
        dihub.run("sync", "github", "--all", check_code=0)
        assert counts(dihub) == expected(data)["counts"]

        ra = data.repo(A)
        open_pr = next(p for p in ra.pulls if p["state"] == "open")
        plain = [i for i in ra.issues if "pull_request" not in i]
        for i in range(3):
            data.add_commit(A, message=f"new work {i}")
        new_pr = data.add_pull(A, title="Brand new PR")
        data.merge_pull(A, open_pr["number"])                  # + a squash commit on main
        data.edit_issue(A, plain[0]["number"], title="Retitled issue")
        data.edit_issue(B, [i for i in data.repo(B).issues if "pull_request" not in i][3]
                        ["number"], state="closed")
        new_issue = data.add_issue(B, title="Fresh issue", labels=("bug",))
        run = data.add_run(A, conclusion="failure")

        res = dihub.run("sync", "github", "--all", check_code=0)
        assert counts(dihub) == expected(data)["counts"]
        c = summary_counts(res.stderr)
        # 4 commits, 1 PR, 1 issue, 1 build inserted (+ any new users); a few updates
        assert 7 <= c["inserted"] <= 12 and c["updated"] <= 6, c
        rid = str(ra.id)
        assert one(dihub, "pull_requests", number=open_pr["number"],
                   repo=A)["state"] == "merged"
        assert one(dihub, "pull_requests", number=new_pr["number"], repo=A)["title"] == \
            "Brand new PR"
        assert one(dihub, "issues", source_id=f"{rid}:{plain[0]['number']}")["summary"] == \
            "Retitled issue"
        assert one(dihub, "issues", issue_id=str(new_issue["number"]),
                   project_key=B)["labels"] == ["bug"]
        assert one(dihub, "builds", run_id=str(run["id"]))["conclusion"] == "failure"

        data.rerun(A, run["id"], conclusion="success")      # a re-run is a new build
        dihub.run("sync", "github", "workflow_runs", check_code=0)
        attempts = sorted((d["run_attempt"], d["conclusion"])
                          for d in dihub.store().iter_records("builds", "github")
                          if d["run_id"] == str(run["id"]))
        assert attempts == [(1, "failure"), (2, "success")]
        assert counts(dihub) == expected(data)["counts"]

        assert_free_resync(dihub, sim)


def test_a_commit_pushed_late_with_an_older_date_is_caught_by_the_overlap(tmp_path):
    data = small(prs_per_repo=0, issues_per_repo=0, runs_per_repo=0)
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url, extra="commit_overlap_minutes: 10"))
        dihub.run("sync", "github", "commits", check_code=0)
        newest = data.repo(A).commits[-1]["commit"]["committer"]["date"]
        cursor = dihub.store().get_state("github", "commits", A).cursor
        assert cursor == {"branches": {"main": _minus_minutes(newest, 10)},
                          "heads": {"main": data.repo(A).commits[-1]["sha"]}}

        late = data.add_commit(A, at=_minus_minutes(newest, 7))   # pushed now, dated earlier
        dihub.run("sync", "github", "commits", check_code=0)
        assert one(dihub, "commits", commit_id=late["sha"])["timestamp"] == \
            _minus_minutes(newest, 7)
        assert counts(dihub)["commits"] == 2 * 250 + 1
        assert_free_resync(dihub, sim, "commits")
        states = {(s.stream, s.partition) for s in dihub.store().list_states("github")}
        assert states == {("commits", A), ("commits", B)}      # only the stream asked for


def test_a_commit_pushed_long_after_it_was_made_is_read_by_reachability(tmp_path):
    """A PR merged with a merge commit, or local work pushed a day later: the commit's
    committer date is far older than the newest one seen, beyond any overlap."""
    data = small(prs_per_repo=0, issues_per_repo=0, runs_per_repo=0)
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url))
        dihub.run("sync", "github", "commits", check_code=0)
        newest = data.repo(A).commits[-1]["commit"]["committer"]["date"]

        feature = data.add_commit(A, at=_minus_minutes(newest, 24 * 60))  # made a day ago
        merge = data.add_commit(A, message="Merge pull request #9", committer="web-flow")
        dihub.run("sync", "github", "commits", check_code=0)
        assert one(dihub, "commits", commit_id=feature["sha"])["timestamp"] == \
            _minus_minutes(newest, 24 * 60)
        one(dihub, "commits", commit_id=merge["sha"])
        assert counts(dihub)["commits"] == 2 * 250 + 2
        assert_free_resync(dihub, sim, "commits")

        fast_forward = data.add_commit(A, at=_minus_minutes(newest, 3 * 24 * 60))
        dihub.run("sync", "github", "commits", check_code=0)     # the head itself is old
        one(dihub, "commits", commit_id=fast_forward["sha"])
        assert counts(dihub)["commits"] == 2 * 250 + 3
        assert_free_resync(dihub, sim, "commits")


def test_reruns_and_runs_finishing_after_they_leave_the_lookback_window(tmp_path):
    data = small(commits_per_repo=60, prs_per_repo=0, issues_per_repo=0, runs_per_repo=40)
    ra = data.repo(A)
    unfinished = [a[-1]["id"] for a in ra.runs if a[-1]["status"] != "completed"]
    assert unfinished
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url, [A], extra="runs_lookback_days: 2"))
        dihub.run("sync", "github", "workflow_runs", check_code=0)
        assert counts(dihub)["builds"] == expected(data, [A])["counts"]["builds"]

        # a week later: the unfinished runs fall out of the re-read window; they are
        # polled on their own URL until they complete
        data.tick(7 * 24 * 60)
        data.add_run(A)
        dihub.run("sync", "github", "workflow_runs", check_code=0)
        polled = sim.stats.snapshot()["by_route"].get("GET /repos/{owner}/{repo}/actions/runs/"
                                                      "{run_id}", 0)
        assert polled == len(unfinished)
        assert_free_resync(dihub, sim, "workflow_runs")

        finished = unfinished[0]
        with data.lock:
            attempts = ra.run(finished)
            attempts[-1] = {**attempts[-1], "status": "completed", "conclusion": "success",
                            "updated_at": data.tick(30)}
        dihub.run("sync", "github", "workflow_runs", check_code=0)
        doc = one(dihub, "builds", run_id=str(finished))
        assert (doc["status"], doc["conclusion"]) == ("completed", "success")
        cursor = dihub.store().get_state("github", "workflow_runs", A).cursor
        assert str(finished) not in cursor["open"]
        assert set(cursor["open"]) == {str(i) for i in unfinished[1:]}
        assert len(json.dumps(cursor)) < 2000          # the cursor stays small
        assert_free_resync(dihub, sim, "workflow_runs")


def test_several_branches_keep_a_cursor_each(tmp_path):
    data = small(prs_per_repo=0, issues_per_repo=0, runs_per_repo=0)
    old = data.repo(A).commits[99]["sha"]          # the simulator takes a SHA as a branch
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url, [A], extra=f"branches: [main, {old}]"))
        dihub.run("sync", "github", "commits", check_code=0)
        store = dihub.store()
        assert store.count("commits", "github") == 250
        assert {d["branch"] for d in store.iter_records("commits", "github")} == {"main"}
        assert set(store.get_state("github", "commits", A).cursor["branches"]) == {"main", old}
        assert_free_resync(dihub, sim, "commits")
        data.add_commit(A, message="only on main")
        res = dihub.run("sync", "github", "commits", check_code=0)
        assert summary_counts(res.stderr)["inserted"] == 1
        assert_free_resync(dihub, sim, "commits")


def test_orgs_on_enterprise_server_and_start_date(tmp_path):
    data = small()
    start = "2024-04-01T00:00:00Z"
    with GitHubSimulator(data, rate_limit=100_000, api_prefix="/api/v3") as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url, None,
                                         extra=f"orgs: [octo-org]\nstart_date: {start}"))
        dihub.run("sync", "github", check_code=0)
        store = dihub.store()
        want = {"commits": 0, "pull_requests": 0, "issues": 0, "builds": 0}
        for name in REPOS:
            r = data.repo(name)
            want["commits"] += sum(c["commit"]["committer"]["date"] >= start for c in r.commits)
            want["pull_requests"] += sum(p["updated_at"] >= start for p in r.pulls)
            want["issues"] += sum(i["updated_at"] >= start for i in r.issues
                                  if "pull_request" not in i)
            want["builds"] += sum(a["created_at"] >= start for att in r.runs for a in att)
        assert {e: store.count(e, "github") for e in want} == want
        assert 0 < want["commits"] < 500
        assert {s.partition for s in store.list_states("github")} == set(REPOS)
        assert sim.stats.snapshot()["by_route"]["GET /orgs/{org}/repos"] == 1
        assert_free_resync(dihub, sim)


def _minus_minutes(iso: str, minutes: int) -> str:
    from datetime import timedelta

    from dihub.timeutil import parse, to_iso

    return to_iso(parse(iso) - timedelta(minutes=minutes))


def test_a_cursor_saved_without_heads_is_upgraded(tmp_path):
    """Cursors written before heads were kept: one date-based pass, then reachability."""
    data = small(prs_per_repo=0, issues_per_repo=0, runs_per_repo=0)
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url, [A]))
        dihub.run("sync", "github", "commits", check_code=0)
        store = dihub.store()
        state = store.get_state("github", "commits", A)
        assert state.cursor.get("heads")
        state.cursor = {k: v for k, v in state.cursor.items() if k != "heads"}
        store.put_state(state)

        added = data.add_commit(A)
        dihub.run("sync", "github", "commits", check_code=0)
        one(dihub, "commits", commit_id=added["sha"])
        upgraded = store.get_state("github", "commits", A).cursor
        assert list(upgraded["heads"].values()) == [added["sha"]]

        late = data.add_commit(A, at=_minus_minutes(
            added["commit"]["committer"]["date"], 24 * 60))
        dihub.run("sync", "github", "commits", check_code=0)
        one(dihub, "commits", commit_id=late["sha"])
        assert counts(dihub)["commits"] == 250 + 2
