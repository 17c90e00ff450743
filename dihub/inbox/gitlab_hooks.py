"""GitLab webhook payloads -> the REST objects the GitLab normalizers read. Pure, no I/O.

A hook's object is not the REST object: its attributes sit under `object_attributes`,
users are ids (`author_id`, `assignee_ids`) beside a few whole user objects, labels are
objects with a `title`, times are mostly written `2016-08-12 15:23:28 UTC`, and some
fields the REST object has are not sent at all. Each function here returns the REST
object the hook describes and, apart, what the hook lacks: `{document field: fallback}`.
dihub/inbox/process.py fills a lacking field from the stored record of the same `_id`
and uses the fallback only when nothing is stored (its docstring lists them per hook).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from dihub.timeutil import to_iso

Raw = dict[str, Any]

# X-Gitlab-Event -> the `object_kind` it carries; the events dihub turns into records
HOOK_EVENTS = {"Push Hook": "push", "Merge Request Hook": "merge_request",
               "Issue Hook": "issue", "Confidential Issue Hook": "issue",
               "Pipeline Hook": "pipeline", "Job Hook": "build"}
_HOOK_TIME = re.compile(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) ?(UTC|[+-]\d\d:?\d\d)?")
NULL_SHA = "0" * 40


def hook_time(value: Any) -> str | None:
    """A hook's time (`2016-08-12 15:23:28 UTC`, `... +0200` or ISO 8601) in UTC."""
    if not value:
        return None
    text = str(value).strip()
    m = _HOOK_TIME.fullmatch(text)
    if m:
        zone = m.group(3) or "UTC"
        zone = "+00:00" if zone == "UTC" else f"{zone[:3]}:{zone[-2:]}"
        text = f"{m.group(1)}T{m.group(2)}{zone}"
    return to_iso(text)


def project_of(payload: Raw) -> tuple[int | None, str | None]:
    """(project id, path_with_namespace) of a delivery. A Job Hook names no path: it is
    the path of `repository.homepage` (the project's web URL)."""
    project = payload.get("project") if isinstance(payload.get("project"), dict) else {}
    pid = project.get("id", payload.get("project_id"))
    path = project.get("path_with_namespace")
    if not path:
        home = (payload.get("repository") or {}).get("homepage") or project.get("web_url")
        path = urlsplit(str(home)).path.strip("/") or None if home else None
    return (int(pid) if pid is not None and str(pid).isdigit() else None), path


def full_users(payload: Raw) -> dict[str, Raw]:
    """The whole user objects of a payload (with a name or username), by id. Only these
    become user records: a bare id must not replace a stored account."""
    out: dict[str, Raw] = {}
    for u in [payload.get("user"), payload.get("assignee"), *(payload.get("assignees") or []),
              *(payload.get("reviewers") or [])]:
        if isinstance(u, dict) and u.get("id") is not None and (u.get("username")
                                                              or u.get("name")):
            out.setdefault(str(u["id"]), u)
    return out


def _labels(attrs: Raw, payload: Raw) -> list[str] | None:
    labels = attrs.get("labels") if "labels" in attrs else payload.get("labels")
    if labels is None:
        return None
    return [lbl.get("title") or lbl.get("name") if isinstance(lbl, dict) else str(lbl)
            for lbl in labels]


def _people(payload: Raw, attrs: Raw, objects: str, ids: str) -> list[Raw] | None:
    """Assignees/reviewers: the payload's objects, else `{"id"}` from the attribute ids."""
    if isinstance(payload.get(objects), list):
        return payload[objects]
    if isinstance(attrs.get(ids), list):
        return [{"id": i} for i in attrs[ids]]
    return None


def _author(payload: Raw, attrs: Raw) -> Raw | None:
    author_id = attrs.get("author_id")
    if author_id is None:
        return None
    return full_users(payload).get(str(author_id)) or {"id": author_id}


def merge_request(payload: Raw) -> tuple[Raw, dict[str, Any]]:
    """A Merge Request Hook. The head is `last_commit.id` (REST `sha`). merged_at and
    closed_at are not sent by every GitLab version: lacking, with the hook's updated_at
    as fallback for a merged (closed) one (the merge updates the merge request)."""
    a = payload.get("object_attributes") or {}
    updated = hook_time(a.get("updated_at"))
    raw: Raw = {
        "id": a.get("id"), "iid": a.get("iid"), "title": a.get("title"),
        "description": a.get("description"), "state": a.get("state"),
        "created_at": hook_time(a.get("created_at")), "updated_at": updated,
        "merged_at": hook_time(a.get("merged_at")), "closed_at": hook_time(a.get("closed_at")),
        "sha": (a.get("last_commit") or {}).get("id"),
        "source_branch": a.get("source_branch"), "target_branch": a.get("target_branch"),
        "merge_commit_sha": a.get("merge_commit_sha"),
        "squash_commit_sha": a.get("squash_commit_sha"),
        "draft": a.get("draft"), "work_in_progress": a.get("work_in_progress"),
        "labels": _labels(a, payload) or [], "author": _author(payload, a),
        "assignees": _people(payload, a, "assignees", "assignee_ids") or [],
        "reviewers": _people(payload, a, "reviewers", "reviewer_ids") or [],
    }
    lacking: dict[str, Any] = {}
    if "merged_at" not in a:
        lacking["merged_at"] = updated if a.get("state") == "merged" else None
    if "closed_at" not in a:
        lacking["closed_at"] = updated if a.get("state") == "closed" else None
    if "merge_commit_sha" not in a and "squash_commit_sha" not in a:
        lacking["merge_commit_sha"] = None
    if "draft" not in a and "work_in_progress" not in a:
        lacking["draft"] = None
    if _labels(a, payload) is None:
        lacking["labels"] = []
    if _people(payload, a, "assignees", "assignee_ids") is None:
        lacking["assignee_ids"] = []
    if _people(payload, a, "reviewers", "reviewer_ids") is None:
        lacking["requested_reviewer_ids"] = []
    if a.get("author_id") is None:
        lacking["author_id"] = None
    return raw, lacking


