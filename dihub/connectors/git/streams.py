"""The git `commits` stream: incremental by the set of heads already ingested.

Cursor: {"heads": [sha, ...]}, every tip a finished pass read. A run whose tips are all
there reads nothing (one `for-each-ref`); otherwise it walks only the commits the
finished heads do not reach (`git log new --not heads`), so a run costs the refs and
the new commits, not the history. While a pass runs, each checkpoint also holds a
digest of the walks and how many commits (in git's deterministic newest-first order)
are durable, so a killed run resumes where it stopped (git skips the durable ones
without diffing them) instead of starting over.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from dihub.connectors.git.client import GitRepo, is_tag
from dihub.connectors.git.normalize import normalize_commit
from dihub.connectors.session import Once, Session
from dihub.connectors.stream import Page, Stream
from dihub.errors import FatalError
from dihub.models import SyncState
from dihub.models.plain import build


class GitSession(Session):
    """The run's repository (opened once), its heads, and the users seen so far."""

    def __init__(self, run: Any):
        super().__init__(run)
        self.opened: Once[tuple[GitRepo, str]] = Once()    # (repo, name on records)
        self.branch_of: dict[str, str] = {}                # head sha -> ref, this pass
        self.user_seen: Once[dict[str, str]] = Once()
        self.user_emitted: dict[str, tuple] = {}           # see git.normalize, this pass

    @property
    def repo(self) -> GitRepo:
        return self._open()[0]

    @property
    def name(self) -> str:
        return self._open()[1]

    def _open(self) -> tuple[GitRepo, str]:
        def open_repo() -> tuple[GitRepo, str]:
            repo = GitRepo.open(self.config.repo)
            return repo, self.config.name or repo.name()
        return self.opened.get(open_repo)


# The order commits are read in (and `done` counts): the branches' commits first, then
# those only tags reach, each newest first. A checkpoint of another order is not
# resumed by count.
ORDER = "branches,tags;newest-first"


def _walks(ctx: GitSession, found: dict[str, str], done: list[str]
           ) -> list[tuple[list[str], list[str]]]:
    """The (include, exclude) walks of a pass that already read `done`'s history.

    A commit any branch reaches is read (and labelled) from a branch, never from a tag;
    tips the primary branch contains are left out, so it names its own history (see
    GitRepo.heads). Only the primary branch's commits since `done` are walked to find
    them; a tip `done` already reaches adds no commit either way."""
    repo = ctx.repo
    heads = dict(found)
    primary = repo.primary(found, ctx.config.branches)
    if primary is not None:
        sha, name = primary
        known = set(done)
        inside = repo.contained(sha, [s for s in found if s != sha and s not in known], done)
        heads = {sha: name, **{s: r for s, r in found.items() if s != sha and s not in inside}}
    ctx.branch_of.clear()
    ctx.branch_of.update(heads)
    known = set(done)
    branch_tips = sorted(s for s, ref in heads.items() if not is_tag(ref) and s not in known)
    tag_tips = sorted(s for s, ref in heads.items() if is_tag(ref) and s not in known)
    return [(branch_tips, done), (tag_tips, [*done, *branch_tips])]


def _count_for_display(ctx: GitSession, partition: str, walks) -> None:
    with suppress(FatalError):      # a failing git fails the walk itself, not this
        ctx.progress_total(partition, sum(ctx.repo.count(*w) for w in walks))


def commit_pages(ctx: GitSession, partition: str, state: SyncState) -> Iterator[Page]:
    repo = ctx.repo
    ctx.user_emitted.clear()        # a new pass: it has returned no user yet
    found = repo.tips(ctx.config.branches)
    cursor = state.cursor or {}
    finished = list(cursor.get("heads", []))
    if set(found) <= set(finished):
        # every tip was read by a finished pass: nothing to walk
        ctx.progress_total(partition, 0)
        yield Page([], cursor={"heads": sorted(found)})
        return
    stale = [s for s in finished if s not in found]
    present = repo.existing(stale) if stale else set()
    done = [s for s in finished if s in found or s in present]
    walks = _walks(ctx, found, done)
    digest = hashlib.sha1(json.dumps(walks).encode()).hexdigest()
    skip = 0
    if (cursor.get("target") == digest and cursor.get("heads") == done
            and cursor.get("order") == ORDER):
        skip = int(cursor.get("done", 0))
    if skip:        # where the durable commits end: counted before the walk
        counts = [repo.count(*w) for w in walks]
        ctx.progress_total(partition, max(0, sum(counts) - skip))
        counting = None
    else:           # the total is only for the progress display: the walk starts at once
        counts = [0 for _ in walks]
        counting = None
        if ctx.wants_total:         # not with --quiet: no one would see it
            counting = threading.Thread(target=_count_for_display,
                                        args=(ctx, partition, walks), daemon=True)
            counting.start()
    batch_size = ctx.settings.store.batch_size if ctx.settings else 1000
    items: list[dict] = []
    n = 0
    for (include, exclude), total in zip(walks, counts, strict=True):
        if skip and n + total <= skip:  # durable already: not even walked
            n += total
            continue
        passed = max(0, skip - n)       # git walks past these without diffing them
        n += passed
        for raw in repo.log(include, exclude, skip=passed):
            n += 1
            items.append(raw)
            if len(items) >= batch_size:
                yield Page(items, cursor={"heads": done, "target": digest, "done": n,
                                          "order": ORDER},
                           raw_size=sum(len(i["message"]) + 200 for i in items))
                items = []
    if counting is not None:
        counting.join()
    yield Page(items, cursor={"heads": sorted(found)},
               raw_size=sum(len(i["message"]) + 200 for i in items))


def _user_seen(ctx: GitSession) -> dict[str, str]:
    """{user key: latest commit time seen}, starting from the stored users on the first
    commit of a run, so a user's `updated_at` never moves back: not when a later pass reads
    older-dated commits, nor batch by batch during a full refresh."""
    def stored() -> dict[str, str]:
        users = ctx.store.iter_records("users", ctx.source) if ctx.store is not None else ()
        return {d["user_id"]: d["updated_at"] for d in users if d.get("updated_at")}
    return ctx.user_seen.get(stored)


def _normalize(raw: dict, ctx: GitSession, partition: str):
    return normalize_commit(raw, ctx.source, ctx.name, ctx.branch_of, _user_seen(ctx), build,
                            ctx.user_emitted)


commits = Stream(
    name="commits", entity="commits", cursor_field="timestamp",
    fetch=commit_pages, normalize=_normalize, also_emits=("users",),
    description="Commits of all refs (or the configured branches), authors and committers "
                "as users. Incremental by the heads already ingested.",
)
