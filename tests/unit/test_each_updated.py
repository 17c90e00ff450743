"""The cursor of a stream that reads something for each stored record updated since it
(dihub/connectors/each_updated.py): whatever order the parents arrive in, the next pass
reads exactly the parents not yielded yet, and a cursor never stops inside a run of
parents updated in the same second. The streams built on it are tested in
tests/unit/github/test_reviews.py and tests/unit/gitlab/test_jobs.py."""

from __future__ import annotations

import itertools

import pytest

from dihub.connectors.each_updated import WrittenPrefix

PARENTS = [("t1", 10), ("t2", 11), ("t2", 12), ("t3", 13), ("t4", 14), ("t4", 15)]


def _next_pass(parents, cursor) -> set:
    """The keys a pass started from `cursor` reads: updated after it, not done."""
    upto = cursor.get("updated")
    later = [(u, k) for u, k in parents if upto is None or u > upto]
    return {later[i][1] for i in WrittenPrefix(later, upto, cursor.get("done")).todo}


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(PARENTS))))[::37])
def test_the_next_pass_reads_exactly_what_was_not_yielded(order):
    mark = WrittenPrefix(PARENTS, None)
    yielded: set = set()
    for i in order:
        yielded.add(PARENTS[i][1])
        cursor = mark.yielded(i)
        assert _next_pass(PARENTS, cursor) == {k for _, k in PARENTS} - yielded
        upto = cursor.get("updated")
        if upto is not None:       # never inside a run of one second not all yielded
            assert {k for u, k in PARENTS if u == upto} <= yielded
    assert cursor == {"updated": "t4"}


def test_a_parent_named_done_is_read_again_once_it_was_updated_since():
    mark = WrittenPrefix(PARENTS, None, {"12": "t2", "14": "t3"})   # 14 changed since
    assert [PARENTS[i][1] for i in mark.todo] == [10, 11, 13, 14, 15]
    assert mark.yielded(0) == {"updated": "t1", "done": {"12": "t2"}}
    assert mark.yielded(1) == {"updated": "t2"}                       # 10, 11, 12 all read


def test_the_cursor_from_before_the_pass_stays_until_the_first_parent_is_written():
    mark = WrittenPrefix([("t5", 1), ("t6", 2)], "t4")
    assert mark.yielded(1) == {"updated": "t4", "done": {"2": "t6"}}
    assert mark.yielded(0) == {"updated": "t6"}
