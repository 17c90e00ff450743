"""Deliveries -> records: the same normalizers, keys and signatures as the pollers.

`records_for(delivery)` turns one stored delivery into `Work`: documents to upsert
(newest wins, unchanged signature = no write, exactly as a sync pass writes) and
documents to insert only when no record with that `_id` exists yet:

* GitHub `workflow_run` -> builds via `normalize_workflow_run` (the run object is
  the REST object: same `_id` `<source>:builds:<repo_id>:<run_id>:<attempt>`,
  same signature). `pull_request` -> pull_requests, `issues` -> issues, likewise.
* GitHub `workflow_job` -> the build of its run and attempt, insert-only: a job
  says the run exists and is queued or running, not how the run ended, so it
  never replaces what a `workflow_run` delivery or the poller wrote.
* GitHub `push` -> commits of the pushed branch, insert-only. A push commit has
  no parents, no GitHub account ids (only `username`) and one `timestamp`, used
  as both author and committer date; the record is written only when the commit
  is not stored yet, and the poller's later read replaces it (a different
  signature) with the full commit. Tag pushes and branch deletions write nothing.
* Slack `event_callback` message events -> slack_events via `normalize_message`
  (`event_id` = `<channel>:<ts>`, edits and deletions as new states of that key,
  thread replies, the source's classifier and `store_text`). The channel name is
  the stored `channels` record's.
* Jira `jira:issue_*` -> issues via `normalize_issue`. A webhook carries only the
  changelog of this change, so the stored record's transitions are merged with
  it (the poller reads the whole changelog: the same transitions). Story points
  and sprint come from `story_points_field`/`sprint_field` when they are field ids
  (`customfield_NNNNN`); otherwise the sprint field is the one holding sprint
  objects, and story points stay unset until the poller's next pass.
  `jira:issue_deleted` marks the stored issue `deleted: true` (polling never sees
  a deleted issue). `sprint_*` -> sprints via `normalize_sprint`
  (`sprint_deleted` marks it deleted).
* GitLab hooks (`X-Gitlab-Event`) -> the GitLab poller's normalizers, keys and
  signatures, the project's id and path taken from the payload (a Job Hook's path
  from `repository.homepage`). A hook's object is not the REST object
  (dihub/inbox/gitlab_hooks.py maps it); a field the REST object has and the hook
  does not send is taken from the stored record of the same `_id` (the poller's,
  or an earlier delivery's), and only when nothing is stored from the fallback
  named below. A hook carrying every field gives the poller's record, signature
  included; one that lacks some gives a record the poller's next read replaces
  where they differ (same `_id`; newest `updated_at` wins, equal ones are replaced).
  - Merge Request Hook -> pull_requests, upserted. Lacking in some GitLab
    versions: merged_at and closed_at (fallback: the hook's updated_at for a merged
    or closed one, else null), merge_commit_sha, draft, labels, assignees and
    reviewers (fallback: empty). The author is `author_id`; only whole user objects
    of the payload (assignees, reviewers, the acting user) become user records.
  - Issue Hook and Confidential Issue Hook -> issues, upserted. Lacking: the
    milestone's title (the hook has `milestone_id`; null when there is none),
    weight (story_points), type (fallback `issue`), closed_at (fallback: updated_at
    for a closed issue).
  - Pipeline Hook -> builds (`gitlab_ci:<project_id>:<pipeline_id>`), upserted. The
    hook has no started_at (fallback: the earliest start among its jobs) and no
    updated_at: it is the latest time the payload names, never later than
    GitLab's, so a delivery never replaces a newer stored state, and the poller's
    later read (GitLab's updated_at) replaces the delivery's record.
  - Job Hook -> jobs (the connector's `jobs` entity), upserted: every field of the
    REST job but `retried` (fallback false: a hook is about the current attempt).
  - Push Hook -> commits of the pushed branch, insert-only, as GitHub's push: a push
    commit has no parents, no committer and one `timestamp` (the committed date);
    the poller's later read replaces it with the full commit. Tag pushes and branch
    deletions write nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from dihub.errors import SkippableRecord
from dihub.models import Build
from dihub.models.documents import as_records, signature, to_document
from dihub.timeutil import now_iso, to_iso

log = logging.getLogger("dihub.serve")


@dataclass
class Work:
    upserts: list[dict[str, Any]] = field(default_factory=list)
    insert_only: list[dict[str, Any]] = field(default_factory=list)
    entities: set[str] = field(default_factory=set)


class Processor:
    """Knows the config (sources) and the store (for lookups); pure otherwise."""

    def __init__(self, cfg: Any, store: Any):
        self.cfg, self.store = cfg, store

    def records_for(self, delivery: dict[str, Any]) -> Work:
        source = delivery["source"]
        config = self.cfg.sources.get(source)
        if config is None:
            raise SkippableRecord(f"source {source!r} is no longer configured")
        try:
            payload = json.loads(delivery["body"])
        except (TypeError, ValueError) as exc:
            raise SkippableRecord(f"the body is not JSON: {exc}") from None
        kind = delivery["kind"]
        work = Work()
        ingested = now_iso()
        if kind == "github":
            self._github(delivery.get("event") or "", payload, source, config, work)
        elif kind == "slack":
            self._slack(payload, source, config, work)
        elif kind == "jira":
            self._jira(payload, source, config, work)
        elif kind == "gitlab":
            self._gitlab(payload, source, work)
        for docs in (work.upserts, work.insert_only):
            for i, item in enumerate(docs):
                if not isinstance(item, dict):
                    docs[i] = to_document(item, ingested)
                work.entities.add(docs[i]["entity"])
        return work

    # -- GitHub ------------------------------------------------------------------------

    def _github(self, event: str, p: dict[str, Any], source: str, config: Any,
                work: Work) -> None:
        from dihub.connectors.github import normalize as n

        repo = p.get("repository") or {}
        full_name, repo_id = repo.get("full_name"), repo.get("id")
        if event != "ping" and (not full_name or repo_id is None):
            raise SkippableRecord(f"GitHub {event} delivery without repository id/full_name")
        if event == "workflow_run":
            work.upserts += n.normalize_workflow_run(p["workflow_run"], source, full_name,
                                                     repo_id)
        elif event == "pull_request":
            work.upserts += n.normalize_pull_request(p["pull_request"], source, full_name,
                                                     repo_id)
        elif event == "issues":
            records = n.normalize_issue(p["issue"], source, full_name, repo_id)
            if p.get("action") == "deleted" and records:
                work.upserts.append(_deleted(to_document(records[0], now_iso())))
                records = records[1:]
            work.upserts += records
        elif event == "workflow_job":
            work.insert_only.append(_job_build(p["workflow_job"], source, full_name, repo_id))
        elif event == "push":
            ref = str(p.get("ref") or "")
            if not ref.startswith("refs/heads/") or p.get("deleted"):
                return
            branch = ref[len("refs/heads/"):]
            for c in p.get("commits") or []:
                records = n.normalize_commit(_rest_commit(c), source, full_name, repo_id,
                                             branch)
                work.insert_only += [r for r in as_records(records) if r.entity == "commits"]

    # -- GitLab ------------------------------------------------------------------------

    def _gitlab(self, p: dict[str, Any], source: str, work: Work) -> None:
        from dihub.connectors.gitlab import normalize as n
        from dihub.connectors.gitlab.jobs import normalize_job
        from dihub.inbox import gitlab_hooks as h

        project_id, path = h.project_of(p)
        if project_id is None or not path:
            raise SkippableRecord("GitLab delivery without a project id and path")
        kind = p.get("object_kind")
        if kind == "push":
            branch, commits = h.push_commits(p)
            for raw in commits:
                records = n.normalize_commit(raw, source, path, project_id, branch)
                work.insert_only += [r for r in as_records(records) if r.entity == "commits"]
            return
        mapped = {"merge_request": (h.merge_request, n.normalize_merge_request),
                  "issue": (h.issue, n.normalize_issue),
                  "pipeline": (h.pipeline, n.normalize_pipeline),
                  "build": (h.job, normalize_job)}.get(str(kind))
        if mapped is None:
            return
        to_rest, normalize = mapped
        raw, lacking = to_rest(p)
        records = list(as_records(normalize(raw, source, path, project_id)))
        if not records:
            raise SkippableRecord(f"cannot read the GitLab {kind} delivery")
        work.upserts.append(self._fill_lacking(records[0], lacking))
        whole = set(h.full_users(p))
        work.upserts += [r for r in records[1:] if r.entity != "users" or r.source_id in whole]

    def _fill_lacking(self, record: Any, lacking: dict[str, Any]) -> Any:
        """A hook's record with what the hook does not send: the stored record's value,
        else the fallback."""
        if not lacking:
            return record
        stored = self.store.query(record.entity, source=record.source,
                                  filters={"source_id": record.source_id}, limit=1).records
        old = stored[0] if stored else {}
        return record.model_copy(update={
            name: old[name] if old.get(name) is not None else fallback
            for name, fallback in lacking.items()})

    # -- Slack -------------------------------------------------------------------------

    def _slack(self, p: dict[str, Any], source: str, config: Any, work: Work) -> None:
        from dihub.connectors.slack.normalize import normalize_message
        from dihub.models import SlackEvent

        if p.get("type") != "event_callback":
            return
        event = p.get("event") or {}
        if event.get("type") != "message":
            return
        channel = event.get("channel")
        if not channel:
            raise SkippableRecord("Slack message event without a channel")
        records = normalize_message(event, source, channel, self._channel_name(source, channel),
                                    store_text=config.store_text,
                                    classifier=config.classifier)
        # users come from the users stream, as in the poller
        work.upserts += [r for r in records if isinstance(r, SlackEvent)]

    def _channel_name(self, source: str, channel: str) -> str | None:
        page = self.store.query("channels", source=source, filters={"channel_id": channel},
                                limit=1)
        return page.records[0].get("name") if page.records else None

    # -- Jira --------------------------------------------------------------------------

    def _jira(self, p: dict[str, Any], source: str, config: Any, work: Work) -> None:
        from dihub.connectors.jira.normalize import normalize_issue, normalize_sprint, user_id

        event = str(p.get("webhookEvent") or "")
        if event.startswith("jira:issue_"):
            issue = p.get("issue") or {}
            fields = issue.get("fields") or {}
            points = _field_id(config.story_points_field)
            sprint = _field_id(config.sprint_field) or _sprint_field(fields)
            histories = self._jira_histories(source, issue, p.get("changelog"))
            records = normalize_issue(issue, source, story_points_field=points,
                                      sprint_field=sprint, histories=histories)
            # users only from the issue's own user objects: the stored transitions carry
            # just an account id, which must not replace a full user record
            whole = {user_id(fields.get("assignee")), user_id(fields.get("reporter"))}
            records = [r for r in records if r.entity != "users" or r.source_id in whole]
            if event == "jira:issue_deleted" and records:
                work.upserts.append(_deleted(to_document(records[0], now_iso()),
                                             _epoch_ms(p.get("timestamp"))))
                records = records[1:]
            work.upserts += records
        elif event.startswith("sprint_"):
            raw = p.get("sprint") or {}
            record = normalize_sprint(raw, source, raw.get("originBoardId"))
            if event == "sprint_deleted":
                work.upserts.append(_deleted(to_document(record, now_iso()),
                                             _epoch_ms(p.get("timestamp"))))
            else:
                work.upserts.append(record)

    def _jira_histories(self, source: str, issue: dict[str, Any],
                        changelog: Any) -> list[dict[str, Any]]:
        """The stored record's transitions as changelog histories, plus this change."""
        histories: list[dict[str, Any]] = []
        if issue.get("id") is not None:
            stored = self.store.query("issues", source=source,
                                      filters={"source_id": str(issue["id"])}, limit=1).records
            for i, t in enumerate((stored[0].get("transitions") or []) if stored else []):
                histories.append({
                    "id": f"stored-{i}", "created": t.get("timestamp"),
                    "author": {"accountId": t["author_id"]} if t.get("author_id") else None,
                    "items": [{"fieldId": "status", "fromString": t.get("from_status"),
                               "toString": t.get("to_status")}]})
        if isinstance(changelog, dict) and changelog.get("items"):
            updated = (issue.get("fields") or {}).get("updated")
            new = {**changelog, "created": changelog.get("created") or updated}
            seen = {(h["created"] and to_iso(h["created"]), json.dumps(
                h["items"], sort_keys=True)) for h in histories}
            items = [i for i in new["items"] if i.get("fieldId", i.get("field")) == "status"]
            key = (to_iso(new["created"]) if new.get("created") else None,
                   json.dumps([{"fieldId": "status", "fromString": i.get("fromString"),
                                "toString": i.get("toString")} for i in items], sort_keys=True))
            if key not in seen:
                histories.append(new)
        return histories


