"""List endpoints' filters, sort orders and page-number paging with GitHub's Link header.

Stored timestamps are canonical strings (2024-01-31T12:00:00Z), so every time
filter is a string comparison against the client's value in the same form.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from .common import QueryError, canon, plus
from .data import RepoData

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
RUNS_SEARCH_CAP = 1000      # "returns up to 1,000 results for each search" with filters
RUN_FILTERS = ("actor", "branch", "check_suite_id", "created", "event", "head_sha", "status")


class Params:
    """Query parameters in request order (the Link header keeps that order)."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs
        self._map: dict[str, str] = {}
        for key, value in pairs:
            self._map.setdefault(key, value)

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._map.get(name)
        return default if value in (None, "") else value

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.get(name, default)
        if value not in allowed:
            raise QueryError(422, "Validation Failed", errors=[
                {"resource": "Search", "field": name, "code": "invalid", "value": value}])
        return value

    def time(self, name: str) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        try:
            return canon(value)
        except ValueError:
            raise QueryError(422, f"Invalid value for parameter '{name}': {value!r}") from None

    def int(self, name: str, default: int) -> int:
        try:
            return int(self.get(name, str(default)))
        except ValueError:
            return default


def page_window(params: Params) -> tuple[int, int]:
    """(per_page, page): per_page clamped to 100, default 30; page ≥ 1."""
    per_page = params.int("per_page", DEFAULT_PER_PAGE)
    if per_page < 1:
        per_page = DEFAULT_PER_PAGE
    return min(per_page, MAX_PER_PAGE), max(params.int("page", 1), 1)


def paginate(rows: list[Any], params: Params, base_url: str,
             link_path: str) -> tuple[list[Any], str | None]:
    """One page of `rows` and its Link header (None when everything fits on page 1)."""
    per_page, page = page_window(params)
    last = max(1, math.ceil(len(rows) / per_page))
    chunk = rows[(page - 1) * per_page: page * per_page]
    return chunk, link_header(params, base_url, link_path, page, last)


def link_header(params: Params, base_url: str, path: str, page: int, last: int) -> str | None:
    """GitHub's order and format: prev, next, last, first; the request's query kept,
    `page` replaced in place or appended."""
    def url(n: int) -> str:
        pairs, seen = [], False
        for key, value in params.pairs:
            if key == "page":
                if not seen:
                    pairs.append(("page", str(n)))
                seen = True
            else:
                pairs.append((key, value))
        if not seen:
            pairs.append(("page", str(n)))
        return f"<{base_url}{path}?{urlencode(pairs)}>"

    rels = []
    if page > 1:
        rels.append(f'{url(min(page - 1, last))}; rel="prev"')
    if page < last:
        rels.append(f'{url(page + 1)}; rel="next"')
        rels.append(f'{url(last)}; rel="last"')
    if page > 1:
        rels.append(f'{url(1)}; rel="first"')
    return ", ".join(rels) or None


def _ordered(rows: list[dict], key: str, direction: str) -> list[dict]:
    """Sorted by `key`, ties by number/id, in `direction` (stable, deterministic)."""
    tie = "number" if rows and "number" in rows[0] else "id"
    return sorted(rows, key=lambda r: (r[key], r[tie]), reverse=direction == "desc")


def commits(r: RepoData, params: Params) -> list[dict]:
    """Newest first; `sha` (branch or commit), `since`/`until` on the committer date
    (inclusive), `author` (login or email). An empty repository answers 409."""
    if not r.commits:
        raise QueryError(409, "Git Repository is empty.")
    rows = r.commits
    ref = params.get("sha")
    if ref not in (None, "main", "refs/heads/main", "HEAD"):
        if ref not in r.commit_index:
            raise QueryError(404, f"No commit found for SHA: {ref}")
        rows = rows[: rows.index(r.commit_index[ref]) + 1]
    since, until = params.time("since"), params.time("until")
    who = params.get("author")
    out = []
    for c in reversed(rows):
        date = c["commit"]["committer"]["date"]
        if (since and date < since) or (until and date > until):
            continue
        if who and who not in ((c["author"] or {}).get("login"), c["commit"]["author"]["email"]):
            continue
        out.append(c)
    return out


