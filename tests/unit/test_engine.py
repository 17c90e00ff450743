"""The sync pass: records before cursor, flush on failure, skip, dry run, lease, metrics."""

from __future__ import annotations

from dihub.cli.summary import exit_code
from dihub.config import Settings
from dihub.connectors.stream import Page, Stream
from dihub.engine.runner import PassOptions, Runner
from dihub.errors import PartitionSkipped, RateLimited, SkippableRecord
from dihub.models import User


def _norm(raw, ctx, partition):
    if raw.get("bad"):
        raise SkippableRecord(f"item {raw['id']} has no login")
    return User(source=ctx.source, source_id=str(raw["id"]), user_id=str(raw["id"]),
                source_user_id=str(raw["id"]), login=raw.get("login", f"u{raw['id']}"),
                updated_at="2026-01-01T00:00:00Z")


def _pages(n_pages, per_page=10, fail_after=None, seen=None):
    def fetch(ctx, partition, state):
        if seen is not None:
            seen.append(state.cursor)
        start = state.cursor or 0
        for p in range(start, n_pages):
            if fail_after is not None and p == fail_after:
                raise RateLimited("slow down", reset_at=0)
            yield Page([{"id": p * per_page + i} for i in range(per_page)], cursor=p + 1)
    return fetch


def _stream(fetch, partitions=lambda ctx: ["*"]):
    return Stream(name="people", entity="users", fetch=fetch, normalize=_norm,
                  partitions=partitions)


def _runner(store, **opts):
    return Runner(store, "src", None, Settings(), options=PassOptions(batch_size=10, **opts))


def test_full_pass_writes_checkpoints_audits_and_meters(store):
    results = _runner(store).run_stream(_stream(_pages(3)))
    assert [r.outcome for r in results] == ["ok"]
    assert results[0].written.inserted == 30
    st = store.get_state("src", "people", "*")
    assert st.cursor == 3 and st.status == "ok" and st.lease_owner is None
    assert store.count("users", "src") == 30
    audit = store.query_audit(source="src")
    assert {a.action for a in audit} == {"batch", "sync"}
    assert store.query_metrics(source="src")[0].inserted == 30
    assert exit_code(results) == 0


def test_rerun_is_unchanged_and_writes_nothing(store):
    _runner(store, full_refresh=True).run_stream(_stream(_pages(2)))
    before = {d["_id"]: d["ingested_at"] for d in store.iter_records("users", "src")}
    r = _runner(store, full_refresh=True).run_stream(_stream(_pages(2)))[0]
    assert (r.written.inserted, r.written.updated, r.written.unchanged) == (0, 0, 20)
    assert {d["_id"]: d["ingested_at"] for d in store.iter_records("users", "src")} == before


def test_failure_keeps_pages_already_read_and_never_passes_them(store):
    r = _runner(store).run_stream(_stream(_pages(5, fail_after=2)))[0]
    assert r.outcome == "failed" and isinstance(r.error, RateLimited)
    st = store.get_state("src", "people", "*")
    assert st.cursor == 2 and st.status == "failed" and "slow down" in st.error
    assert store.count("users", "src") == 20
    assert exit_code([r]) == 75
    seen = []
    r2 = _runner(store).run_stream(_stream(_pages(5, seen=seen)))[0]
    assert seen == [2] and r2.outcome == "ok" and r2.written.inserted == 30


class _FailingStore:
    """Wraps a store; the Nth upsert raises as a crash would."""

    def __init__(self, inner, fail_on):
        self.inner, self.fail_on, self.calls = inner, fail_on, 0

    def upsert_many(self, docs):
        self.calls += 1
        if self.calls == self.fail_on:
            raise OSError("disk gone")
        return self.inner.upsert_many(docs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_cursor_never_moves_past_a_failed_write(store):
    r = _runner(_FailingStore(store, fail_on=2)).run_stream(_stream(_pages(4)))[0]
    assert r.outcome == "failed" and "disk gone" in str(r.error)
    assert store.get_state("src", "people", "*").cursor == 1
    assert store.count("users", "src") == 10


def test_skippable_record_is_audited_and_the_rest_written(store):
    def fetch(ctx, partition, state):
        yield Page([{"id": 1}, {"id": 2, "bad": True}, {"id": 3}], cursor="x")

    r = _runner(store).run_stream(_stream(fetch))[0]
    assert r.outcome == "ok" and r.written.inserted == 2
    skipped = store.query_audit(source="src", outcome="skipped")
    assert len(skipped) == 1 and "item 2 has no login" in skipped[0].error


def test_dry_run_writes_nothing(store):
    r = _runner(store, dry_run=True).run_stream(_stream(_pages(2)))[0]
    assert r.records == 20 and r.written.total == 0
    assert store.count("users") == 0 and store.list_states() == []
    assert store.query_audit() == [] and store.query_metrics() == []


def test_full_refresh_ignores_cursor(store):
    _runner(store).run_stream(_stream(_pages(2)))
    seen = []
    _runner(store, full_refresh=True).run_stream(_stream(_pages(2, seen=seen)))
    assert seen == [None]


def test_lease_held_by_live_other_run_is_busy(store):
    store.acquire_lease("src", "people", "*", "otherhost pid 1 run x", 60)
    r = _runner(store).run_stream(_stream(_pages(1)))[0]
    assert r.outcome == "busy" and "otherhost pid 1 run x" in str(r.error)
    assert exit_code([r]) == 75 and store.count("users") == 0


def test_partitions_run_concurrently_and_one_skip_is_not_a_failure(store):
    def fetch(ctx, partition, state):
        if partition == "locked":
            raise PartitionSkipped("not_in_channel: invite the bot")
        yield Page([{"id": f"{partition}-{i}"} for i in range(5)], cursor=1)

    stream = _stream(fetch, partitions=lambda ctx: ["a", "b", "locked", "c"])
    results = _runner(store, concurrency=3).run_stream(stream)
    assert sorted(r.outcome for r in results) == ["ok", "ok", "ok", "skipped"]
    assert store.count("users", "src") == 15
    assert exit_code(results) == 0
    assert store.query_audit(outcome="warning")[0].partition == "locked"
    only_skips = _runner(store).run_stream(_stream(fetch, partitions=lambda ctx: ["locked"]))
    assert exit_code(only_skips) == 1
