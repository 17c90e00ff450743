"""ETag keys, the per-pass ETag cache and conditional GETs."""

from __future__ import annotations

import httpx

from dihub.http import ETagCache, conditional_get, etag_key
from dihub.http.client import Response

from .conftest import ok


def test_etag_key_sorts_and_merges_params():
    a = etag_key("https://api.github.com/repos/o/r/commits?sha=main",
                 {"per_page": 100, "since": "2024-01-01T00:00:00Z"})
    b = etag_key("/repos/o/r/commits", [("since", "2024-01-01T00:00:00Z"), ("sha", "main"),
                                        ("per_page", "100")])
    assert a == b == ("GET /repos/o/r/commits?per_page=100&sha=main"
                      "&since=2024-01-01T00%3A00%3A00Z")


def test_params_override_the_urls_own_query_in_key_and_request(make_rig):
    rig = make_rig(ok())
    url = "https://api.github.com/repos/o/r/issues?page=2&per_page=10"
    rig.client.get(url, params={"per_page": 100})
    assert rig.script.requests[0].url == "https://api.github.com/repos/o/r/issues?page=2&per_page=100"
    assert etag_key(url, {"per_page": 100}) == "GET /repos/o/r/issues?page=2&per_page=100"


def test_etag_key_method_bools_lists_and_secret_params():
    assert etag_key("/x", {"all": True, "state": ["open", "closed"]}) == (
        "GET /x?all=true&state=closed&state=open")
    assert etag_key("/x", {"access_token": "t", "page": 2}, method="head") == "HEAD /x?page=2"
    assert etag_key("/x") == "GET /x"


def test_cache_remembers_and_keeps_on_304():
    cache = ETagCache({"GET /a": '"old"'})
    fresh = Response(200, "https://h/a", httpx.Headers(), etag='"new"')
    cache.remember("/a", None, fresh)
    assert cache.get("/a") == '"new"' and cache.changed
    cache.remember("/a", None, Response(304, "https://h/a", httpx.Headers(), etag='"x"',
                                        not_modified=True))
    assert cache.snapshot() == {"GET /a": '"new"'}


def test_cache_is_bounded_oldest_first():
    cache = ETagCache(limit=2)
    for name in "abc":
        cache.remember(f"/{name}", None,
                       Response(200, "u", httpx.Headers(), etag=f'"{name}"'))
    assert list(cache.snapshot()) == ["GET /b", "GET /c"]


def test_conditional_get_sends_stored_etag_and_reports_unchanged(make_rig):
    rig = make_rig(ok([{"id": 1}], ETag='"v1"'), httpx.Response(304, headers={"ETag": '"v1"'}),
                   base_url="https://ghe.example.com/api/v3")
    state_etags: dict[str, str] = {}
    cache = ETagCache(state_etags)
    first = conditional_get(rig.client, cache, "/repos/o/r/issues", {"state": "all"})
    assert first.data == [{"id": 1}] and "if-none-match" not in rig.script.requests[0].headers
    key = rig.client.etag_key("/repos/o/r/issues", {"state": "all"})
    assert key == "GET /api/v3/repos/o/r/issues?state=all"
    assert cache.snapshot() == {key: '"v1"'}

    # the next pass starts from the checkpointed etags
    again = ETagCache(cache.snapshot())
    second = conditional_get(rig.client, again,
                             "https://ghe.example.com/api/v3/repos/o/r/issues?state=all")
    assert rig.script.requests[1].headers["if-none-match"] == '"v1"'
    assert second.not_modified and second.data is None and not again.changed
    assert rig.counters.not_modified == 1
