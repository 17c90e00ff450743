"""`dihub serve` webhooks end to end: the real server in a subprocess, real payloads
(tests/data/webhooks), real HTTP; records checked in the store."""

from __future__ import annotations

import copy
import json
import signal
import time

import pytest

from tests.integration.serve_support import (
    SECRETS,
    Served,
    config_text,
    fixture,
    jira_issue_event,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("serve"), config_text()).start()
    yield s
    s.close()


def _inbox_total(s: Served) -> int:
    stats = s.wait_processed()
    return stats["pending"] + stats["done"] + stats["failed"]


def test_github_every_kind_becomes_the_pollers_records(served):
    s = served
    ping = s.github("ping", fixture("ping.json"))
    assert ping.status_code == 200 and ping.json()["zen"]
    for event, name in [("workflow_run", "workflow_run.requested.json"),
                        ("workflow_run", "workflow_run.completed.json"),
                        ("workflow_job", "workflow_job.in_progress.json"),
                        ("workflow_job", "workflow_job.completed.success.json"),
                        ("push", "push.new-branch-1-commit.json"),
                        ("push", "push.tag-deleted.json"),
                        ("pull_request", "pull_request.opened.json"),
                        ("pull_request", "pull_request.closed.not-merged.json"),
                        ("issues", "issues.opened.json")]:
        r = s.github(event, fixture(name))
        assert r.status_code == 200, (name, r.text)
        assert r.json() == {"ok": True, "duplicate": False}
    assert s.wait_processed()["failed"] == 0

    run = fixture("workflow_run.completed.json")
    repo_id, run_id = run["repository"]["id"], run["workflow_run"]["id"]
    builds = {b["_id"]: b for b in s.records("builds", "gh")}
    build = builds[f"gh:builds:{repo_id}:{run_id}:1"]
    # requested then completed: one record, in its final state
    assert build["build_id"] == f"github_actions:{repo_id}:{run_id}:1"
    assert (build["status"], build["conclusion"]) == ("completed", "success")
    assert build["duration_s"] is not None
    # a job of another run: that run's build, running (a job does not end its run)
    job = fixture("workflow_job.in_progress.json")
    job_build = builds[f"gh:builds:{job['repository']['id']}:{job['workflow_job']['run_id']}:1"]
    assert job_build["status"] == "in_progress" and job_build["conclusion"] is None

    push = fixture("push.new-branch-1-commit.json")
    commits = s.records("commits", "gh")
    assert [c["commit_id"] for c in commits] == [push["commits"][0]["id"]]
    assert commits[0]["branch"] == "master" and commits[0]["message"] == "Initial commit"
    assert commits[0]["author_email"] == push["commits"][0]["author"]["email"]

    prs = s.records("pull_requests", "gh")
    assert len(prs) == 1 and prs[0]["state"] == "closed"     # opened, then closed unmerged
    issues = s.records("issues", "gh")
    assert [(i["issue_id"], i["status"]) for i in issues] == [("1", "open")]


def test_slack_messages_edits_replies_deletions_and_privacy(served):
    s = served
    verify = s.slack(fixture("url_verification.docs.json"))
    assert verify.status_code == 200
    assert verify.json() == {"challenge": fixture("url_verification.docs.json")["challenge"]}

    base = fixture("event_callback.message.channels.docs.json")
    first = s.slack(base)
    assert first.status_code == 200 and not first.json()["duplicate"]
    reply = copy.deepcopy(base)
    reply["event_id"] = "EvReply1"
    reply["event"].update(ts="1355517600.000100", thread_ts="1355517523.000005",
                          text="deployed to prod")
    edit = copy.deepcopy(base)
    edit["event_id"] = "EvEdit1"
    edit["event"] = {"type": "message", "subtype": "message_changed", "channel": "C123ABC456",
                     "ts": "1355517700.000000", "hidden": True,
                     "message": {"type": "message", "user": "U123ABC456",
                                 "text": "Live long and prosper.", "ts": "1355517523.000005",
                                 "edited": {"user": "U123ABC456", "ts": "1355517700.000000"}},
                     "previous_message": base["event"]}
    gone = copy.deepcopy(base)
    gone["event_id"] = "EvDel1"
    gone["event"] = {"type": "message", "subtype": "message_deleted", "channel": "C123ABC456",
                     "ts": "1355517800.000000", "deleted_ts": "1355517600.000100",
                     "hidden": True, "previous_message": reply["event"]}
    for body in (reply, edit, gone):
        assert s.slack(body).status_code == 200
    assert s.wait_processed()["failed"] == 0
    events = {e["event_id"]: e for e in s.records("slack_events", "sl")}
    parent = events["C123ABC456:1355517523.000005"]
    assert parent["edited_at"] is not None
    # store_text: false: no text, only its length and hash; the classifier still ran
    assert parent["text"] is None and parent["text_length"] == len("Live long and prosper.")
    replied = events["C123ABC456:1355517600.000100"]
    assert replied["deleted"] is True and replied["thread_ts"] == "1355517523.000005"
    # nothing of the text is left in the inbox once processed
    store = s.store()
    try:
        kept = [store.inbox_get(d["id"]) for d in store.inbox_list(limit=1000)
                if d["kind"] == "slack"]
    finally:
        store.close()
    assert kept and all(d["body"] is None for d in kept)


