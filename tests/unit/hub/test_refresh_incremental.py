"""The hub's refresh and the metrics' facts read only what was written since their mark
(Store.iter_ingested_since), and the mark never passes a write still to commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dihub.hub import dataset, refresh
from dihub.hub.dataset import CLOSE_MARGIN, closed_mark
from dihub.hub.facts import Facts
from dihub.models import SyncState
from dihub.timeutil import parse, to_iso, utcnow
from tests.unit.hub.hubdata import put, settings, settled_clock, store
from tests.unit.hub.test_links import CFG, _base, _commit

C9 = "c9" * 20


class CountingStore:
    """A store that counts the documents its record reads yield."""

    def __init__(self, inner: Any):
        self.inner, self.read = inner, 0

    def _count(self, docs):
        for doc in docs:
            self.read += 1
            yield doc

    def iter_records(self, *args, **kwargs):
        return self._count(self.inner.iter_records(*args, **kwargs))

    def iter_ingested_since(self, *args, **kwargs):
        return self._count(self.inner.iter_ingested_since(*args, **kwargs))

    def query(self, *args, **kwargs):
        page = self.inner.query(*args, **kwargs)
        self.read += len(page.records)
        return page

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_refresh_with_nothing_new_reads_no_record(tmp_path, monkeypatch):
    settled_clock(monkeypatch)
    s = store(tmp_path)
    _base(s)
    cfg = settings(tmp_path, CFG)
    first = CountingStore(s)
    refresh(first, cfg)
    assert first.read > 10
    for _ in range(2):
        counted = CountingStore(s)
        result = refresh(counted, cfg)
        assert counted.read == 0 and not result.full and result.linked_records == 0
    facts = Facts().refresh(s)
    counted = CountingStore(s)
    facts.refresh(counted)
    assert counted.read == 0 and sum(facts.last_read.values()) == 0

    # one new commit: that one is read (by the refresh, and by the facts)
    put(s, _commit(C9, "ENG-1 more", ts="2026-03-09T00:00:00Z"), at="2026-03-09T00:00:05Z")
    counted = CountingStore(s)
    result = refresh(counted, cfg)
    assert result.read["commits"] == 1 and result.linked_records == 1
    counted = CountingStore(s)
    facts.refresh(counted)
    assert facts.last_read["commits"] == 1


def _lease(s, began: str | None):
    lease = s.acquire_lease("git", "commits", "main", "worker-1", 600)
    s.put_state(SyncState(source="git", stream="commits", partition="main",
                          status="running", last_sync_at=began), lease=lease)


def test_the_mark_stops_at_the_start_of_a_pass_still_running(tmp_path):
    s = store(tmp_path)
    now = utcnow()                  # leases are timed by the store's (real) clock
    began = to_iso(now - timedelta(hours=1))
    assert closed_mark(s, now) == to_iso(now - CLOSE_MARGIN)
    _lease(s, began)
    assert closed_mark(s, now) == began
    s.release_lease("git", "commits", "main", "worker-1")
    assert closed_mark(s, now) == to_iso(now - CLOSE_MARGIN)
    _lease(s, None)                 # a live lease that does not say when it began
    assert closed_mark(s, now) == ""


def test_a_batch_committed_after_a_concurrent_refresh_is_read_next_time(tmp_path,
                                                                        monkeypatch):
    """A pass stamps its records when it starts and commits them batch by batch; a refresh
    between two batches, after another (later-stamped) write, must not skip the second."""
    s = store(tmp_path)
    cfg = settings(tmp_path, CFG)
    clock = {"now": parse("2026-03-02T12:00:00Z")}
    monkeypatch.setattr(dataset, "utcnow", lambda: clock["now"])
    began = "2026-03-02T10:00:00Z"
    _lease(s, began)
    put(s, _commit("d1" * 20, "first batch"), at=began)
    put(s, _commit("e1" * 20, "another source's pass", ts="2026-03-02T11:00:00Z"),
        at="2026-03-02T11:00:00Z")
    first = refresh(s, cfg)
    assert first.read["commits"] == 2
    put(s, _commit("d2" * 20, "second batch"), at=began)        # commits after the refresh
    s.release_lease("git", "commits", "main", "worker-1")
    clock["now"] += timedelta(hours=1)
    again = refresh(s, cfg)
    assert again.read["commits"] == 3      # re-read from the pass's start: d2 is not lost
    assert refresh(s, cfg).read["commits"] == 0
