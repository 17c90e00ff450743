"""The cursor of a stream that reads something for each stored record updated since it
(dihub/connectors/each_updated.py): it passes only parents yielded without a gap, and
never stops inside a run of parents updated in the same second. The streams built on it
are tested in tests/unit/github/test_reviews.py and tests/unit/gitlab/test_jobs.py."""

from __future__ import annotations

import pytest

from dihub.connectors.each_updated import WrittenPrefix


@pytest.mark.parametrize("order", [
    [0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3], [1, 2, 3, 4, 0]])
def test_the_cursor_moves_past_a_written_prefix_only_and_never_into_a_same_second_run(order):
    updated = ["t1", "t2", "t2", "t3", "t4"]
    mark = WrittenPrefix(updated, None)
    written: set[int] = set()
    for i in order:
        written.add(i)
        moved = mark.yielded(i)
        # everything at or before the cursor is written
        if mark.cursor is not None:
            assert {k for k, u in enumerate(updated) if u <= mark.cursor} <= written
        if moved is not None:
            assert moved == mark.cursor
    assert mark.cursor == "t4"


def test_the_cursor_from_before_the_pass_stays_until_the_first_parent_is_written():
    mark = WrittenPrefix(["t5", "t6"], "t4")
    assert mark.yielded(1) is None and mark.cursor == "t4"
    assert mark.yielded(0) == "t6"
