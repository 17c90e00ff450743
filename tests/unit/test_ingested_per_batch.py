"""`ingested_at` is stamped per batch: each batch of a pass gets a time taken after the
previous batch was written, never before the pass's `last_sync_at`, so the store's
(entity, ingested_at, id) index grows at its end and a hub refresh from a mark finds every
record written since."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from dihub.config import Settings
from dihub.connectors.stream import Page, Stream
from dihub.engine import runner as runner_mod
from dihub.engine.runner import PassOptions, Runner
from dihub.hub.dataset import closed_mark
from dihub.models import User


def _norm(raw, ctx, partition):
    return User(source=ctx.source, source_id=str(raw["id"]), user_id=str(raw["id"]),
                source_user_id=str(raw["id"]), login=f"u{raw['id']}",
                updated_at="2026-01-01T00:00:00Z")


@pytest.fixture
def ticking(monkeypatch):
    """The runner's clock moves one minute per reading (stored format, second precision)."""
    minutes = itertools.count()
    monkeypatch.setattr(runner_mod, "now_iso", lambda: f"2026-03-01T10:{next(minutes):02d}:00Z")


def _stream(n_pages, per_page):
    def fetch(ctx, partition, state):
        for p in range(state.cursor or 0, n_pages):
            yield Page([{"id": p * per_page + i} for i in range(per_page)], cursor=p + 1)
    return Stream(name="people", entity="users", fetch=fetch, normalize=_norm,
                  partitions=lambda ctx: ["*"])


def test_each_batch_has_its_own_stamp_at_or_after_the_pass_start(store, ticking):
    r = Runner(store, "src", None, Settings(), options=PassOptions(batch_size=10))
    [result] = r.run_stream(_stream(4, 10))
    assert result.outcome == "ok" and result.written.inserted == 40
    state = store.get_state("src", "people", "*")
    docs = list(store.iter_records("users", "src"))
    by_batch: dict[str, set[int]] = {}
    for d in docs:
        by_batch.setdefault(d["ingested_at"], set()).add(int(d["source_id"]) // 10)
    # four batches (one page each), four stamps, each stamp one batch
    assert len(by_batch) == 4
    assert all(len(pages) == 1 for pages in by_batch.values())
    stamps = sorted(by_batch)
    assert [min(by_batch[s]) for s in stamps] == [0, 1, 2, 3]   # later batch, later stamp
    assert stamps[0] >= state.last_sync_at
    # what a refresh reads from the pass's start: every record of the pass, in order
    read = [d["_id"] for d in store.iter_ingested_since("users", state.last_sync_at)]
    assert sorted(read) == sorted(d["_id"] for d in docs)
    # and from the stamp of the last batch: that batch only
    assert {int(d["source_id"]) // 10
            for d in store.iter_ingested_since("users", stamps[-1])} == {3}


def test_a_refresh_mark_taken_mid_pass_misses_no_later_batch(store, ticking, monkeypatch):
    """closed_mark during a pass (live lease) is at most the pass's start: records of
    batches written after the mark was taken have later stamps and are read next time."""
    marks: list[str] = []
    r = Runner(store, "src", None, Settings(), options=PassOptions(batch_size=10))
    original = store.upsert_many

    def spying(records):
        if not marks:     # first write of the pass: the lease is live, take a mark now
            marks.append(closed_mark(store, now=datetime(2026, 3, 1, 12, tzinfo=UTC)))
        return original(records)

    monkeypatch.setattr(store, "upsert_many", spying)
    r.run_stream(_stream(3, 10))
    state = store.get_state("src", "people", "*")
    assert marks and marks[0] <= state.last_sync_at
    assert len(list(store.iter_ingested_since("users", marks[0]))) == 30
