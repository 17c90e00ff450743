"""The GitHub normalizers over every item of the recorded payloads in tests/data/github.

Expected values were read from the fixture files themselves (see README.md there).
Repo ids come from the recordings' Link headers (/repositories/<id>/...).
"""

from __future__ import annotations

import copy

import pytest

from dihub.connectors.github.normalize import (
    normalize_commit,
    normalize_issue,
    normalize_pull_request,
    normalize_workflow_run,
)
from dihub.errors import SkippableRecord
from dihub.models import Build, Commit, Issue, PullRequest, User

from .conftest import items, load

RAILS_ADMIN, RAILS_ADMIN_ID = "sferik/rails_admin", 810796
OCTOKIT_RB, OCTOKIT_RB_ID = "octokit/octokit.rb", 417862
RUNS_REPO, RUNS_REPO_ID = "<GITHUB_LOGIN>/<GITHUB_TEST_REPOSITORY>", 540180744


def by_entity(records):
    out: dict[str, list] = {}
    for rec in records:
        out.setdefault(rec.entity, []).append(rec)
    return out


# ---------------------------------------------------------------- commits


def test_every_rails_admin_commit_normalizes():
    raws = items("rest/commits-list.rails_admin.octokit-rb.json")
    assert len(raws) == 30
    results = [normalize_commit(r, "github", RAILS_ADMIN, RAILS_ADMIN_ID) for r in raws]
    commits = [res[0] for res in results]
    assert all(isinstance(c, Commit) for c in commits)
    assert [c.commit_id for c in commits] == [r["sha"] for r in raws]
    assert all(c.source == "github" and c.repo == RAILS_ADMIN for c in commits)
    assert all(c.source_id == f"810796:{c.commit_id}" for c in commits)
    assert all(c.key() == f"github:commits:810796:{c.commit_id}" for c in commits)
    assert all(c.additions is None and c.deletions is None for c in commits)  # list: no stats
    assert sum(len(c.parents) == 2 for c in commits) == 9                    # merge commits
    users = {u.source_id: u.login for res in results for u in res[1:]}
    assert users == {"486678": "mshibuya", "26794": "bbenezech", "10308": "sferik",
                     "706648": "scarfaceDeb", "740": "rmm5t", "51488": "elado",
                     "487738": "sarahleeashraf", "355298": "elsupergomez",
                     "724914": "lengarvey", "674825": "yhourdel"}


def test_commit_fields_come_from_the_right_places():
    raws = {r["sha"]: r for r in items("rest/commits-list.rails_admin.octokit-rb.json")}
    first, user = normalize_commit(raws["d0af3380182ed7b991a9a23eae3c114b88fe0a14"],
                                   "github", RAILS_ADMIN, RAILS_ADMIN_ID)
    assert first.message == "Add generator option '--skip-devise' to skip devise installation"
    assert first.timestamp == first.updated_at == first.authored_at == "2013-06-24T11:50:20Z"
    assert first.author_id == first.committer_id == "486678"
    assert first.parents == ["3ee197541be8547cea6efb1bc9d23878820f010f"]
    assert isinstance(user, User) and user.user_id == user.source_user_id == "486678"
    assert user.login == "mshibuya" and user.email is None
    # an account holder's commit still keeps the git identity, as written, for email matching
    assert (first.author_name, first.author_email) == ("M.Shibuya", "mit.shibuya@gmail.com")
    assert (first.committer_name, first.committer_email) == ("M.Shibuya",
                                                             "mit.shibuya@gmail.com")

    # authored and committed at different times: timestamp is the committer date
    amended = normalize_commit(raws["a4cbb4c7d2bcf260984c400c7b4c9fdc3f67b872"],
                               "github", RAILS_ADMIN, RAILS_ADMIN_ID)[0]
    assert amended.authored_at == "2013-06-02T22:31:11Z"
    assert amended.timestamp == amended.updated_at == "2013-06-02T22:31:17Z"

    merge = normalize_commit(raws["ab1db7dc469085efce1be53dbed28f942758cf84"],
                             "github", RAILS_ADMIN, RAILS_ADMIN_ID)[0]
    assert merge.parents == ["ca15a8faf08e4c86e9bfd8e53adfdda02c20af80",
                             "18a74076206786e152b59d5c94084dd94767878c"]
    assert merge.message.startswith("Merge pull request #1671 from scarfaceDeb/")


