"""GET endpoints: URL → (route template, handler) and the handlers themselves.

Repository endpoints answer on /repos/{owner}/{repo}/... and, like GitHub, on
/repositories/{id}/..., which is the form GitHub's Link headers use.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..common import Reply
from . import fixtures, query
from .common import API, QueryError, error_body
from .data import Dataset, RepoData
from .query import Params


@dataclass
class Ctx:
    """What a handler may use besides the dataset."""

    dataset: Dataset
    base_url: str
    params: Params
    login: str | None             # the authenticated account, if any
    rate: dict[str, int]          # quota snapshot for /rate_limit


Handler = Callable[..., Reply]
_REPO_SUB: list[tuple[re.Pattern[str], str, Handler]] = []
_TOP: list[tuple[re.Pattern[str], str, Handler]] = []


def _sub(pattern: str, template: str):
    def register(fn: Handler) -> Handler:
        _REPO_SUB.append((re.compile(f"^{pattern}$"), template, fn))
        return fn
    return register


def _top(pattern: str, template: str):
    def register(fn: Handler) -> Handler:
        _TOP.append((re.compile(f"^{pattern}$"), template, fn))
        return fn
    return register


_REPOS = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)(?P<rest>/.*)?$")
_REPO_IDS = re.compile(r"^/repositories/(?P<id>\d+)(?P<rest>/.*)?$")


def route_of(path: str) -> str:
    """The route template of a path, for stats (no dataset lookups)."""
    m = _REPOS.match(path) or _REPO_IDS.match(path)
    if m:
        rest = (m.group("rest") or "").rstrip("/")
        for pattern, template, _ in _REPO_SUB:
            if pattern.match(rest):
                return "/repos/{owner}/{repo}" + template
        return "/repos/{owner}/{repo}/?"
    for pattern, template, _ in _TOP:
        if pattern.match(path):
            return template
    return path if path.startswith("/login/") else "?"


def dispatch(path: str, ctx: Ctx) -> Reply:
    """Serve a GET. QueryError and unknown paths become GitHub-shaped errors."""
    try:
        return _dispatch(path, ctx)
    except QueryError as exc:
        return Reply(exc.status, exc.body)


def _dispatch(path: str, ctx: Ctx) -> Reply:
    m = _REPOS.match(path)
    repo = None
    if m:
        try:
            repo = ctx.dataset.repo(f"{m.group('owner')}/{m.group('name')}")
        except KeyError:
            return _not_found()
    elif m := _REPO_IDS.match(path):
        repo = ctx.dataset.repo_by_id(int(m.group("id")))
        if repo is None:
            return _not_found()
    if repo is not None:
        rest = (m.group("rest") or "").rstrip("/")
        for pattern, _, fn in _REPO_SUB:
            hit = pattern.match(rest)
            if hit:
                return fn(repo, ctx, **hit.groupdict())
        return _not_found()
    for pattern, _, fn in _TOP:
        hit = pattern.match(path.rstrip("/") or "/")
        if hit:
            return fn(ctx, **hit.groupdict())
    return _not_found()


def _not_found() -> Reply:
    return Reply(404, error_body("Not Found", 404))


def _page(rows: list, ctx: Ctx, link_path: str) -> Reply:
    chunk, link = query.paginate(rows, ctx.params, ctx.base_url, link_path)
    return Reply(200, chunk, {"link": link} if link else {})


def _listing(kind: str, rows: Callable[[RepoData, Params], list]) -> Handler:
    """GET /{kind}: the repository's `rows` for the query, paged with Links to
    /repositories/{id}/{kind}."""
    def serve(r: RepoData, ctx: Ctx) -> Reply:
        return _page(rows(r, ctx.params), ctx, f"/repositories/{r.id}/{kind}")
    return serve


def _numbered(get: Callable[[RepoData, int], Any]) -> Handler:
    """GET /{kind}/{number}: `get(repo, number)`, 404 when it raises KeyError."""
    def serve(r: RepoData, ctx: Ctx, number: str) -> Reply:
        try:
            return Reply(200, get(r, int(number)))
        except KeyError:
            return _not_found()
    return serve


# -- repository endpoints -----------------------------------------------------------
@_sub("", "")
def _repo(r: RepoData, ctx: Ctx) -> Reply:
    return Reply(200, r.info)


_sub("/commits", "/commits")(_listing("commits", query.commits))


@_sub("/commits/(?P<ref>[^/]+)", "/commits/{ref}")
def _commit(r: RepoData, ctx: Ctx, ref: str) -> Reply:
    if ref in ("main", "HEAD") and r.commits:
        ref = r.commits[-1]["sha"]
    if ref not in r.commit_index:
        raise QueryError(422, f"No commit found for SHA: {ref}")
    return Reply(200, commit_detail(r, r.commit_index[ref]))


@_sub("/compare/(?P<basehead>.+)", "/compare/{basehead}")
def _compare(r: RepoData, ctx: Ctx, basehead: str) -> Reply:
    """GET /compare/{base}...{head} on the linear default-branch history: the commits
    after `base` up to `head`, oldest first, paged by per_page/page (Link to
    /repositories/{id}/compare/...). `files` is left empty. 404 when a ref is unknown."""
    base, sep, head = basehead.partition("...")
    if not sep:
        return _not_found()
    ends = []
    for ref in (base, head):
        if ref in ("main", "refs/heads/main", "HEAD") and r.commits:
            ref = r.commits[-1]["sha"]
        if ref not in r.commit_index:
            return _not_found()
        ends.append(r.commits.index(r.commit_index[ref]))
    b, h = ends
    rows = r.commits[b + 1: h + 1]
    status = "identical" if b == h else "ahead" if h > b else "behind"
    page = _page(rows, ctx, f"/repositories/{r.id}/compare/{basehead}")
    html = f"https://github.com/{r.full_name}/compare/{basehead}"
    page.body = {
        "url": f"{API}/repos/{r.full_name}/compare/{basehead}", "html_url": html,
        "permalink_url": html, "diff_url": f"{html}.diff", "patch_url": f"{html}.patch",
        "base_commit": r.commits[b], "merge_base_commit": r.commits[min(b, h)],
        "status": status, "ahead_by": max(h - b, 0), "behind_by": max(b - h, 0),
        "total_commits": len(rows), "commits": page.body, "files": []}
    return page


_sub("/pulls", "/pulls")(_listing("pulls", query.pulls))
_sub(r"/pulls/(?P<number>\d+)", "/pulls/{number}")(_numbered(RepoData.pull))


@_sub(r"/pulls/(?P<number>\d+)/reviews", "/pulls/{number}/reviews")
def _reviews(r: RepoData, ctx: Ctx, number: str) -> Reply:
    """A PR's reviews, oldest first (GitHub's order), paged; 404 for an unknown PR."""
    try:
        r.pull(int(number))
    except KeyError:
        return _not_found()
    return _page(list(r.reviews.get(int(number), ())), ctx,
                 f"/repositories/{r.id}/pulls/{number}/reviews")


_sub("/issues", "/issues")(_listing("issues", query.issues))
_sub(r"/issues/(?P<number>\d+)", "/issues/{number}")(_numbered(RepoData.issue))


@_sub("/actions/runs", "/actions/runs")
def _runs(r: RepoData, ctx: Ctx) -> Reply:
    rows, total = query.runs(r, ctx.params)
    page = _page(rows, ctx, f"/repositories/{r.id}/actions/runs")
    page.body = {"total_count": total, "workflow_runs": page.body}
    return page


_sub(r"/actions/runs/(?P<number>\d+)", "/actions/runs/{run_id}")(
    _numbered(lambda r, run_id: r.run(run_id)[-1]))


@_sub(r"/actions/runs/(?P<run_id>\d+)/attempts/(?P<attempt>\d+)",
      "/actions/runs/{run_id}/attempts/{attempt_number}")
def _attempt(r: RepoData, ctx: Ctx, run_id: str, attempt: str) -> Reply:
    try:
        attempts = r.run(int(run_id))
    except KeyError:
        return _not_found()
    n = int(attempt)
    if not 1 <= n <= len(attempts):
        return _not_found()
    return Reply(200, attempts[n - 1])


def commit_detail(r: RepoData, item: dict[str, Any]) -> dict[str, Any]:
    """GET /commits/{sha}: the list item plus `stats` and `files` (shapes of
    commit-get.rails_admin.octokit-rb.json), sized deterministically from the sha."""
    sha = item["sha"]
    adds, dels = int(sha[:4], 16) % 300, int(sha[4:8], 16) % 150
    file = fixtures.body(fixtures.COMMIT_DETAIL)["files"][0]
    name = f"src/module_{int(sha[8:10], 16) % 40}.py"
    blob = f"https://github.com/{r.full_name}/blob/{sha}/{name}"
    file.update(sha=sha[::-1], filename=name, status="modified", additions=adds,
                deletions=dels, changes=adds + dels, blob_url=blob,
                raw_url=blob.replace("/blob/", "/raw/"),
                contents_url=f"{API}/repos/{r.full_name}/contents/{name}?ref={sha}",
                patch=f"@@ -1,{dels} +1,{adds} @@")
    return {**item, "stats": {"total": adds + dels, "additions": adds, "deletions": dels},
            "files": [file]}


# -- other endpoints -----------------------------------------------------------------
def _org_repos(ctx: Ctx, login: str) -> Reply:
    rows = [r.info for r in ctx.dataset.repos.values() if r.owner_login.lower() == login]
    if not rows and login not in {o.lower() for o in ctx.dataset.users.orgs}:
        return _not_found()
    org = ctx.dataset.users.org(rows[0]["owner"]["login"] if rows else login)
    rows.sort(key=lambda x: x["id"])         # default sort for org repos: created
    return _page(rows, ctx, f"/organizations/{org['id']}/repos")


@_top("/orgs/(?P<org>[^/]+)/repos", "/orgs/{org}/repos")
def _orgs_repos(ctx: Ctx, org: str) -> Reply:
    return _org_repos(ctx, org.lower())


@_top(r"/organizations/(?P<org_id>\d+)/repos", "/orgs/{org}/repos")
def _org_ids_repos(ctx: Ctx, org_id: str) -> Reply:
    for login, org in ctx.dataset.users.orgs.items():
        if org["id"] == int(org_id):
            return _org_repos(ctx, login.lower())
    return _not_found()


@_top("/user", "/user")
def _user(ctx: Ctx) -> Reply:
    if ctx.login is None:
        return Reply(401, error_body("Requires authentication", 401))
    user = dict(ctx.dataset.users.get(ctx.login))
    # No recorded /user response among the fixtures: documented public-user fields.
    user.update(name=user["login"].replace("-", " ").title(), company=None, blog="",
                location=None, email=None, hireable=None, bio=None, twitter_username=None,
                public_repos=0, public_gists=0, followers=0, following=0,
                created_at="2015-01-01T00:00:00Z", updated_at="2024-01-01T00:00:00Z")
    return Reply(200, user)


@_top("/users/(?P<login>[^/]+)", "/users/{username}")
def _users(ctx: Ctx, login: str) -> Reply:
    user = ctx.dataset.users.by_login.get(login)
    return Reply(200, user) if user else _not_found()


@_top("/rate_limit", "/rate_limit")
def _rate_limit(ctx: Ctx) -> Reply:
    """Current shape ({resources, rate}); the fixture is the 2013 `rate`-only shape."""
    core = {**ctx.rate, "resource": "core"}
    core = {k: core[k] for k in ("limit", "used", "remaining", "reset")}
    other = {"search": 30, "graphql": 5000, "code_search": 10}
    resources = {"core": core, **{name: {"limit": n, "used": 0, "remaining": n,
                                         "reset": ctx.rate["reset"]}
                                  for name, n in other.items()}}
    return Reply(200, {"resources": resources, "rate": dict(core)})
