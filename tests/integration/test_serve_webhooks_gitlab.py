"""`dihub serve` GitLab webhooks end to end: the real server in a subprocess on loopback,
the real payloads of tests/data/gitlab/webhooks, and the GitLab simulator for "a delivery
and a poll of the same object are one record"."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.serve_support import SECRETS, Served
from tests.simulators.gitlab import Dataset, GitLabSimulator

DATA = Path(__file__).resolve().parents[1] / "data" / "gitlab" / "webhooks"
GL_SECRET = "gl-hook-token-for-tests"
GL_TOKEN = "gl-api-token-for-tests"
ENV = {"GL_HOOK_SECRET": GL_SECRET, "GL_TOKEN": GL_TOKEN}
INSTANCE = "https://gitlab.example.com"

# gl: the fixtures' projects on gitlab.example.com (by path, by id, through a group);
# gl2: gitlab.com with the same secret, and one project of the same path as gl's
CONFIG = """\
serve:
  webhooks:
    gl: {{secret_env: GL_HOOK_SECRET}}
    gl2: {{secret_env: GL_HOOK_SECRET}}
  inbox: {{poll_interval_s: 0.05, start_delay_s: 0, backoff_s: [0.2], max_attempts: 2}}
sources:
  gl:
    connector: gitlab
    base_url: {base_url}
    projects: [{projects}]
    groups: [{groups}]
    token_env: GL_TOKEN
    streams: [commits, merge_requests, issues, pipelines, jobs]
  gl2:
    connector: gitlab
    base_url: https://gitlab.com
    projects: [gitlabhq/gitlab-test]
    token_env: GL_TOKEN
