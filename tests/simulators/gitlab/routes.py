"""API v4 GET endpoints: path → (route template, handler), and the handlers.

Paths are matched as sent (still percent-encoded): a project is `:id` = its numeric id
or its `%2F`-encoded path; `group/project` with a raw slash matches no route (404), as on
GitLab. Handlers return a Reply whose body is JSON-able; the server encodes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ..common import Reply
from .data import WEB, Dataset, ProjectData, canon, iso_z, parse_ts, sha_of
from .jobs import pipeline_jobs
from .paging import (
    ApiError,
    Linker,
    Params,
    bad_param,
    commits_page,
    decode_cursor,
    encode_cursor,
    keyset_page,
    offset_page,
)

PROJECT_TYPE_KEYSET = "Project"
KEYSET_UNAVAILABLE = "Keyset pagination is not yet available for this type of request"


@dataclass
class Ctx:
    """What a handler may use besides the dataset."""

    dataset: Dataset
    base_url: str              # http://127.0.0.1:N
    path: str                  # the request path as sent (for Link URLs)
    params: Params
    username: str | None       # the token's user, if known
    token: Any                 # the auth Token, or None
    count_limit: int
    offset_limit: int

    def linker(self, path_id: str | None) -> Linker:
        return Linker(self.base_url, self.path, self.params, path_id)


Handler = Callable[..., Reply]
_ROUTES: list[tuple[re.Pattern[str], str, Handler]] = []
_SEG = r"[^/]+"


def route(pattern: str, template: str):
    def register(fn: Handler) -> Handler:
        _ROUTES.append((re.compile(f"^{pattern}$"), template, fn))
        return fn
    return register


def route_of(path: str) -> str:
    """The route template of an API path (after /api/v4), for stats."""
    for pattern, template, _ in _ROUTES:
        if pattern.match(path):
            return "/api/v4" + template
    return "?"


def dispatch(path: str, ctx: Ctx) -> Reply:
    for pattern, _, fn in _ROUTES:
        hit = pattern.match(path)
        if hit:
            try:
                return fn(ctx, **hit.groupdict())
            except ApiError as exc:
                return Reply(exc.status, exc.body)
    return not_found()


def not_found(what: str | None = None) -> Reply:
    return Reply(404, {"message": f"404 {what} Not Found" if what else "404 Not Found"})


def _project(ctx: Ctx, ident: str) -> ProjectData:
    try:
        return ctx.dataset.project(unquote(ident))
    except KeyError:
        raise ApiError(404, {"message": "404 Project Not Found"}) from None


def _time(params: Params, key: str) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    try:
        return canon(value)
    except ValueError:
        raise bad_param(key) from None


def _time_filters(rows: list[dict[str, Any]], params: Params) -> list[dict[str, Any]]:
    """updated_after / updated_before / created_after / created_before, inclusive."""
    for key, field, op in (("updated_after", "updated_at", "ge"),
                           ("updated_before", "updated_at", "le"),
                           ("created_after", "created_at", "ge"),
                           ("created_before", "created_at", "le")):
        bound = _time(params, key)
        if bound is not None:
            rows = [r for r in rows if (r[field] >= bound if op == "ge" else r[field] <= bound)]
    return rows


def _no_keyset(ctx: Ctx) -> None:
    if ctx.params.get("pagination") == "keyset":
        raise ApiError(405, {"error": KEYSET_UNAVAILABLE})


# -- user and token -------------------------------------------------------------------
@route(r"/user", "/user")
def get_user(ctx: Ctx) -> Reply:
    people = ctx.dataset.people
    person = people[0]
    if ctx.username:
        try:
            person = ctx.dataset.person(ctx.username)
        except KeyError:
            pass
    user = person.user()
    user.update({"locked": False, "created_at": "2018-03-14T09:26:53.000Z", "bio": "",
                 "location": "", "public_email": None, "linkedin": "", "twitter": "",
                 "website_url": "", "organization": "", "job_title": "", "pronouns": None,
                 "bot": False, "work_information": None, "local_time": None,
                 "last_sign_in_at": "2026-11-02T08:12:45.000Z",
                 "confirmed_at": "2018-03-14T09:27:10.000Z",
                 "last_activity_on": "2026-11-16", "email": f"{person.username}@example.com",
                 "theme_id": 1, "color_scheme_id": 1, "projects_limit": 100000,
                 "current_sign_in_at": "2026-11-16T07:58:01.000Z", "identities": [],
                 "can_create_group": True, "can_create_project": True,
                 "two_factor_enabled": True, "external": False, "private_profile": False,
                 "commit_email": person.email})
    return Reply(200, user)


@route(r"/personal_access_tokens/self", "/personal_access_tokens/self")
def get_token_self(ctx: Ctx) -> Reply:
    token = ctx.token
    if token is None or token.kind != "personal":
        return not_found()
    expires = token.expires_at
    if isinstance(expires, int | float):
        expires = iso_z(_utc(expires))[:10]
    person = ctx.dataset.people[0]
    if token.username:
        try:
            person = ctx.dataset.person(token.username)
        except KeyError:
            pass
    return Reply(200, {"id": token.id, "name": token.name, "revoked": token.revoked,
                       "created_at": token.created_at, "description": None,
                       "scopes": list(token.scopes), "user_id": person.id,
                       "last_used_at": token.created_at, "active": True,
                       "expires_at": expires})


def _utc(epoch: float):
    from datetime import UTC, datetime
    return datetime.fromtimestamp(epoch, UTC)


# -- projects and groups --------------------------------------------------------------
@route(rf"/projects/(?P<pid>{_SEG})", "/projects/:id")
def get_project(ctx: Ctx, pid: str) -> Reply:
    return Reply(200, _project(ctx, pid).info)


@route(rf"/groups/(?P<gid>{_SEG})", "/groups/:id")
def get_group(ctx: Ctx, gid: str) -> Reply:
    try:
        return Reply(200, ctx.dataset.group(unquote(gid)))
    except KeyError:
        return not_found("Group")


@route(rf"/groups/(?P<gid>{_SEG})/projects", "/groups/:id/projects")
def list_group_projects(ctx: Ctx, gid: str) -> Reply:
    """include_subgroups, archived, order_by, sort; offset paging refused past the
    offset limit (keyset is available for projects), keyset with order_by=id."""
    try:
        group = ctx.dataset.group(unquote(gid))
    except KeyError:
        return not_found("Group")
    params = ctx.params
    full = group["full_path"]
    subgroups = params.bool("include_subgroups") or False
    archived = params.bool("archived")
    rows = [p for p in ctx.dataset.projects.values()
            if (p.group_path == full or (subgroups and p.group_path.startswith(full + "/")))
            and (archived is None or p.archived == archived)]
    if params.get("pagination") == "keyset":
        if params.get("order_by", "id") != "id":
            raise ApiError(405, {"error": KEYSET_UNAVAILABLE})
        desc = params.choice("sort", ("asc", "desc"), "asc") == "desc"
        rows.sort(key=lambda p: p.id, reverse=desc)
        after, before = params.int("id_after", 0), params.int("id_before", 0)
        if after:
            rows = [p for p in rows if p.id > after]
        if before:
            rows = [p for p in rows if p.id < before]
        key = "id_before" if desc else "id_after"
        linker = ctx.linker(unquote(gid))
        linker.params = {k: v for k, v in linker.params.items()
                         if k not in ("id_after", "id_before")}
        chunk, headers = keyset_page(rows, params, linker, cursor_param=key,
                                     make_cursor=lambda p: {key: p.id})
        return Reply(200, [p.info for p in chunk], headers)
    order = params.choice("order_by", ("id", "name", "path", "created_at", "updated_at",
                                       "last_activity_at", "similarity", "star_count"),
                          "created_at")
    desc = params.choice("sort", ("asc", "desc"), "desc") == "desc"
    field_of = {"id": "id", "name": "name", "path": "path", "created_at": "created_at",
                "updated_at": "last_activity_at", "last_activity_at": "last_activity_at",
                "similarity": "id", "star_count": "star_count"}[order]
    rows.sort(key=lambda p: (p.info[field_of], p.id), reverse=desc)
    page, per_page = params.page()
    if ctx.offset_limit > 0 and page * per_page > ctx.offset_limit:
        raise ApiError(405, {"error": (
            f"Offset pagination has a maximum allowed offset of {ctx.offset_limit} for "
            f"requests that return objects of type {PROJECT_TYPE_KEYSET}. Remaining "
            "records can be retrieved using keyset pagination.")})
    chunk, headers = offset_page(rows, params, ctx.linker(unquote(gid)),
                                 count_limit=ctx.count_limit)
    return Reply(200, [p.info for p in chunk], headers)


# -- repository -----------------------------------------------------------------------
@route(rf"/projects/(?P<pid>{_SEG})/repository/commits", "/projects/:id/repository/commits")
def list_commits(ctx: Ctx, pid: str) -> Reply:
    """ref_name (branch, or a SHA), since/until on the committer date compared in UTC
    (inclusive), all, first_parent, order=default|topo. Never counted."""
    p = _project(ctx, pid)
    params = ctx.params
    since, until = _time(params, "since"), _time(params, "until")
    order = params.choice("order", ("default", "topo"), "default")
    linker = ctx.linker(unquote(pid))
    if not p.commits:
        chunk, headers = commits_page([], params, linker)
        return Reply(200, chunk, headers)
    if params.bool("all"):
        heads = list(p.branches.values())
        shas = sorted({s for h in heads for s in p.reachable(h)},
                      key=lambda s: p.commit_epoch[s], reverse=True)
    else:
        head = p.resolve(params.get("ref_name") or None)
        if head is None:
            chunk, headers = commits_page([], params, linker)
            return Reply(200, chunk, headers)
        shas = p.topo(head) if order == "topo" else p.reachable(head)
        if params.bool("first_parent"):
            chain, sha = [], head
            while sha:
                chain.append(sha)
                parents = p.commit_index[sha]["parent_ids"]
                sha = parents[0] if parents else None
            keep = set(chain)
            shas = [s for s in shas if s in keep]
    if since or until:
        lo = parse_ts(since).timestamp() if since else float("-inf")
        hi = parse_ts(until).timestamp() if until else float("inf")
        shas = [s for s in shas if lo <= p.commit_epoch[s] <= hi]
    chunk, headers = commits_page(shas, params, linker)
    return Reply(200, [p.commit_index[s] for s in chunk], headers)


@route(rf"/projects/(?P<pid>{_SEG})/repository/commits/(?P<sha>{_SEG})",
       "/projects/:id/repository/commits/:sha")
def get_commit(ctx: Ctx, pid: str, sha: str) -> Reply:
    p = _project(ctx, pid)
    full = p.resolve(unquote(sha))
    if full is None:
        return not_found("Commit")
    c = dict(p.commit_index[full])
    n = int(full[:6], 16)
    c.update({"web_url": f"{WEB}/{p.path}/-/commit/{full}", "last_pipeline": None,
              "stats": {"additions": n % 90 + 1, "deletions": n % 37, "total":
                        n % 90 + 1 + n % 37},
              "status": None, "project_id": p.id})
    return Reply(200, c)


def _branch(p: ProjectData, name: str) -> dict[str, Any]:
    head = p.branches[name]
    commit = dict(p.commit_index[head])
    commit["web_url"] = f"{WEB}/{p.path}/-/commit/{head}"
    default = name == p.default_branch
    merged = not default and head in set(p.reachable(p.branches[p.default_branch]))
    return {"name": name, "commit": commit, "merged": merged, "protected": default,
            "developers_can_push": False, "developers_can_merge": False, "can_push": True,
            "default": default, "web_url": f"{WEB}/{p.path}/-/tree/{name}"}


@route(rf"/projects/(?P<pid>{_SEG})/repository/branches", "/projects/:id/repository/branches")
def list_branches(ctx: Ctx, pid: str) -> Reply:
    p = _project(ctx, pid)
    search = ctx.params.get("search")
    names = sorted(n for n in p.branches if not search or search in n)
    chunk, headers = offset_page(names, ctx.params, ctx.linker(unquote(pid)),
                                 count_limit=ctx.count_limit)
    return Reply(200, [_branch(p, n) for n in chunk], headers)


@route(rf"/projects/(?P<pid>{_SEG})/repository/branches/(?P<name>{_SEG})",
       "/projects/:id/repository/branches/:branch")
def get_branch(ctx: Ctx, pid: str, name: str) -> Reply:
    p = _project(ctx, pid)
    name = unquote(name)
    if name not in p.branches:
        return not_found("Branch")
    return Reply(200, _branch(p, name))


@route(rf"/projects/(?P<pid>{_SEG})/repository/compare", "/projects/:id/repository/compare")
def compare(ctx: Ctx, pid: str) -> Reply:
    """Commits reachable from `to` and not from `from`, oldest first; `diffs` stays
    empty (the simulator holds no trees). `compare_commits_limit` is not applied:
    GitLab documents no cap on the commits of a comparison."""
    p = _project(ctx, pid)
    missing = [k for k in ("from", "to") if not ctx.params.get("from" if k == "from" else k)]
    if missing:
        raise ApiError(400, {"error": ", ".join(f"{k} is missing" for k in missing)})
    ref_from, ref_to = ctx.params.get("from") or "", ctx.params.get("to") or ""
    head_from, head_to = p.resolve(ref_from), p.resolve(ref_to)
    if head_from is None or head_to is None:
        return not_found("Ref")
    base = set(p.reachable(head_from))
    shas = [s for s in p.reachable(head_to) if s not in base]
    commits = [p.commit_index[s] for s in reversed(shas)]
    return Reply(200, {"commit": commits[-1] if commits else None, "commits": commits,
                       "diffs": [], "compare_timeout": False,
                       "compare_same_ref": ref_from == ref_to,
                       "web_url": f"{WEB}/{p.path}/-/compare/{ref_from}...{ref_to}"})


# -- merge requests and issues ----------------------------------------------------------
def _filter_sort(rows: list[dict[str, Any]], params: Params, states: tuple[str, ...],
                 orders: tuple[str, ...]) -> tuple[list[dict[str, Any]], str, bool]:
    state = params.choice("state", states, "all")
    if state != "all":
        rows = [r for r in rows if r["state"] == state]
    rows = _time_filters(rows, params)
    iids = params.all("iids[]") + params.all("iids")
    if iids:
        try:
            wanted = {int(i) for i in iids}
        except ValueError:
            raise bad_param("iids") from None
        rows = [r for r in rows if r["iid"] in wanted]
    labels = params.get("labels")
    if labels:
        need = {x.strip() for x in labels.split(",") if x.strip()}
        rows = [r for r in rows if need <= set(r["labels"])]
    author = params.get("author_username")
    if author:
        rows = [r for r in rows if r["author"]["username"] == author]
    order = params.choice("order_by", orders, "created_at")
    desc = params.choice("sort", ("asc", "desc"), "desc") == "desc"
    rows = sorted(rows, key=lambda r: (r[order] or "", r["id"]), reverse=desc)
    return rows, order, desc


# `view=simple`: the iid, URL, title, description and basic state of each merge request
MR_SIMPLE_KEYS = ("id", "iid", "project_id", "title", "description", "state", "created_at",
                  "updated_at", "web_url")


@route(rf"/projects/(?P<pid>{_SEG})/merge_requests", "/projects/:id/merge_requests")
def list_mrs(ctx: Ctx, pid: str) -> Reply:
    p = _project(ctx, pid)
    _no_keyset(ctx)
    rows, _, _ = _filter_sort(p.merge_requests, ctx.params,
                              ("all", "opened", "closed", "locked", "merged"),
                              ("created_at", "updated_at", "merged_at", "title"))
    for key in ("source_branch", "target_branch"):
        value = ctx.params.get(key)
        if value:
            rows = [r for r in rows if r[key] == value]
    chunk, headers = offset_page(rows, ctx.params, ctx.linker(unquote(pid)),
                                 count_limit=ctx.count_limit)
    if ctx.params.get("view") == "simple":
        chunk = [{k: r[k] for k in MR_SIMPLE_KEYS} for r in chunk]
    return Reply(200, chunk, headers)


@route(rf"/projects/(?P<pid>{_SEG})/merge_requests/(?P<iid>\d+)",
       "/projects/:id/merge_requests/:merge_request_iid")
def get_mr(ctx: Ctx, pid: str, iid: str) -> Reply:
    try:
        return Reply(200, _project(ctx, pid).mr(int(iid)))
    except KeyError:
        return not_found("Merge Request")


@route(rf"/projects/(?P<pid>{_SEG})/issues", "/projects/:id/issues")
def list_issues(ctx: Ctx, pid: str) -> Reply:
    """Offset paging, or keyset (GitLab 18.3+) with order_by created_at / updated_at /
    id and a `cursor` in the next link."""
    p = _project(ctx, pid)
    orders = ("created_at", "updated_at", "id", "due_date", "title", "weight",
              "relative_position", "priority", "popularity", "label_priority",
              "milestone_due")
    params = ctx.params
    rows, order, desc = _filter_sort(p.issues, params, ("all", "opened", "closed"), orders)
    linker = ctx.linker(unquote(pid))
    if params.get("pagination") == "keyset":
        if order not in ("created_at", "updated_at", "id"):
            raise ApiError(405, {"error": KEYSET_UNAVAILABLE})
        cursor = params.get("cursor")
        if cursor:
            pos = decode_cursor(cursor)
            mark = (pos.get(order) or "", int(pos.get("id", 0)))
            keys = [((r[order] or "", r["id"]), r) for r in rows]
            rows = [r for k, r in keys if (k < mark if desc else k > mark)]
        chunk, headers = keyset_page(
            rows, params, linker, cursor_param="cursor",
            make_cursor=lambda r: {"cursor": encode_cursor({order: r[order], "id": r["id"]})})
        return Reply(200, chunk, headers)
    chunk, headers = offset_page(rows, params, linker, count_limit=ctx.count_limit)
    return Reply(200, chunk, headers)


@route(rf"/projects/(?P<pid>{_SEG})/issues/(?P<iid>\d+)", "/projects/:id/issues/:issue_iid")
def get_issue(ctx: Ctx, pid: str, iid: str) -> Reply:
    try:
        return Reply(200, _project(ctx, pid).issue(int(iid)))
    except KeyError:
        return not_found()


# -- pipelines ------------------------------------------------------------------------
LIST_KEYS = ("id", "iid", "project_id", "status", "source", "ref", "sha", "name", "web_url",
             "created_at", "updated_at")


@route(rf"/projects/(?P<pid>{_SEG})/pipelines", "/projects/:id/pipelines")
def list_pipelines(ctx: Ctx, pid: str) -> Reply:
    """updated_after/_before, status, ref, sha, source, order_by id (default) / status /
    ref / updated_at / user_id, sort (default desc). Items in the list fixture's shape."""
    p = _project(ctx, pid)
    _no_keyset(ctx)
    params = ctx.params
    rows = list(p.pipelines)
    rows = _time_filters(rows, params)
    for key in ("status", "ref", "sha", "source"):
        value = params.get(key)
        if value:
            rows = [r for r in rows if r[key] == value]
    scope = params.get("scope")
    if scope in ("running", "pending", "finished"):
        finished = {"success", "failed", "canceled", "skipped"}
        rows = [r for r in rows if (r["status"] in finished if scope == "finished"
                                    else r["status"] == scope)]
    order = params.choice("order_by", ("id", "status", "ref", "updated_at", "user_id"), "id")
    desc = params.choice("sort", ("asc", "desc"), "desc") == "desc"
    keyf = {"user_id": lambda r: (r["user"]["id"], r["id"])}.get(
        order, lambda r: (r[order], r["id"]))
    rows.sort(key=keyf, reverse=desc)
    chunk, headers = offset_page(rows, params, ctx.linker(unquote(pid)),
                                 count_limit=ctx.count_limit)
    return Reply(200, [{k: r[k] for k in LIST_KEYS} for r in chunk], headers)


