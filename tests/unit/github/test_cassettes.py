"""vcrpy cassettes built from the recorded GitHub responses replay through a real httpx.Client.

Proves the cassettes round-trip what the connector relies on — Link pagination, ETag,
X-RateLimit-* — and that replayed bodies normalize like the fixtures do. record_mode
"none": a request the cassette does not hold fails instead of reaching the network.
"""

from __future__ import annotations

import importlib.util

import httpx
import pytest
import vcr
from vcr.errors import CannotOverwriteExistingCassetteException

from dihub.connectors.github.normalize import normalize_commit, normalize_workflow_run

from .conftest import CASSETTES, DATA

replay = vcr.VCR(cassette_library_dir=str(CASSETTES), record_mode="none")


def follow(client: httpx.Client, url: str) -> list[httpx.Response]:
    """GET url, then every rel=next, like the GitHub paginator does."""
    responses = []
    while url:
        resp = client.get(url, headers={"Accept": "application/vnd.github+json"})
        resp.raise_for_status()
        responses.append(resp)
        url = resp.links.get("next", {}).get("url")
    return responses


def test_workflow_runs_cassette_paginates_and_normalizes():
    first = ("https://api.github.com/repos/<GITHUB_LOGIN>/<GITHUB_TEST_REPOSITORY>"
             "/actions/runs?per_page=1")
    with replay.use_cassette("actions-runs-list.paginated-3-pages.yaml") as cassette, \
            httpx.Client() as client:
        responses = follow(client, first)
        assert cassette.play_count == 3 and cassette.all_played

    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["4841", "4840", "4839"]
    assert {r.headers["X-RateLimit-Reset"] for r in responses} == {"1663891143"}
    assert responses[0].headers["X-RateLimit-Resource"] == "core"
    assert responses[0].headers["ETag"] == (
        'W/"95415422e6ebe806213e381b1ff38a682e5617a60688607659603f73d7d07496"')
    assert responses[0].links["last"]["url"].endswith("/repositories/540180744/actions/runs"
                                                      "?per_page=1&page=3")
    assert "next" not in responses[-1].links and "prev" in responses[-1].links

    builds = [normalize_workflow_run(run, "github", "o/r", 540180744)[0]
              for r in responses for run in r.json()["workflow_runs"]]
    assert [(b.run_id, b.duration_s) for b in builds] == [
        ("3109327341", 18.0), ("3109327220", 13.0), ("3109325726", 12.0)]


def test_commits_cassette_keeps_headers_and_body():
    with replay.use_cassette("commits-list.rails_admin.yaml"), httpx.Client() as client:
        resp = client.get("https://api.github.com/repos/sferik/rails_admin/commits")
    assert resp.status_code == 200 and resp.reason_phrase == "OK"
    assert resp.headers["ETag"] == '"f7a83fae1fe7d664de0f54ebd2364851"'
    assert resp.headers["X-RateLimit-Limit"] == "5000"
    assert resp.headers["X-RateLimit-Remaining"] == "4930"
    assert resp.headers.get_list("Vary") == ["Accept, Authorization, Cookie", "Accept-Encoding"]
    assert resp.links["next"]["url"] == ("https://api.github.com/repositories/810796/commits"
                                         "?top=master&last_sha=99a0932e18dfecec394228443f927821"
                                         "23496548")
    assert "content-length" not in resp.headers       # body was re-serialized; see README
    records = [rec for raw in resp.json() for rec in normalize_commit(raw, "github",
                                                                      "sferik/rails_admin",
                                                                      810796)]
    commits = [r for r in records if r.entity == "commits"]
    assert len(commits) == 30
    assert commits[0].commit_id == "d0af3380182ed7b991a9a23eae3c114b88fe0a14"
    # the replayed body keeps the git identities next to the account ids
    assert (commits[0].author_id, commits[0].author_name, commits[0].author_email) == (
        "486678", "M.Shibuya", "mit.shibuya@gmail.com")
    assert all(c.author_email and c.committer_email for c in commits)


def test_issue_pages_cassette_follows_five_links():
    with replay.use_cassette("issues-list.paginated-5-pages.yaml"), httpx.Client() as client:
        responses = follow(client, "https://api.github.com/repos/octokit-fixture-org/"
                                   "paginate-issues/issues?per_page=3")
    assert [len(r.json()) for r in responses] == [3, 3, 3, 3, 1]
    assert {r.headers["etag"] for r in responses} == {'"00000000000000000000000000000000"'}


def test_request_outside_the_cassette_never_reaches_the_network():
    with replay.use_cassette("commit-get.rails_admin.yaml"), httpx.Client() as client, \
            pytest.raises(CannotOverwriteExistingCassetteException):
        client.get("https://api.github.com/repos/sferik/rails_admin/commits/deadbeef")


def test_committed_cassettes_match_the_fixtures():
    spec = importlib.util.spec_from_file_location("make_cassettes", DATA / "make_cassettes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.expected()
    assert len(expected) == 7
    for path, text in expected.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run tests/data/github/make_cassettes.py")