def test_slack_classifier_tags_deploy_notifications(served):
    s = served
    body = fixture("event_callback.message.channels.docs.json")
    body = {**body, "event_id": "EvDeploy1",
            "event": {**body["event"], "ts": "1355519999.000001",
                      "text": "v1.2.3 deployed to production"}}
    assert s.slack(body).status_code == 200
    s.wait_processed()
    events = {e["event_id"]: e for e in s.records("slack_events", "sl")}
    assert events["C123ABC456:1355519999.000001"]["tags"] == ["deploy"]


def test_jira_issue_created_updated_deleted_and_sprints(served):
    s = served
    created = jira_issue_event("jira:issue_created")
    created["changelog"] = None
    assert s.jira(created).status_code == 200
    updated = jira_issue_event("jira:issue_updated",
                               updated="2024-03-02T10:00:00.000+0000",
                               customfield_10020=[{"id": 37, "state": "active", "boardId": 5,
                                                   "name": "sprint 1"}])
    assert s.jira(updated).status_code == 200
    sprint = {"timestamp": 1709287200000, "webhookEvent": "sprint_started",
              "sprint": fixture("sprint-get.openapi-example.json")}
    assert s.jira(sprint).status_code == 200
    assert s.wait_processed()["failed"] == 0
    [issue] = s.records("issues", "jr")
    assert issue["issue_id"] == "ED-1" and issue["status"] == "In Progress"
    assert issue["sprint_ids"] == ["37"]
    assert [(t["from_status"], t["to_status"]) for t in issue["transitions"]] == [
        ("To Do", "In Progress")]
    assert "deleted" not in issue
    [stored_sprint] = s.records("sprints", "jr")
    assert stored_sprint["sprint_id"] == "37" and stored_sprint["board_id"] == "5"

    deleted = jira_issue_event("jira:issue_deleted", updated="2024-03-02T10:00:00.000+0000")
    deleted["timestamp"] = 1709460000000
    deleted["changelog"] = None
    assert s.jira(deleted).status_code == 200
    s.wait_processed()
    [issue] = s.records("issues", "jr")
    assert issue["deleted"] is True
    # the stored transitions survive the deletion
    assert len(issue["transitions"]) == 1


@pytest.mark.parametrize("case", ["missing", "wrong", "tampered"])
def test_github_and_jira_signatures(served, case):
    s = served
    before = _inbox_total(s)
    body = json.dumps(fixture("issues.opened.json")).encode()
    sig = {"missing": None, "wrong": "sha256=" + "0" * 64, "tampered": None}[case]
    if case == "tampered":
        from dihub.serve.verify import sign_hub

        sig = sign_hub(SECRETS["GH_HOOK_SECRET"], body)
        body = body.replace(b'"opened"', b'"closed"', 1)
    gh = s.github("issues", body, signature=sig, secret=None)
    jira = s.jira(json.dumps(jira_issue_event()).encode().replace(b"ED-1", b"ED-2")
                  if case == "tampered" else jira_issue_event(), secret=None,
                  signature=sig if case != "tampered" else sign_hub(
                      SECRETS["JIRA_HOOK_SECRET"], json.dumps(jira_issue_event()).encode()))
    assert gh.status_code == 401 and jira.status_code == 401
    assert _inbox_total(s) == before        # nothing unverified is stored


@pytest.mark.parametrize("case", ["missing", "wrong", "tampered", "stale", "future"])
def test_slack_signatures_and_replay_window(served, case):
    s = served
    before = _inbox_total(s)
    body = json.dumps({**fixture("event_callback.message.channels.docs.json"),
                       "event_id": f"EvSig{case}"}).encode()
    now = int(time.time())
    if case == "missing":
        r = s.slack(body, secret=None)
    elif case == "wrong":
        r = s.slack(body, secret="not-the-secret")
    elif case == "tampered":
        from dihub.serve.verify import sign_slack

        r = s.slack(body.replace(b"prospect", b"prosper"),
                    signature=sign_slack(SECRETS["SLACK_SIGNING_SECRET"], str(now), body),
                    ts=now)
    else:   # correctly signed, but outside the 5-minute window: a replay (10 minutes
        # out, so that a slow machine between here and the server's check cannot bring a
        # timestamp back inside the window)
        r = s.slack(body, ts=now - 600 if case == "stale" else now + 600)
    assert r.status_code == 401, r.text
    assert _inbox_total(s) == before
    fresh = s.slack(body)
    assert fresh.status_code == 200