def test_every_commit_keeps_the_git_identities_as_written():
    raws = items("rest/commits-list.rails_admin.octokit-rb.json")
    for raw in raws:
        commit = normalize_commit(raw, "github", RAILS_ADMIN, RAILS_ADMIN_ID)[0]
        git = raw["commit"]
        assert (commit.author_name, commit.author_email) == (git["author"]["name"],
                                                             git["author"]["email"])
        assert (commit.committer_name, commit.committer_email) == (git["committer"]["name"],
                                                                   git["committer"]["email"])
        assert commit.author_id == str(raw["author"]["id"])        # the account id stays
    names = {normalize_commit(r, "github", RAILS_ADMIN, RAILS_ADMIN_ID)[0].author_name
             for r in raws}
    assert "Benoit Bénézech" in names                               # not transliterated


def test_web_flow_committer_keeps_its_git_identity():
    # derived from a real item: merged on github.com, GitHub's web-flow account commits it
    raw = copy.deepcopy(items("rest/commits-list.rails_admin.octokit-rb.json")[0])
    raw["committer"] = {"login": "web-flow", "id": 19864447, "type": "User"}
    raw["commit"]["committer"].update(name="GitHub", email="noreply@github.com")
    commit, author, committer = normalize_commit(raw, "github", RAILS_ADMIN, RAILS_ADMIN_ID)
    assert (commit.author_id, commit.committer_id) == ("486678", "19864447")
    assert (commit.author_name, commit.author_email) == ("M.Shibuya", "mit.shibuya@gmail.com")
    assert (commit.committer_name, commit.committer_email) == ("GitHub", "noreply@github.com")
    doc = commit.to_doc()
    assert doc["author_email"] == "mit.shibuya@gmail.com"


def test_openapi_example_commit():
    (raw,) = items("rest/commits-list.openapi-example.json")
    commit, user = normalize_commit(raw, "ghe", "octocat/Hello-World", 1296269)
    assert commit.source == user.source == "ghe"
    assert commit.commit_id == "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    assert commit.source_id == "1296269:6dcb09b5b57875f334f61aebed695e2e4193db5e"
    assert commit.message == "Fix all the bugs"
    assert commit.timestamp == commit.authored_at == "2011-04-14T16:00:49Z"
    assert commit.parents == ["6dcb09b5b57875f334f61aebed695e2e4193db5e"]
    assert (user.source_id, user.login) == ("1", "octocat")
    assert (commit.author_name, commit.author_email) == ("Monalisa Octocat",
                                                         "support@github.com")


def test_commit_get_carries_stats():
    (raw,) = items("rest/commit-get.rails_admin.octokit-rb.json")
    commit, user = normalize_commit(raw, "github", RAILS_ADMIN, RAILS_ADMIN_ID)
    assert commit.commit_id == "3cdfabd973bc3caac209cba903cfdb3bf6636bcd"
    assert (commit.additions, commit.deletions) == (329, 319)
    assert commit.parents == ["a865e72344359f766b3ab03d3075c65798719ddd",
                              "a0857d80960ad9ac543e1d2d38f23b04634f0109"]
    assert commit.timestamp == "2011-01-21T19:23:58Z"
    assert commit.message == "Merge branch '3pp_history'"
    assert (user.source_id, user.login) == ("85106", "caboteria")


def test_commit_without_github_account_falls_back_to_git_email():
    # derived from a real item: GitHub sends author/committer null for unknown emails
    raw = copy.deepcopy(items("rest/commits-list.rails_admin.octokit-rb.json")[0])
    raw["author"] = None
    raw["commit"]["author"]["email"] = "Mit.Shibuya@Gmail.com"
    commit, author, committer = normalize_commit(raw, "github", RAILS_ADMIN, RAILS_ADMIN_ID)
    assert commit.author_id == "email:mit.shibuya@gmail.com"
    assert author.source_id == author.user_id == "email:mit.shibuya@gmail.com"
    assert author.email == "mit.shibuya@gmail.com" and author.display_name == "M.Shibuya"
    assert author.login is None
    assert commit.committer_id == committer.source_id == "486678"
    assert (commit.author_name, commit.author_email) == ("M.Shibuya", "Mit.Shibuya@Gmail.com")


def test_commit_without_account_or_email_is_keyed_by_name():
    """Identities with no email are never merged into one user; different names differ."""
    base = copy.deepcopy(items("rest/commits-list.rails_admin.octokit-rb.json")[0])
    base["author"] = base["committer"] = None
    keys = []
    for name in ("Alice", "Bob", "Alice"):
        raw = copy.deepcopy(base)
        raw["commit"]["author"].update(name=name, email="")
        commit, author, committer = normalize_commit(raw, "github", RAILS_ADMIN,
                                                     RAILS_ADMIN_ID)
        assert commit.author_id == author.source_id == f"name:{name}"
        assert author.email is None and author.display_name == name
        assert (commit.author_name, commit.author_email) == (name, None)
        assert committer.source_id == "email:mit.shibuya@gmail.com"
        keys.append(commit.author_id)
    assert keys == ["name:Alice", "name:Bob", "name:Alice"]


