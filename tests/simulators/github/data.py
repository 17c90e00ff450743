"""The simulator's mutable data: repositories with commits, pulls, issues and runs.

`Dataset.generate(...)` builds it deterministically from a seed; the `add_*`,
`edit_*`, `merge_pull` and `rerun` helpers change it between (or during) client
runs and keep the linked views consistent (a PR and its issue item; the run list
and its attempts). Every helper takes the dataset lock; the server reads under it.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import items
from .common import fake_sha, iso, parse_ts, plus
from .users import UserPool, identity

DEFAULT_START = "2024-01-01T00:00:00Z"
UNLINKED = ("Legacy Dev", "legacy-dev@example.com")   # an email with no GitHub account
WEB_FLOW_IDENT = ("GitHub", "noreply@github.com")
_ID_BASES = {"repo": 700_000_001, "pull": 1_600_000_001, "issue": 2_100_000_001,
             "run": 9_000_000_001, "check_suite": 24_000_000_001, "label": 6_000_000_001,
             "workflow": 80_000_001, "review": 1_900_000_001}
LABELS = (("bug", "d73a4a"), ("enhancement", "a2eeef"), ("documentation", "0075ca"),
          ("good first issue", "7057ff"), ("ci", "ededed"))
WORKFLOWS = (("CI", ".github/workflows/ci.yml"), ("Release", ".github/workflows/release.yml"))


@dataclass
class RepoData:
    """One repository. Lists are in creation order (the server sorts per request)."""

    full_name: str
    id: int
    info: dict[str, Any]                      # GET /repos/{o}/{r}
    mini: dict[str, Any]                      # `repository` inside a workflow run
    owner: dict[str, Any]
    labels: list[dict[str, Any]]
    workflows: list[dict[str, Any]]
    commits: list[dict[str, Any]] = field(default_factory=list)     # oldest first
    commit_index: dict[str, dict[str, Any]] = field(default_factory=dict)
    pulls: list[dict[str, Any]] = field(default_factory=list)       # by number
    issues: list[dict[str, Any]] = field(default_factory=list)      # issues + PR items
    runs: list[list[dict[str, Any]]] = field(default_factory=list)  # attempts per run
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by PR number
    next_number: int = 1
    run_numbers: dict[int, int] = field(default_factory=dict)

    @property
    def owner_login(self) -> str:
        return self.full_name.split("/", 1)[0]

    def pull(self, number: int) -> dict[str, Any]:
        return _by(self.pulls, "number", number, f"{self.full_name} has no PR #{number}")

    def issue(self, number: int) -> dict[str, Any]:
        if 0 < number <= len(self.issues) and self.issues[number - 1]["number"] == number:
            return self.issues[number - 1]
        return _by(self.issues, "number", number, f"{self.full_name} has no issue #{number}")

    def run(self, run_id: int) -> list[dict[str, Any]]:
        for attempts in self.runs:
            if attempts[0]["id"] == run_id:
                return attempts
        raise KeyError(f"{self.full_name} has no workflow run {run_id}")

    def commit(self, sha: str) -> dict[str, Any]:
        try:
            return self.commit_index[sha]
        except KeyError:
            raise KeyError(f"{self.full_name} has no commit {sha}") from None


def _by(rows: list[dict], key: str, value: Any, message: str) -> dict[str, Any]:
    for row in rows:
        if row[key] == value:
            return row
    raise KeyError(message)


class Dataset:
    """All simulated data. Use `Dataset.generate(...)`, or build one with the helpers."""

    def __init__(self, seed: int = 1, start: str = DEFAULT_START):
        self.seed = seed
        self.users = UserPool()
        self.repos: dict[str, RepoData] = {}          # key: full name, lower-cased
        self.lock = threading.RLock()
        self.clock: datetime = parse_ts(start)
        self._ids = {kind: itertools.count(base) for kind, base in _ID_BASES.items()}
        self._commit_seq = itertools.count(1)

    @classmethod
    def generate(cls, repos: list[str] | tuple[str, ...] = ("octo-org/repo-a",), *,
                 commits_per_repo: int = 50, prs_per_repo: int = 20,
                 issues_per_repo: int = 20, runs_per_repo: int = 10, seed: int = 1,
                 start: str = DEFAULT_START, days: int = 180,
                 reviews_per_pull: float = 0) -> Dataset:
        """Deterministic for the same arguments. `issues_per_repo` counts plain issues;
        the issues endpoint also lists every PR (so it serves issues + prs items).
        `reviews_per_pull` > 0 adds that many reviews a PR on average (generate.py)."""
        from .generate import add_reviews, populate
        data = cls(seed=seed, start=start)
        populate(data, list(repos), commits=commits_per_repo, prs=prs_per_repo,
                 issues=issues_per_repo, runs=runs_per_repo, days=days)
        if reviews_per_pull:
            add_reviews(data, list(repos), reviews_per_pull)
        return data

    # -- lookups -------------------------------------------------------------------
    def repo(self, full_name: str) -> RepoData:
        try:
            return self.repos[full_name.lower()]
        except KeyError:
            raise KeyError(f"no repository {full_name!r} in the dataset") from None

    def repo_by_id(self, repo_id: int) -> RepoData | None:
        return next((r for r in self.repos.values() if r.id == repo_id), None)

    def counts(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return {r.full_name: {"commits": len(r.commits), "pulls": len(r.pulls),
                                  "issues": len(r.issues), "runs": len(r.runs),
                                  "run_attempts": sum(len(a) for a in r.runs)}
                    for r in self.repos.values()}

    def next_id(self, kind: str) -> int:
        return next(self._ids[kind])

    def tick(self, minutes: float = 1) -> str:
        """Advance the dataset clock (never the wall clock) and return it."""
        with self.lock:
            self.clock += timedelta(minutes=minutes)
            return iso(self.clock)

    def _at(self, at: str | None) -> str:
        if at is None:
            return self.tick()
        ts = parse_ts(at)
        with self.lock:
            self.clock = max(self.clock, ts)
        return iso(ts)

    def _repo(self, repo: str | RepoData) -> RepoData:
        return repo if isinstance(repo, RepoData) else self.repo(repo)

    def _someone(self, n: int) -> dict[str, Any]:
        return self.users.humans[n % len(self.users.humans)]

    def _association(self, user: dict) -> str:
        if user["type"] == "Bot":
            return "NONE"
        return "CONTRIBUTOR" if user["id"] % 3 == 0 else "MEMBER"

    # -- repositories and commits -----------------------------------------------
    def add_repo(self, full_name: str, *, created_at: str | None = None) -> RepoData:
        with self.lock:
            owner_login = full_name.split("/", 1)[0]
            owner = (self.users.by_login.get(owner_login) or self.users.org(owner_login))
            rid = self.next_id("repo")
            created = created_at or iso(self.clock)
            info = items.repository(full_name, rid, owner, created_at=created,
                                    pushed_at=created)
            labels = [items.label(full_name, self.next_id("label"), n, c) for n, c in LABELS]
            flows = [{"id": self.next_id("workflow"), "name": n, "path": p}
                     for n, p in WORKFLOWS]
            data = RepoData(full_name=full_name, id=rid, info=info,
                            mini=items.minimal_repository(info), owner=owner, labels=labels,
                            workflows=flows)
            self.repos[full_name.lower()] = data
            return data

    def add_commit(self, repo: str | RepoData, *, message: str | None = None,
                   author: str | None = None, at: str | None = None, linked: bool = True,
                   committer: str | None = None) -> dict[str, Any]:
        """Push one commit onto the default branch (parent: the current head)."""
        with self.lock:
            r = self._repo(repo)
            when = self._at(at)
            seq = next(self._commit_seq)
            sha = fake_sha(self.seed, r.full_name, "commit", seq)
            who = self.users.get(author) if author else self._someone(seq)
            author_user = who if linked else None
            if committer == "web-flow":      # merged on github.com: GitHub commits it
                by, by_ident = self.users.web_flow, WEB_FLOW_IDENT
            else:
                by = self.users.get(committer) if committer else author_user
                by_ident = identity(by, UNLINKED)
            item = items.commit(
                r.full_name, sha, parents=[r.commits[-1]["sha"]] if r.commits else [],
                message=message or f"Change {seq} in {r.full_name}", author=author_user,
                committer=by, author_ident=identity(author_user, UNLINKED),
                committer_ident=by_ident, authored_at=when, committed_at=when)
            r.commits.append(item)
            r.commit_index[sha] = item
            r.info["pushed_at"] = r.info["updated_at"] = when
            return item

    # -- issues and pull requests ------------------------------------------------
    def _labels(self, r: RepoData, names) -> list[dict]:
        by_name = {lab["name"]: lab for lab in r.labels}
        return [by_name[n] for n in names]

    def add_issue(self, repo: str | RepoData, *, title: str | None = None,
                  user: str | None = None, at: str | None = None, body: str | None = None,
                  labels: tuple[str, ...] = (), assignees: tuple[str, ...] = (),
                  comments: int = 0, _pull: dict | None = None) -> dict[str, Any]:
        with self.lock:
            r = self._repo(repo)
            when = self._at(at)
            number = r.next_number
            r.next_number += 1
            who = self.users.get(user) if user else self._someone(number)
            item = items.issue(
                r.full_name, number, self.next_id("issue"), user=who,
                title=title or f"Issue {number} in {r.full_name}", body=body,
                state="open", state_reason=None, created_at=when, updated_at=when,
                closed_at=None, labels=self._labels(r, labels),
                assignees=[self.users.get(a) for a in assignees], comments=comments,
                author_association=self._association(who), pull=_pull)
            r.issues.append(item)
            r.info["open_issues_count"] += 1
            return item

    def edit_issue(self, repo: str | RepoData, number: int, *, at: str | None = None,
                   **changes: Any) -> dict[str, Any]:
        """Change an issue (or a PR's issue item) and bump `updated_at`.

        Known keys: title, body, state ('open'/'closed'), state_reason, labels (names),
        assignees (logins), comments (count); any other key is set as given.
        A PR's issue item and the PR stay in sync.
        """
        with self.lock:
            r = self._repo(repo)
            item = r.issue(number)
            when = self._at(at)
            self._apply(r, item, when, changes)
            if "pull_request" in item:
                pr = r.pull(number)
                self._apply(r, pr, when, {k: v for k, v in changes.items()
                                          if k not in ("comments", "state_reason")})
            return item

    def edit_pull(self, repo: str | RepoData, number: int, *, at: str | None = None,
                  **changes: Any) -> dict[str, Any]:
        """Change a PR (same keys as edit_issue, plus e.g. draft) and its issue item."""
        with self.lock:
            r = self._repo(repo)
            pr = r.pull(number)
            when = self._at(at)
            self._apply(r, pr, when, changes)
            shared = {k: v for k, v in changes.items()
                      if k in ("title", "body", "state", "labels", "assignees", "draft")}
            self._apply(r, r.issue(number), when, shared)
            return pr

    def _apply(self, r: RepoData, item: dict, when: str, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if key == "labels":
                item["labels"] = self._labels(r, value)
            elif key == "assignees":
                item["assignees"] = [self.users.get(a) for a in value]
                item["assignee"] = item["assignees"][0] if item["assignees"] else None
            elif key == "draft" and "pull_request" not in item and "head" not in item:
                continue
            elif key == "state":
                was_open = item["state"] == "open"
                item["state"] = value
                if value == "closed" and was_open:
                    item["closed_at"] = when
                    r.info["open_issues_count"] -= "head" not in item
                    if "state_reason" in item and "pull_request" not in item:
                        item["state_reason"] = changes.get("state_reason", "completed")
                elif value == "open" and not was_open:
                    item["closed_at"] = None
                    r.info["open_issues_count"] += "head" not in item
                    if "state_reason" in item and "pull_request" not in item:
                        item["state_reason"] = changes.get("state_reason", "reopened")
            else:
                item[key] = value
        item["updated_at"] = when

    def add_pull(self, repo: str | RepoData, *, title: str | None = None,
                 user: str | None = None, at: str | None = None, body: str | None = None,
                 draft: bool = False, labels: tuple[str, ...] = (),
                 assignees: tuple[str, ...] = (), comments: int = 0) -> dict[str, Any]:
        """Open a PR; its issue item (with `pull_request`) shares the number."""
        with self.lock:
            r = self._repo(repo)
            when = self._at(at)
            who = self.users.get(user) if user else self._someone(r.next_number)
            issue = self.add_issue(r, title=title, user=who["login"], at=when, body=body,
                                   labels=labels, assignees=assignees, comments=comments,
                                   _pull={"merged_at": None, "draft": draft})
            number = issue["number"]
            issue["title"] = title or f"PR {number} in {r.full_name}"
            head_sha = fake_sha(self.seed, r.full_name, "head", number)
            pr = items.pull(
                r.full_name, number, self.next_id("pull"), repo=r.info, owner=r.owner,
                user=who, title=issue["title"], body=body, state="open", draft=draft,
                created_at=when, updated_at=when, closed_at=None, merged_at=None,
                merge_commit_sha=None, head_ref=f"feature/change-{number}",
                head_sha=head_sha, base_sha=r.commits[-1]["sha"] if r.commits else head_sha,
                labels=issue["labels"], assignees=issue["assignees"],
                author_association=issue["author_association"])
            r.pulls.append(pr)
            return pr

    def add_review(self, repo: str | RepoData, number: int, *, user: str | None = None,
                   state: str = "APPROVED", at: str | None = None,
                   touch: bool = True) -> dict[str, Any]:
        """Submit a review of PR `number`; like GitHub, it updates the PR's (and its
        issue item's) `updated_at` to the review's time unless `touch` is False (a
        generated history whose PRs were touched later)."""
        with self.lock:
            r = self._repo(repo)
            pr = r.pull(number)
            when = self._at(at)
            who = self.users.get(user) if user else self._someone(number + len(
                r.reviews.get(number, ())) + 1)
            review = items.review(r.full_name, number, self.next_id("review"), user=who,
                                  state=state, submitted_at=when,
                                  commit_id=pr["head"]["sha"],
                                  author_association=self._association(who))
            r.reviews.setdefault(number, []).append(review)
            if touch and when > pr["updated_at"]:
                pr["updated_at"] = when
                r.issue(number)["updated_at"] = when
            return review

    def merge_pull(self, repo: str | RepoData, number: int, *, at: str | None = None,
                   commit: dict[str, Any] | None = None) -> dict[str, Any]:
        """Merge an open PR: a squash commit lands on main (or `commit` is used)."""
        with self.lock:
            r = self._repo(repo)
            pr = r.pull(number)
            when = self._at(at)
            if commit is None:
                commit = self.add_commit(r, message=f"{pr['title']} (#{number})",
                                         author=pr["user"]["login"], at=when,
                                         committer="web-flow")
            pr.update(state="closed", closed_at=when, merged_at=when, updated_at=when,
                      merge_commit_sha=commit["sha"])
            issue = r.issue(number)
            issue.update(state="closed", closed_at=when, updated_at=when)
            issue["pull_request"]["merged_at"] = when
            r.info["open_issues_count"] -= 1
            return pr

    # -- workflow runs -------------------------------------------------------------
    def add_run(self, repo: str | RepoData, *, at: str | None = None, event: str = "push",
                status: str = "completed", conclusion: str | None = "success",
                workflow: int = 0, head_sha: str | None = None, actor: str | None = None,
                duration_s: int = 300, head_branch: str = "main") -> dict[str, Any]:
        """Start a workflow run (attempt 1); returns it."""
        with self.lock:
            r = self._repo(repo)
            when = self._at(at)
            flow = r.workflows[workflow]
            number = r.run_numbers.get(flow["id"], 0) + 1
            r.run_numbers[flow["id"]] = number
            head = r.commit(head_sha) if head_sha else r.commits[-1]
            who = self.users.get(actor) if actor else (head["author"] or self.users.humans[0])
            run_id = self.next_id("run")
            done = status == "completed"
            attempt = items.run_attempt(
                r.full_name, run_id, 1, workflow=flow, run_number=number, event=event,
                status=status, conclusion=conclusion if done else None, created_at=when,
                started_at=when, updated_at=plus(when, seconds=duration_s) if done else when,
                head_branch=head_branch, head_commit=head, actor=who, triggering_actor=who,
                check_suite_id=self.next_id("check_suite"), repo=r.mini)
            r.runs.append([attempt])
            return attempt

    def rerun(self, repo: str | RepoData, run_id: int, *, at: str | None = None,
              status: str = "completed", conclusion: str | None = "success",
              actor: str | None = None, duration_s: int = 300) -> dict[str, Any]:
        """Re-run a run: a new attempt with the same id and `run_attempt` + 1.

        The runs list then shows only this latest attempt; earlier ones stay
        reachable at /actions/runs/{id}/attempts/{n}. `created_at` is unchanged.
        """
        with self.lock:
            r = self._repo(repo)
            attempts = r.run(run_id)
            last = attempts[-1]
            when = self._at(at)
            who = self.users.get(actor) if actor else last["triggering_actor"]
            done = status == "completed"
            flow = next(w for w in r.workflows if w["id"] == last["workflow_id"])
            attempt = items.run_attempt(
                r.full_name, run_id, last["run_attempt"] + 1, workflow=flow,
                run_number=last["run_number"], event=last["event"], status=status,
                conclusion=conclusion if done else None, created_at=last["created_at"],
                started_at=when, updated_at=plus(when, seconds=duration_s) if done else when,
                head_branch=last["head_branch"], head_commit=r.commit(last["head_sha"]),
                actor=last["actor"], triggering_actor=who,
                check_suite_id=last["check_suite_id"], repo=r.mini)
            attempts.append(attempt)
            return attempt
