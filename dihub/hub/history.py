"""The commits a pull request brought: reachable from its head and not from its base.

    only_in_head(dataset, head, base, limit, max_walk) -> [sha, ...]

The walk is git's merge-base paint (`git log base..head` without the whole history): the
stored commits are visited newest first (by commit time), each painted with the sides that
reach it (HEAD, BASE); it stops when every commit still queued is reached by both. So it
looks at the pull request's commits and those its base gained since they forked, whatever
the store holds, and asks the store for the parents of one commit at a time
(Dataset.commits_by_shas, the store's sha index). A commit not stored ends its line.

Commit times that go back in time along a line (a wrong clock) can end the walk early; as
in git, the commits found are still reachable from head, and at most `max_walk` commits are
looked at.
"""

from __future__ import annotations

import heapq
from typing import Any

from dihub.timeutil import parse

HEAD, BASE, BOTH = 1, 2, 3


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
    paint(head, HEAD)
    paint(base, BASE)
    found: list[str] = []
    walked = 0
    while queue and walked < max_walk and len(found) < limit:
        if all(flags[sha] == BOTH for _, sha in queue):
            break
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
