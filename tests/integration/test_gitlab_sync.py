"""`dihub sync gitlab` end to end against the simulator: exact counts at the issue's size
with the requests it costs, a no-change re-sync that writes nothing at one request per
stream and project (4 a project), exactly the changed records after changes, and a faulty upstream
(5% faults, 429s included) that changes nothing."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Dihub, summary_counts
from tests.simulators.gitlab import Dataset, Faults, GitLabSimulator
from tests.support.gitlab import (
    ENTITIES,
    PROJECTS,
    cursors,
    expected,
    gitlab_config,
    records,
    with_token,
)

ISSUE_SIZE = dict(commits_per_project=5000, mrs_per_project=1000, issues_per_project=1000,
                  pipelines_per_project=500, seed=7)


def _delta(after: dict, before: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _counts(store) -> dict[str, int]:
    return {e: store.count(e, "gitlab") for e in ENTITIES}


@pytest.mark.slow
def test_issue_size_exact_counts_a_cheap_no_change_resync_then_exactly_the_changes(tmp_path):
    data = Dataset.generate(PROJECTS, **ISSUE_SIZE)
    want = expected(data)
    with GitLabSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(gitlab_config(sim.base_url))
        first = dihub.run("sync", "gitlab", check_code=0)
        store = dihub.store()
        assert _counts(store) == want["counts"]
        assert want["counts"]["commits"] == 10_000 and want["counts"]["pull_requests"] == 2000
        assert want["counts"]["issues"] == 2000 and want["counts"]["builds"] == 1000
        assert {(int(d["source_id"].split(":")[0]), d["commit_id"])
                for d in store.iter_records("commits", "gitlab")} == want["commits"]
        assert summary_counts(first.stderr)["inserted"] == sum(want["counts"].values())

        # the cost of a first sync: one project lookup, one branch head, 100 commits a
        # page, merge requests and issues 100 a page (each page restarts at the newest
        # updated_at, no deep offsets), pipelines 100 a page plus one detail each
        routes = sim.stats.snapshot()["by_route"]
        first_requests = sim.stats.snapshot()["requests"]
        assert routes["GET /api/v4/projects/:id"] == 2
        assert routes["GET /api/v4/projects/:id/repository/branches/:branch"] == 2
        # (a full last page still names a next one; that page comes back empty)
        assert 2 * 50 <= routes["GET /api/v4/projects/:id/repository/commits"] <= 2 * 51
        assert 2 * 10 <= routes["GET /api/v4/projects/:id/merge_requests"] <= 2 * 11
        assert 2 * 10 <= routes["GET /api/v4/projects/:id/issues"] <= 2 * 11
        assert 2 * 5 <= routes["GET /api/v4/projects/:id/pipelines"] <= 2 * 6
        assert routes["GET /api/v4/projects/:id/pipelines/:pipeline_id"] == 1000
        assert first_requests <= 2 * (1 + 1 + 51 + 11 + 11 + 6) + 1000

        # no change: nothing written, one request per stream and project (the project
        # itself is kept for project_cache_hours), 304s where the URL repeats (the branch,
        # and every list whose cursor did not move on its last page)
        before_states = cursors(store)
        before_records = {e: records(store, e) for e in ENTITIES}
        snap = sim.stats.snapshot()
        again = dihub.run("sync", "gitlab", check_code=0)
        after = sim.stats.snapshot()
        assert after["requests"] - snap["requests"] == 2 * 4
        assert summary_counts(again.stderr) == {"records": 0, "inserted": 0, "updated": 0,
                                                "unchanged": 0} or \
            summary_counts(again.stderr)["inserted"] + \
            summary_counts(again.stderr)["updated"] == 0
        assert {e: records(store, e) for e in ENTITIES} == before_records
        third = sim.stats.snapshot()
        dihub.run("sync", "gitlab", check_code=0)
        fourth = sim.stats.snapshot()
        assert fourth["requests"] - third["requests"] == 2 * 4
        assert _delta(fourth["by_status"], third["by_status"]) == {"304": 2 * 4}
        assert set(cursors(store)) == set(before_states)

        # changes: 7 new commits, 3 updated and 2 new merge requests, 4 updated issues,
        # one retried pipeline: exactly those are inserted/updated
        a, b = PROJECTS
        new_commits = data.add_commits(a, 7)
        for iid in (5, 17, 900):
            data.update_mr(a, iid, title=f"Retitled {iid}")
        data.add_mrs(b, 2)
        for iid in (1, 2, 3, 999):
            data.update_issue(b, iid, labels=["changed"])
        pl = data.projects[a].pipelines[10]
        data.retry_pipeline(a, pl["id"])
        new_users = {c["author_email"].lower() for c in new_commits} - {
            d["email"] for d in store.iter_records("users", "gitlab") if d.get("email")}
        before = {e: records(store, e) for e in ENTITIES}
        dihub.run("sync", "gitlab", check_code=0)
        after_records = {e: records(store, e) for e in ENTITIES}
        want = expected(data)
        assert _counts(store) == want["counts"]

        def changed(entity):
            old, new = before[entity], after_records[entity]
            return ({k for k in new if k not in old},
                    {k for k in new if k in old and new[k]["raw_signature"]
                     != old[k]["raw_signature"]})

        pa, pb = data.projects[a].id, data.projects[b].id
        assert changed("commits") == ({f"gitlab:commits:{pa}:{c['id']}" for c in new_commits},
                                      set())
        assert changed("pull_requests") == (
            {f"gitlab:pull_requests:{pb}:{m}" for m in (1001, 1002)},
            {f"gitlab:pull_requests:{pa}:{m}" for m in (5, 17, 900)})
        assert changed("issues") == (set(), {f"gitlab:issues:{pb}:{i}" for i in (1, 2, 3, 999)})
        assert changed("builds") == (set(), {f"gitlab:builds:{pa}:{pl['id']}"})
        assert len(changed("users")[0]) == len(new_users)


@pytest.mark.slow
def test_five_percent_faults_with_429s_end_with_the_clean_runs_data(tmp_path):
    data = Dataset.generate(PROJECTS, commits_per_project=600, mrs_per_project=150,
                            issues_per_project=150, pipelines_per_project=60, seed=5)
    clean = None
    hits: dict[str, int] = {}
    for seed in (None, 1, 2):
        faults = Faults(rate=0.05, seed=seed, retry_after=0) if seed else None
        with GitLabSimulator(data, faults=faults, rate_limit=100_000) as sim:
            dihub = with_token(Dihub(tmp_path / f"seed-{seed}"))
            dihub.write_config(gitlab_config(sim.base_url, batch_size=100))
            dihub.run("sync", "gitlab", check_code=0)
            hit = sim.stats.snapshot()["faults"]
        store = dihub.store()
        if clean is None:
            clean = {e: records(store, e) for e in ENTITIES}
            assert {e: len(v) for e, v in clean.items()} == expected(data)["counts"]
            continue
        for kind, n in hit.items():
            hits[kind] = hits.get(kind, 0) + n
        metrics = store.query_metrics(source="gitlab")
        assert sum(m.retries for m in metrics) == sum(hit.values()) > 0
        for entity in ENTITIES:
            assert records(store, entity) == clean[entity], (seed, entity)
    assert hits.get("429", 0) > 0


def test_groups_list_their_subgroups_projects_by_keyset_archived_only_when_asked(tmp_path):
    data = Dataset.generate(PROJECTS, commits_per_project=30, mrs_per_project=3,
                            issues_per_project=3, pipelines_per_project=2, seed=9,
                            archived=["group-a/sub/old-project"])
    with GitLabSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path / "active"))
        dihub.write_config(gitlab_config(sim.base_url, None, extra="groups: [group-a]"))
        dihub.run("sync", "gitlab", "merge_requests", check_code=0)
        repos = {d["repo"] for d in dihub.store().iter_records("pull_requests", "gitlab")}
        assert repos == set(PROJECTS)
        listed = [r for r in sim.stats.log if r.path.endswith("/projects")
                  and "/groups/" in r.path]
        assert listed and all("pagination=keyset" in r.query for r in listed)
        assert sim.stats.snapshot()["by_route"].get("GET /api/v4/projects/:id") is None

        every = with_token(Dihub(tmp_path / "archived"))
        every.write_config(gitlab_config(sim.base_url, None,
                                         extra="groups: [group-a]\ninclude_archived: true"))
        every.run("sync", "gitlab", "merge_requests", check_code=0)
        repos = {d["repo"] for d in every.store().iter_records("pull_requests", "gitlab")}
        assert repos == {*PROJECTS, "group-a/sub/old-project"}


def test_jobs_every_attempt_with_its_retried_flag_then_only_pipelines_updated(tmp_path):
    """`streams: [pipelines, jobs]`: every job of every pipeline, retried attempts
    included (GitLab's job entity has no `retried` field: an attempt is retried when the
    pipeline has a newer job of its name); a no-change re-sync asks no pipeline for its
    jobs; a retried pipeline (its `updated_at` moves) costs that one request."""
    from tests.simulators.gitlab.jobs import pipeline_jobs

    project = PROJECTS[0]
    data = Dataset.generate([project], commits_per_project=40, mrs_per_project=4,
                            issues_per_project=0, pipelines_per_project=60, seed=3)
    p = data.projects[project]
    want = {str(j["id"]): j for pl in p.pipelines
            for j in pipeline_jobs(p, pl, data.people, include_retried=True)}
    newest = {}
    for j in want.values():
        key = (j["pipeline"]["id"], j["name"])
        newest[key] = max(newest.get(key, 0), j["id"])
    retried = {jid for jid, j in want.items()
               if j["id"] != newest[(j["pipeline"]["id"], j["name"])]}
    assert retried and len(want) > 200
    route = "GET /api/v4/projects/:id/pipelines/:pipeline_id/jobs"
    with GitLabSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(gitlab_config(sim.base_url, [project],
                                         extra="streams: [pipelines, jobs]"))
        dihub.run("sync", "gitlab", "pipelines", "jobs", check_code=0)
        store = dihub.store()
        got = {d["job_id"]: d for d in store.iter_records("jobs", "gitlab")}
        assert set(got) == set(want)
        assert {jid for jid, d in got.items() if d["retried"]} == retried
        assert {d["status"] for jid, d in got.items() if jid in retried} == {"failed"}
        assert sim.stats.snapshot()["by_route"][route] == 60

        dihub.run("sync", "gitlab", "pipelines", "jobs", check_code=0)
        assert sim.stats.snapshot()["by_route"][route] == 60

        data.retry_pipeline(project, p.pipelines[10]["id"], status="failed")
        dihub.run("sync", "gitlab", "pipelines", "jobs", check_code=0)
        assert sim.stats.snapshot()["by_route"][route] == 61
        rspec = [d for d in store.iter_records("jobs", "gitlab")
                 if d["pipeline_id"] == str(p.pipelines[10]["id"]) and d["name"] == "rspec"]
        assert rspec and max(rspec, key=lambda d: int(d["job_id"]))["status"] == "failed"
