"""Thread replies read ahead once the upstream fails transiently (messages._Ahead): the
pass stores the same records with the same thread reads, a thread whose call waits does
not stop the reads after it, and a healthy run reads one thread at a time."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from unittest.mock import patch

from dihub.connectors.slack.client import AheadWeight
from dihub.connectors.slack.messages import AHEAD, AHEAD_BYTES, ChannelPass, _Ahead
from dihub.engine.counters import Counters
from dihub.http.accounting import Recorder
from tests.simulators.slack.data import Workspace


def _workspace() -> Workspace:
    ws = Workspace.generate(channels=3, messages=400, thread_ratio=0.3, max_replies=6,
                            users=8, seed=5)
    for ch in ws.channels.values():
        ws.edit(ch.id, ch.threads[ch.parents()[1]["ts"]][0]["ts"], "an edited reply")
        ws.delete(ch.id, ch.parents()[2]["ts"])
    return ws


def _threads_of_calls(source) -> dict[str, int]:
    """How many replies calls each thread read."""
    seen: dict[str, int] = {}
    for method, params in source.client.calls:
        if method == "conversations.replies":
            seen[params["ts"]] = seen.get(params["ts"], 0) + 1
    return seen


def _watch_threads(source) -> list[str]:
    names: list[str] = []
    call = source.client.call

    def watched(*args, **kwargs):
        names.append(threading.current_thread().name)
        return call(*args, **kwargs)
    source.client.call = watched
    return names


def test_read_ahead_stores_the_same_records_with_the_same_reads(slack_source):
    ws = _workspace()
    one_by_one = slack_source(ws, page_size=100)
    plain_threads = _watch_threads(one_by_one)
    one_by_one.sync()

    ahead = slack_source(ws, page_size=100)
    ahead_threads = _watch_threads(ahead)
    with patch.object(ChannelPass, "_failing", lambda self: True):
        ahead.sync()

    assert ahead.docs.keys() == one_by_one.docs.keys()
    assert {k: {f: v for f, v in d.items() if f != "signature"} for k, d in
            ahead.docs.items()} == {k: {f: v for f, v in d.items() if f != "signature"}
                                    for k, d in one_by_one.docs.items()}
    assert ahead.states.keys() == one_by_one.states.keys()
    for partition, state in ahead.states.items():
        want = one_by_one.states[partition].cursor
        assert {k: v for k, v in state.cursor.items() if k != "scanned_at"} == \
            {k: v for k, v in want.items() if k != "scanned_at"}, partition
    # every thread read once, as without reading ahead
    assert _threads_of_calls(ahead) == _threads_of_calls(one_by_one)
    assert set(_threads_of_calls(ahead).values()) == {1}
    # ...and the reads ran in the run's replies pool, not in the pass
    assert not any("replies" in n for n in plain_threads)
    assert sum("replies" in n for n in ahead_threads) > 100


def test_a_thread_whose_read_waits_does_not_stop_the_reads_after_it():
    parents = [f"p{i}" for i in range(40)]
    release = threading.Event()
    read: list[str] = []
    lock = threading.Lock()

    def fetch(parent: str) -> str:
        if parent == "p0":
            assert release.wait(10)          # a Retry-After the pass must not wait out
        with lock:
            read.append(parent)
        return parent

    with ThreadPoolExecutor(max_workers=4) as pool:
        ahead = _Ahead(fetch, pool, parents, lambda: True)
        first = ahead.take("p0")
        deadline = threading.Event()
        for _ in range(200):
            with lock:
                if len(read) >= AHEAD:
                    break
            deadline.wait(0.01)
        with lock:
            assert sorted(read, key=lambda p: int(p[1:])) == parents[1:AHEAD + 1]
        assert not first.done()
        release.set()
        assert first.result(timeout=10) == "p0"
        # taken in the pass's order; never more than AHEAD beyond the one taken
        for parent in parents[1:]:
            assert ahead.take(parent).result(timeout=10) == parent
            assert len(ahead._futures) <= AHEAD
        ahead.close()


def test_a_healthy_run_reads_nothing_ahead():
    submitted: list[str] = []

    class Pool:
        def submit(self, fn, *args):
            submitted.append(args[0])
            raise AssertionError("nothing is read ahead while the upstream is healthy")

    ahead = _Ahead(lambda p: p, Pool(), ["a", "b", "c"], lambda: False)
    assert [ahead.take(p) for p in "abc"] == [None, None, None]
    assert submitted == []


def test_a_stopped_pass_cancels_the_reads_not_started():
    gate = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = _Ahead(lambda p: gate.wait(10), pool, [str(i) for i in range(AHEAD + 10)],
                       lambda: True)
        ahead.take("0")
        pending = list(ahead._futures.values())
        ahead.close()
        gate.set()
    assert sum(f.cancelled() for f in pending) >= AHEAD - 1


class _Sized:
    def __init__(self, size: int):
        self.size = size


class _AtOnce:
    """A pool that runs each read when it is submitted."""

    def submit(self, fn, *args):
        from concurrent.futures import Future
        future: Future = Future()
        future.set_result(fn(*args))
        return future


def _held_after_each_take(size: int, parents: int = 120) -> tuple[list[int], list[str]]:
    read: list[str] = []

    def reader(p):
        read.append(p)
        return _Sized(size)

    names = [str(i) for i in range(parents)]
    ahead = _Ahead(reader, _AtOnce(), names, lambda: True)
    held = []
    for p in names:
        future = ahead.take(p)
        if future is None:               # not read ahead: the pass reads it itself
            reader(p)
        held.append(sum(f.result().size for f in ahead._futures.values()))
    return held, read


def test_pages_read_ahead_stop_more_reads_once_they_weigh_ahead_bytes():
    """Long threads' first pages: none more is read while those not taken yet weigh
    AHEAD_BYTES, and every thread is still read, once."""
    heavy = AHEAD_BYTES // 3 + 1
    held, read = _held_after_each_take(heavy)
    assert max(held) <= AHEAD_BYTES + heavy
    assert sorted(read, key=int) == [str(i) for i in range(120)]
    # light pages: the window fills up to AHEAD threads ahead
    held, read = _held_after_each_take(1)
    assert max(held) == AHEAD
    assert sorted(read, key=int) == [str(i) for i in range(120)]


def test_only_transient_retries_arm_it():
    counters = Counters()
    recorder = Recorder(source="slack", run_id="r", counters=counters)
    kw = dict(method="GET", path="conversations.replies", attempt=1, wait_s=1.0,
              reason=None, error="x", status=None)
    recorder.retry(rate_limited=True, **kw)          # a 429: a limit, not a failure
    assert counters.retries == 1 and counters.transient_retries == 0
    recorder.retry(rate_limited=False, **kw)         # a 503, a dropped connection
    assert counters.retries == 2 and counters.transient_retries == 1

    class Ctx:
        metrics = counters
    pass_ = ChannelPass.__new__(ChannelPass)
    pass_.ctx = Ctx()
    assert pass_._failing() is True
    Ctx.metrics = Counters()
    assert pass_._failing() is False


def test_the_weight_read_ahead_is_shared_by_the_passes_of_a_run():
    """Several channel passes under way hold AHEAD_BYTES between them, not each; a pass
    that stops gives back what its unused pages weighed."""
    weight = AheadWeight()
    sizes = {"0": 1}
    first = _Ahead(lambda p: _Sized(sizes.get(p, AHEAD_BYTES)), _AtOnce(),
                   [str(i) for i in range(10)], lambda: True, weight)
    first.take("0")                          # thread 1 read ahead: the run's bound is held
    assert weight.held == AHEAD_BYTES
    started: list[str] = []
    second = _Ahead(lambda p: started.append(p) or _Sized(1), _AtOnce(),
                    ["a", "b", "c"], lambda: True, weight)
    assert second.take("a") is None and started == []
    first.close()                            # thread 1 is never taken: it weighs nothing
    assert weight.held == 0
    assert second.take("b") is not None and started == ["b", "c"]
    assert weight.held == 1                  # c, read ahead and not taken yet
    second.close()
    assert weight.held == 0