@route(rf"/projects/(?P<pid>{_SEG})/pipelines/(?P<pipeline_id>\d+)",
       "/projects/:id/pipelines/:pipeline_id")
def get_pipeline(ctx: Ctx, pid: str, pipeline_id: str) -> Reply:
    try:
        return Reply(200, _project(ctx, pid).pipeline(int(pipeline_id)))
    except KeyError:
        return not_found()


@route(rf"/projects/(?P<pid>{_SEG})/pipelines/(?P<pipeline_id>\d+)/jobs",
       "/projects/:id/pipelines/:pipeline_id/jobs")
def list_pipeline_jobs(ctx: Ctx, pid: str, pipeline_id: str) -> Reply:
    """A pipeline's jobs, newest first (tests/simulators/gitlab/jobs.py); the retried
    attempts only with include_retried=true; offset paging."""
    p = _project(ctx, pid)
    try:
        pipeline = p.pipeline(int(pipeline_id))
    except KeyError:
        return not_found()
    rows = pipeline_jobs(p, pipeline, ctx.dataset.people,
                         bool(ctx.params.bool("include_retried")))
    chunk, headers = offset_page(rows, ctx.params, ctx.linker(unquote(pid)),
                                 count_limit=ctx.count_limit)
    return Reply(200, chunk, headers)


