"""Reading something for each stored record updated since a stream's cursor.

GitHub's `reviews` read each pull request's reviews, GitLab's `jobs` each pipeline's
jobs: one request (or a few pages) per parent record the store holds, updated since the
last pass. What such a request returns does not depend on when, or in which order, it is
read, so `pages_for_each` reads `width` parents at once (dihub/http/paging.py,
`pages_at_once`) and yields each parent's items as a page as they arrive.

The cursor is the parents' `updated_at`, and the next pass reads only the parents
updated after it. So a page moves it only past parents whose items, and those of every
older one, are yielded (`WrittenPrefix`), and never into a run of parents with the same
`updated_at` not all yielded (a pass stopped between two parents updated in the same
second would skip the second one). A stopped pass reads again at most the parents that
were in flight and the rest of such a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from dihub.connectors.stream import Page
from dihub.http.paging import pages_at_once


class WrittenPrefix:
    """The cursor as parents are yielded out of order: `updated` are the pass's parents'
    `updated_at`, ascending, and `cursor` the one the pass started from."""

    def __init__(self, updated: list[str], cursor: str | None):
        self.updated = updated
        self.cursor = cursor
        self._prefix = 0                  # parents 0 .. _prefix-1 are yielded
        self._yielded: set[int] = set()   # yielded beyond the prefix

    def yielded(self, i: int) -> str | None:
        """Parent `i`'s items are yielded: the new cursor, or None if it stays."""
        self._yielded.add(i)
        while self._prefix in self._yielded:
            self._yielded.discard(self._prefix)
            self._prefix += 1
        k, updated = self._prefix, self.updated
        while 0 < k < len(updated) and updated[k] == updated[k - 1]:
            k -= 1                        # not into a run of equal `updated_at`
        if k and (self.cursor is None or updated[k - 1] > self.cursor):
            self.cursor = updated[k - 1]
            return self.cursor
        return None


def pages_for_each(parents: list[tuple[str, Any]], read: Callable[[Any], tuple[list, int]],
                   width: int, cursor: str | None) -> Iterator[Page]:
    """A page per parent: `parents` are (updated_at, key) in ascending order, updated
    after `cursor`; `read(key)` returns the parent's items and the bytes read. A page's
    cursor is {"updated": ...} when it moves (see the module's docstring)."""
    mark = WrittenPrefix([updated for updated, _ in parents], cursor)
    for i, (items, size) in pages_at_once(lambda i: read(parents[i][1]),
                                          range(len(parents)), width):
        moved = mark.yielded(i)
        if moved is None:
            yield Page(items, raw_size=size)
        else:
            yield Page(items, cursor={"updated": moved}, raw_size=size)
