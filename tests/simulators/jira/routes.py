"""The endpoints: what each answers for a Dataset, in the deployment's shape.

Cloud serves /rest/api/3 (and /rest/api/2 for the same resources, except search);
/rest/api/{2,3}/search answers 410 as on Jira Cloud today. Data Center serves
/rest/api/2 only. Both serve the Agile API /rest/agile/1.0.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.simulators.common import Reply

from . import fixtures as fx
from . import jql
from .data import SP_FIELD, SP_LEGACY, SPRINT_FIELD, Dataset, SimIssue

REMOVED = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
           "API. A full migration guideline is available at "
           "https://developer.atlassian.com/changelog/#CHANGE-2046")
UNBOUNDED = ("Unbounded JQL queries are not allowed here. Please add a search restriction to "
             "your query.")
EXPAND = "operations,versionedRepresentations,editmeta,changelog,renderedFields"

ROUTES = [
    ("myself", re.compile(r"^/rest/api/(?P<v>[23])/myself$")),
    ("field", re.compile(r"^/rest/api/(?P<v>[23])/field$")),
    ("search_jql", re.compile(r"^/rest/api/(?P<v>3)/search/jql$")),
    ("search", re.compile(r"^/rest/api/(?P<v>[23])/search$")),
    ("changelog", re.compile(r"^/rest/api/(?P<v>[23])/issue/(?P<issue>[^/]+)/changelog$")),
    ("changelog_bulk", re.compile(r"^/rest/api/(?P<v>3)/changelog/bulkfetch$")),
    ("comment", re.compile(r"^/rest/api/(?P<v>[23])/issue/(?P<issue>[^/]+)/comment$")),
    ("issue", re.compile(r"^/rest/api/(?P<v>[23])/issue/(?P<issue>[^/]+)$")),
    ("users_search", re.compile(r"^/rest/api/(?P<v>3)/users/search$")),
    ("user_search", re.compile(r"^/rest/api/(?P<v>2)/user/search$")),
    ("boards", re.compile(r"^/rest/agile/1\.0/board$")),
    ("board_sprints", re.compile(r"^/rest/agile/1\.0/board/(?P<board>[^/]+)/sprint$")),
]
TEMPLATES = {"myself": "/rest/api/{v}/myself", "field": "/rest/api/{v}/field",
             "search_jql": "/rest/api/3/search/jql", "search": "/rest/api/{v}/search",
             "changelog": "/rest/api/{v}/issue/{id}/changelog",
             "changelog_bulk": "/rest/api/3/changelog/bulkfetch",
             "comment": "/rest/api/{v}/issue/{id}/comment",
             "issue": "/rest/api/{v}/issue/{id}", "users_search": "/rest/api/3/users/search",
             "user_search": "/rest/api/2/user/search", "boards": "/rest/agile/1.0/board",
             "board_sprints": "/rest/agile/1.0/board/{id}/sprint"}


def error(status: int, *messages: str, **errors: str) -> Reply:
    return Reply(status, {"errorMessages": list(messages), "errors": errors})


def route_of(path: str) -> str:
    for name, rx in ROUTES:
        if rx.match(path):
            return TEMPLATES[name]
    return path


POST_ROUTES = {"changelog_bulk"}      # every other route answers GET only
BULK_ISSUES = 1000                   # issueIdsOrKeys per bulk changelog request
BULK_FIELDS = 10                     # fieldIds per bulk changelog request
BULK_PAGE = 1000                     # histories per bulk changelog page by default
BULK_PAGE_MAX = 10000                # and at most (maxResults' documented maximum)


@dataclass
class Ctx:
    ds: Dataset
    params: dict[str, str]
    embed_max: int
    caller: dict[str, Any]
    now: datetime
    method: str = "GET"
    body: bytes = b""

    def int(self, name: str, default: int, top: int) -> int:
        try:
            value = int(self.params.get(name, default))
        except ValueError:
            return default
        return max(0, min(value, top)) if name != "startAt" else max(0, value)


def dispatch(path: str, ctx: Ctx) -> Reply:
    cloud = ctx.ds.cloud
    for name, rx in ROUTES:
        m = rx.match(path)
        if not m:
            continue
        v = m.groupdict().get("v")
        if not cloud and v == "3":
            break
        if name == "search" and cloud:
            return error(410, REMOVED)
        if (name in ("search_jql", "users_search") and not cloud) or (
                name == "user_search" and cloud):
            break
        if (ctx.method == "POST") != (name in POST_ROUTES):
            return error(405, "Method Not Allowed")
        return globals()["_" + name](ctx, **{k: x for k, x in m.groupdict().items()
                                              if k != "v"})
    return Reply(404, {"message": f"null for uri: {fx.SITE}{path}", "status-code": 404})


# -- account and fields --------------------------------------------------------------------

def _myself(ctx: Ctx) -> Reply:
    return Reply(200, {**ctx.caller, "locale": "en_US", "timeZone": ctx.ds.zone_name})


def _field(ctx: Ctx) -> Reply:
    extra = [
        {"id": SP_FIELD, "key": SP_FIELD, "name": "Story point estimate", "custom": True,
         "schema": {"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points",
                    "customId": 10016}},
        {"id": SP_LEGACY, "key": SP_LEGACY, "name": "Story Points", "custom": True,
         "schema": {"type": "number", "customId": 10028, "custom":
                    "com.atlassian.jira.plugin.system.customfieldtypes:float"}},
        {"id": SPRINT_FIELD, "key": SPRINT_FIELD, "name": "Sprint", "custom": True,
         "schema": {"type": "array", "items": "json", "customId": 10020,
                    "custom": "com.pyxis.greenhopper.jira:gh-sprint"}},
        {"id": "customfield_10099", "name": "Status", "custom": True,
         "schema": {"type": "option", "customId": 10099}},
    ]
    return Reply(200, fx.field_list() + extra)


# -- issues ------------------------------------------------------------------------------

def _wanted(spec: str | None, default_all: bool) -> set[str] | None:
    """None = every field; else the set of field ids."""
    if spec is None:
        return None if default_all else set()
    names = {s.strip() for s in spec.split(",") if s.strip()}
    if names & {"*all", "*navigable"}:
        return None
    return names - {"id", "key"}


def render_issue(ctx: Ctx, issue: SimIssue, wanted: set[str] | None, changelog: bool,
                 embed_max: int | None) -> dict[str, Any]:
    ds = ctx.ds
    v = "3" if ds.cloud else "2"
    out: dict[str, Any] = {"expand": EXPAND, "id": str(issue.id),
                           "self": f"{fx.SITE}/rest/api/{v}/issue/{issue.id}"}
    if wanted is None or wanted:
        out["key"] = issue.key
        all_fields = {**issue.fields, SPRINT_FIELD: [
            ds.sprints[s].field_value(ds.cloud, ds.zone) for s in issue.sprint_ids] or None}
        out["fields"] = all_fields if wanted is None else {
            k: all_fields.get(k) for k in wanted if k in all_fields}
    if changelog:
        hs = issue.histories
        if embed_max is not None and len(hs) > embed_max:
            embedded = hs[-embed_max:][::-1]          # the newest ones, newest first
        else:
            embedded = list(hs)
        out["changelog"] = {"startAt": 0, "maxResults": len(embedded), "total": len(hs),
                            "histories": embedded}
    return out


def _search_jql(ctx: Ctx) -> Reply:
    query, reply = _parse(ctx)
    if reply is not None:
        return reply
    if not query.bounded:
        return error(400, UNBOUNDED)
    fields = ctx.params.get("fields")
    limit = ctx.int("maxResults", 50, 5000 if fields in (None, "id") else 100)
    matches = sorted((i for i in ctx.ds.issues if query.where(i)), key=query.sort_key)
    keys = [query.sort_key(i) for i in matches]
    digest = hashlib.sha256(ctx.params.get("jql", "").encode()).hexdigest()[:12]
    start = 0
    token = ctx.params.get("nextPageToken")
    if token:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
            assert state["q"] == digest
            start = bisect_right(keys, tuple(state["after"]))
        except Exception:   # noqa: BLE001 - any bad token gets Jira's answer
            return error(400, "The provided next page token is invalid or expired.")
    page = matches[start:start + max(1, limit)]
    wanted = _wanted(fields, default_all=False)
    expand = "changelog" in (ctx.params.get("expand") or "")
    body: dict[str, Any] = {"issues": [render_issue(ctx, i, wanted, expand, ctx.embed_max)
                                       for i in page]}
    last = start + len(page) >= len(matches)
    if not last:
        body["nextPageToken"] = base64.urlsafe_b64encode(json.dumps(
            {"q": digest, "after": list(keys[start + len(page) - 1])}).encode()).decode()
    body["isLast"] = last
    return Reply(200, body)


def _search(ctx: Ctx) -> Reply:
    query, reply = _parse(ctx)
    if reply is not None:
        return reply
    start = ctx.int("startAt", 0, 0)
    limit = ctx.int("maxResults", 50, 1000)
    matches = sorted((i for i in ctx.ds.issues if query.where is None or query.where(i)),
                     key=query.sort_key)
    wanted = _wanted(ctx.params.get("fields"), default_all=True)
    expand = "changelog" in (ctx.params.get("expand") or "")
    page = matches[start:start + limit]
    return Reply(200, {"expand": "schema,names", "startAt": start, "maxResults": limit,
                       "total": len(matches),
                       "issues": [render_issue(ctx, i, wanted, expand, None) for i in page]})


def _parse(ctx: Ctx) -> tuple[Any, Reply | None]:
    try:
        return jql.parse(ctx.params.get("jql", ""), ctx.ds, ctx.now), None
    except jql.JqlError as exc:
        return None, error(400, str(exc))


def _find(ctx: Ctx, ident: str) -> SimIssue | None:
    if ident.isdigit():
        return next((i for i in ctx.ds.issues if i.id == int(ident)), None)
    return ctx.ds.by_key.get(ident.upper())


def _issue(ctx: Ctx, issue: str) -> Reply:
    found = _find(ctx, issue)
    if found is None:
        return error(404, "Issue does not exist or you do not have permission to see it.")
    expand = "changelog" in (ctx.params.get("expand") or "")
    limit = ctx.embed_max if ctx.ds.cloud else None
    return Reply(200, render_issue(ctx, found, _wanted(ctx.params.get("fields"), True),
                                   expand, limit))


def _changelog(ctx: Ctx, issue: str) -> Reply:
    found = _find(ctx, issue)
    if found is None:
        return error(404, "Issue does not exist or you do not have permission to see it.")
    start = ctx.int("startAt", 0, 0)
    limit = ctx.int("maxResults", 100, 100)
    hs = found.histories
    values = hs[start:start + limit]
    url = f"{fx.SITE}/rest/api/3/issue/{found.key}/changelog"
    body = {"self": f"{url}?startAt={start}&maxResults={limit}", "maxResults": limit,
            "startAt": start, "total": len(hs), "isLast": start + len(values) >= len(hs),
            "values": values}
    if not body["isLast"]:
        body["nextPage"] = f"{url}?&startAt={start + len(values)}&maxResults={limit}"
    return Reply(200, body)


def _comment(ctx: Ctx, issue: str) -> Reply:
    """GET /rest/api/{2,3}/issue/{id}/comment: a page of comments, oldest first,
    `startAt`, `maxResults` (default 50), `total`. The dataset keeps no comment bodies:
    an issue has one comment when its `updated` is later than its last changelog entry
    (the comment that moved it, see data.py), written then by one of the people."""
    found = _find(ctx, issue)
    if found is None:
        return error(404, "Issue does not exist or you do not have permission to see it.")
    ds = ctx.ds
    last = found.history_times[-1] if found.history_times else found.created
    comments = []
    if found.updated > last:
        people = ds.humans()
        author = people[found.id % len(people)]
        at = found.fields["updated"]
        v = "3" if ds.cloud else "2"
        text = f"Comment on {found.key}."
        body: Any = text if v == "2" else {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": text}]}]}
        cid = str(found.id + 90000)
        comments.append({"self": f"{fx.SITE}/rest/api/{v}/issue/{found.id}/comment/{cid}",
                         "id": cid, "author": author, "body": body, "updateAuthor": author,
                         "created": at, "updated": at})
    start, limit = ctx.int("startAt", 0, 0), ctx.int("maxResults", 50, 5000)
    return Reply(200, {"startAt": start, "maxResults": limit, "total": len(comments),
                       "comments": comments[start:start + limit]})


def _changelog_bulk(ctx: Ctx) -> Reply:
    """POST /rest/api/3/changelog/bulkfetch: the histories of up to 1,000 issues, oldest
    first across all of them (by `created`, then issue id, then history id), `maxResults`
    histories a page (default and most 1,000), with only the items of `fieldIds` (up to
    10; histories without such an item are left out). A page groups its histories by
    issue; an issue's histories may continue on the next page. `nextPageToken` holds the
    position and is tied to the request's issue list and fields: with another list it
    is refused (400). Unknown or invisible issues are left out."""
    try:
        body = json.loads(ctx.body or b"null")
    except ValueError:
        return error(400, "Invalid request payload. Refer to the REST API documentation "
                          "and try again.")
    if not isinstance(body, dict):
        return error(400, "Invalid request payload. Refer to the REST API documentation "
                          "and try again.")
    ids, fields = body.get("issueIdsOrKeys"), body.get("fieldIds")
    if not isinstance(ids, list) or not 1 <= len(ids) <= BULK_ISSUES:
        return error(400, f"issueIdsOrKeys must contain between 1 and {BULK_ISSUES} "
                          "issue ids or keys.")
    if fields is not None and (not isinstance(fields, list) or len(fields) > BULK_FIELDS):
        return error(400, f"fieldIds must contain at most {BULK_FIELDS} field ids.")
    limit = body.get("maxResults", BULK_PAGE)
    limit = max(1, min(limit, BULK_PAGE_MAX)) if isinstance(limit, int) else BULK_PAGE
    wanted = set(fields) if fields else None
    digest = hashlib.sha256(json.dumps([ids, fields]).encode()).hexdigest()[:12]
    start = 0
    token = body.get("nextPageToken")
    if token:
        try:
            state = json.loads(base64.urlsafe_b64decode(str(token).encode()))
            assert state["q"] == digest
            start = int(state["at"])
        except Exception:   # noqa: BLE001 - any bad token gets Jira's answer
            return error(400, "The provided next page token is invalid or expired.")
    by_id = {str(i.id): i for i in ctx.ds.issues}
    found = {i.id: i for i in (by_id.get(str(x)) or ctx.ds.by_key.get(str(x).upper())
                               for x in ids) if i is not None}
    rows = []
    for issue in found.values():
        for h, at in zip(issue.histories, issue.history_times, strict=True):
            items = h["items"] if wanted is None else \
                [it for it in h["items"] if it.get("fieldId") in wanted]
            if items:
                rows.append((at, issue.id, int(h["id"]), {**h, "items": items}))
    rows.sort(key=lambda r: r[:3])
    page = rows[start:start + limit]
    grouped: dict[int, list[dict[str, Any]]] = {}
    for _, issue_id, _, h in page:
        grouped.setdefault(issue_id, []).append(h)
    out: dict[str, Any] = {"issueChangeLogs": [
        {"issueId": str(k), "changeHistories": v} for k, v in grouped.items()]}
    if start + len(page) < len(rows):
        out["nextPageToken"] = base64.urlsafe_b64encode(json.dumps(
            {"q": digest, "at": start + len(page)}).encode()).decode()
    return Reply(200, out)


# -- users -------------------------------------------------------------------------------

def _users_search(ctx: Ctx) -> Reply:
    start, limit = ctx.int("startAt", 0, 0), ctx.int("maxResults", 50, 1000)
    return Reply(200, ctx.ds.users[start:start + limit])


def _user_search(ctx: Ctx) -> Reply:
    if not ctx.params.get("username"):
        return error(400, "The username query parameter was not provided")
    start, limit = ctx.int("startAt", 0, 0), ctx.int("maxResults", 50, 1000)
    return Reply(200, ctx.ds.users[start:start + limit])


# -- agile -------------------------------------------------------------------------------

def _page(ctx: Ctx, values: list[Any], with_total: bool) -> Reply:
    start, limit = ctx.int("startAt", 0, 0), ctx.int("maxResults", 50, 50)
    chunk = values[start:start + limit]
    body: dict[str, Any] = {"maxResults": limit, "startAt": start,
                            "isLast": start + len(chunk) >= len(values), "values": chunk}
    if with_total:
        body["total"] = len(values)
    return Reply(200, body)


def _boards(ctx: Ctx) -> Reply:
    kind = ctx.params.get("type")
    boards = [b for b in ctx.ds.boards if kind is None or b["type"] == kind]
    return _page(ctx, boards, with_total=True)


def _board_sprints(ctx: Ctx, board: str) -> Reply:
    found = next((b for b in ctx.ds.boards if str(b["id"]) == board), None)
    if found is None:
        return error(404, "Board does not exist or you do not have permission to see it.")
    if found["type"] == "kanban":
        return error(400, "The board does not support sprints")
    states = {s.strip().lower() for s in (ctx.params.get("state") or "").split(",")
              if s.strip()}
    sprints = [s.render(ctx.ds.zone) for s in ctx.ds.board_sprints(found["id"])
               if not states or s.state in states]
    return _page(ctx, sprints, with_total=False)