def pulls(r: RepoData, params: Params) -> list[dict]:
    """state (default open), head (owner:ref), base, sort created|updated|popularity|
    long-running; direction defaults to desc for created, else asc."""
    state = params.choice("state", ("open", "closed", "all"), "open")
    sort = params.choice("sort", ("created", "updated", "popularity", "long-running"),
                         "created")
    direction = params.choice("direction", ("asc", "desc"),
                              "desc" if sort == "created" else "asc")
    head, base = params.get("head"), params.get("base")
    rows = [p for p in r.pulls
            if (state == "all" or p["state"] == state)
            and (head is None or p["head"]["label"] == head or p["head"]["ref"] == head)
            and (base is None or p["base"]["ref"] == base)]
    if sort == "popularity":
        comments = {i["number"]: i["comments"] for i in r.issues if "pull_request" in i}
        return sorted(rows, key=lambda p: (comments.get(p["number"], 0), p["number"]),
                      reverse=direction == "desc")
    return _ordered(rows, "updated_at" if sort == "updated" else "created_at", direction)


def issues(r: RepoData, params: Params) -> list[dict]:
    """Issues and PRs (items with `pull_request`): state (default open), since
    (updated at or after), sort created|updated|comments, direction (default desc),
    labels (all of), creator, assignee (login, none, *)."""
    state = params.choice("state", ("open", "closed", "all"), "open")
    sort = params.choice("sort", ("created", "updated", "comments"), "created")
    direction = params.choice("direction", ("asc", "desc"), "desc")
    since = params.time("since")
    wanted = {x.strip() for x in (params.get("labels") or "").split(",") if x.strip()}
    creator, assignee = params.get("creator"), params.get("assignee")
    rows = []
    for i in r.issues:
        if state != "all" and i["state"] != state:
            continue
        if since and i["updated_at"] < since:
            continue
        if wanted and not wanted <= {lab["name"] for lab in i["labels"]}:
            continue
        if creator and i["user"]["login"] != creator:
            continue
        logins = {a["login"] for a in i["assignees"]}
        if assignee and not ((assignee == "none" and not logins)
                             or (assignee == "*" and logins) or assignee in logins):
            continue
        rows.append(i)
    key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}[sort]
    return _ordered(rows, key, direction)


def created_range(expr: str) -> tuple[str | None, str | None]:
    """GitHub search date syntax (>=D, >D, <=D, <D, A..B, *, a day or a timestamp)
    → inclusive (low, high) bounds as canonical strings."""
    def bounds(value: str) -> tuple[str, str]:
        value = value.strip()
        if len(value) == 10:                        # a whole day
            day = canon(value)[:10]
            return f"{day}T00:00:00Z", f"{day}T23:59:59Z"
        ts = canon(value)
        return ts, ts

    try:
        if ".." in expr:
            a, b = expr.split("..", 1)
            return (None if a.strip() in ("", "*") else bounds(a)[0],
                    None if b.strip() in ("", "*") else bounds(b)[1])
        for op in (">=", "<=", ">", "<"):
            if expr.startswith(op):
                lo, hi = bounds(expr[len(op):])
                return {">=": (lo, None), "<=": (None, hi), ">": (plus(hi, seconds=1), None),
                        "<": (None, plus(lo, seconds=-1))}[op]
        return bounds(expr)
    except ValueError:
        raise QueryError(422, f"Invalid value for parameter 'created': {expr!r}") from None


def runs(r: RepoData, params: Params) -> tuple[list[dict], int]:
    """Latest attempt of each run, newest first, and total_count. With any of the
    search filters (RUN_FILTERS) only the first 1,000 matches can be paged through;
    total_count still counts them all."""
    rows = [attempts[-1] for attempts in r.runs]
    low = high = None
    if params.get("created"):
        low, high = created_range(params.get("created"))
    status, event = params.get("status"), params.get("event")
    branch, actor, head_sha = params.get("branch"), params.get("actor"), params.get("head_sha")
    suite = params.get("check_suite_id")
    out = []
    for run in rows:
        if (low and run["created_at"] < low) or (high and run["created_at"] > high):
            continue
        if status and status not in (run["status"], run["conclusion"]):
            continue
        if (event and run["event"] != event) or (branch and run["head_branch"] != branch):
            continue
        if (actor and run["actor"]["login"] != actor) or (head_sha and run["head_sha"] != head_sha):
            continue
        if suite and str(run["check_suite_id"]) != suite:
            continue
        out.append(run)
    out = _ordered(out, "created_at", "desc")
    total = len(out)
    if any(params.get(name) for name in RUN_FILTERS):
        out = out[:RUNS_SEARCH_CAP]
    return out, total