"""
FIXTURE_PROJECTS = "GitLabHQ/gitlab-test, mike/diaspora, '31537070'"


def hook(name: str) -> tuple[str, dict[str, Any]]:
    doc = json.loads((DATA / name).read_text())
    return doc["headers"]["X-Gitlab-Event"], doc["body"]


def send(s: Served, event: str, payload: dict | bytes, *, token: str | None = GL_SECRET,
         instance: str | None = INSTANCE, **headers: str):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    h = {"Content-Type": "application/json", "X-Gitlab-Event": event,
         "User-Agent": "GitLab/17.6.0"}
    if "idempotency_key" not in headers and "webhook_uuid" not in headers and \
            "event_uuid" not in headers:
        h["Idempotency-Key"] = str(uuid.uuid4())
    names = {"idempotency_key": "Idempotency-Key", "webhook_uuid": "X-Gitlab-Webhook-UUID",
             "event_uuid": "X-Gitlab-Event-UUID"}
    h.update({names[k]: v for k, v in headers.items()})
    if token is not None:
        h["X-Gitlab-Token"] = token
    if instance is not None:
        h["X-Gitlab-Instance"] = instance
    return s.http.post("/webhooks/gitlab", content=body, headers=h)


def inbox_total(s: Served) -> int:
    stats = s.wait_processed()
    return stats["pending"] + stats["done"] + stats["failed"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("serve-gitlab"),
               CONFIG.format(base_url=INSTANCE, projects=FIXTURE_PROJECTS,
                             groups="gitlab-org"), env=ENV).start()
    yield s
    s.close()


def test_every_hook_kind_becomes_records(served):
    s = served
    for name in ("merge_request.open.go-gitlab.json", "issue.open.go-gitlab.json",
                 "pipeline.success.go-gitlab.json", "push.go-gitlab.json",
                 "job.go-gitlab.json", "merge_request.merge.go-scm.json"):
        event, body = hook(name)
        r = send(s, event, body)
        assert r.status_code == 200, (name, r.text)
        assert r.json() == {"ok": True, "duplicate": False}
    assert s.wait_processed()["failed"] == 0

    [mr] = [m for m in s.records("pull_requests", "gl") if m["repo"] == "gitlabhq/gitlab-test"]
    assert mr["_id"] == "gl:pull_requests:1:1" and mr["state"] == "open"
    assert mr["head_sha"] == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert (mr["labels"], mr["assignee_ids"], mr["requested_reviewer_ids"]) == (
        ["API"], ["1"], ["1"])
    assert mr["author_id"] == "51" and mr.get("merged_at") is None
    # gitlab-org/hello-world is gl's through `groups: [gitlab-org]`: merged, and merged_at
    # (not in this hook) falls back to the hook's updated_at
    [merged] = [m for m in s.records("pull_requests", "gl") if m["repo"] ==
                "gitlab-org/hello-world"]
    assert merged["state"] == "merged" and merged["merged_at"] == "2017-12-10T17:08:07Z"
    assert merged["merge_commit_sha"] == "78a76ee6b4992a6baf64c59fc4c44c7323d60438"

    [issue] = s.records("issues", "gl")
    assert issue["_id"] == "gl:issues:1:23" and issue["status"] == "open"
    assert issue["labels"] == ["API"] and issue["assignee_ids"] == ["3"]
    assert issue["type"] == "issue" and issue.get("milestone") is None

    [build] = s.records("builds", "gl")
    assert build["build_id"] == "gitlab_ci:1:31" and build["conclusion"] == "success"
    assert build["started_at"] == "2016-08-12T15:24:56Z"      # the earliest job start
    assert build["completed_at"] == "2016-08-12T15:26:29Z" and build["duration_s"] == 63

    commits = {c["commit_id"]: c for c in s.records("commits", "gl")}
    assert set(commits) == {"b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
                            "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"}
    assert all(c["branch"] == "master" and c["repo"] == "mike/diaspora"
               for c in commits.values())

    [job] = s.records("jobs", "gl")
    assert job["_id"] == "gl:jobs:31537070:3580121225"
    assert job["repo"] == "jsmithy2/release-tools-fake" and job["pipeline_id"] == "743121198"
    assert job["status"] == "success" and job["retried"] is False
    users = {u["source_id"]: u for u in s.records("users", "gl")}
    # whole user objects only: the MR's author (a bare author_id) is no user record
    assert "51" not in users and users["2967854"]["login"] == "jsmithy2"


def test_the_instance_header_picks_the_source(served):
    s = served
    event, body = hook("issue.open.go-gitlab.json")
    body["object_attributes"]["iid"] = 99
    assert send(s, event, body, instance="https://gitlab.com").status_code == 200
    s.wait_processed()
    assert [i["issue_id"] for i in s.records("issues", "gl2")] == ["99"]
    assert "99" not in [i["issue_id"] for i in s.records("issues", "gl")]


@pytest.mark.parametrize("case", ["missing", "wrong", "another-kinds-secret"])
def test_wrong_or_missing_token_is_401_and_nothing_is_stored(served, case):
    s = served
    before = inbox_total(s)
    event, body = hook("push.go-gitlab.json")
    token = {"missing": None, "wrong": GL_SECRET[:-1] + "X",
             "another-kinds-secret": SECRETS["GH_HOOK_SECRET"]}[case]
    r = send(s, event, body, token=token)
    assert r.status_code == 401, r.text
    assert inbox_total(s) == before


def test_a_delivery_for_an_unknown_project_is_ignored(served):
    s = served
    before = inbox_total(s)
    event, body = hook("push.go-gitlab.json")
    body["project"].update(id=777, path_with_namespace="someone/else")
    r = send(s, event, body)
    assert r.status_code == 202 and r.json() == {"ok": True, "ignored": "project"}
    # a known project of another instance: not gl's, and gl2 does not sync it
    event, body = hook("push.go-gitlab.json")
    r = send(s, event, body, instance="https://gitlab.com")
    assert r.status_code == 202
    # an event dihub does not turn into records
    r = send(s, "Tag Push Hook", {"object_kind": "tag_push", "project": body["project"]})
    assert r.status_code == 202 and r.json()["ignored"] == "Tag Push Hook"
    assert inbox_total(s) == before


@pytest.mark.parametrize("header", ["idempotency_key", "webhook_uuid", "event_uuid"])
def test_the_same_delivery_three_times_is_stored_once(served, header):
    s = served
    before = inbox_total(s)
    event, body = hook("issue.open.go-gitlab.json")
    body["object_attributes"]["iid"] = {"idempotency_key": 501, "webhook_uuid": 502,
                                        "event_uuid": 503}[header]
    key = str(uuid.uuid4())
    answers = [send(s, event, body, **{header: key}).json() for _ in range(3)]
    assert [a["duplicate"] for a in answers] == [False, True, True]
    assert inbox_total(s) == before + 1
    iid = str(body["object_attributes"]["iid"])
    assert sum(i["issue_id"] == iid for i in s.records("issues", "gl")) == 1
    if header == "event_uuid":
        # GitLab gives the hooks one action sets off the same event UUID: another hook
        # under that UUID is another delivery
        other = hook("merge_request.open.go-gitlab.json")
        assert send(s, other[0], other[1], event_uuid=key).json()["duplicate"] is False


def test_no_secret_in_logs_inbox_or_listing(served):
    s = served
    event, body = hook("push.go-gitlab.json")
    send(s, event, body, token="a-wrong-token-value")
    send(s, event, body)
    s.wait_processed()
    store = s.store()
    try:
        rows = [store.inbox_get(d["id"]) for d in store.inbox_list(limit=1000)
                if d["kind"] == "gitlab"]
    finally:
        store.close()
    assert rows
    dumped = json.dumps([{**r, "body": (r["body"] or b"").decode()} for r in rows])
    assert "x-gitlab-event" in dumped.lower() and "idempotency-key" in dumped.lower()
    listed = s.cli("webhooks", "list", "--json").stdout
    for text in (s.logs(), dumped, listed):
        for secret in (GL_SECRET, "a-wrong-token-value", *SECRETS.values()):
            assert secret not in text


# -- a delivery and a poll of the same object: one record -----------------------------

PROJECT = "group-a/project-b"


def _user_obj(u: dict[str, Any]) -> dict[str, Any]:
    return {"id": u["id"], "name": u["name"], "username": u["username"],
            "avatar_url": u.get("avatar_url"), "email": "[REDACTED]"}


def _labels(names: list[str]) -> list[dict[str, Any]]:
    return [{"id": i, "title": n, "color": "#ffffff", "type": "ProjectLabel"}
            for i, n in enumerate(names, 1)]


def _envelope(p, kind: str, user: dict[str, Any]) -> dict[str, Any]:
    return {"object_kind": kind, "event_type": kind, "user": _user_obj(user),
            "project": {"id": p.id, "name": p.path.split("/")[-1],
                        "path_with_namespace": p.path, "web_url": f"{INSTANCE}/{p.path}",
                        "default_branch": p.default_branch}}


def mr_hook(p, mr: dict[str, Any], *, with_times: bool = True) -> dict[str, Any]:
    """The Merge Request Hook of a REST merge request (every field the REST one has)."""
    attrs = {k: mr[k] for k in ("id", "iid", "title", "description", "state", "created_at",
                                "updated_at", "source_branch", "target_branch",
                                "merge_commit_sha", "squash_commit_sha", "draft",
                                "work_in_progress")}
    if with_times:
        attrs.update(merged_at=mr["merged_at"], closed_at=mr["closed_at"])
    attrs.update(author_id=mr["author"]["id"], last_commit={"id": mr["sha"]},
                 labels=_labels(mr["labels"]), action="update",
                 assignee_ids=[u["id"] for u in mr["assignees"]],
                 reviewer_ids=[u["id"] for u in mr["reviewers"]],
                 milestone_id=(mr["milestone"] or {}).get("id"))
    return {**_envelope(p, "merge_request", mr["author"]), "object_attributes": attrs,
            "labels": _labels(mr["labels"]),
            "assignees": [_user_obj(u) for u in mr["assignees"]],
            "reviewers": [_user_obj(u) for u in mr["reviewers"]]}


def issue_hook(p, issue: dict[str, Any]) -> dict[str, Any]:
    attrs = {k: issue[k] for k in ("id", "iid", "title", "description", "state",
                                   "created_at", "updated_at", "closed_at", "weight")}
    attrs.update(author_id=issue["author"]["id"],
                 type=str(issue.get("issue_type") or "issue").title(),
                 milestone_id=(issue["milestone"] or {}).get("id"),
                 assignee_ids=[u["id"] for u in issue["assignees"]],
                 labels=_labels(issue["labels"]), action="update")
    return {**_envelope(p, "issue", issue["author"]), "object_attributes": attrs,
            "labels": _labels(issue["labels"]),
            "assignees": [_user_obj(u) for u in issue["assignees"]]}


def pipeline_hook(p, pl: dict[str, Any]) -> dict[str, Any]:
    attrs = {k: pl[k] for k in ("id", "iid", "name", "ref", "tag", "sha", "before_sha",
                                "source", "status", "created_at", "finished_at",
                                "duration", "queued_duration")}
    return {**_envelope(p, "pipeline", pl["user"]), "object_attributes": attrs,
            "builds": [{"id": 1, "stage": "test", "name": "test", "status": pl["status"],
                        "created_at": pl["created_at"], "started_at": pl["started_at"],
                        "finished_at": pl["finished_at"]}]}


def _by_id(s: Served, entity: str) -> dict[str, dict[str, Any]]:
    return {d["_id"]: d for d in s.records(entity, "gl")}


def test_delivery_then_poll_is_one_record_and_poll_then_delivery_changes_nothing(tmp_path):
    data = Dataset.generate([PROJECT], commits_per_project=20, mrs_per_project=6,
                            issues_per_project=6, pipelines_per_project=4, seed=11)
    p = data.project(PROJECT)
    mr = next(m for m in p.merge_requests if m["state"] == "merged")
    issue = next(i for i in p.issues if i["milestone"] is None)
    with_milestone = next(i for i in p.issues if i["milestone"] is not None)
    pl = next(x for x in p.pipelines if x["status"] == "success")
    with GitLabSimulator(data, rate_limit=100_000) as sim:
        config = CONFIG.format(base_url=sim.base_url, projects=PROJECT, groups="").replace(
            "streams: [commits, merge_requests, issues, pipelines, jobs]",
            "streams: [merge_requests, issues, pipelines]")
        s = Served(tmp_path, config, env=ENV).start()
        try:
            instance = sim.base_url
            for event, body in (("Merge Request Hook", mr_hook(p, mr)),
                                ("Issue Hook", issue_hook(p, issue)),
                                ("Pipeline Hook", pipeline_hook(p, pl))):
                r = send(s, event, body, instance=instance)
                assert r.status_code == 200, r.text
            assert s.wait_processed()["failed"] == 0
            pr_id = f"gl:pull_requests:{p.id}:{mr['iid']}"
            issue_id = f"gl:issues:{p.id}:{issue['iid']}"
            build_id = f"gl:builds:{p.id}:{pl['id']}"
            hooked = {**_by_id(s, "pull_requests"), **_by_id(s, "issues"),
                      **_by_id(s, "builds")}
            assert set(hooked) == {pr_id, issue_id, build_id}
            # a pipeline hook has no updated_at: a lower bound of GitLab's
            assert hooked[build_id]["updated_at"] <= pl["updated_at"][:19] + "Z"

            s.cli("sync", "gl", "merge_requests", "issues", "pipelines")
            polled = {**_by_id(s, "pull_requests"), **_by_id(s, "issues"),
                      **_by_id(s, "builds")}
            # the hook carried every field of the merge request and the issue: the
            # poller's record is the delivery's, signature included (written unchanged)
            for rid in (pr_id, issue_id):
                assert polled[rid]["raw_signature"] == hooked[rid]["raw_signature"], rid
                assert polled[rid]["ingested_at"] == hooked[rid]["ingested_at"], rid
            # the pipeline: the same record, replaced by the poller's read
            assert polled[build_id]["updated_at"] == pl["updated_at"][:19] + "Z"
            assert polled[build_id]["started_at"] == pl["started_at"][:19] + "Z"
            assert len(polled) == len(p.merge_requests) + len(p.issues) + len(p.pipelines)

            # poll first, then deliveries lacking fields: what the hook lacks comes from
            # the stored record, so nothing changes (merged_at, the milestone's title,
            # the pipeline's started_at and GitLab's updated_at)
            before = {**polled}
            for event, body in (("Merge Request Hook", mr_hook(p, mr, with_times=False)),
                                ("Issue Hook", issue_hook(p, with_milestone)),
                                ("Pipeline Hook", pipeline_hook(p, pl))):
                assert send(s, event, body, instance=instance).status_code == 200
            assert s.wait_processed()["failed"] == 0
            after = {**_by_id(s, "pull_requests"), **_by_id(s, "issues"),
                     **_by_id(s, "builds")}
            for rid, doc in before.items():
                changed = {k for k in set(doc) | set(after[rid])
                           if doc.get(k) != after[rid].get(k)}
                assert not changed, (rid, changed)
            assert after[f"gl:issues:{p.id}:{with_milestone['iid']}"]["milestone"] == \
                with_milestone["milestone"]["title"]
        finally:
            s.close()
