"""Batches are bounded by bytes as well as by count: buffered pages without a cursor are
written once their upstream payload reaches `batch_bytes` (store.batch_bytes)."""

from __future__ import annotations

from dihub.config import Settings
from dihub.connectors.stream import Page, Stream
from dihub.engine.runner import DEFAULT_BATCH_BYTES, PassOptions, Runner
from dihub.models import User


def _norm(raw, ctx, partition):
    return User(source=ctx.source, source_id=str(raw["id"]), user_id=str(raw["id"]),
                source_user_id=str(raw["id"]), login=f"u{raw['id']}")


def _fetch(sizes, per_page=5):
    """Pages without a cursor (they never checkpoint on their own), of the given sizes."""
    def fetch(ctx, partition, state):
        for p, size in enumerate(sizes):
            yield Page([{"id": p * per_page + i} for i in range(per_page)], raw_size=size)
    return fetch


def _batches(store, sizes, settings=None, **opts):
    stream = Stream(name="people", entity="users", fetch=_fetch(sizes), normalize=_norm)
    Runner(store, "src", None, settings or Settings(),
           options=PassOptions(**opts)).run_stream(stream)
    batches = [a for a in store.query_audit(source="src") if a.action == "batch"]
    return sorted((a.records, a.payload_size) for a in batches)


def test_pages_are_written_once_their_payload_reaches_batch_bytes(store):
    # 100 KiB pages, a 250 KiB bound: written after 3 pages (300 KiB), 3 again, then the rest
    kib = 1024
    assert _batches(store, [100 * kib] * 8, batch_size=1000, batch_bytes=250 * kib) == [
        (10, 200 * kib), (15, 300 * kib), (15, 300 * kib)]
    assert store.count("users", "src") == 40


def test_the_count_bound_still_applies_and_pages_without_a_size_count_by_records(store):
    assert _batches(store, [0] * 6, batch_size=10, batch_bytes=1024) == [
        (10, 0), (10, 0), (10, 0)]


def test_batch_bytes_comes_from_the_store_settings(store):
    settings = Settings.model_validate({"store": {"batch_bytes": 128 * 1024}})
    assert settings.store.batch_bytes == 128 * 1024
    assert Settings().store.batch_bytes == DEFAULT_BATCH_BYTES
    assert _batches(store, [64 * 1024] * 4, settings, batch_size=1000) == [
        (10, 128 * 1024), (10, 128 * 1024)]
