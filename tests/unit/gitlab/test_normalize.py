"""The GitLab normalizers over every item of every recorded fixture, and the behaviours
GitLab documents: commit dates in the committer's offset, separate iid sequences,
fast-forward merges without a merge commit, pipelines keyed by id."""

from __future__ import annotations

import pytest

from dihub.connectors.gitlab import normalize as n
from dihub.errors import SkippableRecord
from dihub.models import Build, Commit, Issue, PullRequest, User

from .conftest import body

COMMIT_FIXTURES = ["commits-list.docs-example.json", "commits-list.go-scm.json"]


@pytest.mark.parametrize("name", COMMIT_FIXTURES)
def test_every_listed_commit_normalizes_with_its_git_identities(name):
    for raw in body(name):
        recs = n.normalize_commit(raw, "gl", "g/p", 5, "main")
        commit = recs[0]
        assert isinstance(commit, Commit)
        assert commit.source_id == f"5:{raw['id']}" and commit.commit_id == raw["id"]
        assert commit.parents == raw["parent_ids"] and commit.branches == ["main"]
        assert commit.author_email == raw["author_email"]
        assert commit.author_id == f"email:{raw['author_email'].lower()}"
        users = {u.source_id for u in recs[1:]}
        assert users == {f"email:{raw['author_email'].lower()}",
                         f"email:{raw['committer_email'].lower()}"}
        assert commit.timestamp and commit.timestamp.endswith("Z")


def test_commit_dates_are_stored_in_utc():
    raw = body("commits-list.docs-example.json")[0]          # 2012-09-20T11:50:22+03:00
    commit = n.normalize_commit(raw, "gl", "g/p", 5)[0]
    assert commit.timestamp == "2012-09-20T08:50:22Z"
    assert commit.authored_at == "2012-09-20T08:50:22Z"
    scm = body("commits-list.go-scm.json")[0]                # 2012-06-28T03:44:20-07:00
    assert n.normalize_commit(scm, "gl", "g/p", 5)[0].timestamp == "2012-06-28T10:44:20Z"


def test_a_commit_without_dates_falls_back_to_created_at_or_none():
    listed = body("commits-list.docs-example.json")[1]        # only created_at
    assert n.normalize_commit(listed, "gl", "g/p", 5)[0].timestamp == "2012-09-20T06:06:12Z"
    single = body("commit-get.go-gitlab.json")                # no dates, with stats
    commit = n.normalize_commit(single, "gl", "g/p", 13083)[0]
    assert commit.timestamp is None
    assert (commit.additions, commit.deletions) == (15, 10)


@pytest.mark.parametrize("name", ["merge-requests-list.go-gitlab.json",
                                  "merge-requests-list.go-scm.json"])
def test_every_merge_request_normalizes(name):
    for raw in body(name):
        recs = n.normalize_merge_request(raw, "gl", "g/p", raw["project_id"])
        pr = recs[0]
        assert isinstance(pr, PullRequest)
        assert pr.source_id == f"{raw['project_id']}:{raw['iid']}" and pr.number == raw["iid"]
        assert pr.state == {"opened": "open"}.get(raw["state"], raw["state"])
        assert pr.head_sha == raw["sha"] and pr.base_ref == raw["target_branch"]
        assert pr.head_ref == raw["source_branch"]
        assert pr.draft == raw["work_in_progress"]
        assert pr.labels == raw["labels"]
        assert pr.author_id == str(raw["author"]["id"])
        assert all(isinstance(u, User) for u in recs[1:])


def test_merge_request_reviewers_assignees_and_users():
    raw = body("merge-requests-list.go-gitlab.json")[0]
    recs = n.normalize_merge_request(raw, "gl", "g/p", 278964)
    pr = recs[0]
    assert pr.assignee_ids == ["4088036"] and pr.requested_reviewer_ids == ["2535118"]
    assert {u.source_id: u.login for u in recs[1:]} == {"4088036": "hfyngvason",
                                                         "2535118": "tkuah"}
    assert pr.key() == "gl:pull_requests:278964:15442"