# -- notes, award emoji and merge request diff versions ---------------------------------
# Derived from each item on request (nothing is stored): an issue or merge request has
# `user_notes_count` notes (comments by people, none of them system notes), `upvotes`
# thumbsup and `downvotes` thumbsdown awards, every seventh note one award of its own; a
# merge request has one diff version, two when its iid is a multiple of 3.
_NOTEABLE = {"issues": ("Issue", 1), "merge_requests": ("MergeRequest", 2)}


def _noteable(ctx: Ctx, pid: str, kind: str, iid: str) -> tuple[ProjectData, dict[str, Any]]:
    p = _project(ctx, pid)
    try:
        return p, (p.issue(int(iid)) if kind == "issues" else p.mr(int(iid)))
    except KeyError:
        raise ApiError(404, {"message": "404 Not found"}) from None


def _between(item: dict[str, Any], k: int, n: int) -> str:
    """The k-th of n times spread between an item's creation and its last update."""
    t0, t1 = parse_ts(item["created_at"]), parse_ts(item["updated_at"])
    return iso_z(t0 + (t1 - t0) * k / (n + 1))


def _notes(ctx: Ctx, p: ProjectData, kind: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    noteable_type, tag = _NOTEABLE[kind]
    people, n = ctx.dataset.people, item.get("user_notes_count") or 0
    notes = []
    for k in range(1, n + 1):
        at = _between(item, k, n)
        notes.append({
            "id": tag * 100_000_000 + item["id"] * 100 + k, "type": None,
            "body": f"Comment {k} on {noteable_type} {item['iid']}.", "attachment": None,
            "author": people[(item["id"] + k) % len(people)].user(),
            "created_at": at, "updated_at": at, "system": False,
            "noteable_id": item["id"], "noteable_type": noteable_type,
            "project_id": p.id, "resolvable": False, "confidential": False,
            "internal": False, "imported": False, "imported_from": "none",
            "noteable_iid": item["iid"], "commands_changes": {}})
    return notes


def _award(ctx: Ctx, award_id: int, name: str, who: int, at: str, awardable_id: int,
           awardable_type: str) -> dict[str, Any]:
    people = ctx.dataset.people
    return {"id": award_id, "name": name, "user": people[who % len(people)].user(),
            "created_at": at, "updated_at": at, "awardable_id": awardable_id,
            "awardable_type": awardable_type}


def list_notes(ctx: Ctx, pid: str, kind: str, iid: str) -> Reply:
    """order_by created_at (default) / updated_at, sort desc (default) / asc; offset
    paging (20 a page by default)."""
    p, item = _noteable(ctx, pid, kind, iid)
    order = ctx.params.choice("order_by", ("created_at", "updated_at"), "created_at")
    desc = ctx.params.choice("sort", ("asc", "desc"), "desc") == "desc"
    rows = sorted(_notes(ctx, p, kind, item), key=lambda r: (r[order], r["id"]),
                  reverse=desc)
    chunk, headers = offset_page(rows, ctx.params, ctx.linker(unquote(pid)),
                                 count_limit=ctx.count_limit)
    return Reply(200, chunk, headers)


def list_award_emoji(ctx: Ctx, pid: str, kind: str, iid: str) -> Reply:
    p, item = _noteable(ctx, pid, kind, iid)
    noteable_type, tag = _NOTEABLE[kind]
    names = ["thumbsup"] * (item.get("upvotes") or 0) + ["thumbsdown"] * (
        item.get("downvotes") or 0)
    rows = [_award(ctx, tag * 100_000_000 + item["id"] * 10 + k, name, item["id"] + 7 * k,
                   _between(item, k + 1, len(names)), item["id"], noteable_type)
            for k, name in enumerate(names)]
    chunk, headers = offset_page(rows, ctx.params, ctx.linker(unquote(pid)),
                                 count_limit=ctx.count_limit)
    return Reply(200, chunk, headers)


def list_note_award_emoji(ctx: Ctx, pid: str, kind: str, iid: str, note_id: str) -> Reply:
    p, item = _noteable(ctx, pid, kind, iid)
    note = next((n for n in _notes(ctx, p, kind, item) if n["id"] == int(note_id)), None)
    if note is None:
        return not_found("Note")
    rows = ([_award(ctx, note["id"] * 10, "tada", note["id"], note["created_at"],
                    note["id"], "Note")] if note["id"] % 7 == 0 else [])
    chunk, headers = offset_page(rows, ctx.params, ctx.linker(unquote(pid)),
                                 count_limit=ctx.count_limit)
    return Reply(200, chunk, headers)


for _kind, _iid in (("issues", ":issue_iid"), ("merge_requests", ":merge_request_iid")):
    _item = rf"/projects/(?P<pid>{_SEG})/(?P<kind>{_kind})/(?P<iid>\d+)"
    route(f"{_item}/notes", f"/projects/:id/{_kind}/{_iid}/notes")(list_notes)
    route(f"{_item}/award_emoji", f"/projects/:id/{_kind}/{_iid}/award_emoji")(list_award_emoji)
    route(rf"{_item}/notes/(?P<note_id>\d+)/award_emoji",
          f"/projects/:id/{_kind}/{_iid}/notes/:note_id/award_emoji")(list_note_award_emoji)


def _versions(p: ProjectData, mr: dict[str, Any]) -> list[dict[str, Any]]:
    """Newest first, as GitLab lists them."""
    n = 2 if mr["iid"] % 3 == 0 else 1
    base = p.branches.get(mr["target_branch"]) or mr["sha"]
    rows = []
    for k in range(1, n + 1):
        head = mr["sha"] if k == n else sha_of(p.id, "mr-version", mr["iid"], k)
        rows.append({"id": mr["id"] * 10 + k, "head_commit_sha": head,
                     "base_commit_sha": base, "start_commit_sha": base,
                     "created_at": _between(mr, k, n), "merge_request_id": mr["id"],
                     "state": "collected", "real_size": str(1 + mr["iid"] % 5),
                     "patch_id_sha": sha_of(p.id, "mr-patch", mr["iid"], k)})
    return rows[::-1]


@route(rf"/projects/(?P<pid>{_SEG})/merge_requests/(?P<iid>\d+)/versions",
       "/projects/:id/merge_requests/:merge_request_iid/versions")
def list_mr_versions(ctx: Ctx, pid: str, iid: str) -> Reply:
    p, mr = _noteable(ctx, pid, "merge_requests", iid)
    chunk, headers = offset_page(_versions(p, mr), ctx.params, ctx.linker(unquote(pid)),
                                 count_limit=ctx.count_limit)
    return Reply(200, chunk, headers)


@route(rf"/projects/(?P<pid>{_SEG})/merge_requests/(?P<iid>\d+)/versions/(?P<vid>\d+)",
       "/projects/:id/merge_requests/:merge_request_iid/versions/:version_id")
def get_mr_version(ctx: Ctx, pid: str, iid: str, vid: str) -> Reply:
    """A version with its commits (the head only: the simulator holds no MR branches)
    and one diff per changed file (`real_size` of them)."""
    p, mr = _noteable(ctx, pid, "merge_requests", iid)
    version = next((v for v in _versions(p, mr) if v["id"] == int(vid)), None)
    if version is None:
        return not_found()
    author = mr["author"]
    head = version["head_commit_sha"]
    commit = {"id": head, "short_id": head[:8], "title": mr["title"],
              "message": mr["title"], "author_name": author["name"],
              "author_email": f"{author['username']}@example.com",
              "created_at": version["created_at"]}
    diffs = [{"old_path": f"src/file_{k}.py", "new_path": f"src/file_{k}.py",
              "a_mode": "100644", "b_mode": "100644", "new_file": False,
              "renamed_file": False, "deleted_file": False, "generated_file": False,
              "diff": f"@@ -1 +1 @@\n-old line {k}\n+new line {k}\n"}
             for k in range(int(version["real_size"]))]
    return Reply(200, {**version, "commits": [commit], "diffs": diffs})
