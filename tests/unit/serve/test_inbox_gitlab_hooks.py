"""GitLab hook payloads -> records, over every payload in tests/data/gitlab/webhooks: the
REST shape the normalizers read, what each hook lacks, the stored record filling it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dihub.inbox import gitlab_hooks as h
from dihub.inbox.process import Processor
from dihub.serve.sources import WebhookSource, instance_host, pick_gitlab
from dihub.serve.verify import token_ok

DATA = Path(__file__).resolve().parents[2] / "data" / "gitlab" / "webhooks"
FIXTURES = sorted(p.name for p in DATA.glob("*.json"))
MAIN_ENTITY = {"push": "commits", "merge_request": "pull_requests", "issue": "issues",
               "pipeline": "builds", "build": "jobs"}


def load(name: str) -> tuple[str, dict[str, Any]]:
    doc = json.loads((DATA / name).read_text())
    return doc["headers"]["X-Gitlab-Event"], doc["body"]


class Page:
    def __init__(self, records):
        self.records = records


class Store:
    def __init__(self, stored: dict[str, Any] | None = None):
        self.stored = stored

    def query(self, entity, source=None, filters=None, limit=1):
        s = self.stored
        ok = s and s["entity"] == entity and s["source_id"] == filters["source_id"]
        return Page([s] if ok else [])


class Cfg:
    sources = {"gl": object()}


def records(body: dict[str, Any], stored: dict[str, Any] | None = None):
    work = Processor(Cfg(), Store(stored)).records_for(
        {"source": "gl", "kind": "gitlab", "event": "", "body": json.dumps(body).encode()})
    return work


def test_every_fixture_is_covered():
    kinds = {load(n)[1]["object_kind"] for n in FIXTURES}
    assert kinds == set(MAIN_ENTITY)


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_maps_to_the_pollers_key(name):
    event, body = load(name)
    assert h.HOOK_EVENTS[event] == body["object_kind"]
    project_id, path = h.project_of(body)
    assert project_id is not None and path and "/" in path
    work = records(body)
    docs = work.upserts + work.insert_only
    main = [d for d in docs if d["entity"] == MAIN_ENTITY[body["object_kind"]]]
    assert main, name
    for d in main:
        assert d["_id"].startswith(f"gl:{d['entity']}:{project_id}:")
        assert d.get("repo", d.get("project_key")) == path and d["raw_signature"]
    # push commits are insert-only; everything else is upserted
    assert (body["object_kind"] == "push") == bool(work.insert_only)


def test_hook_times():
    assert h.hook_time("2016-08-12 15:23:28 UTC") == "2016-08-12T15:23:28Z"
    assert h.hook_time("2016-08-12 17:23:28 +0200") == "2016-08-12T15:23:28Z"
    assert h.hook_time("2012-01-03T23:36:29+02:00") == "2012-01-03T21:36:29Z"
    assert h.hook_time(None) is None


def test_job_hook_is_the_rest_job():
    _, body = load("job.go-gitlab.json")
    [job, user] = records(body).upserts
    assert job["_id"] == "gl:jobs:31537070:3580121225"
    assert (job["repo"], job["pipeline_id"], job["name"], job["stage"]) == (
        "jsmithy2/release-tools-fake", "743121198", "auto_deploy:start", "coordinated:tag")
    assert job["head_sha"] == body["sha"] and job["retried"] is False
    assert (job["started_at"], job["finished_at"], job["updated_at"]) == (
        "2023-01-10T13:50:05Z", "2023-01-10T13:50:54Z", "2023-01-10T13:50:54Z")
    assert job["duration_s"] == 49.503592 and job["queued_duration_s"] == 0.193009
    assert user["_id"] == "gl:users:2967854" and user["login"] == "jsmithy2"
    # a later poll found the attempt retried: a late hook keeps it so
    stored = {**job, "retried": True}
    assert records(body, stored).upserts[0]["retried"] is True


def test_pipeline_hook_derives_start_and_update_and_prefers_the_stored_start():
    _, body = load("pipeline.success.go-gitlab.json")
    build = records(body).upserts[0]
    assert build["build_id"] == "gitlab_ci:1:31" and build["run_attempt"] == 1
    assert build["started_at"] == "2016-08-12T15:24:56Z"      # earliest job start
    assert build["updated_at"] == "2016-08-12T15:26:29Z"      # latest time named
    assert (build["status"], build["conclusion"], build["event"]) == (
        "success", "success", "merge_request_event")
    stored = {**build, "started_at": "2016-08-12T15:24:00Z"}
    assert records(body, stored).upserts[0]["started_at"] == "2016-08-12T15:24:00Z"
    # no jobs, no start: none
    _, bare = load("pipeline.go-scm.json")
    assert records(bare).upserts[0].get("started_at") is None


def test_merge_request_hooks():
    _, opened = load("merge_request.open.go-gitlab.json")
    pr = records(opened).upserts[0]
    assert (pr["number"], pr["state"], pr["draft"], pr["labels"]) == (1, "open", False, ["API"])
    assert (pr["assignee_ids"], pr["requested_reviewer_ids"], pr["author_id"]) == (
        ["1"], ["1"], "51")
    users = [d for d in records(opened).upserts if d["entity"] == "users"]
    assert [u["source_id"] for u in users] == ["1"]        # not the bare author id 51
    _, merged = load("merge_request.merge.go-scm.json")
    pr = records(merged).upserts[0]
    assert pr["state"] == "merged" and pr["merged_at"] == "2017-12-10T17:08:07Z"
    stored = {**pr, "merged_at": "2017-12-10T17:08:06Z"}
    assert records(merged, stored).upserts[0]["merged_at"] == "2017-12-10T17:08:06Z"


def test_issue_hook_and_the_stored_milestone():
    _, body = load("issue.open.go-gitlab.json")
    issue = records(body).upserts[0]
    assert (issue["issue_id"], issue["status"], issue["status_category"]) == ("23", "open",
                                                                              "open")
    assert issue["assignee_ids"] == ["3"] and issue["reporter_id"] == "51"
    assert issue.get("milestone") is None and issue.get("story_points") is None
    body["object_attributes"]["milestone_id"] = 7
    stored = {**issue, "milestone": "v1.0", "story_points": 3.0}
    again = records(body, stored).upserts[0]
    assert (again["milestone"], again["story_points"]) == ("v1.0", 3.0)


def test_push_hook_commits_and_deletions():
    _, body = load("push.go-gitlab.json")
    work = records(body)
    assert [d["commit_id"] for d in work.insert_only] == [c["id"] for c in body["commits"]]
    assert work.insert_only[0]["timestamp"] == "2011-12-12T12:27:31Z"
    gone = {**body, "after": h.NULL_SHA, "commits": []}
    assert records(gone).insert_only == []
    tag = {**body, "ref": "refs/tags/v1"}
    assert records(tag).insert_only == []


class Conf:
    def __init__(self, base_url, projects=(), groups=()):
        self.base_url, self.projects, self.groups = base_url, list(projects), list(groups)


def test_source_picking_by_instance_project_and_group():
    a = WebhookSource("a", "gitlab", Conf("https://gitlab.example.com", ["Mike/Diaspora"]), "s")
    b = WebhookSource("b", "gitlab", Conf("https://gitlab.com", ["15"]), "s")
    c = WebhookSource("c", "gitlab", Conf("https://gitlab.com", groups=["mike"]), "s")
    _, push = load("push.go-gitlab.json")
    assert pick_gitlab([a, b], "https://gitlab.example.com", push) is a
    assert pick_gitlab([a, b], "https://gitlab.com", push) is b
    assert pick_gitlab([a, c], "gitlab.com", push) is c
    assert pick_gitlab([a, b], None, push) is a               # no header: any instance
    assert pick_gitlab([a], "https://other.example.com", push) is None
    other = {**push, "project": {"id": 9, "path_with_namespace": "mikey/diaspora"}}
    assert pick_gitlab([a, b, c], None, other) is None
    assert instance_host("https://GitLab.example.com/") == "gitlab.example.com"


def test_token_compare():
    assert token_ok("s3cret", "s3cret") and not token_ok("s3cret", "s3cre")
    assert not token_ok("s3cret", None) and not token_ok("", "")