def test_fast_forward_merge_has_no_merge_commit_and_squash_commit_wins():
    raw = dict(body("merge-requests-list.go-gitlab.json")[0], state="merged",
               merged_at="2019-08-21T10:00:00.000Z", merge_commit_sha=None)
    pr = n.normalize_merge_request(raw, "gl", "g/p", 1)[0]
    assert (pr.state, pr.merge_commit_sha, pr.merged_at) == ("merged", None,
                                                             "2019-08-21T10:00:00Z")
    squashed = dict(raw, squash_commit_sha="abc123")
    assert n.normalize_merge_request(squashed, "gl", "g/p", 1)[0].merge_commit_sha == "abc123"
    locked = dict(raw, state="locked", draft=False)
    assert n.normalize_merge_request(locked, "gl", "g/p", 1)[0].state == "locked"
    assert n.normalize_merge_request(locked, "gl", "g/p", 1)[0].draft is False


def test_every_issue_normalizes_and_iids_never_collide_with_merge_requests():
    for raw in body("issues-list.docs-example.json"):
        recs = n.normalize_issue(raw, "gl", "g/p", raw["project_id"])
        issue = recs[0]
        assert isinstance(issue, Issue)
        assert issue.issue_id == str(raw["iid"]) and issue.project_key == "g/p"
        assert issue.status == {"opened": "open"}.get(raw["state"], raw["state"])
        assert issue.labels == raw["labels"]
        assert issue.assignee_ids == [str(a["id"]) for a in raw.get("assignees") or []]
        mr = n.normalize_merge_request(
            {"iid": raw["iid"], "state": "opened"}, "gl", "g/p", raw["project_id"])[0]
        assert issue.key() != mr.key() and issue.source_id == mr.source_id


def test_issue_milestone_and_weight():
    raw = dict(body("issues-list.docs-example.json")[0], weight=3)
    issue = n.normalize_issue(raw, "gl", "g/p", 1)[0]
    assert (issue.milestone, issue.story_points) == ("v4.0", 3.0)
    assert issue.status_category == "open" and issue.reporter_id == "18"
    doc = n.normalize_issue(dict(raw, milestone=None), "gl", "g/p", 1)[0].to_doc()
    assert "milestone" not in doc          # absent unless set: stored issues keep signatures


def test_every_listed_pipeline_normalizes_without_times():
    for raw in body("pipelines-list.docs-example.json"):
        build = n.normalize_pipeline(raw, "gl", "g/p", 1)[0]
        assert isinstance(build, Build)
        assert build.source_id == f"1:{raw['id']}" and build.run_id == str(raw["id"])
        assert (build.status, build.conclusion, build.started_at) == (raw["status"], None, None)
        assert build.event == raw["source"] and build.head_sha == raw["sha"]


def test_pipeline_detail_gives_times_duration_and_conclusion():
    raw = body("pipeline-get.docs-example.json")
    recs = n.normalize_pipeline(raw, "gl", "g/p", 21)
    build = recs[0]
    assert (build.status, build.conclusion) == ("success", "success")
    assert build.started_at == "2022-09-21T01:05:14Z"
    assert build.completed_at == "2022-09-21T01:05:50Z"
    assert build.duration_s == 34.0 and build.run_attempt == 1
    assert build.build_id == "gitlab_ci:21:287" and build.workflow_name == "Build pipeline"
    assert [u.login for u in recs[1:]] == ["root"]
    failed = n.normalize_pipeline(dict(raw, status="failed", duration=None), "gl", "g/p", 21)
    assert failed[0].conclusion == "failure" and failed[0].duration_s == 36.0


def test_a_retried_pipeline_is_the_same_build_updated():
    raw = body("pipeline-get.docs-example.json")
    first = n.normalize_pipeline(raw, "gl", "g/p", 21)[0]
    retried = n.normalize_pipeline(dict(raw, status="running", finished_at=None, duration=None,
                                        updated_at="2022-09-22T08:00:00.000Z"),
                                   "gl", "g/p", 21)[0]
    assert retried.key() == first.key()
    assert (retried.status, retried.conclusion, retried.completed_at) == ("running", None, None)


@pytest.mark.parametrize("fn,raw", [
    (n.normalize_commit, {"short_id": "x"}),
    (n.normalize_merge_request, {"iid": "x", "state": "opened"}),
    (n.normalize_issue, {"iid": 1}),
    (n.normalize_pipeline, {"status": "success"}),
])
def test_malformed_items_are_skippable(fn, raw):
    with pytest.raises(SkippableRecord, match="cannot read GitLab"):
        fn(raw, "gl", "g/p", 1)