def issue(payload: Raw) -> tuple[Raw, dict[str, Any]]:
    """An Issue Hook. The milestone is an id only (its title is lacking unless there is
    none); weight, type and closed_at are lacking where the GitLab version does not send
    them (closed_at falls back to updated_at for a closed issue)."""
    a = payload.get("object_attributes") or {}
    updated = hook_time(a.get("updated_at"))
    kind = a.get("issue_type") or a.get("type")
    raw: Raw = {
        "id": a.get("id"), "iid": a.get("iid"), "title": a.get("title"),
        "description": a.get("description"), "state": a.get("state"),
        "created_at": hook_time(a.get("created_at")), "updated_at": updated,
        "closed_at": hook_time(a.get("closed_at")), "weight": a.get("weight"),
        "issue_type": str(kind).lower().replace(" ", "_") if kind else None,
        "labels": _labels(a, payload) or [], "author": _author(payload, a),
        "assignees": _people(payload, a, "assignees", "assignee_ids") or [],
        "milestone": None,
    }
    lacking: dict[str, Any] = {}
    if a.get("milestone_id") is not None:
        lacking["milestone"] = None
    if "weight" not in a:
        lacking["story_points"] = None
    if not kind:
        lacking["type"] = "issue"
    if "closed_at" not in a:
        lacking["resolved_at"] = updated if a.get("state") == "closed" else None
    if _labels(a, payload) is None:
        lacking["labels"] = []
    if _people(payload, a, "assignees", "assignee_ids") is None:
        lacking["assignee_ids"] = []
        lacking["assignee_id"] = None
    if a.get("author_id") is None:
        lacking["reporter_id"] = None
    return raw, lacking


def pipeline(payload: Raw) -> tuple[Raw, dict[str, Any]]:
    """A Pipeline Hook. It has no `started_at` and no `updated_at`: started_at is lacking
    (fallback: the earliest start among its `builds`); updated_at is the latest time the
    payload names (finished_at, the jobs' starts and finishes, created_at), a lower
    bound of GitLab's, so a newer stored state is never replaced by an older delivery."""
    a = payload.get("object_attributes") or {}
    jobs = [b for b in payload.get("builds") or [] if isinstance(b, dict)]
    starts = [t for t in (hook_time(b.get("started_at")) for b in jobs) if t]
    times = [t for t in [hook_time(a.get("created_at")), hook_time(a.get("finished_at")),
                         *starts, *(hook_time(b.get("finished_at")) for b in jobs)] if t]
    user = payload.get("user")
    raw: Raw = {
        "id": a.get("id"), "iid": a.get("iid"), "sha": a.get("sha"), "ref": a.get("ref"),
        "status": a.get("status"), "source": a.get("source"), "name": a.get("name"),
        "created_at": hook_time(a.get("created_at")),
        "finished_at": hook_time(a.get("finished_at")), "duration": a.get("duration"),
        "queued_duration": a.get("queued_duration"),
        "user": user if isinstance(user, dict) and user.get("id") is not None else None,
        "updated_at": max(times) if times else None,
    }
    return raw, {"started_at": min(starts) if starts else None}


def job(payload: Raw) -> tuple[Raw, dict[str, Any]]:
    """A Job Hook (`object_kind: build`): `build_*` attributes. `retried` is not sent (a
    hook is about the current attempt): lacking, fallback false."""
    p = payload
    user = p.get("user")
    raw: Raw = {
        "id": p.get("build_id"), "name": p.get("build_name"), "stage": p.get("build_stage"),
        "status": p.get("build_status"), "ref": p.get("ref"), "commit": {"id": p.get("sha")},
        "allow_failure": p.get("build_allow_failure"),
        "user": user if isinstance(user, dict) and user.get("id") is not None else None,
        "created_at": hook_time(p.get("build_created_at")),
        "started_at": hook_time(p.get("build_started_at")),
        "finished_at": hook_time(p.get("build_finished_at")),
        "duration": p.get("build_duration"), "queued_duration": p.get("build_queued_duration"),
        "pipeline": {"id": p.get("pipeline_id")}, "pipeline_id": p.get("pipeline_id"),
    }
    return raw, {"retried": False}


def push_commits(payload: Raw) -> tuple[str | None, list[Raw]]:
    """A Push Hook: (branch, commits as REST commits). A push commit has its id, message,
    title, author name and email and one `timestamp` (the committed date): no parents, no
    committer, no authored date. Tag pushes and branch deletions give no branch."""
    ref = str(payload.get("ref") or "")
    if not ref.startswith("refs/heads/") or payload.get("after") == NULL_SHA:
        return None, []
    out = []
    for c in payload.get("commits") or []:
        if not isinstance(c, dict) or not c.get("id"):
            continue
        author = c.get("author") or {}
        out.append({"id": c["id"], "message": c.get("message") or "", "title": c.get("title"),
                    "author_name": author.get("name"), "author_email": author.get("email"),
                    "committed_date": hook_time(c.get("timestamp")), "parent_ids": []})
    return ref[len("refs/heads/"):], out
