"""The `commits` stream: per branch, incremental by reachability, resumable at any page.

A commit's committer date says nothing about when it was pushed, so a date cursor
alone loses commits pushed late. Each pass keeps, per branch, the head it finished
at, and reads:

1. GET /projects/:id/repository/branches/:branch, conditional on the ETag kept from
   the last pass: a 304, or the same head, ends the branch (one request);
2. with a head kept: GET /repository/compare?from=<old head>&to=<new head>, the
   commits reachable from the new head and not from the old one (a force-push gives
   those of the new line since the merge base); one request;
3. without one (first sync), or when the old head is gone (compare answers 404):
   GET /repository/commits?ref_name=<head sha>&per_page=100&page=N, by `since` (the
   newest committer date seen minus `commit_overlap_minutes`, or `start_date`),
   anchored at the head's SHA so page N is the same in every run while the branch
   moves. GitLab sends no total here; paging follows `X-Next-Page`.

GitLab's commit dates carry the committer's offset (`+03:00`) while `since` compares
in UTC: every date is converted to UTC before it is compared or saved, so a cursor is
never hours off. Re-read commits have the same key and signature: nothing is written
twice.

Cursor (per project): {"branches": {branch: since}, "heads": {branch: sha}}, and while a
branch is listed, the position each page checkpoints:

    "backfill": {"branch": B, "head": sha, "since": S, "page": next page, "newest": date}

A run stopped at any page (quota, crash, kill) goes on at that page; a position whose
head is gone is dropped and the branch read again. With several `branches`, a commit
listed by more than one of them in a pass is attributed to the first that lists it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from dihub.connectors.gitlab.client import (
    PER_PAGE,
    GitLabClient,
    GitLabSession,
    project_info,
)
from dihub.connectors.stream import Page
from dihub.http import NotFound
from dihub.models import SyncState
from dihub.timeutil import parse, to_iso

BRANCH_KEY = "_dihub_branch"


def committed_at(raw: dict[str, Any]) -> str | None:
    """The committer date in UTC (GitLab writes it with the committer's offset)."""
    return to_iso(raw.get("committed_date") or raw.get("created_at"))


def next_since(since: str | None, newest: str | None, overlap_min: float) -> str | None:
    """The `since` of the next read: newest seen minus the overlap, never moving back."""
    if newest is None:
        return since
    candidate = to_iso(parse(newest) - timedelta(minutes=overlap_min))
    return max(candidate, since) if since else candidate


class _Branch:
    def __init__(self, s: GitLabSession, gl: GitLabClient, project: int, branch: str,
                 marks: dict[str, Any], claimed: set[str] | None, etags: dict[str, str]):
        self.s, self.gl, self.branch, self.marks, self.claimed = s, gl, branch, marks, claimed
        self.base = f"/projects/{project}/repository"
        self.url = f"{self.base}/branches/{quote(branch, safe='')}"
        self.etags = etags
        self.pos: dict[str, Any] = {}
        self.etag: str | None = None

    def read(self, old: str | None, since: str | None) -> Iterator[Page]:
        key = self.gl.key(self.url)
        resp = self.gl.get(self.url, etag=self.etags.get(key) if old else None)
        self.etag = resp.etag or self.etags.get(key)
        if resp.not_modified:
            self.pos = {"head": old}
            return
        head = ((resp.data or {}).get("commit") or {}).get("id")
        if not head or head == old:
            self.pos = {"head": head or old}
            return
        if old:
            self.pos = {"head": head, "newest": None}
            try:
                cmp = self.gl.get(f"{self.base}/compare", {"from": old, "to": head})
            except NotFound:        # the old head is gone (force-push): list by date
                self.s.log.info("%s/commits: %s head %s is gone; listing since %s",
                                self.s.source, self.branch, old[:12], since)
            else:
                commits = list((cmp.data or {}).get("commits") or [])
                yield self.page(commits, cmp, done=True)
                return
        self.pos = {"branch": self.branch, "head": head, "since": since, "page": 1,
                    "newest": None}
        yield from self.listing()

    def listing(self) -> Iterator[Page]:
        pos = self.pos
        params: dict[str, Any] = {"ref_name": pos["head"], "per_page": PER_PAGE}
        if pos.get("since"):
            params["since"] = pos["since"]
        for fetched in self.gl.pages(f"{self.base}/commits", params, pos["page"]):
            pos["page"] = fetched.next
            yield self.page(fetched.items, fetched.response, done=fetched.next is None)

    def page(self, items: list[dict[str, Any]], resp: Any, *, done: bool) -> Page:
        start = self.s.config.start_date
        if start:
            items = [i for i in items if (committed_at(i) or "") >= start]
        for item in items:
            when = committed_at(item)
            if when and (self.pos.get("newest") is None or when > self.pos["newest"]):
                self.pos["newest"] = when
        if self.claimed is not None:
            items = [i for i in items if i.get("id") not in self.claimed]
            self.claimed.update(i.get("id") for i in items)
        for item in items:
            item[BRANCH_KEY] = self.branch
        cursor = {"branches": dict(self.marks["branches"]), "heads": dict(self.marks["heads"])}
        if not done:
            cursor["backfill"] = {**self.pos, "branch": self.branch}
        return self.s.page(items, resp, cursor=cursor)


def commit_pages(s: GitLabSession, partition: str, state: SyncState) -> Iterator[Page]:
    gl = GitLabClient(s)
    try:
        project = project_info(s, gl, partition)
        branches = s.config.branches or [project.default_branch or "main"]
        cur = state.cursor if isinstance(state.cursor, dict) else {}
        saved = dict(cur.get("branches") or {})
        saved_heads = dict(cur.get("heads") or {})
        backfill = cur.get("backfill") if isinstance(cur.get("backfill"), dict) else None
        marks = {"branches": dict(saved), "heads": dict(saved_heads)}
        etags: dict[str, str] = {}
        claimed: set[str] | None = set() if len(branches) > 1 else None
        for branch in branches:
            since = saved.get(branch) or s.config.start_date
            old = saved_heads.get(branch)
            read = _Branch(s, gl, project.id, branch, marks, claimed, state.etags or {})
            try:
                if backfill and backfill.get("branch") == branch and backfill.get("page"):
                    read.pos = dict(backfill)
                    try:
                        yield from read.listing()
                    except NotFound:          # the saved head is gone: read the branch again
                        read.pos = {}
                        yield from read.read(old, since)
                else:
                    yield from read.read(old, since)
            except NotFound:
                if not s.config.branches and branch == project.default_branch:
                    # the default branch is gone: the kept project may be stale (renamed)
                    project = project_info(s, gl, partition, fresh=True)
                    if project.default_branch and project.default_branch not in branches:
                        branches.append(project.default_branch)
                        continue
                s.warn(f"branch {branch!r} not found in {project.path}", entity="commits",
                       stream="commits", partition=partition,
                       logged=f"{s.source}/commits: branch {branch!r} not found in "
                              f"{project.path}")
                continue
            marks["branches"][branch] = next_since(since, read.pos.get("newest"),
                                                   s.config.commit_overlap_minutes)
            if read.pos.get("head"):
                marks["heads"][branch] = read.pos["head"]
            if read.etag:
                etags[gl.key(read.url)] = read.etag
        yield Page([], cursor={"branches": marks["branches"], "heads": marks["heads"]},
                   etags=etags)
    finally:
        gl.audit_requests("commits", "commits", partition)
