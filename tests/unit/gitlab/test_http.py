"""The GitLab rate-limit policy, paging and error mapping through the real HttpClient,
answered by an httpx.MockTransport: RateLimit-* and Retry-After honoured, a plain-text
429 retried, 403 insufficient_scope an AuthError naming read_api, a 401 stopping the
source, updated_after paging that restarts at the newest update read."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpx
import pytest

from dihub.connectors.gitlab import limits
from dihub.connectors.gitlab.client import GitLabClient, project_info
from dihub.connectors.gitlab.updated import merge_request_pages, utc_ms
from dihub.errors import AuthError, RateLimited
from dihub.models import SyncState

from .conftest import session


@pytest.mark.parametrize("path,bucket", [
    ("/projects/12", "project"), ("/projects/g%2Fp", "project"),
    ("/groups/g/projects", "group_projects"), ("/projects/12/merge_requests", "api"),
    ("/projects/12/pipelines/5", "api"), ("/oauth/token", "oauth")])
def test_buckets_follow_gitlabs_separate_limits(path, bucket):
    assert limits.bucket(path) == bucket
    assert not limits.POLICY.secondary(403, "forbidden")


def test_a_plain_text_429_with_retry_after_is_waited_and_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, text="Retry later\n", headers={"Retry-After": "7"})
        return httpx.Response(200, json={"id": 3, "path_with_namespace": "g/p",
                                         "default_branch": "main"})
    s = session(handler)
    slept = []
    s.http._sleep = slept.append
    info = project_info(s, GitLabClient(s), "g/p")
    assert info.id == 3 and len(calls) == 2 and slept[0] == 7.0     # Retry-After
    assert calls[0].url.raw_path == b"/api/v4/projects/g%2Fp"      # the path %2F-encoded


def test_an_exhausted_quota_far_from_its_reset_defers_the_run():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[], headers={
            "RateLimit-Limit": "2000", "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(int(__import__("time").time()) + 3600)})
    s = session(handler)
    gl = GitLabClient(s)
    gl.get("/projects/1/issues")
    with pytest.raises(RateLimited):
        gl.get("/projects/1/issues")


def test_insufficient_scope_is_an_auth_error_naming_read_api_and_stops_the_source():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(403, json={
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by "
                                 "the access token.", "scope": "api read_api"})
    s = session(handler)
    with pytest.raises(AuthError) as err:
        GitLabClient(s).get("/projects/1/merge_requests")
    assert "read_api" in err.value.hint and "dihub auth gl" in err.value.hint
    with pytest.raises(AuthError):
        GitLabClient(s).get("/projects/1/issues")
    assert len(calls) == 1                     # the source stopped: nothing asked again


def test_an_expired_token_says_how_to_log_in_again():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_token",
                                         "error_description": "Token is expired."})
    with pytest.raises(AuthError) as err:
        GitLabClient(session(handler, token_env="GL_TOKEN")).get("/projects/1")
    assert "expired" in str(err.value) and "dihub auth gl" in err.value.hint
    assert "$GL_TOKEN" in err.value.hint


class UpdatedLists:
    """A merge request list ordered by updated_at, served 100 a page with X-Next-Page and
    updated_after (inclusive), like GitLab; records every request's parameters."""

    def __init__(self, items):
        self.items, self.requests = items, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        self.requests.append(q)
        if request.url.path.endswith("/projects/g%2Fp") or request.url.raw_path.endswith(
                b"g%2Fp"):
            return httpx.Response(200, json={"id": 9, "path_with_namespace": "g/p"})
        rows = sorted(self.items, key=lambda r: (r["updated_at"], r["id"]))
        if "updated_after" in q:
            rows = [r for r in rows if utc_ms(r["updated_at"]) >= q["updated_after"]]
        page, per = int(q.get("page", 1)), int(q["per_page"])
        chunk = rows[(page - 1) * per: page * per]
        more = page * per < len(rows)
        return httpx.Response(200, content=json.dumps(chunk).encode(),
                              headers={"content-type": "application/json",
                                       "x-next-page": str(page + 1) if more else ""})


def _mr(i: int, when: str) -> dict:
    return {"id": 1000 + i, "iid": i, "state": "opened", "updated_at": when}


def _run(s, state):
    pages = list(merge_request_pages(s, "g/p", state))
    return [r["iid"] for p in pages for r in p.items], pages[-1].cursor, pages


def test_every_page_restarts_at_the_newest_update_and_a_resumed_pass_misses_nothing():
    items = [_mr(i, f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}.000Z") for i in range(1, 251)]
    server = UpdatedLists(items)
    s = session(server, updated_overlap_seconds=0)
    got, cursor, pages = _run(s, SyncState(source="gl", stream="merge_requests", partition="*"))
    assert sorted(got) == list(range(1, 251)) and len(got) == 250      # none twice
    lists = [q for q in server.requests if "per_page" in q]
    assert [q.get("updated_after") for q in lists] == [
        None, "2026-01-01T00:01:40.000Z", "2026-01-01T00:03:19.000Z"]   # inclusive
    assert "page" not in cursor and cursor["updated"] == "2026-01-01T00:04:10.000Z"

    # stopped after the first page: the next pass goes on from its cursor
    mid = SyncState(source="gl", stream="merge_requests", partition="*",
                    cursor=pages[0].cursor)
    again, _, _ = _run(session(server, updated_overlap_seconds=0), mid)
    assert sorted(again) == list(range(101, 251))


def test_ties_beyond_a_page_page_on_and_the_overlap_rereads_nothing_twice():
    same = "2026-01-01T00:00:00.000Z"
    items = [_mr(i, same) for i in range(1, 151)] + [_mr(151, "2026-01-01T00:00:05.000Z")]
    server = UpdatedLists(items)
    s = session(server)                                   # 10 s overlap
    got, cursor, _ = _run(s, SyncState(source="gl", stream="merge_requests", partition="*"))
    assert sorted(got) == list(range(1, 152))
    assert "page" not in cursor
    # a pass with no change reads the overlap window, writes nothing
    nothing, cursor2, _ = _run(session(server), SyncState(
        source="gl", stream="merge_requests", partition="*", cursor=cursor))
    assert nothing == [] and cursor2["updated"] == cursor["updated"]
