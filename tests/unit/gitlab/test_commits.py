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
    s.projects["group/sub/proj"] = ProjectInfo(9, "group/sub/proj", "main")
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
