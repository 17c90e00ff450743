"""Fields the hub's joins need (issue 12): pull request labels, assignees, requested
reviewers and body; every issue assignee and state_reason; account types; commit size;
the optional reviews stream. Expected values read from the fixture files."""

from __future__ import annotations

import copy

from dihub.connectors.github.normalize import (
    normalize_commit,
    normalize_issue,
    normalize_pull_request,
)
from dihub.connectors.github.reviews import normalize_review, review_partitions
from dihub.connectors.stream import Context
from dihub.models.documents import to_document

from .conftest import items, load

HELLO, HELLO_ID = "Codertocat/Hello-World", 186853002


def test_pull_request_keeps_labels_assignees_reviewers_and_body():
    raw = load("webhooks/pull_request.opened.json")["pull_request"]
    pr, *users = normalize_pull_request(raw, "github", HELLO, HELLO_ID)
    assert pr.labels == ["bug"]
    assert pr.assignee_ids == ["21031067"]
    assert pr.requested_reviewer_ids == ["5346"]
    assert pr.requested_team_ids == []
    assert pr.body == "This is a pretty simple change that we need to pull into master."
    # the author, the assignee (the same Codertocat account) and the reviewer, once each
    assert sorted((u.source_id, u.login, u.account_type) for u in users) == [
        ("21031067", "Codertocat", "User"), ("5346", "octocat", "User")]


def test_a_pull_request_without_them_keeps_its_old_document():
    raw = copy.deepcopy(load("webhooks/pull_request.opened.json")["pull_request"])
    raw.update(labels=[], assignees=[], requested_reviewers=[], body=None)
    doc = to_document(normalize_pull_request(raw, "github", HELLO, HELLO_ID)[0], "t")
    assert not {"labels", "assignee_ids", "requested_reviewer_ids", "requested_team_ids",
                "body"} & doc.keys()


def test_issue_keeps_every_assignee_and_state_reason():
    raw = copy.deepcopy(load("webhooks/issues.opened.json")["issue"])
    issue = normalize_issue(raw, "github", HELLO, HELLO_ID)[0]
    assert (issue.assignee_id, issue.assignee_ids, issue.state_reason) == (
        "21031067", ["21031067"], None)
    second = {**raw["assignees"][0], "id": 777, "login": "octocat"}
    raw.update(assignees=[*raw["assignees"], second], state="closed",
               state_reason="not_planned")
    issue, *users = normalize_issue(raw, "github", HELLO, HELLO_ID)
    assert issue.assignee_ids == ["21031067", "777"]
    assert issue.state_reason == "not_planned"
    assert {u.source_id for u in users} == {"21031067", "777"}


def test_commit_get_counts_its_files():
    (raw,) = items("rest/commit-get.rails_admin.octokit-rb.json")
    commit = normalize_commit(raw, "github", "sferik/rails_admin", 810796)[0]
    assert (commit.additions, commit.deletions, commit.files_changed) == (329, 319, 15)
    (listed,) = items("rest/commits-list.openapi-example.json")
    doc = to_document(normalize_commit(listed, "github", "o/r", 1)[0], "t")
    assert "files_changed" not in doc     # a list item has no files: the field stays absent


REVIEW = {   # the shape of GET /repos/{o}/{r}/pulls/{n}/reviews items (GitHub REST docs)
    "id": 80, "node_id": "MDE3OlB1bGxSZXF1ZXN0UmV2aWV3ODA=",
    "user": {"login": "octocat", "id": 1, "type": "User"},
    "body": "Here is the body for the review.", "state": "APPROVED",
    "submitted_at": "2019-11-17T17:43:43Z",
    "commit_id": "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091", "author_association": "COLLABORATOR",
}


def test_review_normalizes_with_its_reviewer():
    review, user = normalize_review(REVIEW, "github", "octocat/Hello-World", 1296269, 12)
    assert review.source_id == "1296269:80"
    assert review.pull_request_id == "github:pull_requests:1296269:12"
    assert (review.reviewer_id, review.state, review.submitted_at, review.updated_at) == (
        "1", "APPROVED", "2019-11-17T17:43:43Z", "2019-11-17T17:43:43Z")
    assert review.commit_id == "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091"
    assert (user.source_id, user.login) == ("1", "octocat")


class _Cfg:
    def __init__(self, streams):
        self.streams = streams


def test_reviews_are_off_unless_listed_in_streams():
    ctx = Context(source="github", config=_Cfg(["commits", "pull_requests"]), run_id="r")
    assert review_partitions(ctx) == []
