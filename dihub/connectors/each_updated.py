"""Reading something for each stored record updated since a stream's cursor.

GitHub's `reviews` read each pull request's reviews, GitLab's `jobs` each pipeline's
jobs: one request (or a few pages) per parent record the store holds, updated since the
last pass. What such a request returns does not depend on when, or in which order, it is
read, so `pages_for_each` reads `width` parents at once (dihub/http/paging.py,
`pages_at_once`) and yields each parent's items as a page as they arrive.

The cursor is {"updated": U, "done": {key: updated_at}}: the next pass reads the parents
updated after U, but for those `done` names with that same `updated_at` (read already; a
parent updated since is read again). U moves only past parents whose items, and those of
every older one, are yielded (`WrittenPrefix`), and never into a run of parents with the
same `updated_at` not all yielded (the next pass reads only what is newer than U); the
parents yielded beyond U are `done`. So a pass stopped anywhere (a quota reserve reached,
a kill) reads again at most the parents that were in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from dihub.connectors.stream import Page
from dihub.http.paging import pages_at_once


class WrittenPrefix:
    """The cursor as parents are yielded out of order: `parents` are the pass's
    (updated_at, key), ascending; `cursor` the `updated` the pass started from, `done`
    the parents (key -> updated_at) a stopped pass yielded beyond it."""

    def __init__(self, parents: list[tuple[str, Any]], cursor: str | None,
                 done: dict[str, str] | None = None):
        self.updated = [updated for updated, _ in parents]
        self.keys = [str(key) for _, key in parents]
        self.cursor = cursor
        self._prefix = 0                  # parents 0 .. _prefix-1 are yielded
        self._yielded: set[int] = set()   # yielded beyond the prefix
        done = done or {}
        self.todo = [i for i, (updated, key) in enumerate(parents)
                     if done.get(str(key)) != updated]
        for i in set(range(len(parents))) - set(self.todo):
            self._advance(i)

    def _advance(self, i: int) -> None:
        self._yielded.add(i)
        while self._prefix in self._yielded:
            self._yielded.discard(self._prefix)
            self._prefix += 1

    def yielded(self, i: int) -> dict[str, Any]:
        """Parent `i`'s items are yielded: the cursor now."""
        self._advance(i)
        k, updated = self._prefix, self.updated
        while 0 < k < len(updated) and updated[k] == updated[k - 1]:
            k -= 1                        # not into a run of equal `updated_at`
        if k and (self.cursor is None or updated[k - 1] > self.cursor):
            self.cursor = updated[k - 1]
        beyond = sorted(set(range(k, self._prefix)) | self._yielded)
        cursor: dict[str, Any] = {} if self.cursor is None else {"updated": self.cursor}
        if beyond:
            cursor["done"] = {self.keys[j]: updated[j] for j in beyond}
        return cursor


def pages_for_each(parents: list[tuple[str, Any]], read: Callable[[Any], tuple[list, int]],
                   width: int, saved: Any) -> Iterator[Page]:
    """A page per parent: `parents` are (updated_at, key) in ascending order, updated
    after the saved cursor's `updated`; `saved` is the stream's cursor (see the module's
    docstring); `read(key)` returns the parent's items and the bytes read."""
    saved = saved if isinstance(saved, dict) else {}
    done = saved.get("done") if isinstance(saved.get("done"), dict) else None
    mark = WrittenPrefix(parents, saved.get("updated"), done)
    for i, (items, size) in pages_at_once(lambda i: read(parents[i][1]), mark.todo, width):
        yield Page(items, cursor=mark.yielded(i), raw_size=size)