def test_commit_without_sha_is_skippable():
    raw = copy.deepcopy(items("rest/commits-list.openapi-example.json")[0])
    del raw["sha"]
    with pytest.raises(SkippableRecord, match="commit"):
        normalize_commit(raw, "github", "octocat/Hello-World", 1)


# ---------------------------------------------------------------- pull requests


def test_every_closed_pull_request_normalizes():
    raws = items("rest/pulls-list-state-closed.octokit-rb.json")
    assert len(raws) == 30
    results = [normalize_pull_request(r, "github", OCTOKIT_RB, OCTOKIT_RB_ID) for r in raws]
    prs = [res[0] for res in results]
    assert all(isinstance(p, PullRequest) and p.repo == OCTOKIT_RB for p in prs)
    assert all(p.source_id == f"417862:{p.number}" for p in prs)
    assert sum(p.state == "merged" for p in prs) == 27
    assert sorted(p.number for p in prs if p.state == "closed") == [388, 391, 400]
    assert all((p.state == "merged") == (p.merged_at is not None) for p in prs)
    assert all(p.closed_at is not None and p.draft is None for p in prs)   # 2014: no draft
    assert all(isinstance(res[1], User) and res[1].source_id == res[0].author_id
               for res in results)

    pr = {p.number: p for p in prs}
    p411 = pr[411]
    assert p411.title and p411.author_id == "478247"
    assert (p411.created_at, p411.updated_at) == ("2014-01-21T20:20:23Z", "2014-01-22T00:55:04Z")
    assert (p411.merged_at, p411.closed_at) == ("2014-01-22T00:47:17Z", "2014-01-22T00:47:18Z")
    assert p411.head_ref == "fix-vcr-client-secret-filter" and p411.base_ref == "master"
    assert p411.head_sha.startswith("3dabac5a66") and len(p411.head_sha) == 40
    assert p411.merge_commit_sha == "97e4964cc9222b18a62b9de62c4f5d1efb762db8"

    p400 = pr[400]
    assert p400.state == "closed" and p400.merged_at is None
    assert p400.closed_at == "2014-01-09T03:04:09Z"
    assert p400.head_ref == p400.base_ref == "gh-pages"


def test_docs_example_pull_request_uses_merged_at_over_state():
    (raw,) = items("rest/pulls-list.docs-example.go-scm.json")
    pr, user = normalize_pull_request(raw, "github", "octocat/Hello-World", 1296269)
    assert raw["state"] == "open" and pr.state == "merged"     # merged_at wins
    assert pr.number == 1347 and pr.title == "new-feature" and pr.draft is False
    assert pr.head_sha == "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    assert (pr.head_ref, pr.base_ref) == ("new-topic", "master")
    assert pr.merge_commit_sha is None
    assert pr.updated_at == "2011-01-26T19:01:12Z"
    assert (user.source_id, user.login) == ("1", "octocat")


# ---------------------------------------------------------------- issues


def test_issue_list_drops_pull_requests():
    raws = items("rest/issues-list-includes-prs.rails_admin.octokit-rb.json")
    assert len(raws) == 30
    results = {r["number"]: normalize_issue(r, "github", RAILS_ADMIN, RAILS_ADMIN_ID)
               for r in raws}
    assert sorted(n for n, res in results.items() if res == []) == [
        2703, 2712, 2720, 2724, 2737, 2741]
    issues = [res[0] for res in results.values() if res]
    assert len(issues) == 24
    assert all(isinstance(i, Issue) and i.type == "issue" and i.project_key == RAILS_ADMIN
               for i in issues)
    assert all(i.status == "open" and i.status_category == "open" and i.resolved_at is None
               for i in issues)

    first = results[2746]
    issue, reporter = first
    assert issue.issue_id == "2746" and issue.source_id == "810796:2746"
    assert (issue.created_at, issue.updated_at) == ("2016-10-20T14:26:39Z",
                                                     "2016-10-20T14:46:01Z")
    assert issue.reporter_id == reporter.source_id == "82954" and reporter.login == "nengine"
    assert issue.assignee_id is None and issue.labels == []


def test_paginated_issues_all_pages():
    raws = items("rest/issues-list.paginated-5-pages.octokit-fixtures.json")
    issues = [rec for raw in raws for rec in normalize_issue(raw, "github",
                                                             "octokit-fixture-org/paginate-issues",
                                                             1000)]
    found = by_entity(issues)
    assert [i.issue_id for i in found["issues"]] == [str(n) for n in range(13, 0, -1)]
    assert all(i.summary == f"Test issue {i.issue_id}" for i in found["issues"])
    assert all(i.created_at == "2017-10-10T16:00:00Z" for i in found["issues"])
    assert {(u.source_id, u.login) for u in found["users"]} == {("1000",
                                                                 "octokit-fixture-user-a")}


