"""vcrpy cassettes made from the recorded GitLab responses replay through httpx and the
normalizers; GitLab's paging headers drive the connector's NextPage paginator."""

from __future__ import annotations

import httpx
import pytest
import vcr

from dihub.connectors.gitlab import normalize as n
from dihub.connectors.gitlab.client import NextPage
from dihub.http.client import Response
from tests.data.gitlab.make_cassettes import expected

from .conftest import CASSETTES

replay = vcr.VCR(cassette_library_dir=str(CASSETTES), record_mode="none")
API = "https://gitlab.example.com/api/v4"


def _get(cassette: str, url: str, method: str = "GET") -> httpx.Response:
    with replay.use_cassette(cassette) as tape, httpx.Client() as client:
        resp = client.request(method, url)
        assert tape.all_played
    return resp


def test_cassettes_are_up_to_date():
    stale = [p.name for p, text in expected().items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale


def test_commit_cassettes_normalize_to_utc():
    resp = _get("commits-list.docs.yaml", f"{API}/projects/5/repository/commits")
    commits = [n.normalize_commit(c, "gl", "g/p", 5)[0] for c in resp.json()]
    assert [c.timestamp for c in commits] == ["2012-09-20T08:50:22Z", "2012-09-20T06:06:12Z"]
    scm = _get("commits-list.go-scm.yaml",
               f"{API}/projects/32732/repository/commits?per_page=100")
    assert scm.headers["x-next-page"] == ""
    assert n.normalize_commit(scm.json()[0], "gl", "g/p", 1)[0].timestamp == \
        "2012-06-28T10:44:20Z"


@pytest.mark.parametrize("cassette,url,count", [
    ("merge-requests-list.go-gitlab.yaml", f"{API}/projects/278964/merge_requests?state=all", 3),
    ("merge-requests-list.go-scm.yaml", f"{API}/projects/32732/merge_requests?state=all", 1),
])
def test_merge_request_cassettes(cassette, url, count):
    raws = _get(cassette, url).json()
    prs = [n.normalize_merge_request(m, "gl", "g/p", m["project_id"])[0] for m in raws]
    assert len(prs) == count
    assert [p.state for p in prs] == [{"opened": "open"}.get(m["state"], m["state"])
                                      for m in raws]


def test_issue_and_pipeline_cassettes():
    issues = _get("issues-list.docs.yaml", f"{API}/issues").json()
    assert [n.normalize_issue(i, "gl", "g/p", 1)[0].issue_id for i in issues]
    pipeline = _get("pipeline-get.docs.yaml", f"{API}/projects/1/pipelines/46").json()
    assert n.normalize_pipeline(pipeline, "gl", "g/p", 1)[0].duration_s == 34.0
    listed = _get("pipelines-list.docs.yaml", f"{API}/projects/1/pipelines").json()
    assert [b["id"] for b in listed] == [47, 48]


def _response(r: httpx.Response) -> Response:
    return Response(r.status_code, str(r.url), r.headers, data=[{}] * 3, links=dict(r.links))


def test_next_page_follows_x_next_page_and_stops_without_it():
    recorded = _get("pagination-headers.docs.yaml",
                    f"{API}/projects/9/issues/8/notes?per_page=3&page=2", method="HEAD")
    resp = _response(recorded)
    assert NextPage().after(resp, resp.data, 2) == 3
    last = _response(_get("commits-list.go-scm.yaml",
                          f"{API}/projects/32732/repository/commits?per_page=100"))
    assert NextPage().after(last, last.data, 1) is None      # empty X-Next-Page: the last
    assert NextPage().after(resp, [], 2) is None              # an empty page ends it too
