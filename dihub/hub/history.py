"""The commits a pull request brought: reachable from its head and not from its base.

    only_in_head(dataset, head, base, limit, max_walk) -> [sha, ...]

The walk is git's `rev-list base..head` (without reading the whole history): the stored
commits are visited newest first (by commit time), each painted with the sides that reach
it (HEAD, BASE); it stops a few commits (SLOP) after every commit still queued is reached
from base. So it looks at the pull request's commits and those its base gained since they
forked, whatever the store holds, and asks the store for the parents of one commit at a
time (Dataset.commits_by_shas, the store's sha index). A commit not stored ends its line;
a head not stored has no commits.

Commit times that go back in time along a line by more than SLOP commits (a wrong clock)
can end the walk early; as in git, the commits found are still reachable from head, and
at most `max_walk` commits are looked at.
"""

from __future__ import annotations

import heapq
from typing import Any

from dihub.timeutil import parse

HEAD, BASE = 1, 2
# Commits still walked once only base's side is queued, as git's `rev-list base..head`
# does: a commit whose time is a little earlier than its parent's is then still painted.
SLOP = 5


def _node(docs: list[dict[str, Any]]) -> tuple[float, list[str]]:
    """(commit time as epoch seconds, parent shas) of a commit's stored copies."""
    doc = next((d for d in docs if d.get("parents")), docs[0])
    stamp = doc.get("timestamp")
    try:
        when = parse(stamp).timestamp() if stamp else 0.0
    except ValueError:
        when = 0.0
    return when, [str(p).lower() for p in doc.get("parents") or []]


def only_in_head(dataset: Any, head: str, base: str, limit: int, max_walk: int) -> list[str]:
    """Up to `limit` shas reachable from `head` and not from `base`, newest first."""
    nodes: dict[str, tuple[float, list[str]]] = {}
    flags: dict[str, int] = {}
    queue: list[tuple[float, str]] = []

    def load(shas: list[str]) -> None:
        wanted = [s for s in shas if s not in nodes]
        if wanted:
            for sha, docs in dataset.commits_by_shas(wanted).items():
                if docs:
                    nodes[sha] = _node(docs)

    def paint(sha: str, side: int) -> None:
        old = flags.get(sha, 0)
        if old | side != old and sha in nodes:
            flags[sha] = old | side
            heapq.heappush(queue, (-nodes[sha][0], sha))

    head, base = head.lower(), base.lower()
    load([head, base])
    if head not in nodes:
        return []
    paint(head, HEAD)
    paint(base, BASE)
    found: list[str] = []
    walked, slop = 0, SLOP
    while queue and walked < max_walk and len(found) < limit:
        # what is still queued and reached from base is an ancestor of base, and so is
        # all it reaches: once nothing else is queued, nothing more is only in head
        if all(flags[sha] & BASE for _, sha in queue):
            slop -= 1
            if slop <= 0:
                break
        else:
            slop = SLOP
        _, sha = heapq.heappop(queue)
        walked += 1
        side = flags[sha]
        if side == HEAD and sha not in found:
            found.append(sha)
        parents = nodes[sha][1]
        load(parents)
        for parent in parents:
            paint(parent, side)
    return [sha for sha in found if flags[sha] == HEAD]
