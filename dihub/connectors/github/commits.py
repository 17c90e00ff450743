"""The `commits` stream: GET /repos/{o}/{r}/commits per branch, incremental by reachability.

A commit's committer date says nothing about when it was pushed (a pull request merged
with a merge commit, local work pushed a day later), so a date cursor alone loses such
commits for good. Each pass therefore keeps, per branch, the head SHA it finished at and
next reads exactly the commits reachable from the new head and not from that one:
GET /repos/{o}/{r}/compare/{old}...{new} (oldest first, paged). A "diverged" answer
(force-push) lists just those commits too; "behind" has none. When the old head is gone
(404) the branch is read again in full; writes are idempotent, so re-reading is safe.

Cursor (per repository): {"branches": {branch: since}, "heads": {branch: sha}}. `since`
is the newest committer date seen minus `commit_overlap_minutes` (never moving back); it
drives the first read of a branch (no head yet: the listing paged newest first, as a
cursor saved before heads existed is read once, then its head is kept).

No-change runs are free: every pass ends with `sha=B&per_page=1`, which names the head
that pass finished at, and keeps that ETag only; the next pass starts with the same
request, answered 304 while the branch has not moved.

With several `branches`, a commit listed by more than one of them in a pass is
attributed to the first configured branch that lists it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from dihub.connectors.github.client import PER_PAGE, GitHubClient, repo_info
from dihub.engine.stream import Context, Page
from dihub.http import HttpFatalError, NotFound
from dihub.models import AuditEntry, SyncState
from dihub.timeutil import now_iso, parse, to_iso

BRANCH_KEY = "_dihub_branch"        # which branch a raw commit was listed from


def committed_at(raw: dict[str, Any]) -> str | None:
    return to_iso(((raw.get("commit") or {}).get("committer") or {}).get("date"))


def next_since(since: str | None, newest: str | None, overlap_min: float) -> str | None:
    """The `since` of the next run: newest seen minus the overlap, never moving back."""
    if newest is None:
        return since
    candidate = to_iso(parse(newest) - timedelta(minutes=overlap_min))
    return max(candidate, since) if since else candidate


def _params(branch: str, since: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"sha": branch, "per_page": PER_PAGE}
    if since:
        params["since"] = since
    return params


def _page(items: list[dict], branch: str, resp, ctx: Context) -> Page:
    for item in items:
        item[BRANCH_KEY] = branch
    raw = resp.text if ctx.settings and ctx.settings.store.raw_payloads.enabled else None
    return Page(items, raw_size=resp.size, raw_payload=raw)


def _head_params(branch: str) -> dict[str, Any]:
    return {"sha": branch, "per_page": 1}


def commit_pages(ctx: Context, partition: str, state: SyncState) -> Iterator[Page]:
    gh = GitHubClient(ctx)
    try:
        repo = repo_info(ctx, gh, partition)
        branches = ctx.config.branches or [repo.default_branch or "main"]
        saved = (state.cursor or {}).get("branches", {})
        saved_heads = (state.cursor or {}).get("heads", {})
        cursor: dict[str, str | None] = {}
        heads: dict[str, str] = {}
        etags: dict[str, str] = {}
        claimed: set[str] | None = set() if len(branches) > 1 else None
        for branch in branches:
            since = saved.get(branch) or ctx.config.start_date
            old = saved_heads.get(branch)
            try:
                if old:
                    newest, head, key, etag = yield from _by_reachability(
                        gh, ctx, repo.full_name, branch, old, state.etags, claimed)
                else:
                    newest, head, key, etag = yield from _by_date(
                        gh, ctx, repo.full_name, branch, since, state.etags, claimed)
            except NotFound:
                _warn(ctx, partition, f"branch {branch!r} not found in {repo.full_name}")
                continue
            except HttpFatalError as err:
                if err.status != 409:              # 409: the repository is empty
                    raise
                continue
            cursor[branch] = next_since(since, newest, ctx.config.commit_overlap_minutes)
            if head:
                heads[branch] = head
            if etag:
                etags[key] = etag
        yield Page([], cursor={"branches": cursor, "heads": heads}, etags=etags)
    finally:
        gh.audit_requests("commits", "commits", partition)


def _by_reachability(gh: GitHubClient, ctx: Context, repo: str, branch: str, old: str,
                     etags: dict[str, str], claimed: set[str] | None):
    """The branch had head `old` last pass: a conditional look at its head (304: nothing
    moved), then the commits reachable from the new head and not from `old`.
    Returns (newest date seen, head, ETag key, ETag)."""
    url, params = f"/repos/{repo}/commits", _head_params(branch)
    key = gh.key(url, params)
    resp = gh.get(url, params, etag=etags.get(key))
    if resp.not_modified:
        return None, old, key, resp.etag or etags.get(key)
    items = list(resp.data or [])
    head = items[0].get("sha") if items else None
    newest = None
    if head and head != old:
        try:
            newest = yield from _compare(gh, ctx, repo, old, head, branch, claimed)
        except NotFound:            # the old head is gone (force-push): read it all again
            ctx.log.info("%s/commits: %s head %s is gone; reading the branch again",
                         ctx.source, branch, old[:12])
            newest, _ = yield from _branch(gh, ctx, url, branch, ctx.config.start_date,
                                           {}, claimed)
    newest = _max(newest, (yield from _emit(items, branch, resp, ctx, claimed)))
    return newest, head or old, key, resp.etag


def _by_date(gh: GitHubClient, ctx: Context, repo: str, branch: str, since: str | None,
             etags: dict[str, str], claimed: set[str] | None):
    """No head known yet (first sync, or a cursor saved before heads were kept): the
    listing from `since`, then the head that the next pass compares from."""
    url = f"/repos/{repo}/commits"
    newest, listed_head = yield from _branch(gh, ctx, url, branch, since, etags, claimed)
    params = _head_params(branch)
    resp = gh.get(url, params)
    items = list(resp.data or [])
    head = items[0].get("sha") if items else None
    if listed_head and head and head != listed_head:     # pushed while we were reading
        try:
            newest = _max(newest, (yield from _compare(gh, ctx, repo, listed_head, head,
                                                        branch, claimed)))
        except NotFound:
            newest = _max(newest, (yield from _branch(gh, ctx, url, branch, since, {},
                                                      claimed))[0])
    newest = _max(newest, (yield from _emit(items, branch, resp, ctx, claimed)))
    return newest, head, gh.key(url, params), resp.etag


def _compare(gh: GitHubClient, ctx: Context, repo: str, base: str, head: str, branch: str,
             claimed: set[str] | None):
    """Commits reachable from `head` and not from `base`, oldest first, every page.
    Raises NotFound when `base` (or `head`) no longer exists."""
    url = f"/repos/{repo}/compare/{base}...{head}"
    newest, got, page = None, 0, 1
    while True:
        params: dict[str, Any] = {"per_page": PER_PAGE}
        if page > 1:
            params["page"] = page
        resp = gh.get(url, params)
        body = resp.data or {}
        items = list(body.get("commits") or [])
        got += len(items)
        newest = _max(newest, (yield from _emit(items, branch, resp, ctx, claimed)))
        if not items or got >= int(body.get("total_commits") or 0):
            return newest
        page += 1


def _emit(items: list[dict], branch: str, resp, ctx: Context, claimed: set[str] | None):
    """Yield `items` (none committed before start_date) as a page; the newest date."""
    start = ctx.config.start_date
    if start:
        items = [i for i in items if (committed_at(i) or "") >= start]
    newest = None
    for item in items:
        newest = _max(newest, committed_at(item))
    yield _page(_unclaimed(items, claimed), branch, resp, ctx)
    return newest


def _max(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else max(a, b)


def _unclaimed(items: list[dict], claimed: set[str] | None) -> list[dict]:
    """With several branches, a commit listed by an earlier branch in this pass keeps it."""
    if claimed is None:
        return items
    out = [i for i in items if i.get("sha") not in claimed]
    claimed.update(i.get("sha") for i in out)
    return out


def _branch(gh: GitHubClient, ctx: Context, url: str, branch: str, since: str | None,
            etags: dict[str, str], claimed: set[str] | None):
    """Read one branch newest first; returns (newest date seen, first listed SHA)."""
    newest: str | None = None
    first_sha: str | None = None
    for index, (_, resp) in enumerate(gh.pages(url, _params(branch, since), etags)):
        if resp.not_modified:
            break                   # an unchanged page (the old since URL): nothing new
        items = list(resp.data or [])
        if index == 0 and items:
            first_sha = items[0].get("sha")
        for item in items:
            newest = _max(newest, committed_at(item))
        yield _page(_unclaimed(items, claimed), branch, resp, ctx)
    return newest, first_sha


def _warn(ctx: Context, partition: str, message: str) -> None:
    ctx.log.warning("%s/commits: %s", ctx.source, message)
    if ctx.audit is not None:
        ctx.audit(AuditEntry(run_id=ctx.run_id, source=ctx.source, entity="commits",
                             stream="commits", partition=partition, action="fetch",
                             outcome="warning", error=message, timestamp=now_iso()))

