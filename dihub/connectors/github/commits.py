"""The `commits` stream: GET /repos/{o}/{r}/commits per branch, incremental by reachability.

A commit's committer date says nothing about when it was pushed (a pull request merged
with a merge commit, local work pushed a day later), so a date cursor alone loses such
commits for good. Each pass therefore keeps, per branch, the head SHA it finished at and
next reads exactly the commits reachable from the new head and not from that one:
GET /repos/{o}/{r}/compare/{old}...{new} (oldest first, paged). A "diverged" answer
(force-push) lists just those commits too; "behind" has none. When the old head is gone
(404) the branch is read again in full; writes are idempotent, so re-reading is safe.

Every read of a branch starts with `sha=B&per_page=1`, which names its head now. A
branch with no head kept yet (first sync, or a cursor saved before heads existed) is
then listed newest first anchored at that head, `sha=<head SHA>&since=..&page=N`: a
listing anchored at a SHA does not shift while the branch moves, so its page N is the
same in every run. Commits pushed meanwhile are read by the next pass, from that head.

Cursor (per repository): {"branches": {branch: since}, "heads": {branch: sha}}. `since`
is the newest committer date seen minus `commit_overlap_minutes` (never moving back); it
bounds the first read of a branch. While a branch is being read, every page also
checkpoints where the read stands, beside the finished values of the branches:

    "backfill": {"branch": B, "mode": "list", "head": sha, "since": S, "page": N,
                 "last": L, "done": [pages after N read], "newest": date,
                 "etag": ETag of the head request}
    "backfill": {"branch": B, "mode": "compare", "base": old, "head": new, "page": N,
                 "got": commits read, "newest": date, "etag": ...}

`page` is the next page to read (None: the branch is read; only its cursor is left). A
listing whose first page names its last one (`rel="last"`: `last`) reads the rest
`http.concurrency` pages at a time (dihub/http/paging.py, `pages_at_once`), each
written as it arrives: `done` lists the pages after `page` already read. A run stopped
at any page (quota, crash, kill) continues there, reading again only the pages that
were in flight; a pass that finishes the branch drops the position. A position whose
SHAs are gone is dropped and the branch is read as if it had none.

No-change runs are free: the ETag of `sha=B&per_page=1` is kept, so the next pass's
first request is answered 304 while the branch has not moved.

With several `branches`, a commit listed by more than one of them in a pass is
attributed to the first configured branch that lists it (a pass resumed after a kill
knows only what it read itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from dihub.connectors.github import shapes
from dihub.connectors.github.client import PER_PAGE, GitHubClient, GitHubSession, repo_info
from dihub.connectors.stream import Page
from dihub.http import HttpFatalError, NotFound
from dihub.http.paging import PageNumber, page_number, pages_at_once, paginate
from dihub.models import SyncState
from dihub.timeutil import parse, to_iso

BRANCH_KEY = "_dihub_branch"        # which branch a raw commit was listed from


def committed_at(raw: dict[str, Any]) -> str | None:
    return to_iso(((raw.get("commit") or {}).get("committer") or {}).get("date"))


def next_since(since: str | None, newest: str | None, overlap_min: float) -> str | None:
    """The `since` of the next run: newest seen minus the overlap, never moving back."""
    if newest is None:
        return since
    candidate = to_iso(parse(newest) - timedelta(minutes=overlap_min))
    return max(candidate, since) if since else candidate


def _list_params(head: str, since: str | None, page: int) -> dict[str, Any]:
    params: dict[str, Any] = {"sha": head, "per_page": PER_PAGE}
    if since:
        params["since"] = since
    if page > 1:
        params["page"] = page
    return params


def _head_params(branch: str) -> dict[str, Any]:
    return {"sha": branch, "per_page": 1}


class _Checkpoints:
    """The cursor each page carries: the branches finished so far (this pass's values
    over the saved ones) and the position of the branch being read."""

    def __init__(self, saved: dict[str, Any], saved_heads: dict[str, str]):
        self.branches: dict[str, str | None] = dict(saved)
        self.heads: dict[str, str] = dict(saved_heads)

    def at(self, position: dict[str, Any]) -> dict[str, Any]:
        return {"branches": dict(self.branches), "heads": dict(self.heads),
                "backfill": dict(position)}


class _Branch:
    """One branch's read: its position (`pos`), the pages it yields, and what it found."""

    def __init__(self, gh: GitHubClient, ctx: GitHubSession, repo: str, branch: str,
                 claimed: set[str] | None, marks: _Checkpoints, partition: str | None = None):
        self.gh, self.ctx, self.repo, self.branch = gh, ctx, repo, branch
        self.partition = partition          # set: report the compare's total to progress
        self.claimed, self.marks = claimed, marks
        self.url = f"/repos/{repo}/commits"
        self.pos: dict[str, Any] = {}

    def _get(self, shape: Any) -> Callable[[str, Any], Any]:
        return lambda url, params: self.gh.get(url, params, shape=shape)

    def read(self, old: str | None, since: str | None, etags: dict[str, str]
             ) -> Iterator[Page]:
        """A read from the saved head `old` (by reachability) or, without one, by date."""
        params = _head_params(self.branch)
        key = self.gh.key(self.url, params)
        # with a head kept, a conditional look at the branch: 304 = nothing moved
        resp = self.gh.get(self.url, params, etag=etags.get(key) if old else None,
                           shape=shapes.COMMITS)
        if resp.not_modified:
            self.pos = {"branch": self.branch, "mode": "done", "head": old,
                        "etag": resp.etag or etags.get(key)}
            return
        items = list(resp.data or [])
        head = items[0].get("sha") if items else None
        if not head:
            return
        if old:
            self.pos = {"branch": self.branch, "mode": "compare", "base": old, "head": head,
                        "page": 1 if head != old else None, "got": 0}
        else:
            self.pos = {"branch": self.branch, "mode": "list", "head": head, "since": since,
                        "page": 1}
        self.pos.update(newest=None, etag=resp.etag)
        yield self.page(items, resp)
        yield from self.resume()

    def resume(self) -> Iterator[Page]:
        """Go on from `self.pos` (a saved position, or where `read` got to)."""
        if self.pos.get("mode") == "list":
            yield from self.listing()
            return
        try:
            yield from self.compare()
        except NotFound:            # the old head is gone (force-push): read it all again
            self.ctx.log.info("%s/commits: %s head %s is gone; reading the branch again",
                              self.ctx.source, self.branch, str(self.pos["base"])[:12])
            self.pos = {"branch": self.branch, "mode": "list", "head": self.pos["head"],
                        "since": self.ctx.config.start_date, "page": 1,
                        "newest": self.pos.get("newest"), "etag": self.pos.get("etag")}
            yield from self.listing()

    def listing(self) -> Iterator[Page]:
        """The commits reachable from the head, newest first, from `since`: page by page
        until a page names the last one (`rel="last"`), then the rest `http.concurrency`
        at a time, each written as it arrives (`pages_at_once`): the listing is anchored
        at a SHA, so its pages do not move however late they are read."""
        pos = self.pos
        while pos["page"] is not None:
            if (pos.get("last") or 0) > pos["page"]:
                yield from self._rest_at_once()
                return
            resp = self.gh.get(self.url, self._params(pos["page"]), shape=shapes.COMMITS)
            items = list(resp.data or [])
            pos["last"] = page_number((resp.links.get("last") or {}).get("url"))
            pos["page"] = pos["page"] + 1 if items and resp.next_url else None
            yield self.page(items, resp)

    def _rest_at_once(self) -> Iterator[Page]:
        """Pages `page`..`last` but those in `done`, several at once. The position after
        each is the first page not read yet (`page`) and the pages after it already read
        (`done`), so a run stopped at any page reads again only the pages it had not. A
        page shorter than PER_PAGE is the last whatever `rel="last"` said: no page after
        it is asked for, and those already asked for are dropped."""
        pos = self.pos
        done = set(pos.get("done") or ())
        width = self.ctx.http_concurrency
        numbers = (n for n in range(pos["page"], pos["last"] + 1)
                   if n not in done and n <= pos["last"])     # `last` may come down
        for n, resp in pages_at_once(
                lambda n: self.gh.get(self.url, self._params(n), shape=shapes.COMMITS),
                numbers, width):
            if n > pos["last"]:
                continue                    # after a short page: nothing there
            items = list(resp.data or [])
            if len(items) < PER_PAGE:
                pos["last"] = n
                done = {d for d in done if d < n}
            done.add(n)
            while pos["page"] in done:
                done.discard(pos["page"])
                pos["page"] += 1
            if pos["page"] > pos["last"]:
                pos["page"] = None
            pos["done"] = sorted(done)
            yield self.page(items, resp)
            del resp, items

    def _params(self, page: int) -> dict[str, Any]:
        return _list_params(self.pos["head"], self.pos["since"], page)

    def compare(self) -> Iterator[Page]:
        """The commits reachable from head and not from base, oldest first."""
        pos = self.pos
        if pos["page"] is None:
            return
        url = f"/repos/{self.repo}/compare/{pos['base']}...{pos['head']}"
        # pages until one is empty or the commits read reach total_commits
        pages = PageNumber(items="commits", stop=("empty",), done=lambda body, items, _: (
            pos["got"] + len(items) >= int((body or {}).get("total_commits") or 0)))
        for fetched in paginate(self._get(shapes.COMPARE), url, pages, {"per_page": PER_PAGE},
                                start=pos["page"]):
            body = fetched.data or {}
            if self.partition is not None and isinstance(body.get("total_commits"), int):
                self.ctx.progress_total(self.partition, body["total_commits"] - pos["got"])
                self.partition = None           # once per run
            pos["got"] += len(fetched.items)
            pos["page"] = fetched.next
            yield self.page(fetched.items, fetched.response)

    def page(self, items: list[dict], resp) -> Page:
        """`items` (none committed before start_date) as a page whose cursor is the
        position after it."""
        start = self.ctx.config.start_date
        if start:
            items = [i for i in items if (committed_at(i) or "") >= start]
        for item in items:
            self.pos["newest"] = _max(self.pos.get("newest"), committed_at(item))
        items = _unclaimed(items, self.claimed)
        for item in items:
            item[BRANCH_KEY] = self.branch
        return self.ctx.page(items, resp, cursor=self.marks.at(self.pos))

    def result(self) -> tuple[str | None, str | None, str | None]:
        """(newest committer date read, head the branch was read to, ETag of its head URL)."""
        return self.pos.get("newest"), self.pos.get("head"), self.pos.get("etag")


