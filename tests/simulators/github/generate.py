"""Deterministic generation of a Dataset (same seed and sizes → same data).

Per repository, over `days` from the start date: a linear history on `main`
(about 2% of commits share their timestamp with the previous one, 3% have an
author email linked to no account → `author: null`); issues and PRs numbered
from one sequence in creation order; merged PRs squash-merged by `web-flow`
onto an existing commit; workflow runs, about 8% of them re-run (attempt 2),
the newest ones still queued / in progress.
"""

from __future__ import annotations

import bisect
import random
from datetime import datetime, timedelta

from .common import fake_sha, iso, parse_ts
from .data import WEB_FLOW_IDENT, Dataset, RepoData

VERBS = ("Fix", "Add", "Refactor", "Update", "Remove", "Document", "Speed up", "Test")
NOUNS = ("parser", "sync cursor", "rate limiter", "CLI flags", "retry policy", "store",
         "pagination", "config loader", "audit log", "metrics", "docs", "CI workflow")


def populate(data: Dataset, repos: list[str], *, commits: int, prs: int, issues: int,
             runs: int, days: int) -> None:
    if runs and not commits:
        raise ValueError("workflow runs need commits (their head_sha) — set commits_per_repo")
    start = data.clock
    end = start + timedelta(days=days)
    for full_name in repos:
        rng = random.Random(f"{data.seed}:{full_name}")
        r = data.add_repo(full_name, created_at=iso(start - timedelta(days=30)))
        _commits(data, r, rng, commits, start, end)
        dates = [c["commit"]["committer"]["date"] for c in r.commits]
        _issues_and_pulls(data, r, rng, issues, prs, start, end, dates)
        _runs(data, r, rng, runs, start, end, dates)
    data.clock = max(data.clock, end) + timedelta(hours=1)


REVIEW_STATES = ("APPROVED",) * 5 + ("COMMENTED",) * 3 + ("CHANGES_REQUESTED",) * 2 + (
    "DISMISSED",)
LONG_REVIEWED = 130          # reviews of each repository's first PR: more than a page


def add_reviews(data: Dataset, repos: list[str], per_pull: float) -> None:
    """Reviews of every PR, `per_pull` on average (0 to twice that), submitted between
    its creation and its last update (so its `updated_at` stays), from its own seed so
    the rest of the dataset is the same with or without them; each repository's first
    PR gets LONG_REVIEWED (two pages)."""
    for full_name in repos:
        r = data.repo(full_name)
        rng = random.Random(f"{data.seed}:{full_name}:reviews")
        for i, pr in enumerate(r.pulls):
            n = LONG_REVIEWED if i == 0 else rng.randint(0, round(2 * per_pull))
            lo, hi = parse_ts(pr["created_at"]), parse_ts(pr["updated_at"])
            for when in sorted(lo + (hi - lo) * rng.random() for _ in range(n)):
                data.add_review(r, pr["number"], user=data.users.pick(rng)["login"],
                                state=rng.choice(REVIEW_STATES), at=iso(when), touch=False)


def _times(rng: random.Random, n: int, start: datetime, end: datetime) -> list[datetime]:
    span = (end - start).total_seconds()
    return sorted(start + timedelta(seconds=int(rng.random() * span)) for _ in range(n))


def _title(rng: random.Random) -> str:
    return f"{rng.choice(VERBS)} {rng.choice(NOUNS)}"


def _commits(data: Dataset, r: RepoData, rng: random.Random, n: int, start: datetime,
             end: datetime) -> None:
    previous = None
    for when in _times(rng, n, start, end):
        if previous is not None and rng.random() < 0.02:
            when = previous                          # same-second pushes happen
        previous = when
        message = _title(rng)
        if rng.random() < 0.2:
            message += "\n\nLonger explanation of the change.\n\nCo-authored-by: a pair"
        data.add_commit(r, message=message, author=data.users.pick(rng)["login"],
                        at=iso(when), linked=rng.random() >= 0.03)


