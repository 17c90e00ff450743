"""The commits stream's cursor in UTC and its fallback by date when the old head is gone."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx

from dihub.connectors.gitlab.client import ProjectInfo
from dihub.connectors.gitlab.commits import commit_pages, committed_at, next_since
from dihub.models import SyncState

from .conftest import session


def _commit(sha: str, date: str) -> dict:
    return {"id": sha, "committed_date": date, "author_email": "a@x", "parent_ids": []}


def test_the_since_cursor_is_the_newest_commit_in_utc_not_in_local_time():
    east = _commit("a", "2026-01-01T10:00:00+05:00")
    west = _commit("b", "2026-01-01T06:00:00-01:00")
    assert (committed_at(east), committed_at(west)) == ("2026-01-01T05:00:00Z",
                                                        "2026-01-01T07:00:00Z")
    # as written, "10:00+05:00" sorts after "06:00-01:00"; in UTC it is two hours before it
    newest = max(committed_at(east), committed_at(west))
    assert next_since(None, newest, 5) == "2026-01-01T06:55:00Z"
    assert next_since("2026-01-01T08:00:00Z", newest, 5) == "2026-01-01T08:00:00Z"   # never back


def test_a_gone_old_head_falls_back_to_listing_since_the_cursor_in_utc():
    asked = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        asked.append((path.rsplit("/repository/", 1)[-1], q))
        if path.endswith("/branches/main"):
            return httpx.Response(200, json={"name": "main", "commit": {"id": "new"}})
        if path.endswith("/compare"):
            return httpx.Response(404, json={"message": "404 Not found"})
        return httpx.Response(200, json=[_commit("new", "2026-01-02T12:00:00+02:00")],
                              headers={"x-next-page": ""})
    s = session(handler)
    s.projects.put("group/sub/proj", ProjectInfo(9, "group/sub/proj", "main"))
    state = SyncState(source="gl", stream="commits", partition="group/sub/proj",
                      cursor={"branches": {"main": "2026-01-01T06:55:00Z"},
                              "heads": {"main": "old"}})
    pages = list(commit_pages(s, "group/sub/proj", state))
    assert [a[0] for a in asked] == ["branches/main", "compare", "commits"]
    assert asked[1][1] == {"from": "old", "to": "new"}
    assert asked[2][1] == {"ref_name": "new", "per_page": "100", "since": "2026-01-01T06:55:00Z"}
    assert [i["id"] for p in pages for i in p.items] == ["new"]
    assert pages[-1].cursor == {"branches": {"main": "2026-01-02T09:55:00Z"},
                                "heads": {"main": "new"}}


class Meta:
    """A store with just meta (the kept project, the breaker)."""

    def __init__(self, meta):
        self.meta = dict(meta)

    def get_meta(self, key):
        return self.meta.get(key)

    def put_meta(self, key, value):
        self.meta[key] = value


def test_a_kept_project_costs_nothing_until_its_default_branch_is_gone():
    import time

    asked = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode().split("?")[0]
        asked.append(path.removeprefix("/api/v4"))
        if path.endswith("/branches/master"):
            return httpx.Response(404, json={"message": "404 Branch Not Found"})
        if path.endswith("group%2Fsub%2Fproj"):
            return httpx.Response(200, json={"id": 9, "path_with_namespace": "group/sub/proj",
                                             "default_branch": "main"})
        if path.endswith("/branches/main"):
            return httpx.Response(200, json={"name": "main", "commit": {"id": "h"}})
        return httpx.Response(200, json=[_commit("h", "2026-01-02T12:00:00Z")],
                              headers={"x-next-page": ""})
    s = session(handler)
    kept = {"id": 9, "path": "group/sub/proj", "default_branch": "master",
            "checked_at": time.time() - 3600}
    s.ctx.store = Meta({"gitlab.project:gl:group/sub/proj": kept})
    state = SyncState(source="gl", stream="commits", partition="group/sub/proj")
    pages = list(commit_pages(s, "group/sub/proj", state))
    assert asked == ["/projects/9/repository/branches/master", "/projects/group%2Fsub%2Fproj",
                     "/projects/9/repository/branches/main", "/projects/9/repository/commits"]
    assert [i["id"] for p in pages for i in p.items] == ["h"]
    assert s.store.meta["gitlab.project:gl:group/sub/proj"]["default_branch"] == "main"