def commit_pages(ctx: GitHubSession, partition: str, state: SyncState) -> Iterator[Page]:
    gh = GitHubClient(ctx, partition)
    try:
        repo = repo_info(ctx, gh, partition)
        branches = ctx.config.branches or [repo.default_branch or "main"]
        cur = state.cursor if isinstance(state.cursor, dict) else {}
        saved = cur.get("branches") or {}
        saved_heads = cur.get("heads") or {}
        backfill = cur.get("backfill") if isinstance(cur.get("backfill"), dict) else None
        marks = _Checkpoints(saved, saved_heads)
        cursor: dict[str, str | None] = {}
        heads: dict[str, str] = {}
        etags: dict[str, str] = {}
        claimed: set[str] | None = set() if len(branches) > 1 else None
        for branch in branches:
            since = saved.get(branch) or ctx.config.start_date
            old = saved_heads.get(branch)
            read = _Branch(gh, ctx, repo.full_name, branch, claimed, marks,
                           partition if len(branches) == 1 else None)
            try:
                if backfill and backfill.get("branch") == branch:
                    yield from _resume(read, backfill, old, since, state.etags)
                else:
                    yield from read.read(old, since, state.etags)
            except NotFound:
                _warn(ctx, partition, f"branch {branch!r} not found in {repo.full_name}")
                continue
            except HttpFatalError as err:
                if err.status != 409:              # 409: the repository is empty
                    raise
                continue
            newest, head, etag = read.result()
            cursor[branch] = marks.branches[branch] = next_since(
                since, newest, ctx.config.commit_overlap_minutes)
            if head:
                heads[branch] = marks.heads[branch] = head
            if etag:
                etags[gh.key(read.url, _head_params(branch))] = etag
        yield Page([], cursor={"branches": cursor, "heads": heads}, etags=etags)
    finally:
        gh.audit_requests("commits", "commits", partition)


def _resume(read: _Branch, position: dict[str, Any], old: str | None, since: str | None,
            etags: dict[str, str]) -> Iterator[Page]:
    """Go on with a branch from the position a stopped pass saved; a position whose SHAs
    are gone (force-push since) is dropped and the branch read as if it had none."""
    if position.get("mode") not in ("list", "compare") or not position.get("head"):
        yield from read.read(old, since, etags)
        return
    read.pos = dict(position)
    try:
        yield from read.resume()
    except NotFound:
        read.ctx.log.info("%s/commits: the saved position of %s is gone; reading the "
                          "branch again", read.ctx.source, read.branch)
        read.pos = {}
        yield from read.read(old, since, {})


def _max(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else max(a, b)


def _unclaimed(items: list[dict], claimed: set[str] | None) -> list[dict]:
    """With several branches, a commit listed by an earlier branch in this pass keeps it."""
    if claimed is None:
        return items
    out = [i for i in items if i.get("sha") not in claimed]
    claimed.update(i.get("sha") for i in out)
    return out


def _warn(ctx: GitHubSession, partition: str, message: str) -> None:
    ctx.warn(message, entity="commits", stream="commits", partition=partition,
             logged=f"{ctx.source}/commits: {message}")
