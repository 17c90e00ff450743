"""The `pull_requests` and `issues` streams: both incremental by `updated_at`.

pull_requests — GET /pulls?state=all&sort=updated&direction=desc (the pulls API has
no `since`): read newest-updated first and stop at the first item older than the
cursor. The first page's URL never changes, so its ETag alone makes an unchanged
repository free (304 → stop). The cursor moves to the newest update seen only when
the pass ends; until then each page checkpoints where it got to beside it:
{"updated": cursor it started from, "backfill": {"page": next page, "newest": newest
update seen}}, and a stopped pass (quota, crash, kill) goes on from that page. An item
updated while we page (or between a stopped pass and its resumption) moves to the top
and only shifts the others down: they are seen twice, never missed, and the moved item
is newer than the pass's `newest`, so the next pass reads it.

issues — GET /issues?state=all&sort=updated&direction=asc&since=cursor: the cursor
moves page by page, so a long first sync resumes where it stopped. Pull requests,
which the issues API mixes in, are dropped before normalizing. In ascending order
an issue updated mid-pass jumps to the end and shifts the rest up by one, which can
hide an item at a page boundary; when an issue shows up twice with different
`updated_at`, the final cursor falls back to where its first copy was read.
When the cursor moved, the next run's first URL (`since=<new cursor>`) is requested
once at the end, so that run can be answered by a 304.

Cursors: {"updated": ISO time}, plus "backfill" while a pull request pass is under way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dihub.connectors.github import shapes
from dihub.connectors.github.client import PER_PAGE, GitHubClient, GitHubSession, repo_info
from dihub.connectors.stream import Page
from dihub.http.paging import PageNumber, paginate
from dihub.models import SyncState
from dihub.timeutil import to_iso


def _updated(raw: dict[str, Any]) -> str:
    return to_iso(raw.get("updated_at")) or ""


def _cursor(state: SyncState) -> str | None:
    cur = state.cursor
    return cur.get("updated") if isinstance(cur, dict) else None


def _slim_pull(raw: dict[str, Any]) -> dict[str, Any]:
    """Drop what no normalizer reads and that makes up two thirds of a PR's size: the full
    repository objects under head and base, and _links. Pages wait in memory until the
    engine writes a batch, so this is most of a PR sync's memory."""
    raw.pop("_links", None)
    for side in ("head", "base"):
        if isinstance(raw.get(side), dict):
            raw[side] = {k: v for k, v in raw[side].items() if k != "repo"}
    return raw


def _pull_params(page: int) -> dict[str, Any]:
    params: dict[str, Any] = {"state": "all", "sort": "updated", "direction": "desc",
                              "per_page": PER_PAGE}
    if page > 1:
        params["page"] = page
    return params


def _pull_backfill(state: SyncState) -> dict[str, Any] | None:
    cur = state.cursor
    backfill = cur.get("backfill") if isinstance(cur, dict) else None
    if isinstance(backfill, dict) and isinstance(backfill.get("page"), int) \
            and backfill["page"] > 1:
        return backfill
    return None


def pull_pages(ctx: GitHubSession, partition: str, state: SyncState) -> Iterator[Page]:
    gh = GitHubClient(ctx, partition)
    try:
        repo = repo_info(ctx, gh, partition)
        url = f"/repos/{repo.full_name}/pulls"
        cursor = _cursor(state)
        floor = cursor or ctx.config.start_date
        first_key = gh.key(url, _pull_params(1))
        etag = (state.etags or {}).get(first_key)
        backfill = _pull_backfill(state)
        page = 1
        newest = cursor
        if backfill is not None:        # a stopped pass: on from the page it got to
            page, newest = backfill["page"], backfill.get("newest") or cursor

        def get(page_url: str, params: Any) -> Any:      # page 1 (no `page`) conditional
            return gh.get(page_url, params, etag=etag if "page" not in params else None,
                          shape=shapes.PULLS)

        # on until an item the previous pass saw, or the end of the list
        pager = PageNumber(done=lambda data, _, n: floor is not None and any(
            _updated(p) < floor for p in data))
        for fetched in paginate(get, url, pager, _pull_params(1), start=page):
            resp = fetched.response
            if resp.not_modified:
                break                   # page 1 unchanged: nothing was updated
            if fetched.at == 1:
                etag = resp.etag
            items = [_slim_pull(p) for p in fetched.items
                     if floor is None or _updated(p) >= floor]
            for item in items:
                newest = max(newest or "", _updated(item)) or None
            etags = {first_key: etag} if etag else {}
            if fetched.last:
                yield ctx.page(items, resp, cursor={"updated": newest}, etags=etags)
                return
            yield ctx.page(items, resp, cursor={
                "updated": cursor, "backfill": {"page": fetched.next, "newest": newest}},
                etags=etags)
        yield Page([], cursor={"updated": newest}, etags={first_key: etag} if etag else {})
    finally:
        gh.audit_requests("pull_requests", "pull_requests", partition)


def _issue_params(since: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"state": "all", "sort": "updated", "direction": "asc",
                              "per_page": PER_PAGE}
    if since:
        params["since"] = since
    return params


def _earliest(a: str | None, b: str | None) -> str | None:
    """The earlier of two cursors; None (from the beginning) is the earliest."""
    return None if a is None or b is None else min(a, b)


def issue_pages(ctx: GitHubSession, partition: str, state: SyncState) -> Iterator[Page]:
    gh = GitHubClient(ctx, partition)
    try:
        repo = repo_info(ctx, gh, partition)
        url = f"/repos/{repo.full_name}/issues"
        since = _cursor(state) or ctx.config.start_date
        cursor = since
        read_from: list[str | None] = []           # the cursor before each page
        first_seen: dict[int, tuple[int, str]] = {}
        fallback, fall_back = None, False
        first_key, first = None, None
        listing = gh.pages(url, _issue_params(since), state.etags, shape=shapes.ISSUES)
        for idx, (key, resp) in enumerate(listing):
            if first is None:
                first_key, first = key, resp
                if resp.not_modified:
                    break                  # nothing updated since the cursor
            read_from.append(cursor)
            data = list(resp.data or [])
            for raw in data:
                updated = _updated(raw)
                seen = first_seen.setdefault(int(raw["number"]), (idx, updated))
                if seen[1] != updated:    # updated while we paged: see the module doc
                    fallback = read_from[seen[0]] if not fall_back else _earliest(
                        fallback, read_from[seen[0]])
                    fall_back = True
                cursor = max(cursor or "", updated) or None
            items = [r for r in data if "pull_request" not in r]
            yield ctx.page(items, resp, cursor={"updated": cursor})
        final = _earliest(cursor, fallback) if fall_back else cursor
        etags: dict[str, str] = {}
        if final == since and first is not None and first.etag:
            etags[first_key] = first.etag
        else:       # the next run starts at a URL not requested yet: learn its ETag now
            params = _issue_params(final)
            resp = gh.get(url, params, shape=shapes.ISSUES)
            yield ctx.page([r for r in resp.data or [] if "pull_request" not in r], resp)
            if resp.etag:
                etags[gh.key(url, params)] = resp.etag
        yield Page([], cursor={"updated": final}, etags=etags)
    finally:
        gh.audit_requests("issues", "issues", partition)
