"""The `workflow_runs` stream (entity `builds`): one Build per run attempt.

The runs list (GET /actions/runs, newest created first) shows each run once, as its
latest attempt, and a re-run keeps `created_at`: a `created>=cursor` query would never
see it again. So each pass re-reads, newest first, every page that reaches back to
`runs_lookback_days` before the newest run seen (the first pass reads everything, or
back to `start_date`). Pages are addressed as `?per_page=100&page=N` and requested
with their ETags: an unchanged page is a free 304, and what the pass needs from it
(its oldest `created_at`, whether another page follows) is kept in the cursor.

* A run listed with `run_attempt` n > 1 also yields its earlier attempts, read once
  from /actions/runs/{id}/attempts/{k} (the re-runs of a page `http.concurrency` at a
  time: an earlier attempt never changes); the cursor remembers which runs had them read.
* Runs not completed when last seen are kept in the cursor; once they are older than
  the look-back window they are polled at /actions/runs/{id} (conditional: 304 while
  still running) until they complete.

Cursor: {"newest": created_at, "pages": [[oldest created_at, has next page], ...],
         "open": {run_id: created_at}, "attempts": {run_id: [attempts read below, created_at]}}

During a pass every page (and every earlier attempt read) checkpoints where the pass got
to, beside the finished pass's `newest` and `pages` (which fix the window it reads):
"backfill": {"page": next page to read (None: the list is read), "pages": [[oldest,
has next], ...] read so far, "newest": newest created_at seen so far, "pending":
[[run id, attempt, created_at], ...] re-runs of the last page read whose earlier attempts
are still to read}; `open` and `attempts` (which counts, per run, the earlier attempts
read) are this pass's so far, and the ETags of the pages read are kept. A stopped
pass (quota, crash, kill) goes on from that page: new runs created meanwhile only shift
older ones down (re-read, never missed), and the next pass reads them from the top.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from dihub.connectors.github.client import (
    PER_PAGE,
    GitHubClient,
    GitHubSession,
    RepoInfo,
    repo_info,
)
from dihub.connectors.stream import Page
from dihub.http import NotFound
from dihub.http.paging import Partial, pages_at_once
from dihub.models import SyncState
from dihub.timeutil import parse, to_iso

MAX_OPEN = 500              # runs tracked until they complete; the oldest are dropped beyond


def _created(raw: dict[str, Any]) -> str:
    return to_iso(raw.get("created_at")) or ""


def _boundary(newest: str | None, days: float, start: str | None) -> str | None:
    """Pages reaching back before this are not read again."""
    if newest is None:
        return start
    edge = to_iso(parse(newest) - timedelta(days=days))
    return max(edge, start) if start else edge


def _slim(run: dict[str, Any]) -> dict[str, Any]:
    """Without the two repository objects (two thirds of a run's size; no normalizer
    reads them): pages wait in memory until the engine writes a batch."""
    run.pop("repository", None)
    run.pop("head_repository", None)
    return run


def _attempt(run: dict[str, Any]) -> int:
    return int(run.get("run_attempt") or 1)


def _page_params(n: int) -> dict[str, Any]:
    return {"per_page": PER_PAGE, "page": n} if n > 1 else {"per_page": PER_PAGE}


class _Pass:
    """State of one pass over one repository's runs."""

    def __init__(self, ctx: GitHubSession, gh: GitHubClient, repo: RepoInfo, state: SyncState):
        cur = state.cursor if isinstance(state.cursor, dict) else {}
        self.ctx, self.gh, self.repo = ctx, gh, repo
        self.etags: dict[str, str] = dict(state.etags or {})
        self.start = ctx.config.start_date
        self.saved_newest: str | None = cur.get("newest")
        self.newest = self.saved_newest
        self.boundary = _boundary(self.newest, ctx.config.runs_lookback_days, self.start)
        self.saved_pages: list[list] = cur.get("pages") or []
        self.open: dict[str, str] = dict(cur.get("open") or {})
        self.attempts: dict[str, list] = dict(cur.get("attempts") or {})
        self.pages: list[list] = []            # [oldest, has_next] of the pages read
        self.page_etags: list[tuple[str, str | None]] = []
        self.url = f"/repos/{repo.full_name}/actions/runs"
        self.next_page: int | None = 1
        self.pending: list[list] = []          # [run id, attempt, created_at]: see below
        backfill = cur.get("backfill")
        if isinstance(backfill, dict) and isinstance(backfill.get("pages"), list):
            # a stopped pass: what it read is kept, the list goes on where it got to
            self.next_page = backfill.get("page")
            self.pending = [list(p) for p in backfill.get("pending") or []]
            self.newest = backfill.get("newest") or self.newest
            for n, page in enumerate(backfill["pages"], start=1):
                key = self.gh.key(self.url, _page_params(n))
                self.pages.append(list(page))
                self.page_etags.append((key, self.etags.get(key)))

    def checkpoint(self, next_page: int | None) -> dict[str, Any]:
        """The cursor of a page in the middle of the pass: the finished pass's values (its
        `newest` and `pages` set the window) and where this pass got to."""
        return {"newest": self.saved_newest, "pages": self.saved_pages,
                "open": dict(self.open), "attempts": dict(self.attempts),
                "backfill": {"page": next_page, "pages": [list(p) for p in self.pages],
                             "newest": self.newest,
                             "pending": [list(p) for p in self.pending]}}

    def read_etags(self) -> dict[str, str]:
        """The ETags known so far: those of the pages read in this pass win."""
        return {**self.etags, **{k: e for k, e in self.page_etags if e}}

    # -- the list -------------------------------------------------------------------------
    def list_pages(self) -> Iterator[Page]:
        """The list's pages, newest first, down to the window's boundary. Bespoke paging,
        not a dihub.http paginator: whether an unchanged (304) page has a next one comes
        from the saved pages, not from the response, and the stop rule is the window."""
        yield from self.read_pending(self.next_page)     # left by a stopped pass
        n = self.next_page
        while n is not None:
            params = _page_params(n)
            key = self.gh.key(self.url, params)
            resp = self.gh.get(self.url, params, etag=self.etags.get(key))
            kept: list[dict[str, Any]] = []
            if resp.not_modified and n <= len(self.saved_pages):
                oldest, has_next = self.saved_pages[n - 1]
            else:
                if resp.not_modified:        # no record of that page: read it whole
                    resp = self.gh.get(self.url, params)
                runs = list((resp.data or {}).get("workflow_runs") or [])
                oldest = min((_created(r) for r in runs), default=None)
                has_next = resp.next_url is not None
                for run in runs:
                    created = _created(run)
                    if self.newest is None or created > self.newest:
                        self.newest = created
                kept = [self.track(r) for r in runs
                        if not self.start or _created(r) >= self.start]
                self.pending = [[str(r["id"]), _attempt(r), _created(r)] for r in kept
                                if _attempt(r) > self.done_below(str(r["id"]))]
            self.pages.append([oldest, has_next])
            self.page_etags.append((key, resp.etag))
            if not has_next or oldest is None or (self.boundary and oldest < self.boundary):
                n = None
            else:
                n += 1
            yield self.ctx.page(kept, resp, cursor=self.checkpoint(n), etags=self.read_etags())
            yield from self.read_pending(n)

    def read_pending(self, next_page: int | None) -> Iterator[Page]:
        """The earlier attempts of the re-runs on the page just read, each run's a page of
        its own that checkpoints them, so a stopped pass does not read them again. An
        earlier attempt never changes: the runs' are read `http.concurrency` at a time
        (dihub/http/paging.py, `pages_at_once`); `pending` keeps the runs not read yet,
        and `attempts` how far each was read (a run stopped between two of its attempts
        keeps the first)."""
        todo = [(rid, self.done_below(rid), attempt, created)
                for rid, attempt, created in self.pending]
        width = self.ctx.http_concurrency
        for i, (responses, upto) in pages_at_once(lambda i: self._earlier(*todo[i][:3]),
                                                  range(len(todo)), width):
            yield from self._attempts_read(todo[i], responses, upto, next_page)

    def _earlier(self, rid: str, below: int, attempt: int) -> tuple[list[Any], int]:
        """The responses for attempts `below`..`attempt - 1` of run `rid` (one gone: none),
        and the attempt they were read up to; an error after some were read raises
        Partial with those."""
        out = []
        for k in range(below, attempt):
            try:
                out.append(self.gh.get(f"{self.url}/{rid}/attempts/{k}"))
            except NotFound:
                continue
            except BaseException as err:
                if k == below:
                    raise
                raise Partial((out, k), err) from None
        return out, attempt

    def _attempts_read(self, item: tuple, responses: list[Any], upto: int,
                       next_page: int | None) -> Iterator[Page]:
        """Run `item`'s attempts below `upto` are read: a page with them (if any)."""
        rid, below, attempt, created = item
        self.attempts[rid] = [max(upto, below), created]
        if upto >= attempt:
            self.pending.remove([rid, attempt, created])
        if responses:
            yield Page([_slim(r.data) for r in responses if r.data],
                       cursor=self.checkpoint(next_page),
                       raw_size=sum(r.size for r in responses))

    def done_below(self, rid: str) -> int:
        """Attempts below this one were read before."""
        return int((self.attempts.get(rid) or [1])[0])

    def track(self, run: dict[str, Any]) -> dict[str, Any]:
        """The run, slimmed; remembered while it is not completed."""
        rid = str(run["id"])
        if run.get("status") == "completed":
            self.open.pop(rid, None)
        else:
            self.open[rid] = _created(run)
        return _slim(run)

    def expand(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The runs plus the earlier attempts of re-runs not read before; tracks open runs."""
        out: list[dict[str, Any]] = []
        for run in map(self.track, runs):
            rid = str(run["id"])
            attempt = _attempt(run)
            done_below = self.done_below(rid)
            for k in range(done_below, attempt):
                try:
                    resp = self.gh.get(f"{self.url}/{rid}/attempts/{k}")
                except NotFound:
                    continue
                if resp.data:
                    out.append(_slim(resp.data))
            if attempt > 1:
                self.attempts[rid] = [max(attempt, done_below), _created(run)]
            out.append(run)
        return out

    # -- runs older than the window that were still running ---------------------------------
    def poll_open(self, next_boundary: str | None, keep: dict[str, str]) -> Iterator[Page]:
        for rid, created in sorted(self.open.items(), key=lambda kv: kv[1]):
            if not next_boundary or created >= next_boundary:
                continue                    # the next pass's list covers it
            url = f"{self.url}/{rid}"
            try:
                resp = self.gh.cget(self.etags, url)
            except NotFound:
                self.open.pop(rid, None)
                continue
            if not resp.not_modified:
                yield Page(self.expand([resp.data]), raw_size=resp.size)
            if rid in self.open and resp.etag:
                keep[self.gh.key(url)] = resp.etag

    def finish(self) -> Iterator[Page]:
        next_boundary = _boundary(self.newest, self.ctx.config.runs_lookback_days, self.start)
        etags: dict[str, str] = {}
        yield from self.poll_open(next_boundary, etags)
        # the pages the next pass will read: up to the first reaching past its boundary
        pages: list[list] = []
        for (oldest, has_next), (key, etag) in zip(self.pages, self.page_etags, strict=True):
            pages.append([oldest, has_next])
            if etag:
                etags[key] = etag
            if not has_next or oldest is None or (next_boundary and oldest < next_boundary):
                break
        while len(self.open) > MAX_OPEN:
            self.open.pop(min(self.open, key=self.open.__getitem__))
        attempts = {rid: v for rid, v in self.attempts.items()
                    if rid in self.open or not next_boundary or v[1] >= next_boundary}
        cursor = {"newest": self.newest, "pages": pages, "open": self.open,
                  "attempts": attempts}
        yield Page([], cursor=cursor, etags=etags)


def run_pages(ctx: GitHubSession, partition: str, state: SyncState) -> Iterator[Page]:
    gh = GitHubClient(ctx, partition)
    try:
        run_pass = _Pass(ctx, gh, repo_info(ctx, gh, partition), state)
        yield from run_pass.list_pages()
        yield from run_pass.finish()
    finally:
        gh.audit_requests("workflow_runs", "builds", partition)
