"""The GitLab simulator behaves as GitLab's REST API v4 documents (tests.simulators.gitlab)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.simulators.gitlab import PASS, Dataset, DeviceFlow, Faults, GitLabSimulator, TokenAuth
from tests.simulators.gitlab.data import parse_ts

A, B = "group-a/sub/project-a", "group-a/project-b"
EA = quote(A, safe="")
DATA = Path(__file__).resolve().parents[1] / "data" / "gitlab" / "rest"


def small(**kw) -> Dataset:
    args = dict(commits_per_project=120, mrs_per_project=40, issues_per_project=40,
                pipelines_per_project=25, seed=7)
    args.update(kw)
    return Dataset.generate([A, B], **args)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return small(archived=["group-a/legacy"])


@pytest.fixture(scope="module")
def sim(data):
    with GitLabSimulator(data) as s:
        yield s


@pytest.fixture
def client(sim):
    with httpx.Client(base_url=sim.api_url, headers={"PRIVATE-TOKEN": "t"}) as c:
        yield c


def links(response: httpx.Response) -> dict[str, str]:
    return {rel: str(url["url"]) for rel, url in response.links.items()}


# -- the generated data ---------------------------------------------------------------------
def test_generation_is_deterministic_and_sized(data):
    again = small(archived=["group-a/legacy"])
    assert [c["id"] for c in again.projects[A].commits] == [c["id"] for c in
                                                           data.projects[A].commits]
    assert again.projects[B].merge_requests == data.projects[B].merge_requests
    counts = data.counts()
    assert counts[A]["commits"] == 120 and counts[A]["merge_requests"] == 40
    assert counts[B]["issues"] == 40 and counts[B]["pipelines"] == 25
    assert data.projects["group-a/legacy"].archived


def test_items_keep_the_recorded_key_order(data):
    recorded = json.loads((DATA / "commits-list.go-scm.json").read_text())[0]
    assert list(data.projects[A].commits[0]) == list(recorded)
    mr_keys = list(json.loads((DATA / "merge-requests-list.go-gitlab.json").read_text())[0])
    extra = [k for k in data.projects[A].merge_requests[0] if k not in mr_keys]
    assert extra == ["merge_user", "draft", "squash_commit_sha"]
    detail = json.loads((DATA / "pipeline-get.docs-example.json").read_text())["body"]
    assert list(data.projects[A].pipelines[0]) == list(detail)


def test_workspace_looks_real(data):
    p = data.projects[A]
    commits = p.commits
    assert any(len(c["parent_ids"]) == 2 for c in commits)
    offsets = {c["committed_date"][-6:] for c in commits}
    assert {"+02:00", "-07:00", "+05:30", "+00:00"} <= offsets
    assert all(c["committed_date"][19:23] == ".000" for c in commits)
    years = {c["committed_date"][:4] for c in commits}
    assert min(years) == "2019" and max(years) == "2026"
    assert any(c["author_email"].endswith("@users.noreply.gitlab.com") for c in commits)
    states = {m["state"] for m in p.merge_requests}
    assert states == {"opened", "closed", "merged", "locked"}
    merged = [m for m in p.merge_requests if m["state"] == "merged"]
    assert any(m["merge_commit_sha"] is None for m in merged)        # fast-forward
    by_merge = [m for m in merged if m["merge_commit_sha"]]
    assert by_merge and all(len(p.commit(m["merge_commit_sha"])["parent_ids"]) == 2
                            for m in by_merge)
    assert [m["iid"] for m in p.merge_requests] == list(range(1, 41))
    assert [i["iid"] for i in p.issues] == list(range(1, 41))
    assert {i["state"] for i in p.issues} == {"opened", "closed"}
    assert all((i["closed_at"] is None) == (i["state"] == "opened") for i in p.issues)
    assert {pl["source"] for pl in p.pipelines} >= {"push", "merge_request_event"}
    shared = {m["author"]["username"] for m in p.merge_requests} & {
        m["author"]["username"] for m in data.projects[B].merge_requests}
    assert shared                                                       # people in both


# -- paths, paging ----------------------------------------------------------------------------
def test_project_by_encoded_path_or_id_and_raw_slash_is_404(client, data):
    pid = data.projects[A].id
    assert client.get(f"/projects/{EA}").json()["id"] == pid
    assert client.get(f"/projects/{pid}").json()["path_with_namespace"] == A
    r = client.get(f"/projects/{A}")
    assert r.status_code == 404 and r.json() == {"message": "404 Not Found"}
    assert client.get("/projects/group-a%2Fnope").json() == {"message": "404 Project Not Found"}


def test_commits_list_has_no_totals_and_follows_next(client, data):
    r = client.get(f"/projects/{EA}/repository/commits", params={"per_page": 40})
    assert r.status_code == 200 and len(r.json()) == 40
    assert "x-total" not in r.headers and "x-total-pages" not in r.headers
    assert set(links(r)) == {"next", "first"} and r.headers["x-next-page"] == "2"
    seen = [c["id"] for c in r.json()]
    while "next" in links(r):
        r = client.get(links(r)["next"])
        seen += [c["id"] for c in r.json()]
    assert len(seen) == len(set(seen)) == 120
    assert r.json() == [] and r.headers["x-next-page"] == ""     # 120 = 40 x 3: empty page 4
    assert r.headers["x-page"] == "4" and "prev" in links(r)
    p = data.projects[A]
    assert seen == p.reachable(p.branches["main"])
    epochs = [p.commit_epoch[s] for s in seen]
    assert epochs == sorted(epochs, reverse=True)


def test_since_compares_in_utc_whatever_the_offset(client, data):
    p = data.projects[A]
    c = next(c for c in reversed(p.commits) if not c["committed_date"].endswith("+00:00")
             and c["id"] in set(p.reachable(p.branches["main"])))
    at = parse_ts(c["committed_date"])
    local = c["committed_date"]                                   # e.g. ...+05:30
    naive_utc = c["committed_date"][:19] + "Z"                    # the wrong zone
    url = f"/projects/{EA}/repository/commits"
    got = [x["id"] for x in client.get(url, params={"since": local, "per_page": 100}).json()]
    assert c["id"] in got
    z = (at + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = [x["id"] for x in client.get(url, params={"since": z, "per_page": 100}).json()]
    assert c["id"] not in later
    wrong = [x["id"] for x in client.get(url, params={"since": naive_utc,
                                                     "per_page": 100}).json()]
    assert (c["id"] in wrong) == (parse_ts(naive_utc) <= at)
    until = [x["id"] for x in client.get(url, params={"until": local, "per_page": 100}).json()]
    assert until[0] == c["id"] or p.commit_epoch[until[0]] == p.commit_epoch[c["id"]]


def test_merge_requests_paging_with_totals_and_updated_after(client, data):
    params = {"state": "all", "order_by": "updated_at", "sort": "asc", "per_page": 15}
    r = client.get(f"/projects/{EA}/merge_requests", params=params)
    assert r.headers["x-total"] == "40" and r.headers["x-total-pages"] == "3"
    assert set(links(r)) == {"next", "first", "last"}
    assert "page=3" in links(r)["last"] and "id=" in links(r)["last"]
    rows = r.json()
    while "next" in links(r):
        r = client.get(links(r)["next"])
        rows += r.json()
    stamps = [m["updated_at"] for m in rows]
    assert len(rows) == 40 and stamps == sorted(stamps)
    cut = stamps[20]
    after = client.get(f"/projects/{EA}/merge_requests",
                       params={**params, "per_page": 100, "updated_after": cut}).json()
    assert [m["iid"] for m in after] == [m["iid"] for m in rows[20:]]   # inclusive
    bad = client.get(f"/projects/{EA}/merge_requests", params={"updated_after": "soon"})
    assert bad.status_code == 400 and bad.json() == {"error": "updated_after is invalid"}


def test_totals_are_dropped_above_the_count_limit():
    data = small(commits_per_project=30, issues_per_project=31, mrs_per_project=30)
    with GitLabSimulator(data, count_limit=30) as sim, \
            httpx.Client(base_url=sim.api_url) as c:
        over = c.get(f"/projects/{EA}/issues", params={"per_page": 10})
        assert "x-total" not in over.headers and "x-total-pages" not in over.headers
        assert set(links(over)) == {"next", "first"} and over.headers["x-next-page"] == "2"
        last = c.get(f"/projects/{EA}/issues", params={"per_page": 10, "page": 4})
        assert len(last.json()) == 1 and last.headers["x-next-page"] == ""
        assert "next" not in links(last)
        at = c.get(f"/projects/{EA}/merge_requests", params={"per_page": 10})
        assert at.headers["x-total"] == "30" and "last" in links(at)


def test_issues_keyset_pagination(client, data):
    params = {"pagination": "keyset", "order_by": "updated_at", "sort": "asc",
              "per_page": 15}
    r = client.get(f"/projects/{EA}/issues", params=params)
    rows = r.json()
    assert "x-page" not in r.headers and set(links(r)) == {"next"}
    while "next" in links(r):
        r = client.get(links(r)["next"])
        rows += r.json()
    assert [i["iid"] for i in rows] == [i["iid"] for i in sorted(
        data.projects[A].issues, key=lambda i: (i["updated_at"], i["id"]))]


def test_group_projects_subgroups_archived_keyset_and_offset_limit(data):
    with GitLabSimulator(data, offset_limit=30) as sim, httpx.Client(base_url=sim.api_url) as c:
        top = c.get("/groups/group-a/projects").json()
        assert {p["path_with_namespace"] for p in top} == {B, "group-a/legacy"}
        every = c.get("/groups/group-a/projects", params={"include_subgroups": "true"}).json()
        assert len(every) == 3
        live = c.get("/groups/group-a/projects",
                     params={"include_subgroups": "true", "archived": "false"}).json()
        assert {p["path_with_namespace"] for p in live} == {A, B}
        r = c.get("/groups/group-a/projects", params={
            "include_subgroups": "true", "pagination": "keyset", "order_by": "id",
            "sort": "asc", "per_page": 2})
        ids = [p["id"] for p in r.json()]
        r = c.get(links(r)["next"])
        ids += [p["id"] for p in r.json()]
        assert "link" not in r.headers and ids == sorted(p.id for p in data.projects.values())
        refused = c.get("/groups/group-a/projects", params={"per_page": 10, "page": 4})
        assert refused.status_code == 405
        assert refused.json()["error"].startswith(
            "Offset pagination has a maximum allowed offset of 30 for requests that return "
            "objects of type Project.")
        assert c.get("/groups/group-a/projects", params={"per_page": 10, "page": 3}).is_success


def test_pipelines_list_shape_and_detail(client, data):
    r = client.get(f"/projects/{EA}/pipelines", params={"per_page": 5})
    listed = json.loads((DATA / "pipelines-list.docs-example.json").read_text())["body"][0]
    first = r.json()[0]
    assert list(first) == list(listed)
    ids = [p["id"] for p in r.json()]
    assert ids == sorted(ids, reverse=True) and r.headers["x-total"] == "25"
    one = client.get(f"/projects/{EA}/pipelines/{first['id']}").json()
    assert {"started_at", "finished_at", "duration", "queued_duration"} <= set(one)


def test_compare_lists_commits_reachable_from_to_only(client, data):
    p = data.projects[A]
    main = p.reachable(p.branches["main"])
    r = client.get(f"/projects/{EA}/repository/compare",
                   params={"from": main[10], "to": "main"}).json()
    got = [c["id"] for c in r["commits"]]
    assert set(got) == set(main) - set(p.reachable(main[10]))
    assert got[-1] == main[0] and r["commit"]["id"] == main[0]         # oldest first


# -- auth ---------------------------------------------------------------------------------
def test_token_errors_use_gitlab_wording():
    auth = TokenAuth({"good": "read_api", "user-only": "read_user",
                      "old": {"scopes": "api", "expires_at": "2020-01-01"}})
    with GitLabSimulator(small(commits_per_project=5), auth=auth) as sim:
        url = f"{sim.api_url}/projects/{EA}"
        assert httpx.get(url, headers={"PRIVATE-TOKEN": "good"}).status_code == 200
        assert httpx.get(url, headers={"Authorization": "Bearer good"}).status_code == 200
        bad = httpx.get(url, headers={"PRIVATE-TOKEN": "nope"})
        assert bad.status_code == 401 and bad.json() == {"message": "401 Unauthorized"}
        assert httpx.get(url).status_code == 401
        old = httpx.get(url, headers={"PRIVATE-TOKEN": "old"})
        assert old.status_code == 401 and old.json() == {
            "error": "invalid_token", "error_description":
            "Token is expired. You can either do re-authorization or token refresh."}
        assert 'error="invalid_token"' in old.headers["www-authenticate"]
        weak = httpx.get(url, headers={"PRIVATE-TOKEN": "user-only"})
        assert weak.status_code == 403 and weak.json() == {
            "error": "insufficient_scope", "error_description":
            "The request requires higher privileges than provided by the access token.",
            "scope": "api read_api"}
        me = httpx.get(f"{sim.api_url}/user", headers={"PRIVATE-TOKEN": "user-only"})
        assert me.status_code == 200
        info = httpx.get(f"{sim.api_url}/personal_access_tokens/self",
                         headers={"PRIVATE-TOKEN": "old"})
        assert info.status_code == 401
        info = httpx.get(f"{sim.api_url}/personal_access_tokens/self",
                         headers={"PRIVATE-TOKEN": "good"}).json()
        assert info["scopes"] == ["read_api"] and info["expires_at"] is None


@pytest.mark.parametrize("outcomes,expected", [
    (["authorization_pending", "slow_down", "success"],
     ["authorization_pending", "slow_down", None]),
    (["authorization_pending", "expired_token"], ["authorization_pending", "expired_token"]),
    (["access_denied"], ["access_denied"]),
])
def test_device_flow_outcomes(outcomes, expected):
    auth = TokenAuth()
    flow = DeviceFlow(outcomes, client_id="app-1")
    with GitLabSimulator(small(commits_per_project=5), auth=auth, device_flow=flow) as sim:
        code = httpx.post(f"{sim.base_url}/oauth/authorize_device",
                          data={"client_id": "app-1", "scope": "read_api"})
        assert code.status_code == 200
        body = code.json()
        assert body["verification_uri"] == f"{sim.base_url}/oauth/device"
        assert body["verification_uri_complete"].endswith(f"user_code={body['user_code']}")
        assert {"device_code", "expires_in", "interval"} <= set(body)
        seen = []
        for _ in expected:
            r = httpx.post(f"{sim.base_url}/oauth/token", data={
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": body["device_code"], "client_id": "app-1"})
            if r.status_code == 200:
                token = r.json()
                assert token["token_type"] == "Bearer" and token["scope"] == "read_api"
                assert {"expires_in", "refresh_token", "created_at"} <= set(token)
                api = httpx.get(f"{sim.api_url}/user",
                                headers={"Authorization": f"Bearer {token['access_token']}"})
                assert api.status_code == 200
                seen.append(None)
            else:
                assert r.status_code == 400 and "error_description" in r.json()
                seen.append(r.json()["error"])
        assert seen == expected
        wrong = httpx.post(f"{sim.base_url}/oauth/authorize_device", data={"client_id": "x"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


# -- rate limit, faults, ETags ------------------------------------------------------------
def test_rate_limit_headers_and_plain_text_429():
    with GitLabSimulator(small(commits_per_project=5), rate_limit=3) as sim, \
            httpx.Client(base_url=sim.api_url) as c:
        first = c.get(f"/projects/{EA}")
        assert first.headers["ratelimit-limit"] == "3"
        assert first.headers["ratelimit-observed"] == "1"
        assert first.headers["ratelimit-remaining"] == "2"
        reset = int(first.headers["ratelimit-reset"])
        assert reset >= int(time.time())
        assert first.headers["ratelimit-resettime"] == datetime.fromtimestamp(
            reset, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        c.get(f"/projects/{EA}")
        c.get(f"/projects/{EA}")
        over = c.get(f"/projects/{EA}")
        assert over.status_code == 429 and over.text == "Retry later\n"
        assert over.headers["content-type"].startswith("text/plain")
        assert int(over.headers["retry-after"]) >= 1
        assert over.headers["ratelimit-remaining"] == "0"
        sim.quota.reset()
        assert c.get(f"/projects/{EA}").status_code == 200


def test_scripted_and_random_faults():
    data = small(commits_per_project=5)
    with GitLabSimulator(data, faults=Faults(rate=0.0, retry_after=0)) as sim, \
            httpx.Client(base_url=sim.api_url) as c:
        sim.script(r"/projects/\d+$|%2F", ["429", "502", "truncated", PASS])
        r = c.get(f"/projects/{EA}")
        assert r.status_code == 429 and r.text == "Retry later\n"
        assert r.headers["retry-after"] == "0"
        assert c.get(f"/projects/{EA}").status_code == 502
        cut = c.get(f"/projects/{EA}")
        with pytest.raises(ValueError):
            cut.json()
        assert c.get(f"/projects/{EA}").json()["path_with_namespace"] == A
        sim.script(r"%2F", ["drop"])
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(f"/projects/{EA}")
        assert sim.stats.faults["drop"] == 1
        sim.faults = Faults(rate=1.0, seed=3, kinds=("500",), max_consecutive=2)
        statuses = [c.get(f"/projects/{EA}").status_code for _ in range(3)]
        assert statuses == [500, 500, 200]
        assert c.post(f"{sim.base_url}/oauth/authorize_device",
                      data={"client_id": "a"}).status_code == 200   # OAuth never faults


def test_etag_304_spends_quota(client, sim):
    r = client.get(f"/projects/{EA}/merge_requests", params={"per_page": 5})
    etag = r.headers["etag"]
    assert etag.startswith('W/"')
    before = int(r.headers["ratelimit-observed"])
    again = client.get(f"/projects/{EA}/merge_requests", params={"per_page": 5},
                       headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["ratelimit-observed"]) == before + 1
    assert again.headers["etag"] == etag


# -- mutations ------------------------------------------------------------------------------
def test_mutations_move_updated_at_and_keep_identities():
    data = small()
    p = data.projects[A]
    newest = max(m["updated_at"] for m in p.merge_requests)
    with GitLabSimulator(data) as sim, httpx.Client(base_url=sim.api_url) as c:
        new = data.add_commits(A, 3)
        top = c.get(f"/projects/{EA}/repository/commits", params={"per_page": 3}).json()
        assert [x["id"] for x in top] == [x["id"] for x in reversed(new)]
        mr = data.update_mr(A, 5, state="closed")
        assert mr["updated_at"] > newest and mr["closed_at"] == mr["updated_at"]
        changed = c.get(f"/projects/{EA}/merge_requests",
                        params={"updated_after": mr["updated_at"]}).json()
        assert [m["iid"] for m in changed] == [5]
        added = data.add_mrs(A, 2)
        assert [m["iid"] for m in added] == [41, 42]
        assert data.add_issues(A, 1)[0]["iid"] == 41
        issue = data.update_issue(A, 3, state="closed")
        assert issue["state"] == "closed" and issue["updated_at"] > mr["updated_at"]
        pl = p.pipelines[4]
        ident = (pl["id"], pl["iid"], pl["created_at"])
        before = pl["updated_at"]
        data.retry_pipeline(A, pl["id"])
        got = c.get(f"/projects/{EA}/pipelines/{pl['id']}").json()
        assert (got["id"], got["iid"], got["created_at"]) == ident
        assert got["updated_at"] > before and got["status"] == "success"
        listed = c.get(f"/projects/{EA}/pipelines",
                       params={"updated_after": got["updated_at"]}).json()
        assert [x["id"] for x in listed] == [pl["id"]]
        more = data.add_pipelines(A, 2)
        assert more[0]["iid"] == 26 and more[1]["id"] > more[0]["id"] > max(
            x["id"] for x in data.projects[B].pipelines)


# -- notes, award emoji, merge request diff versions ------------------------------------------
@pytest.mark.parametrize("kind", ["issues", "merge_requests"])
def test_notes_and_award_emoji_follow_the_item_counts(client, data, kind):
    items = getattr(data.projects[A], kind)
    item = next(i for i in items if i["user_notes_count"] >= 3 and i["upvotes"])
    base = f"/projects/{EA}/{kind}/{item['iid']}"
    r = client.get(f"{base}/notes", params={"order_by": "updated_at", "sort": "asc",
                                            "per_page": 100})
    assert r.status_code == 200
    notes = r.json()
    assert len(notes) == item["user_notes_count"]
    assert [n["updated_at"] for n in notes] == sorted(n["updated_at"] for n in notes)
    assert all(item["created_at"] <= n["created_at"] <= item["updated_at"] for n in notes)
    assert {(n["noteable_id"], n["noteable_iid"], n["system"]) for n in notes} == {
        (item["id"], item["iid"], False)}
    assert notes[0]["noteable_type"] == ("Issue" if kind == "issues" else "MergeRequest")
    newest_first = client.get(f"{base}/notes").json()
    assert [n["id"] for n in newest_first] == [n["id"] for n in reversed(notes)]
    paged = client.get(f"{base}/notes", params={"per_page": 2})
    assert len(paged.json()) == 2 and paged.headers["x-total"] == str(len(notes))
    awards = client.get(f"{base}/award_emoji").json()
    assert [a["name"] for a in awards] == ["thumbsup"] * item["upvotes"] + [
        "thumbsdown"] * item["downvotes"]
    assert {a["awardable_id"] for a in awards} == {item["id"]}
    counts = [len(client.get(f"{base}/notes/{n['id']}/award_emoji").json()) for n in notes]
    assert counts == [1 if n["id"] % 7 == 0 else 0 for n in notes]
    assert client.get(f"{base}/notes/1/award_emoji").status_code == 404
    assert client.get(f"/projects/{EA}/{kind}/99999/notes").status_code == 404
    assert client.get(f"/projects/{EA}/{kind}/99999/award_emoji").status_code == 404


def test_merge_request_versions_newest_first_with_detail(client, data):
    mr = next(m for m in data.projects[B].merge_requests if m["iid"] % 3 == 0)
    versions = client.get(f"/projects/{quote(B, safe='')}/merge_requests/{mr['iid']}"
                          "/versions").json()
    assert len(versions) == 2 and versions[0]["id"] > versions[1]["id"]
    assert versions[0]["head_commit_sha"] == mr["sha"]
    assert {v["merge_request_id"] for v in versions} == {mr["id"]}
    one = client.get(f"/projects/{quote(B, safe='')}/merge_requests/{mr['iid']}/versions/"
                     f"{versions[0]['id']}").json()
    assert one["id"] == versions[0]["id"] and one["commits"][0]["id"] == mr["sha"]
    assert len(one["diffs"]) == int(one["real_size"])
    assert client.get(f"/projects/{quote(B, safe='')}/merge_requests/{mr['iid']}/versions/1"
                      ).status_code == 404
    single = next(m for m in data.projects[B].merge_requests if m["iid"] % 3)
    assert len(client.get(f"/projects/{quote(B, safe='')}/merge_requests/{single['iid']}"
                          "/versions").json()) == 1


def test_merge_requests_simple_view(client, data):
    r = client.get(f"/projects/{EA}/merge_requests",
                   params={"view": "simple", "per_page": 5, "order_by": "updated_at"})
    full = client.get(f"/projects/{EA}/merge_requests",
                      params={"per_page": 5, "order_by": "updated_at"}).json()
    assert [list(m) for m in r.json()] == [
        ["id", "iid", "project_id", "title", "description", "state", "created_at",
         "updated_at", "web_url"]] * 5
    assert [m["iid"] for m in r.json()] == [m["iid"] for m in full]
    assert r.headers["x-total"] == str(len(data.projects[A].merge_requests))
