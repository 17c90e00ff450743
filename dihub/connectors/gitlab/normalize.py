"""Pure functions: one raw GitLab REST object -> normalized dihub records. No I/O.

Every function takes the raw dict plus what it cannot know by itself: the configured
`source` name, the project's `path_with_namespace` and its numeric `project_id`. It
returns a list: the main record first, then the users it mentions (deduplicated).

Keys are stable across renames and never collide: merge requests and issues are keyed
by `<project_id>:<iid>` in their own entities (their iids are separate sequences),
commits by `<project_id>:<sha>`, pipelines by `<project_id>:<pipeline_id>`. GitLab
accounts are keyed by their numeric id. A commit names no account, only the git
identity: authors and committers are `email:<lower-cased email>` (or `name:<name>`), the
same keys as the git and GitHub connectors.

Times are stored in UTC: a commit's dates carry the committer's offset
(`2012-09-20T11:50:22+03:00` is stored as `2012-09-20T08:50:22Z`).

Vocabulary shared with GitHub: a merge request's and an issue's `opened` state is stored
as `open` (closed, merged and locked as GitLab says); a finished pipeline's status gives
the build's `conclusion` (success, failure, cancelled, skipped).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dihub.connectors.normalizing import dedupe, git_identity_user
from dihub.connectors.normalizing import skips_malformed as _skips
from dihub.connectors.normalizing import source_id as _id
from dihub.models import Build, Commit, Issue, PullRequest, Record, User
from dihub.timeutil import parse, to_iso

Raw = dict[str, Any]

STATES = {"opened": "open"}
ISSUE_CATEGORY = {"opened": "open", "closed": "done"}
FINISHED = {"success": "success", "failed": "failure", "canceled": "cancelled",
            "canceling": None, "skipped": "skipped"}


def skips_malformed(kind: str) -> Callable:
    """A malformed GitLab item is skipped (audited), named by its iid or id."""
    return _skips("GitLab", kind, lambda raw: raw.get("iid") or raw.get("id"))


# ---------------------------------------------------------------- users


def normalize_user(raw: Raw | None, source: str) -> User | None:
    """A GitLab account (any embedded `author`/`assignee`/`user` object), by numeric id."""
    if not isinstance(raw, dict) or raw.get("id") is None:
        return None
    uid = str(raw["id"])
    kind = "bot" if raw.get("bot") is True else None
    return User(source=source, source_id=uid, user_id=uid, source_user_id=uid,
                login=raw.get("username"), display_name=raw.get("name"), account_type=kind)


def _users(raws: Any, source: str) -> list[User]:
    return [u for u in (normalize_user(r, source) for r in raws or []) if u is not None]


def _labels(raw: Raw) -> list[str]:
    return [lbl["name"] if isinstance(lbl, dict) else str(lbl) for lbl in raw.get("labels") or []]


# ---------------------------------------------------------------- commits


@skips_malformed("commit")
def normalize_commit(raw: Raw, source: str, repo: str, project_id: str | int,
                     branch: str | None = None) -> list[Record]:
    """A commit from GET /projects/:id/repository/commits, /compare or /commits/:sha.

    timestamp/updated_at = committed_date (else created_at, which GitLab sets to it), in
    UTC; authored_at = authored_date. `stats` (with_stats or a single commit) gives
    additions and deletions.
    """
    sha = raw["id"]
    author = git_identity_user(raw.get("author_name"), raw.get("author_email"), source)
    committer = git_identity_user(raw.get("committer_name"), raw.get("committer_email"),
                                  source)
    stats = raw.get("stats") or {}
    timestamp = to_iso(raw.get("committed_date") or raw.get("created_at"))
    commit = Commit(
        source=source, source_id=f"{project_id}:{sha}", commit_id=sha, repo=repo,
        branch=branch, branches=[branch] if branch else [],
        author_id=_id(author), committer_id=_id(committer),
        author_name=raw.get("author_name") or None, author_email=raw.get("author_email") or None,
        committer_name=raw.get("committer_name") or None,
        committer_email=raw.get("committer_email") or None,
        message=raw.get("message") or raw.get("title") or "",
        timestamp=timestamp, updated_at=timestamp,
        authored_at=to_iso(raw.get("authored_date")),
        parents=list(raw.get("parent_ids") or []),
        additions=stats.get("additions"), deletions=stats.get("deletions"),
    )
    return dedupe([commit, author, committer])


# ---------------------------------------------------------------- merge requests


@skips_malformed("merge request")
def normalize_merge_request(raw: Raw, source: str, repo: str, project_id: str | int
                            ) -> list[Record]:
    """A merge request from GET /projects/:id/merge_requests as a pull request.

    number = iid; head_sha = `sha` (the source branch head); merge_commit_sha is the merge
    commit, else the squash commit; a fast-forward merge has neither (null), and its
    commits are the head's, linked through head_sha. draft: `draft`, or the older
    `work_in_progress`.
    """
    iid = int(raw["iid"])
    author = normalize_user(raw.get("author"), source)
    assignees = _users(raw.get("assignees") or ([raw["assignee"]] if raw.get("assignee")
                                                 else []), source)
    reviewers = _users(raw.get("reviewers"), source)
    draft = raw.get("draft")
    if draft is None:
        draft = raw.get("work_in_progress")
    state = raw["state"]
    pr = PullRequest(
        source=source, source_id=f"{project_id}:{iid}", number=iid, repo=repo,
        title=raw.get("title") or "", state=STATES.get(state, state), draft=draft,
        author_id=_id(author),
        created_at=to_iso(raw.get("created_at")), updated_at=to_iso(raw.get("updated_at")),
        merged_at=to_iso(raw.get("merged_at")), closed_at=to_iso(raw.get("closed_at")),
        head_sha=raw.get("sha"), head_ref=raw.get("source_branch"),
        base_ref=raw.get("target_branch"),
        merge_commit_sha=raw.get("merge_commit_sha") or raw.get("squash_commit_sha"),
        body=raw.get("description") or None, labels=_labels(raw),
        assignee_ids=[u.source_id for u in assignees],
        requested_reviewer_ids=[u.source_id for u in reviewers],
    )
    return dedupe([pr, author, *assignees, *reviewers])


# ---------------------------------------------------------------- issues


@skips_malformed("issue")
def normalize_issue(raw: Raw, source: str, repo: str, project_id: str | int) -> list[Record]:
    """An issue from GET /projects/:id/issues. weight -> story_points; the milestone's title
    -> milestone; type: `issue_type` (issue, incident, test_case, task)."""
    iid = int(raw["iid"])
    reporter = normalize_user(raw.get("author"), source)
    assignees = _users(raw.get("assignees") or ([raw["assignee"]] if raw.get("assignee")
                                                 else []), source)
    state = raw["state"]
    milestone = raw.get("milestone")
    weight = raw.get("weight")
    issue = Issue(
        source=source, source_id=f"{project_id}:{iid}", issue_id=str(iid), project_key=repo,
        summary=raw.get("title") or "", status=STATES.get(state, state),
        status_category=ISSUE_CATEGORY.get(state),
        type=str(raw.get("issue_type") or raw.get("type") or "issue").lower(),
        labels=_labels(raw), story_points=float(weight) if isinstance(weight, int | float)
        else None,
        assignee_id=assignees[0].source_id if assignees else None, reporter_id=_id(reporter),
        created_at=to_iso(raw.get("created_at")), updated_at=to_iso(raw.get("updated_at")),
        resolved_at=to_iso(raw.get("closed_at")),
        assignee_ids=[u.source_id for u in assignees],
        milestone=(milestone.get("title") if isinstance(milestone, dict) else None) or None,
    )
    return dedupe([issue, reporter, *assignees])


# ---------------------------------------------------------------- pipelines


@skips_malformed("pipeline")
def normalize_pipeline(raw: Raw, source: str, repo: str, project_id: str | int
                       ) -> list[Record]:
    """A pipeline (the list item merged with GET /pipelines/:id) as one Build.

    One build per pipeline id: a retried pipeline keeps its id (GitLab retries its failed
    jobs inside it) and only `updated_at`, status, finished_at and duration move, so the
    retry updates the build rather than adding one; run_attempt is always 1 (the jobs
    stream keeps each job attempt). status = GitLab's; conclusion for a finished one:
    success, failure, cancelled or skipped. duration_s = `duration` (seconds running),
    else finished_at - started_at.
    """
    pid = str(raw["id"])
    status = raw.get("status")
    started = to_iso(raw.get("started_at"))
    finished = to_iso(raw.get("finished_at"))
    duration = raw.get("duration")
    if not isinstance(duration, int | float):
        duration = None
        if started and finished:
            seconds = (parse(finished) - parse(started)).total_seconds()
            duration = seconds if seconds >= 0 else None
    user = normalize_user(raw.get("user"), source)
    build = Build(
        source=source, source_id=f"{project_id}:{pid}", build_id=f"gitlab_ci:{project_id}:{pid}",
        repo=repo, workflow_name=raw.get("name") or None, run_id=pid, run_attempt=1,
        head_sha=raw.get("sha"), branch=raw.get("ref"), event=raw.get("source"),
        status=status, conclusion=FINISHED.get(status) if status in FINISHED else None,
        created_at=to_iso(raw.get("created_at")), started_at=started, completed_at=finished,
        duration_s=float(duration) if duration is not None else None,
        updated_at=to_iso(raw.get("updated_at")),
    )
    return dedupe([build, user])
