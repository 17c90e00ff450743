"""The `commits` stream: GET /repos/{o}/{r}/commits per branch, incremental by `since`.

Cursor (per repository): {"branches": {branch: since}}. `since` is the newest committer
date seen minus `commit_overlap_minutes` (never earlier than the previous `since`), so a
commit pushed late with a slightly older date is still caught; re-reading the overlap
costs nothing in the store (unchanged signature, no write).

No-change runs are free: the next run's first request (`sha=B&since=S`) is always one
this run made, and its ETag is the only one kept. When `since` moves, that new URL is
requested once at the end of the pass (its items are written too, so a commit pushed
in between is never hidden behind the saved ETag). A 304 there means nothing new.
The cursor moves only at the end of a pass (the list is newest first).

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


def commit_pages(ctx: Context, partition: str, state: SyncState) -> Iterator[Page]:
    gh = GitHubClient(ctx)
    try:
        repo = repo_info(ctx, gh, partition)
        url = f"/repos/{repo.full_name}/commits"
        branches = ctx.config.branches or [repo.default_branch or "main"]
        saved = (state.cursor or {}).get("branches", {})
        cursor: dict[str, str | None] = {}
        etags: dict[str, str] = {}
        claimed: set[str] | None = set() if len(branches) > 1 else None
        for branch in branches:
            since = saved.get(branch) or ctx.config.start_date
            try:
                newest, first_key, first = yield from _branch(gh, ctx, url, branch, since,
                                                              state.etags, claimed)
            except NotFound:
                _warn(ctx, partition, f"branch {branch!r} not found in {repo.full_name}")
                continue
            except HttpFatalError as err:
                if err.status != 409:              # 409: the repository is empty
                    raise
                continue
            following = next_since(since, newest, ctx.config.commit_overlap_minutes)
            cursor[branch] = following
            params = _params(branch, following)
            if following == since and first is not None and first.etag:
                etags[first_key] = first.etag
            else:   # the next run starts at a URL not requested yet: learn its ETag now
                resp = gh.get(url, params)
                yield _page(_unclaimed(list(resp.data or []), claimed), branch, resp, ctx)
                if resp.etag:
                    etags[gh.key(url, params)] = resp.etag
        yield Page([], cursor={"branches": cursor}, etags=etags)
    finally:
        gh.audit_requests("commits", "commits", partition)


def _unclaimed(items: list[dict], claimed: set[str] | None) -> list[dict]:
    """With several branches, a commit listed by an earlier branch in this pass keeps it."""
    if claimed is None:
        return items
    out = [i for i in items if i.get("sha") not in claimed]
    claimed.update(i.get("sha") for i in out)
    return out


def _branch(gh: GitHubClient, ctx: Context, url: str, branch: str, since: str | None,
            etags: dict[str, str], claimed: set[str] | None):
    """Read one branch newest first; returns (newest date seen, first page key, response)."""
    newest: str | None = None
    first_key, first = None, None
    for key, resp in gh.pages(url, _params(branch, since), etags):
        if first is None:
            first_key, first = key, resp
            if resp.not_modified:
                break                   # the first page is unchanged: nothing was pushed
        items = list(resp.data or [])
        for item in items:
            when = committed_at(item)
            if when and (newest is None or when > newest):
                newest = when
        yield _page(_unclaimed(items, claimed), branch, resp, ctx)
    return newest, first_key, first


def _warn(ctx: Context, partition: str, message: str) -> None:
    ctx.log.warning("%s/commits: %s", ctx.source, message)
    if ctx.audit is not None:
        ctx.audit(AuditEntry(run_id=ctx.run_id, source=ctx.source, entity="commits",
                             stream="commits", partition=partition, action="fetch",
                             outcome="warning", error=message, timestamp=now_iso()))

