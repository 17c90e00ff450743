"""Pure functions: one raw GitHub REST object → normalized dihub records.

Every function takes the raw dict plus the context it cannot know by itself — the
configured `source` name, the repo's `owner/name` and its numeric `repo_id` — and returns a
list: the main record first, then the users it mentions (deduplicated). No I/O.

Keys are stable across renames: commits, pull requests and issues are keyed by the numeric
repo id (`<repo_id>:<sha>`, `<repo_id>:<number>`); GitHub users by their numeric account id.
A commit whose author has no GitHub account (`author: null`) is attributed to the git
identity instead: `email:<lowercased email>`, or `name:<name>` when the email is empty (the
same keys as the git connector). Every commit also keeps the git author and committer name
and email as written, so it can be matched by email to the same person in other sources.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dihub.connectors.normalizing import Make, as_model, dedupe, skips_malformed, source_id
from dihub.models import Build, Commit, Issue, PullRequest, Record, User
from dihub.models.records import git_identity_key
from dihub.timeutil import parse, to_iso

Raw = dict[str, Any]
_model = as_model     # `make(Model, **values)` builds each record (normalizing.as_model)


def _skips_malformed(kind: str) -> Callable:
    """A malformed GitHub item is skipped (audited), named by its sha, number or id."""
    return skips_malformed("GitHub", kind,
                           lambda raw: raw.get("sha") or raw.get("number") or raw.get("id"))


# ---------------------------------------------------------------- users


def normalize_user(raw: Raw | None, source: str, make: Make = _model) -> User | None:
    """A GitHub account (any embedded `user`/`author`/`actor` object), keyed by numeric id."""
    if not raw or raw.get("id") is None:
        return None
    uid = str(raw["id"])
    return make(User, source=source, source_id=uid, user_id=uid, source_user_id=uid,
                login=raw.get("login"), display_name=raw.get("name"),
                account_type=raw.get("type") or None)


def git_identity_user(identity: Raw | None, source: str, make: Make = _model) -> User | None:
    """A commit author without a GitHub account: the git `name <email>` identity, keyed as
    in every connector (dihub.connectors.normalizing.git_identity_user)."""
    if not identity:
        return None
    name, email = identity.get("name"), identity.get("email")
    key = git_identity_key(name, email)
    if key is None:
        return None
    address = (email or "").strip().lower()
    return make(User, source=source, source_id=key, user_id=key, source_user_id=key,
                display_name=name or None, email=address or None)


_dedupe = dedupe
_id = source_id


# ---------------------------------------------------------------- commits


@_skips_malformed("commit")
def normalize_commit(raw: Raw, source: str, repo: str, repo_id: str | int,
                     branch: str | None = None, make: Make = _model) -> list[Record]:
    """A commit from GET /repos/{o}/{r}/commits (list) or /commits/{sha} (with `stats`).

    timestamp/updated_at = committer date (when it landed), authored_at = author date.
    author_id/committer_id = the GitHub account id, else the git identity key;
    author_name/author_email/committer_name/committer_email = `commit.author`/`committer`
    as written.
    """
    sha = raw["sha"]
    git = raw["commit"]
    git_author, git_committer = git.get("author") or {}, git.get("committer") or {}
    author = normalize_user(raw.get("author"), source, make) \
        or git_identity_user(git_author, source, make)
    committer = normalize_user(raw.get("committer"), source, make) \
        or git_identity_user(git_committer, source, make)
    stats = raw.get("stats") or {}
    timestamp = to_iso(git_committer.get("date"))
    commit = make(
        Commit, source=source, source_id=f"{repo_id}:{sha}", commit_id=sha, repo=repo,
        branch=branch, branches=[branch] if branch else [],
        author_id=_id(author), committer_id=_id(committer),
        author_name=git_author.get("name") or None, author_email=git_author.get("email") or None,
        committer_name=git_committer.get("name") or None,
        committer_email=git_committer.get("email") or None,
        message=git.get("message") or "",
        timestamp=timestamp, updated_at=timestamp,
        authored_at=to_iso(git_author.get("date")),
        parents=[p["sha"] for p in raw.get("parents") or []],
        additions=stats.get("additions"), deletions=stats.get("deletions"),
        files_changed=len(raw["files"]) if isinstance(raw.get("files"), list) else None,
    )
    return _dedupe([commit, author, committer])


# ---------------------------------------------------------------- pull requests


@_skips_malformed("pull request")
def normalize_pull_request(raw: Raw, source: str, repo: str, repo_id: str | int,
                           make: Make = _model) -> list[Record]:
    """A pull request from GET /repos/{o}/{r}/pulls. state: open, closed or merged."""
    number = int(raw["number"])
    author = normalize_user(raw.get("user"), source, make)
    merged_at = to_iso(raw.get("merged_at"))
    head, base = raw.get("head") or {}, raw.get("base") or {}
    assignees = [normalize_user(a, source, make) for a in raw.get("assignees") or []]
    reviewers = [normalize_user(r, source, make) for r in raw.get("requested_reviewers") or []]
    pr = make(
        PullRequest, source=source, source_id=f"{repo_id}:{number}", number=number, repo=repo,
        title=raw.get("title") or "",
        state="merged" if merged_at else raw["state"],
        draft=raw.get("draft"),
        author_id=_id(author),
        created_at=to_iso(raw.get("created_at")), updated_at=to_iso(raw.get("updated_at")),
        merged_at=merged_at, closed_at=to_iso(raw.get("closed_at")),
        head_sha=head.get("sha"), head_ref=head.get("ref"), base_ref=base.get("ref"),
        merge_commit_sha=raw.get("merge_commit_sha"),
        body=raw.get("body") or None,
        labels=_labels(raw),
        assignee_ids=[_id(a) for a in assignees if a is not None],
        requested_reviewer_ids=[_id(r) for r in reviewers if r is not None],
        requested_team_ids=[str(t.get("slug") or t.get("id")) for t in
                            raw.get("requested_teams") or [] if isinstance(t, dict)],
    )
    return _dedupe([pr, author, *assignees, *reviewers])


def _labels(raw: Raw) -> list[str]:
    return [lbl["name"] if isinstance(lbl, dict) else str(lbl) for lbl in raw.get("labels") or []]


# ---------------------------------------------------------------- issues

_STATUS_CATEGORY = {"open": "open", "closed": "done"}


@_skips_malformed("issue")
def normalize_issue(raw: Raw, source: str, repo: str, repo_id: str | int,
                    make: Make = _model) -> list[Record]:
    """An issue from GET /repos/{o}/{r}/issues; [] for the pull requests that list mixes in."""
    if "pull_request" in raw:
        return []
    number = int(raw["number"])
    reporter = normalize_user(raw.get("user"), source, make)
    assignee = normalize_user(raw.get("assignee"), source, make)
    assignees = [normalize_user(a, source, make) for a in raw.get("assignees") or []]
    state = raw["state"]
    issue = make(
        Issue, source=source, source_id=f"{repo_id}:{number}", issue_id=str(number),
        project_key=repo, summary=raw.get("title") or "",
        status=state, status_category=_STATUS_CATEGORY.get(state), type="issue",
        labels=_labels(raw),
        assignee_id=_id(assignee) or next((_id(a) for a in assignees if a), None),
        reporter_id=_id(reporter),
        created_at=to_iso(raw.get("created_at")), updated_at=to_iso(raw.get("updated_at")),
        resolved_at=to_iso(raw.get("closed_at")),
        assignee_ids=list(dict.fromkeys(_id(a) for a in [assignee, *assignees] if a)),
        state_reason=raw.get("state_reason") or None,
    )
    return _dedupe([issue, reporter, assignee, *assignees])


# ---------------------------------------------------------------- workflow runs


@_skips_malformed("workflow run")
def normalize_workflow_run(raw: Raw, source: str, repo: str, repo_id: str | int
                           ) -> list[Record]:
    """A run from GET /repos/{o}/{r}/actions/runs: one Build per (run, attempt).

    A re-run is a new attempt of the same run id and so a new build. GitHub has no
    `completed_at` on runs: for a completed run, `updated_at` is when it reached that
    state, so completed_at = updated_at and duration_s = updated_at - run_started_at
    (the start of this attempt; queue time before it is excluded; payloads older than
    `run_started_at` fall back to created_at). Runs still queued or in progress have no
    completed_at or duration.
    """
    run_id = str(raw["id"])
    attempt = int(raw.get("run_attempt") or 1)
    started = to_iso(raw.get("run_started_at") or raw.get("created_at"))
    updated = to_iso(raw.get("updated_at"))
    completed = updated if raw.get("status") == "completed" else None
    duration = None
    if completed and started:
        seconds = (parse(completed) - parse(started)).total_seconds()
        duration = seconds if seconds >= 0 else None
    actor = normalize_user(raw.get("actor"), source)
    workflow_id = raw.get("workflow_id")
    build = Build(
        source=source, source_id=f"{repo_id}:{run_id}:{attempt}",
        build_id=f"github_actions:{repo_id}:{run_id}:{attempt}",
        repo=repo, workflow_name=raw.get("name") or None,
        workflow_id=str(workflow_id) if workflow_id is not None else None,
        run_id=run_id, run_attempt=attempt,
        head_sha=raw.get("head_sha"), branch=raw.get("head_branch"), event=raw.get("event"),
        status=raw.get("status"), conclusion=raw.get("conclusion"),
        created_at=to_iso(raw.get("created_at")), started_at=started,
        completed_at=completed, duration_s=duration, updated_at=updated,
    )
    return _dedupe([build, actor, normalize_user(raw.get("triggering_actor"), source)])