def test_docs_example_issue_is_a_pull_request_and_closed_issue_maps_to_done():
    (raw,) = items("rest/issues-list.docs-example.go-scm.json")
    assert normalize_issue(raw, "github", "octocat/Hello-World", 1296269) == []
    # the same payload as a plain issue, then closed (the fixtures hold no closed issue)
    plain = {k: v for k, v in raw.items() if k != "pull_request"}
    issue, *users = normalize_issue(plain, "github", "octocat/Hello-World", 1296269)
    assert (issue.issue_id, issue.summary, issue.labels) == ("1347", "Found a bug", ["bug"])
    assert issue.assignee_id == issue.reporter_id == "1"
    assert [u.source_id for u in users] == ["1"]               # deduplicated
    assert issue.status_category == "open" and issue.resolved_at is None
    closed = dict(plain, state="closed", closed_at="2011-04-23T10:00:00Z")
    done = normalize_issue(closed, "github", "octocat/Hello-World", 1296269)[0]
    assert (done.status, done.status_category, done.resolved_at) == (
        "closed", "done", "2011-04-23T10:00:00Z")


# ---------------------------------------------------------------- workflow runs


def test_every_workflow_run_normalizes():
    raws = items("rest/actions-runs-list.paginated-3-pages.octokit-rb.json", "workflow_runs")
    results = [normalize_workflow_run(r, "github", RUNS_REPO, RUNS_REPO_ID) for r in raws]
    builds = [res[0] for res in results]
    assert all(isinstance(b, Build) for b in builds)
    assert [b.run_id for b in builds] == ["3109327341", "3109327220", "3109325726"]
    assert [b.build_id for b in builds] == [
        "github_actions:540180744:3109327341:1",
        "github_actions:540180744:3109327220:1",
        "github_actions:540180744:3109325726:1",
    ]
    assert [b.source_id for b in builds] == [
        "540180744:3109327341:1", "540180744:3109327220:1", "540180744:3109325726:1"]
    assert [b.duration_s for b in builds] == [18.0, 13.0, 12.0]
    b = builds[0]
    assert (b.workflow_name, b.workflow_id, b.run_attempt) == ("test", "35593280", 1)
    assert (b.branch, b.event, b.status, b.conclusion) == (
        "main", "workflow_dispatch", "completed", "success")
    assert b.head_sha == "f5b9db8d4c16d5f3a0756a092eab03c690e91d96"
    assert (b.created_at, b.started_at) == ("2022-09-22T23:06:16Z", "2022-09-22T23:06:16Z")
    assert b.completed_at == b.updated_at == "2022-09-22T23:06:34Z"
    assert all(len(res) == 2 and res[1].source_id == "99493186" for res in results)


def test_rerun_attempt_is_a_new_build():
    raw = items("rest/actions-runs-list.paginated-3-pages.octokit-rb.json", "workflow_runs")[0]
    second = dict(raw, run_attempt=2, run_started_at="2022-09-23T08:00:00Z",
                  updated_at="2022-09-23T08:01:30Z", conclusion="failure")
    first_build = normalize_workflow_run(raw, "github", RUNS_REPO, RUNS_REPO_ID)[0]
    rerun = normalize_workflow_run(second, "github", RUNS_REPO, RUNS_REPO_ID)[0]
    assert rerun.run_id == first_build.run_id
    assert rerun.key() != first_build.key()
    assert rerun.build_id == "github_actions:540180744:3109327341:2"
    assert (rerun.duration_s, rerun.conclusion) == (90.0, "failure")


def test_queued_run_has_no_completion_or_duration():
    raw = load("webhooks/workflow_run.requested.json")["workflow_run"]
    build, actor = normalize_workflow_run(raw, "github", "Codertocat/Hello-World", 300029405)
    assert build.status == "queued" and build.conclusion is None
    assert build.completed_at is None and build.duration_s is None
    assert build.started_at == "2020-10-05T16:33:49Z"
    assert build.workflow_name is None                      # the payload's name is ""
    assert build.build_id == "github_actions:300029405:289782451:1"
    assert actor.login == "Codertocat"

    done = load("webhooks/workflow_run.completed.json")["workflow_run"]
    finished = normalize_workflow_run(done, "github", "Codertocat/Hello-World", 300029405)[0]
    assert finished.completed_at == "2020-10-05T16:33:49Z" and finished.duration_s == 0.0


def test_empty_runs_page():
    assert items("rest/actions-runs-list.empty.octokit-rb.json", "workflow_runs") == []
