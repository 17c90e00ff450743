"""The `merge_requests`, `issues` and `pipelines` streams: incremental by `updated_at`.

Each is listed with `updated_after=<cursor - updated_overlap_seconds>&order_by=updated_at
&sort=asc&per_page=100`. Deep offset paging over a list ordered by `updated_at` is
fragile (an item updated mid-pass moves to the end and shifts the others, offset paging
stops being offered on large collections, totals vanish above 10,000 rows), so every
page restarts at the newest `updated_at` read so far instead of asking for page N+1:
the cursor is that time, it moves page by page, and a stopped pass (quota, crash, kill)
resumes at its last page. Only when a whole page shares one `updated_at` does the pass
take page 2, 3, ... at that time.

The overlap (default 10 s) re-reads the items updated in the last moments before the
cursor, which GitLab may commit after a page was served with a later one. Re-read items
are recognised by (id, updated_at): those read at or after `cursor - overlap` are kept in
the cursor (`seen`) and skipped, so they cost no pipeline detail request and no write.

A pass whose first request finds nothing new saves that request's ETag: the next pass
sends it with If-None-Match and an unchanged project answers 304. GitLab counts a 304
against the rate limit like any request, so a no-change pass costs one request per
stream and project whichever way it is answered.

pipelines: the list has no start/finish times, so each pipeline new or changed since
the last pass is read once more, GET /pipelines/:id (started_at, finished_at, duration),
`http.concurrency` of a list page's pipelines at once (dihub/http/paging.py,
`pages_at_once`), each written as it arrives with the list page's position and the
pipelines read so far (`seen`).
A retried pipeline keeps its id and only `updated_at` (and its status and times) moves:
`updated_after` lists it again and the one build keyed by its id is updated.

Cursor: {"updated": ISO time (UTC, with milliseconds), "seen": {id: updated_at},
"page": N (only while a page-full of items sharing one updated_at is being read)}.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from datetime import UTC, timedelta
from typing import Any

from dihub.connectors.gitlab.client import (
    PER_PAGE,
    GitLabClient,
    GitLabSession,
    next_page,
    project_info,
)
from dihub.connectors.stream import Page
from dihub.http import NotFound
from dihub.http.paging import pages_at_once
from dihub.models import SyncState
from dihub.timeutil import parse

Detail = Callable[[GitLabClient, int, dict[str, Any]], dict[str, Any]]


def utc_ms(value: Any) -> str:
    """An `updated_at` in UTC with milliseconds (`2026-01-02T03:04:05.678Z`): GitLab keeps
    them, and a cursor cut to the second would put every item of that second at its edge."""
    if not value:
        return ""
    return parse(str(value)).astimezone(UTC).isoformat(timespec="milliseconds")[:23] + "Z"


def _after(anchor: str | None, overlap_s: float) -> str | None:
    if anchor is None:
        return None
    return utc_ms(parse(anchor) - timedelta(seconds=overlap_s))


class UpdatedList:
    """One stream's list for one project, as declared by the stream."""

    def __init__(self, stream: str, entity: str, path: str, params: dict[str, Any],
                 detail: Detail | None = None):
        self.stream, self.entity, self.path, self.params = stream, entity, path, params
        self.detail = detail

    def __call__(self, s: GitLabSession, partition: str, state: SyncState) -> Iterator[Page]:
        gl = GitLabClient(s)
        try:
            project = project_info(s, gl, partition)
            yield from self.walk(s, gl, project.id, state)
        finally:
            gl.audit_requests(self.stream, self.entity, partition)

    def walk(self, s: GitLabSession, gl: GitLabClient, project: int, state: SyncState
             ) -> Iterator[Page]:
        cur = state.cursor if isinstance(state.cursor, dict) else {}
        overlap = s.config.updated_overlap_seconds
        anchor: str | None = cur.get("updated") or None
        seen: dict[str, str] = {str(k): v for k, v in (cur.get("seen") or {}).items()}
        page = int(cur.get("page") or 1)
        url = f"/projects/{project}/{self.path}"
        start = s.config.start_date
        first = True
        while True:
            params = dict(self.params, per_page=PER_PAGE)
            after = _after(anchor, overlap) if anchor else start
            if after:
                params["updated_after"] = after
            if page > 1:
                params["page"] = page
            key = gl.key(url, params)
            resp = gl.get(url, params, etag=(state.etags or {}).get(key) if first else None)
            if resp.not_modified:           # nothing updated since the last pass
                yield Page([], cursor=dict(cur), etags=dict(state.etags or {}))
                return
            first = False
            raw = list(resp.data or [])
            fresh = [r for r in raw if seen.get(str(r["id"])) != r.get("updated_at")]
            if self.detail is not None:
                fresh = yield from self._details(s, gl, project, fresh, seen, anchor, page)
            else:
                for r in fresh:
                    seen[str(r["id"])] = r.get("updated_at")
            newest = max((utc_ms(r.get("updated_at")) for r in raw), default="") or None
            more = next_page(resp, raw, page) is not None
            if newest and (anchor is None or newest > anchor):
                anchor, page = newest, 1
            elif more:
                page += 1
            floor = _after(anchor, overlap)
            seen = {k: v for k, v in seen.items() if floor is None or utc_ms(v) >= floor}
            done = not more
            if done:
                page = 1                    # the next pass starts at the top of its window
            cursor: dict[str, Any] = {"updated": anchor, "seen": dict(seen)}
            if page > 1:
                cursor["page"] = page
            etags = None                    # mid-pass: keep the saved ones
            if done:                        # the ETag of this request, if the next pass repeats it
                same = resp.etag and key == self._next_key(gl, url, anchor, overlap, start)
                etags = {key: resp.etag} if same else {}
            yield s.page(fresh, resp, cursor=cursor, etags=etags)
            if done:
                return

    def _details(self, s: GitLabSession, gl: GitLabClient, project: int,
                 items: list[dict[str, Any]], seen: dict[str, str], anchor: str | None,
                 page: int) -> Generator[Page, None, list[dict[str, Any]]]:
        """The items with their details (one request each, `http.concurrency` at once: a
        detail is the same whenever it is read). Each detail is a page of its own as it
        arrives, whose cursor stays at this list page with `seen` grown by it, so a pass
        stopped among them asks none of those again; the last one to arrive is returned,
        to go out with the list page's own cursor."""
        here = {"updated": anchor, **({"page": page} if page > 1 else {})}
        arrived = 0
        for i, detail in pages_at_once(lambda i: self.detail(gl, project, items[i]),
                                       range(len(items)), s.http_concurrency):
            seen[str(items[i]["id"])] = items[i].get("updated_at")
            arrived += 1
            if arrived == len(items):
                return [detail]
            yield s.page([detail], None, cursor={**here, "seen": dict(seen)})
        return []

    def _next_key(self, gl: GitLabClient, url: str, anchor: str | None, overlap: float,
                  start: str | None) -> str:
        params = dict(self.params, per_page=PER_PAGE)
        after = _after(anchor, overlap) if anchor else start
        if after:
            params["updated_after"] = after
        return gl.key(url, params)


def pipeline_detail(gl: GitLabClient, project: int, item: dict[str, Any]) -> dict[str, Any]:
    """The list item with the times only GET /pipelines/:id has; the item alone when the
    pipeline is gone (deleted since it was listed)."""
    try:
        resp = gl.get(f"/projects/{project}/pipelines/{item['id']}")
    except NotFound:
        return item
    return {**item, **(resp.data or {})} if isinstance(resp.data, dict) else item


merge_request_pages = UpdatedList("merge_requests", "pull_requests", "merge_requests",
                                  {"state": "all", "scope": "all", "order_by": "updated_at",
                                   "sort": "asc"})
issue_pages = UpdatedList("issues", "issues", "issues",
                          {"state": "all", "scope": "all", "order_by": "updated_at",
                           "sort": "asc"})
pipeline_pages = UpdatedList("pipelines", "builds", "pipelines",
                             {"order_by": "updated_at", "sort": "asc"}, detail=pipeline_detail)
