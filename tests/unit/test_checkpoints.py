"""When a pass writes the pages it read (dihub/engine/runner.py, dihub/waits.py): pages with
a cursor wait for `batch_size` records, `batch_bytes`, or `checkpoint_s` after the oldest
of them arrived, and the pass writes what it holds before the HTTP client waits a second
or more. `checkpoint_s: 0` writes every page with a cursor at once."""

from __future__ import annotations

import threading
import time

import httpx

from dihub import waits
from dihub.config import Settings
from dihub.connectors.stream import Page, Stream
from dihub.engine.runner import DEFAULT_CHECKPOINT_S, PassOptions, Runner
from dihub.http.client import HttpClient
from dihub.models import User
from dihub.settings import HttpSettings
from dihub.store.errors import StoreNotWritable
from dihub.store.sqlite import SQLiteStore


def _norm(raw, ctx, partition):
    return User(source=ctx.source, source_id=str(raw["id"]), user_id=str(raw["id"]),
                source_user_id=str(raw["id"]), login=f"u{raw['id']}")


def _pages(n_pages, per_page=5, between=None, cursor=True):
    """Pages with a cursor (the page count read so far), or without; `between(p)` runs
    before page p."""
    def fetch(ctx, partition, state):
        for p in range(state.cursor or 0, n_pages):
            if between is not None:
                between(p)
            page = Page([{"id": p * per_page + i} for i in range(per_page)])
            if cursor:
                page.cursor = p + 1
            yield page
    return fetch


def _run(store, fetch, settings=None, **opts):
    stream = Stream(name="people", entity="users", fetch=fetch, normalize=_norm)
    [result] = Runner(store, "src", None, settings or Settings(),
                      options=PassOptions(**opts)).run_stream(stream)
    batches = [a.records for a in store.query_audit(source="src") if a.action == "batch"]
    return result, sorted(batches)


def test_pages_with_a_cursor_are_written_together_up_to_half_a_batch(store):
    result, batches = _run(store, _pages(10), batch_size=30, checkpoint_s=3600)
    assert result.outcome == "ok" and result.written.inserted == 50
    assert batches == [5, 15, 15, 15]
    assert store.get_state("src", "people", "*").cursor == 10


def test_pages_without_a_cursor_wait_for_a_whole_batch(store):
    _, batches = _run(store, _pages(12, cursor=False), batch_size=30, checkpoint_s=3600)
    assert batches == [30, 30]


def test_checkpoint_s_zero_writes_every_page_with_a_cursor_at_once(store):
    _, batches = _run(store, _pages(6), batch_size=20, checkpoint_s=0)
    assert batches == [5] * 6


def test_a_page_that_waited_checkpoint_s_is_written_with_the_next_one(store):
    # each page arrives more than checkpoint_s after the one before, so a page waits
    # unwritten at most until the next one arrives: no batch holds more than two pages
    def slow(p):
        time.sleep(0.06)
    _, batches = _run(store, _pages(4, between=slow), batch_size=100, checkpoint_s=0.05)
    assert sum(batches) == 20 and all(b <= 10 for b in batches) and len(batches) >= 2


def test_checkpoint_s_comes_from_the_store_settings(store):
    assert Settings().store.checkpoint_s == DEFAULT_CHECKPOINT_S
    settings = Settings.model_validate({"store": {"checkpoint_s": 0}})
    _, batches = _run(store, _pages(3), settings, batch_size=100)
    assert batches == [5, 5, 5]


def test_what_was_read_is_written_before_a_long_wait(store):
    seen = {}

    def before(p):
        if p == 3:      # the HTTP client is about to wait for a rate limit
            waits.announce(30.0)
            state = store.get_state("src", "people", "*")
            seen["cursor"], seen["stored"] = state.cursor, store.count("users", "src")
    _, batches = _run(store, _pages(5, between=before), batch_size=100, checkpoint_s=3600)
    assert seen == {"cursor": 3, "stored": 15}
    assert batches == [10, 15]


def test_a_short_wait_writes_nothing(store):
    seen = {}

    def before(p):
        if p == 3:
            waits.announce(waits.MIN_WAIT_S / 2)
            seen["stored"] = store.count("users", "src")
    _run(store, _pages(5, between=before), batch_size=100, checkpoint_s=3600)
    assert seen == {"stored": 0}


class _FailingStore(SQLiteStore):
    fail = False

    def upsert_many(self, records):
        if self.fail:
            raise StoreNotWritable("disk full")
        return super().upsert_many(records)


def test_a_write_that_fails_before_a_wait_fails_the_pass_at_the_next_page(tmp_path):
    store = _FailingStore(tmp_path / "s.db")
    fetched = []

    def before(p):
        fetched.append(p)
        if p == 2:
            store.fail = True
            waits.announce(10.0)        # must not raise into the connector's code
    result, _ = _run(store, _pages(5, between=before), batch_size=100, checkpoint_s=3600)
    assert result.outcome == "failed" and "disk full" in str(result.error)
    assert fetched == [0, 1, 2]         # stopped at the page after the wait
    state = store.get_state("src", "people", "*")
    assert state.cursor is None and store.count("users", "src") == 0
    store.close()


def test_the_http_client_announces_its_waits_in_this_thread_only():
    calls = iter([httpx.Response(503), httpx.Response(200, json={"ok": True})])
    slept, heard = [], []
    client = HttpClient("http://127.0.0.1:9", source="t",
                        settings=HttpSettings.model_validate(
                            {"retry": {"attempts": 3, "backoff_s": [2.0]}}),
                        transport=httpx.MockTransport(lambda request: next(calls)),
                        sleep=slept.append, rand=lambda: 0.0)
    with waits.before_waiting(heard.append):
        assert client.get("/x").data == {"ok": True}
        other = threading.Thread(target=waits.announce, args=(30.0,))  # another thread's
        other.start()
        other.join()
    assert slept and heard == slept and heard[0] >= waits.MIN_WAIT_S
    waits.announce(30.0)                                  # after the block: no hook
    assert heard == slept
    client.close()


def test_a_pass_holds_at_most_batch_size_records_whatever_the_pages(store):
    # pages of 7 with a bound of 10: each page is written before the next would pass it
    result, batches = _run(store, _pages(5, per_page=7, cursor=False), batch_size=10)
    assert result.written.inserted == 35 and batches == [7] * 5


def test_malloc_arenas_are_limited_once_unless_the_environment_says(monkeypatch):
    import ctypes

    from dihub import malloc

    calls = []

    class Libc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    monkeypatch.setattr(malloc, "_done", False)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    malloc.limit_arenas()
    malloc.limit_arenas()
    assert calls == [(-8, 2)]
    monkeypatch.setattr(malloc, "_done", False)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    malloc.limit_arenas()
    assert calls == [(-8, 2)]
