"""Checks of the GitHub simulator itself (the connector's tests rely on these facts)."""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.simulators.github import Dataset, DeviceFlow, Faults, GitHubSimulator, TokenAuth
from tests.simulators.github import fixtures as fx

REPO = "octo-org/repo-a"
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
LINK = re.compile(r'<(?P<url>[^>]+)>; rel="(?P<rel>\w+)"')
ROOT = Path(__file__).resolve().parents[2]


def small(**sizes: int) -> Dataset:
    args = {"commits_per_repo": 120, "prs_per_repo": 40, "issues_per_repo": 40,
            "runs_per_repo": 60, "seed": 7, **sizes}
    return Dataset.generate([REPO, "octo-org/repo-b"], **args)


@pytest.fixture(scope="module")
def shared():
    """A read-only simulator for tests that do not change data or quota."""
    with GitHubSimulator(small(), rate_limit=100_000) as sim:
        yield sim


@pytest.fixture(scope="module")
def client(shared):
    with httpx.Client(base_url=shared.base_url, headers={"Authorization": "Bearer t"}) as c:
        yield c


def walk(c: httpx.Client, path: str, params: dict, key: str | None = None) -> list[dict]:
    """Follow rel="next" to the end (bounded); returns every item."""
    out, url, pages = [], path, 0
    while url and pages < 500:
        r = c.get(url, params=params if pages == 0 else None)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body[key] if key else body)
        url, pages = r.links.get("next", {}).get("url"), pages + 1
    assert url is None, "paging did not end"
    return out


# -- data ----------------------------------------------------------------------------
def test_items_keep_the_fixture_shapes_and_no_fixture_identity_leaks():
    data = small()
    r = data.repo(REPO)
    shapes = [(fx.first_item(fx.COMMIT), r.commits[0]), (fx.first_item(fx.PULL), r.pulls[0]),
              (fx.first_item(fx.ISSUE_PAGES), r.issues[0]),
              (fx.first_item(fx.RUN_PAGES), r.runs[0][0])]
    for template, item in shapes:
        assert set(template) <= set(item)
    text = json.dumps([r.commits, r.pulls, r.issues, r.runs, r.info])
    for leaked in ("octocat", "Hello-World", "<GITHUB_", "sferik", "octokit-fixture", "/1347"):
        assert leaked not in text


def test_generation_is_deterministic_by_seed_and_users_come_from_a_stable_pool():
    a, b, c = small(), small(), small(seed=8)
    dump = lambda d: json.dumps([(x.commits, x.pulls, x.issues, x.runs)  # noqa: E731
                                 for x in d.repos.values()])
    assert dump(a) == dump(b)
    assert dump(a) != dump(c)
    ids: dict[str, int] = {}
    r = a.repo(REPO)
    for user in [i["user"] for i in r.issues] + [c["author"] for c in r.commits if c["author"]]:
        assert ids.setdefault(user["login"], user["id"]) == user["id"]
    assert 10 <= len(ids) <= 52
    assert any(c["author"] is None for c in r.commits)          # unlinked commit emails


# -- paging ----------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "params", "key", "expected"), [
    ("commits", {}, None, lambda r: [c["sha"] for c in r.commits]),
    ("pulls", {"state": "all"}, None, lambda r: [p["id"] for p in r.pulls]),
    ("issues", {"state": "all"}, None, lambda r: [i["id"] for i in r.issues]),
    ("actions/runs", {}, "workflow_runs", lambda r: [a[0]["id"] for a in r.runs]),
])
def test_paging_returns_every_item_exactly_once(shared, client, path, params, key, expected):
    items = walk(client, f"/repos/{REPO}/{path}", {**params, "per_page": 7}, key)
    ident = "sha" if path == "commits" else "id"
    got = [i[ident] for i in items]
    assert len(got) == len(set(got))
    assert sorted(got) == sorted(expected(shared.dataset.repo(REPO)))