def test_the_same_delivery_three_times_is_one_record(served):
    s = served
    before = _inbox_total(s)
    pr = fixture("pull_request.opened.json")
    pr["pull_request"]["number"] = 77
    answers = [s.github("pull_request", pr, delivery="same-delivery-guid").json()
               for _ in range(3)]
    assert [a["duplicate"] for a in answers] == [False, True, True]
    slack = {**fixture("event_callback.message.channels.docs.json"), "event_id": "EvThrice"}
    slack["event"] = {**slack["event"], "ts": "1355520000.000777"}
    answers = [s.slack(slack, retry=n or None).json() for n in range(3)]
    assert [a["duplicate"] for a in answers] == [False, True, True]
    jira = jira_issue_event()
    jira["issue"]["id"], jira["issue"]["key"] = "20001", "ED-77"
    answers = [s.jira(jira, identifier="jira-same-id").json() for _ in range(3)]
    assert [a["duplicate"] for a in answers] == [False, True, True]
    assert _inbox_total(s) == before + 3
    assert sum(p["number"] == 77 for p in s.records("pull_requests", "gh")) == 1
    assert sum(e["ts"] == "1355520000.000777" for e in s.records("slack_events", "sl")) == 1
    assert sum(i["issue_id"] == "ED-77" for i in s.records("issues", "jr")) == 1


def test_no_secret_or_signature_in_logs_or_inbox(served):
    s = served
    s.github("issues", fixture("issues.opened.json"), secret="wrong-secret")
    s.github("issues", fixture("issues.opened.json"))
    s.wait_processed()
    store = s.store()
    try:
        rows = [store.inbox_get(d["id"]) for d in store.inbox_list(limit=1000)]
    finally:
        store.close()
    dumped = json.dumps([{**r, "body": (r["body"] or b"").decode()} for r in rows])
    listed = s.cli("webhooks", "list", "--json").stdout
    for text in (s.logs(), dumped, listed):
        for secret in SECRETS.values():
            assert secret not in text
        assert "sha256=" not in text and "v0=" not in text
        assert "one-long-verification-token" not in text   # Slack's verification token


def test_body_limit_and_unhandled_events(served):
    s = served
    big = b'{"x": "' + b"a" * (26 * 1024 * 1024) + b'"}'
    r = s.github("issues", big)
    assert r.status_code == 413
    ignored = s.github("deployment", {"repository": {"id": 1, "full_name": "a/b"}})
    assert ignored.status_code == 202 and ignored.json()["ignored"] == "deployment"


def test_kill_9_after_the_2xx_loses_nothing(tmp_path):
    s = Served(tmp_path, config_text(delay=3600)).start()    # the worker waits an hour
    try:
        for name, event in (("issues.opened.json", "issues"),
                            ("workflow_run.completed.json", "workflow_run")):
            assert s.github(event, fixture(name)).status_code == 200
        assert s.slack(fixture("event_callback.message.channels.docs.json")).status_code == 200
        s.stop(signal.SIGKILL)
        assert s.records("issues", "gh") == []
        s.config.write_text(config_text(delay=0))
        s.start()
        stats = s.wait_processed()
        assert stats == {**stats, "pending": 0, "done": 3, "failed": 0}
        assert len(s.records("issues", "gh")) == 1
        assert len(s.records("builds", "gh")) == 1
        assert len(s.records("slack_events", "sl")) == 1
        assert s.stop() in (0, -signal.SIGTERM)
        assert "inbox worker stopped" in s.logs()
    finally:
        s.close()


def test_failed_processing_is_retried_listed_and_replayable(tmp_path):
    s = Served(tmp_path, config_text()).start()
    try:
        broken = fixture("issues.opened.json")
        del broken["issue"]["number"]            # not readable: normalize skips it
        assert s.github("issues", broken).status_code == 200
        deadline = time.time() + 20
        while time.time() < deadline and not s.cli("webhooks", "list", "--failed",
                                                     "--status", "failed").stdout.count("failed"):
            time.sleep(0.2)
        listed = s.cli("webhooks", "list", "--failed", "--json").stdout
        [row] = [json.loads(line) for line in listed.splitlines()]
        assert row["status"] == "failed" and row["attempts"] == 2
        assert "cannot read GitHub issue" in row["error"]
        s.cli("webhooks", "replay", str(row["id"]))
        assert s.cli("webhooks", "replay", "999999", check=2).returncode == 2
    finally:
        s.close()
