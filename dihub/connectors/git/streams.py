"""The git `commits` stream: incremental by the set of heads already ingested.

Cursor: {"heads": [sha, ...]} once a pass completes. While a pass runs, each
checkpoint also holds the target heads and how many commits (in git's
deterministic oldest-first order) are durable, so a killed run resumes where
it stopped instead of starting over.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

from dihub.connectors.git.client import GitRepo, is_tag
from dihub.connectors.git.normalize import normalize_commit
from dihub.connectors.session import Once, Session
from dihub.connectors.stream import Page, Stream
from dihub.models import SyncState


class GitSession(Session):
    """The run's repository (opened once), its heads, and the users seen so far."""

    def __init__(self, run: Any):
        super().__init__(run)
        self.opened: Once[tuple[GitRepo, str]] = Once()    # (repo, name on records)
        self.branch_of: dict[str, str] = {}                # head sha -> ref, this pass
        self.user_seen: Once[dict[str, str]] = Once()

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
# those only tags reach. A checkpoint of another order is not resumed by count.
ORDER = "branches,tags"


def commit_pages(ctx: GitSession, partition: str, state: SyncState) -> Iterator[Page]:
    repo = ctx.repo
    heads = repo.heads(ctx.config.branches)
    ctx.branch_of.clear()
    ctx.branch_of.update(heads)
    target = sorted(heads)
    branch_tips = sorted(s for s, ref in heads.items() if not is_tag(ref))
    tag_tips = sorted(s for s, ref in heads.items() if is_tag(ref))
    cursor = state.cursor or {}
    done_heads = [s for s in cursor.get("heads", []) if s in heads or repo.exists(s)]
    skip = 0
    if (cursor.get("target") == target and cursor.get("heads") == done_heads
            and cursor.get("order") == ORDER):
        skip = int(cursor.get("done", 0))
    # a commit any branch reaches is read (and labelled) from a branch, never from a tag
    walks = [(branch_tips, done_heads), (tag_tips, [*done_heads, *branch_tips])]
    ctx.progress_total(partition, max(0, sum(repo.count(*w) for w in walks) - skip))
    batch_size = ctx.settings.store.batch_size if ctx.settings else 1000
    items: list[dict] = []
    n = 0
    for raw in chain.from_iterable(repo.log(*w) for w in walks):
        n += 1
        if n <= skip:
            continue
        items.append(raw)
        if len(items) >= batch_size:
            yield Page(items, cursor={"heads": done_heads, "target": target, "done": n,
                                      "order": ORDER},
                       raw_size=sum(len(i["message"]) + 200 for i in items))
            items = []
    yield Page(items, cursor={"heads": target},
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
    return normalize_commit(raw, ctx.source, ctx.name, ctx.branch_of, _user_seen(ctx))


commits = Stream(
    name="commits", entity="commits", cursor_field="timestamp",
    fetch=commit_pages, normalize=_normalize, also_emits=("users",),
    description="Commits of all refs (or the configured branches), authors and committers "
                "as users. Incremental by the heads already ingested.",
)