def test_link_header_has_githubs_format_and_absolute_urls(shared, client):
    repo_id = shared.dataset.repo(REPO).id
    r = client.get(f"/repos/{REPO}/commits", params={"per_page": 50, "page": 2})
    base = f"{shared.base_url}/repositories/{repo_id}/commits"
    assert r.headers["link"] == (
        f'<{base}?per_page=50&page=1>; rel="prev", <{base}?per_page=50&page=3>; rel="next", '
        f'<{base}?per_page=50&page=3>; rel="last", <{base}?per_page=50&page=1>; rel="first"')
    first = client.get(f"/repos/{REPO}/commits", params={"per_page": 50})
    assert [m["rel"] for m in LINK.finditer(first.headers["link"])] == ["next", "last"]
    last = client.get(f"/repos/{REPO}/commits", params={"per_page": 50, "page": 3})
    assert [m["rel"] for m in LINK.finditer(last.headers["link"])] == ["prev", "first"]
    single = client.get(f"/repos/{REPO}/commits", params={"per_page": 100, "sha": "main",
                                                          "since": "2099-01-01T00:00:00Z"})
    assert single.json() == [] and "link" not in single.headers


def test_per_page_is_clamped_to_100_and_defaults_to_30(client):
    assert len(client.get(f"/repos/{REPO}/commits", params={"per_page": 500}).json()) == 100
    assert len(client.get(f"/repos/{REPO}/commits").json()) == 30