# -- helpers -------------------------------------------------------------------------------

def _deleted(doc: dict[str, Any], when: str | None = None) -> dict[str, Any]:
    """A stored document marked deleted (a deletion sorts as the latest change)."""
    doc = {**doc, "deleted": True}
    if when and (doc.get("updated_at") or "") < when:
        doc["updated_at"] = when
    doc["raw_signature"] = signature(doc)
    return doc


def _epoch_ms(value: Any) -> str | None:
    if isinstance(value, int | float) and value > 0:
        return to_iso(value / 1000)
    return None


def _field_id(value: str | None) -> str | None:
    return value if value and value.startswith("customfield_") else None


def _sprint_field(fields: dict[str, Any]) -> str | None:
    """The custom field holding Cloud sprint objects ({id, state, boardId, ...})."""
    for name, value in fields.items():
        if (name.startswith("customfield_") and isinstance(value, list) and value
                and all(isinstance(v, dict) and "id" in v and "state" in v
                        and ("boardId" in v or "originBoardId" in v) for v in value)):
            return name
    return None


def _rest_commit(c: dict[str, Any]) -> dict[str, Any]:
    """A push payload's commit in the shape of a REST commit (what normalize_commit reads)."""
    when = c.get("timestamp")
    author, committer = c.get("author") or {}, c.get("committer") or {}
    return {"sha": c["id"], "author": None, "committer": None, "parents": [],
            "commit": {"message": c.get("message") or "",
                       "author": {"name": author.get("name"), "email": author.get("email"),
                                  "date": when},
                       "committer": {"name": committer.get("name"),
                                     "email": committer.get("email"), "date": when}}}


def _job_build(job: dict[str, Any], source: str, repo: str, repo_id: Any) -> Build:
    run_id, attempt = str(job["run_id"]), int(job.get("run_attempt") or 1)
    started = to_iso(job.get("started_at") or job.get("created_at"))
    return Build(
        source=source, source_id=f"{repo_id}:{run_id}:{attempt}",
        build_id=f"github_actions:{repo_id}:{run_id}:{attempt}", repo=repo,
        workflow_name=job.get("workflow_name") or None, run_id=run_id, run_attempt=attempt,
        head_sha=job.get("head_sha"), branch=job.get("head_branch"),
        status="queued" if job.get("status") == "queued" else "in_progress",
        created_at=to_iso(job.get("created_at")), started_at=started, updated_at=started)