def _issues_and_pulls(data: Dataset, r: RepoData, rng: random.Random, n_issues: int,
                      n_prs: int, start: datetime, end: datetime, dates: list[str]) -> None:
    kinds = ["pr"] * n_prs + ["issue"] * n_issues
    rng.shuffle(kinds)
    last = end - timedelta(minutes=1)
    claimed: set[int] = set()
    for kind, created in zip(kinds, _times(rng, len(kinds), start, last), strict=True):
        labels = tuple(rng.sample([lab["name"] for lab in r.labels], rng.randint(0, 2)))
        assignees = (rng.choice(data.users.humans)["login"],) if rng.random() < 0.5 else ()
        user = data.users.pick(rng)["login"]
        opened = iso(created)
        closed = min(created + timedelta(seconds=rng.randint(3600, 14 * 86400)), last)
        later = min(closed + timedelta(seconds=rng.randint(0, 5 * 86400)), last)
        u = rng.random()
        if kind == "issue":
            item = data.add_issue(r, title=_title(rng), user=user, at=opened,
                                  body="Steps to reproduce..." if u < 0.7 else None,
                                  labels=labels, assignees=assignees,
                                  comments=rng.randint(0, 12))
            if u < 0.6:
                reason = "completed" if rng.random() < 0.85 else "not_planned"
                item.update(state="closed", state_reason=reason, closed_at=iso(closed))
                r.info["open_issues_count"] -= 1
            touched = later if u < 0.6 and rng.random() < 0.3 else min(later, closed)
            item["updated_at"] = iso(touched)
            continue
        draft = u < 0.15 and rng.random() < 0.3
        pr = data.add_pull(r, title=_title(rng), user=user, at=opened, draft=draft,
                           body="## Summary\n\nWhat and why." if u < 0.9 else None,
                           labels=labels, assignees=assignees, comments=rng.randint(0, 8))
        base_at = bisect.bisect_right(dates, opened) - 1
        if dates:
            pr["base"]["sha"] = r.commits[max(base_at, 0)]["sha"]
        issue = r.issue(pr["number"])
        if u < 0.15:                                   # still open
            touched = iso(min(later, closed))
        else:
            touched = iso(closed)
            pr.update(state="closed", closed_at=touched)
            issue.update(state="closed", closed_at=touched)
            r.info["open_issues_count"] -= 1
            if u < 0.85:
                touched = _merge(data, r, pr, issue, touched, dates, claimed)
        pr["updated_at"] = issue["updated_at"] = touched


def _merge(data: Dataset, r: RepoData, pr: dict, issue: dict, closed: str,
           dates: list[str], claimed: set[int]) -> str:
    """Squash-merge `pr` onto the first unclaimed main commit at or after `closed`."""
    i = bisect.bisect_left(dates, closed)
    while i < len(dates) and i in claimed:
        i += 1
    if i < len(dates):
        claimed.add(i)
        commit = r.commits[i]
        merged_at = dates[i]
        commit["commit"]["message"] = f"{pr['title']} (#{pr['number']})"
        commit["commit"]["committer"].update(name=WEB_FLOW_IDENT[0], email=WEB_FLOW_IDENT[1])
        commit["committer"] = data.users.web_flow
        sha = commit["sha"]
    else:                                             # no later commit: merged off-list
        merged_at, sha = closed, fake_sha(data.seed, r.full_name, "merge", pr["number"])
    pr.update(closed_at=merged_at, merged_at=merged_at, merge_commit_sha=sha)
    issue["closed_at"] = merged_at
    issue["pull_request"]["merged_at"] = merged_at
    return merged_at


def _runs(data: Dataset, r: RepoData, rng: random.Random, n: int, start: datetime,
          end: datetime, dates: list[str]) -> None:
    times = _times(rng, n, start, end)
    unfinished = min(2, n // 20)
    for k, when in enumerate(times):
        at = iso(when)
        head = r.commits[max(bisect.bisect_right(dates, at) - 1, 0)]
        e = rng.random()
        event = "push" if e < 0.7 else ("pull_request" if e < 0.95 else "schedule")
        branch = f"feature/change-{k}" if event == "pull_request" else "main"
        duration = rng.randint(60, 1200)
        c = rng.random()
        conclusion = "success" if c < 0.8 else ("failure" if c < 0.95 else "cancelled")
        if k >= n - unfinished:
            status = "in_progress" if k % 2 else "queued"
            data.add_run(r, at=at, event=event, status=status, workflow=0,
                         head_sha=head["sha"], head_branch=branch, duration_s=duration)
            continue
        rerun = rng.random() < 0.08
        run = data.add_run(r, at=at, event=event, conclusion="failure" if rerun else conclusion,
                           workflow=0 if rng.random() < 0.85 else 1, head_sha=head["sha"],
                           head_branch=branch, duration_s=duration)
        if rerun:
            again = when + timedelta(seconds=duration + rng.randint(60, 3600))
            data.rerun(r, run["id"], at=iso(again),
                       conclusion="success" if rng.random() < 0.8 else "failure",
                       duration_s=rng.randint(60, 1200))