# -- filters ---------------------------------------------------------------------------
def test_issues_since_is_inclusive_and_sort_updated_asc(shared, client):
    issues = shared.dataset.repo(REPO).issues
    since = sorted(i["updated_at"] for i in issues)[len(issues) // 2]
    got = walk(client, f"/repos/{REPO}/issues", {"state": "all", "since": since,
                                                 "sort": "updated", "direction": "asc",
                                                 "per_page": 100})
    assert [i["updated_at"] for i in got] == sorted(i["updated_at"] for i in got)
    assert {i["number"] for i in got} == {i["number"] for i in issues
                                          if i["updated_at"] >= since}


def test_issues_default_to_open_newest_created_first(shared, client):
    got = walk(client, f"/repos/{REPO}/issues", {"per_page": 100})
    assert got and all(i["state"] == "open" for i in got)
    assert [i["created_at"] for i in got] == sorted((i["created_at"] for i in got),
                                                    reverse=True)


def test_issues_endpoint_lists_pull_requests_like_github(shared, client):
    r = shared.dataset.repo(REPO)
    got = walk(client, f"/repos/{REPO}/issues", {"state": "all", "per_page": 100})
    prs = {i["number"]: i for i in got if "pull_request" in i}
    assert set(prs) == {p["number"] for p in r.pulls}
    merged = next(p for p in r.pulls if p["merged_at"])
    assert prs[merged["number"]]["pull_request"]["merged_at"] == merged["merged_at"]
    assert prs[merged["number"]]["id"] != merged["id"]         # issue id ≠ PR id


def test_commits_since_until_filter_on_committer_date_inclusive(shared, client):
    commits = shared.dataset.repo(REPO).commits
    since, until = commits[20]["commit"]["committer"]["date"], commits[60]["commit"][
        "committer"]["date"]
    got = walk(client, f"/repos/{REPO}/commits", {"since": since, "until": until,
                                                  "per_page": 100})
    want = [c["sha"] for c in reversed(commits)
            if since <= c["commit"]["committer"]["date"] <= until]
    assert [c["sha"] for c in got] == want


def test_compare_lists_the_commits_after_base_oldest_first_paged(shared, client):
    commits = shared.dataset.repo(REPO).commits
    base, head = commits[10]["sha"], commits[40]["sha"]
    first = client.get(f"/repos/{REPO}/compare/{base}...{head}", params={"per_page": 7})
    assert first.status_code == 200 and "next" in first.links
    body = first.json()
    assert (body["status"], body["ahead_by"], body["behind_by"], body["total_commits"]) == \
        ("ahead", 30, 0, 30)
    assert body["merge_base_commit"]["sha"] == body["base_commit"]["sha"] == base
    got = walk(client, f"/repos/{REPO}/compare/{base}...{head}", {"per_page": 7}, "commits")
    assert [c["sha"] for c in got] == [c["sha"] for c in commits[11:41]]
    back = client.get(f"/repos/{REPO}/compare/{head}...{base}").json()
    assert (back["status"], back["behind_by"], back["commits"]) == ("behind", 30, [])
    assert back["merge_base_commit"]["sha"] == base
    same = client.get(f"/repos/{REPO}/compare/{head}...main", params={"per_page": 100}).json()
    assert same["status"] == "ahead" and same["commits"][-1]["sha"] == commits[-1]["sha"]
    assert client.get(f"/repos/{REPO}/compare/{'0' * 40}...{head}").status_code == 404
    again = client.get(f"/repos/{REPO}/compare/{base}...{head}",
                       headers={"If-None-Match": first.headers["etag"]},
                       params={"per_page": 7})
    assert again.status_code == 304


def test_pulls_state_and_sort_defaults(shared, client):
    r = shared.dataset.repo(REPO)
    closed = walk(client, f"/repos/{REPO}/pulls", {"state": "closed", "sort": "updated",
                                                   "per_page": 100})
    assert {p["number"] for p in closed} == {p["number"] for p in r.pulls
                                             if p["state"] == "closed"}
    stamps = [p["updated_at"] for p in closed]
    assert stamps == sorted(stamps)                 # sort=updated defaults to asc
    assert client.get(f"/repos/{REPO}/pulls", params={"state": "bogus"}).status_code == 422


def test_runs_list_shows_latest_attempt_and_serves_earlier_ones(shared, client):
    r = shared.dataset.repo(REPO)
    rerun = next(a for a in r.runs if len(a) > 1)
    listed = walk(client, f"/repos/{REPO}/actions/runs", {"per_page": 100}, "workflow_runs")
    same = [x for x in listed if x["id"] == rerun[0]["id"]]
    assert len(same) == 1 and same[0]["run_attempt"] == 2
    first = client.get(f"/repos/{REPO}/actions/runs/{rerun[0]['id']}/attempts/1").json()
    assert first["run_attempt"] == 1 and first["previous_attempt_url"] is None
    assert same[0]["previous_attempt_url"].endswith(f"/runs/{rerun[0]['id']}/attempts/1")
    missing = client.get(f"/repos/{REPO}/actions/runs/{rerun[0]['id']}/attempts/3")
    assert missing.status_code == 404


def test_runs_created_filter_and_the_1000_result_cap():
    data = Dataset.generate([REPO], commits_per_repo=10, prs_per_repo=0, issues_per_repo=0,
                            runs_per_repo=1050, seed=2)
    with GitHubSimulator(data) as sim, httpx.Client(base_url=sim.base_url) as c:
        runs = data.repo(REPO).runs
        day = runs[500][0]["created_at"][:10]
        got = walk(c, f"/repos/{REPO}/actions/runs", {"created": f">={day}", "per_page": 100},
                   "workflow_runs")
        want = [a[-1]["id"] for a in runs if a[0]["created_at"] >= f"{day}T00:00:00Z"]
        assert sorted(x["id"] for x in got) == sorted(want)
        capped = c.get(f"/repos/{REPO}/actions/runs", params={"created": ">=2000-01-01",
                                                              "per_page": 100})
        assert capped.json()["total_count"] == 1050
        assert len(walk(c, f"/repos/{REPO}/actions/runs", {"created": ">=2000-01-01",
                                                           "per_page": 100},
                        "workflow_runs")) == 1000


# -- ETags, quota, mutation ----------------------------------------------------------------
def test_unchanged_etag_gets_304_without_spending_quota_and_changes_after_an_edit():
    data = small()
    with GitHubSimulator(data) as sim, httpx.Client(
            base_url=sim.base_url, headers={"Authorization": "token t"}) as c:
        url, params = f"/repos/{REPO}/issues", {"state": "all", "sort": "updated"}
        first = c.get(url, params=params)
        etag = first.headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]{64}"', etag)
        before = sim.quota.remaining
        again = c.get(url, params=params, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert sim.quota.remaining == before == int(again.headers["x-ratelimit-remaining"])
        data.edit_issue(REPO, 3, title="Edited")
        changed = c.get(url, params=params, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert changed.json()[0]["number"] == 3 and changed.json()[0]["title"] == "Edited"
        assert sim.quota.remaining == before - 1
        del c.headers["authorization"]
        anonymous = c.get(url, params=params, headers={"If-None-Match": changed.headers["etag"]})
        assert anonymous.status_code == 304 and sim.quota.remaining == before - 2


def test_exhausted_quota_answers_the_primary_limit_403():
    with GitHubSimulator(small(), rate_limit=2) as sim, httpx.Client(
            base_url=sim.base_url) as c:
        assert [c.get(f"/repos/{REPO}").status_code for _ in range(2)] == [200, 200]
        blocked = c.get(f"/repos/{REPO}")
        assert blocked.status_code == 403
        assert blocked.json() == fx.body(fx.RATE_PRIMARY)
        assert blocked.headers["x-ratelimit-remaining"] == "0"
        assert blocked.headers["x-ratelimit-used"] == "2"
        assert c.get("/rate_limit").json()["resources"]["core"]["remaining"] == 0
        sim.quota.reset()
        assert c.get(f"/repos/{REPO}").headers["x-ratelimit-remaining"] == "1"
        assert sim.stats.quota_spent == 3 and sim.stats.by_status[403] == 1


def test_dataset_changes_between_runs_show_up():
    data = small()
    with GitHubSimulator(data) as sim, httpx.Client(base_url=sim.base_url) as c:
        new = data.add_commit(REPO, message="hotfix", author="ada-l")
        assert c.get(f"/repos/{REPO}/commits").json()[0]["sha"] == new["sha"]
        pr = data.add_pull(REPO, title="New feature")
        data.merge_pull(REPO, pr["number"])
        merged = c.get(f"/repos/{REPO}/pulls/{pr['number']}").json()
        assert merged["merged_at"] and merged["merge_commit_sha"] == data.repo(REPO).commits[
            -1]["sha"]
        run = data.repo(REPO).runs[0][-1]
        again = data.rerun(REPO, run["id"])
        latest = c.get(f"/repos/{REPO}/actions/runs/{run['id']}").json()
        assert latest["run_attempt"] == again["run_attempt"] == run["run_attempt"] + 1


# -- auth -------------------------------------------------------------------------------------
def test_only_configured_tokens_are_accepted():
    auth = TokenAuth({"good": "grace-h", "other": "ada-l"}, allow_anonymous=False)
    with GitHubSimulator(small(), auth=auth) as sim, httpx.Client(base_url=sim.base_url) as c:
        get = lambda h: c.get("/user", headers=h)  # noqa: E731
        assert get({"Authorization": "Bearer good"}).json()["login"] == "grace-h"
        assert get({"Authorization": "token other"}).json()["login"] == "ada-l"
        bad = get({"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
        assert get({}).json()["message"] == "Requires authentication"
        auth.revoke("good")
        assert get({"Authorization": "Bearer good"}).status_code == 401
        auth.allow_anonymous = True
        assert c.get(f"/repos/{REPO}").status_code == 200
        assert sim.stats.quota_spent == 3


def test_device_flow_follows_the_script_and_its_token_then_works():
    auth = TokenAuth(["existing"])
    flow = ["authorization_pending", "slow_down", "success"]
    with GitHubSimulator(small(), auth=auth, device_flow=flow) as sim, httpx.Client(
            base_url=sim.base_url, headers={"Accept": "application/json"}) as c:
        code = c.post("/login/device/code", data={"client_id": "cid", "scope": "repo"}).json()
        assert code == {**fx.body(fx.DEVICE_CODE), "interval": 5}
        form = {"client_id": "cid", "device_code": code["device_code"], "grant_type": GRANT}
        answers = [c.post("/login/oauth/access_token", data=form).json() for _ in range(3)]
        assert [a.get("error") for a in answers] == ["authorization_pending", "slow_down", None]
        assert answers[1]["interval"] == 10
        token = answers[2]["access_token"]
        assert token == fx.body(fx.TOKEN_SUCCESS)["access_token"]
        user = c.get("/user", headers={"Authorization": f"Bearer {token}"})
        assert user.status_code == 200
        wrong = c.post("/login/oauth/access_token", json={**form, "grant_type": "password"})
        assert wrong.json()["error"] == "unsupported_grant_type"
        assert [r["endpoint"] for r in sim.device_flow.requests][:2] == ["device_code",
                                                                         "access_token"]


@pytest.mark.parametrize("outcome", ["expired_token", "access_denied"])
def test_device_flow_terminal_errors_and_the_form_encoded_default(outcome):
    flow = DeviceFlow([outcome], interval=0)
    with GitHubSimulator(small(), device_flow=flow) as sim, httpx.Client(
            base_url=sim.base_url) as c:
        code = c.post("/login/device/code", data={"client_id": "c"})
        assert code.headers["content-type"].startswith("application/x-www-form-urlencoded")
        assert "interval=0" in code.text
        form = {"client_id": "c", "device_code": flow.device_code, "grant_type": GRANT}
        for _ in range(2):                                # the last outcome repeats
            body = c.post("/login/oauth/access_token", data=form,
                          headers={"Accept": "application/json"}).json()
            assert body == fx.body(fx.TOKEN_OUTCOMES[outcome])


# -- faults -------------------------------------------------------------------------------
def test_fault_draws_match_the_configured_rate_and_kinds():
    faults = Faults(rate=0.2, seed=5)
    draws = [faults.draw("GET", f"/repos/o/r/issues?page={i}", 0) for i in range(5000)]
    hits = [d for d in draws if d]
    assert 0.17 < len(hits) / len(draws) < 0.23
    assert set(hits) == set(faults.kinds)
    assert draws == [Faults(rate=0.2, seed=5).draw("GET", f"/repos/o/r/issues?page={i}", 0)
                     for i in range(5000)]


def test_injected_faults_follow_the_seed_and_spend_no_quota():
    faults = Faults(rate=0.25, seed=3, retry_after=0)
    oracle = Faults(rate=0.25, seed=3)
    with GitHubSimulator(small(), faults=faults) as sim, httpx.Client(
            base_url=sim.base_url) as c:
        outcomes = []
        for i in range(160):
            target = f"/repos/{REPO}/issues?page={i % 5 + 1}&n={i}"
            expected = oracle.decide("GET", target.split("?")[0], target)
            try:
                r = c.get(target)
                got = "truncated" if r.status_code == 200 and not _is_json(r) else (
                    {500: "500", 502: "502", 429: "429", 403: "secondary_403"}.get(
                        r.status_code))
                if r.status_code in (429, 403):
                    assert r.headers["retry-after"] == "0"
            except httpx.RemoteProtocolError:
                got = "drop"
            outcomes.append(got)
            assert got == expected
        faulted = [o for o in outcomes if o]
        assert 20 < len(faulted) < 60
        assert sim.stats.quota_spent == outcomes.count(None)
        assert sum(sim.stats.faults.values()) == len(faulted)


def test_scripted_faults_hit_only_matching_requests_in_order():
    with GitHubSimulator(small()) as sim, httpx.Client(base_url=sim.base_url) as c:
        script = sim.script(r"/issues\?.*page=2", ["502", "401", "pass",
                                                   {"status": 418, "body": {"m": 1}}])
        assert c.get(f"/repos/{REPO}/issues").status_code == 200
        codes = [c.get(f"/repos/{REPO}/issues", params={"page": 2}).status_code
                 for _ in range(5)]
        assert codes == [502, 401, 200, 418, 200] and script.remaining == 0
        sim.script("/pulls", ["drop"])
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(f"/repos/{REPO}/pulls")
        assert c.get(f"/repos/{REPO}/pulls").status_code == 200
        assert sim.stats.quota_spent == 4


def _is_json(r: httpx.Response) -> bool:
    try:
        r.json()
        return True
    except ValueError:
        return False


def test_api_prefix_serves_the_api_under_it_like_ghes():
    with GitHubSimulator(small(), api_prefix="/api/v3") as sim:
        assert sim.api_url == sim.base_url + "/api/v3"
        with httpx.Client(headers={"Authorization": "Bearer t"}) as c:
            assert c.get(f"{sim.base_url}/repos/{REPO}").status_code == 404
            r = c.get(f"{sim.api_url}/repos/{REPO}/commits", params={"per_page": 10})
            assert r.status_code == 200
            assert r.links["next"]["url"].startswith(f"{sim.api_url}/repositories/")
            assert r.json()[0]["url"].startswith(f"{sim.api_url}/repos/")
            assert c.get(r.links["next"]["url"]).status_code == 200
            code = c.post(f"{sim.base_url}/login/device/code", data={"client_id": "x"},
                          headers={"Accept": "application/json"})
            assert code.status_code == 200 and "device_code" in code.json()
        assert sim.stats.by_route["GET /repos/{owner}/{repo}/commits"] == 2


# -- standalone ---------------------------------------------------------------------------
def test_standalone_process_prints_its_base_url_first(tmp_path):
    stats = tmp_path / "stats.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.simulators.github", "--repos", "2", "--commits", "20",
         "--prs", "5", "--issues", "5", "--runs", "5", "--port", "0",
         "--stats-file", str(stats)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "no base URL printed"
        base = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
        assert httpx.get(f"{base}/repos/octo-org/repo-b").json()["full_name"] == "octo-org/repo-b"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert json.loads(stats.read_text())["requests"] == 1
