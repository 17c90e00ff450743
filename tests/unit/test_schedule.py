"""When a run's streams and partitions work (dihub/engine/schedule.py): the streams of a
run together, within `http.concurrency` places; a stream after the streams it reads; a
partition that sits out its own retry lends its place to one that has not started."""

from __future__ import annotations

import threading

import pytest

from dihub import waits
from dihub.config import Settings
from dihub.connectors.stream import Page, Stream
from dihub.engine.runner import PassOptions, Runner
from dihub.engine.schedule import Slots, ordered, run_together
from dihub.models import User

WAIT_S = 10          # a bound on every wait of these tests; none of them waits it out


def _norm(raw, ctx, partition):
    return User(source=ctx.source, source_id=raw["id"], user_id=raw["id"],
                source_user_id=raw["id"], login=raw["id"])


class _Meter:
    """How many partitions are inside their fetch at once, the most seen, and the order
    the partitions started in."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.started: list[str] = []

    def enter(self, name: str) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.started.append(name)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


def _stream(name: str, partitions: list[str], body, after: tuple[str, ...] = ()) -> Stream:
    def fetch(ctx, partition, state):
        body(name, partition)
        yield Page([{"id": f"{name}-{partition}"}], cursor=1)

    return Stream(name=name, entity="users", fetch=fetch, normalize=_norm,
                  partitions=lambda ctx: list(partitions), after=after)


def _runner(store, concurrency: int) -> Runner:
    return Runner(store, "src", None, Settings(),
                  options=PassOptions(concurrency=concurrency, checkpoint_s=0))


# -- Slots -------------------------------------------------------------------------------

def test_slots_let_n_work_and_a_lender_come_back_at_once():
    slots = Slots(2)
    order: list[str] = []

    def partition(name: str, wait_for: threading.Event | None = None) -> None:
        with slots.taken():
            order.append(name)
            if wait_for is not None:
                assert wait_for.wait(WAIT_S)

    release_b = threading.Event()
    with slots.taken():                       # A works
        b = threading.Thread(target=partition, args=("B", release_b))
        b.start()
        while slots.active < 2:               # B took the second place
            threading.Event().wait(0.001)
        c = threading.Thread(target=partition, args=("C",))
        c.start()
        threading.Event().wait(0.05)
        assert order == ["B"]                 # C waits: both places are taken
        with slots.lent():                    # A sits out a retry: C takes its place
            c.join(WAIT_S)
            assert order == ["B", "C"]
        assert slots.active == 2              # A came back at once, B still works
    release_b.set()
    b.join(WAIT_S)
    assert slots.active == 0 and slots.under_way == 0


def test_slots_keep_at_most_three_times_n_under_way():
    slots = Slots(1)
    inside = threading.Semaphore(0)
    release = threading.Event()

    def partition() -> None:
        with slots.taken():
            inside.release()
            with slots.lent():                # each one lends its place at once
                assert release.wait(WAIT_S)

    threads = [threading.Thread(target=partition) for _ in range(5)]
    for t in threads:
        t.start()
    for _ in range(3):
        assert inside.acquire(timeout=WAIT_S)
    assert not inside.acquire(timeout=0.1)    # a fourth would be the fourth under way
    assert slots.under_way == 3 == slots.limit
    release.set()
    for _ in range(2):
        assert inside.acquire(timeout=WAIT_S)
    for t in threads:
        t.join(WAIT_S)
    assert slots.under_way == 0


# -- ordered / run_together ---------------------------------------------------------------

def test_ordered_puts_a_stream_after_the_streams_it_reads():
    def s(name, after=()):
        return Stream(name=name, entity="users", fetch=None, normalize=None, after=after)

    got = ordered([s("reviews", ("pulls",)), s("commits"), s("pulls")])
    assert [x.name for x in got] == ["pulls", "reviews", "commits"]
    # a stream named in `after` but not in the run is not waited for; a cycle is broken
    got = ordered([s("a", ("b",)), s("b", ("a",)), s("c", ("gone",))])
    assert sorted(x.name for x in got) == ["a", "b", "c"] and len(got) == 3


def test_run_together_waits_for_the_streams_named_in_after():
    events: list[str] = []
    lock = threading.Lock()
    first_may_end = threading.Event()

    def body(name):
        with lock:
            events.append(f"{name} start")
        if name == "pulls":
            assert first_may_end.wait(WAIT_S)
        with lock:
            events.append(f"{name} end")

    streams = ordered([
        Stream(name="reviews", entity="users", fetch=None, normalize=None, after=("pulls",)),
        Stream(name="pulls", entity="users", fetch=None, normalize=None),
        Stream(name="issues", entity="users", fetch=None, normalize=None)])
    t = threading.Thread(target=run_together,
                         args=(streams, lambda s: body(s.name), lambda: None))
    t.start()
    for _ in range(1000):
        with lock:
            if "issues end" in events:
                break
        threading.Event().wait(0.005)
    with lock:
        assert "pulls start" in events and "issues end" in events   # together
        assert "reviews start" not in events                        # after pulls only
    first_may_end.set()
    t.join(WAIT_S)
    assert events.index("reviews start") > events.index("pulls end")


def test_run_together_raises_what_a_stream_raised_after_the_others_end():
    ended = []

    def run(stream):
        if stream.name == "bad":
            raise RuntimeError("a bug")
        ended.append(stream.name)

    streams = [Stream(name=n, entity="users", fetch=None, normalize=None)
               for n in ("bad", "good")]
    with pytest.raises(RuntimeError, match="a bug"):
        run_together(streams, run, lambda: None)
    assert ended == ["good"]


# -- the runner ----------------------------------------------------------------------------

def test_the_streams_of_a_run_work_together_as_wide_as_the_widest_stream(store):
    """Stream a has 1 partition, b has 3; concurrency 4: a's partition works alongside
    b's, and never more than 3 (the widest stream) at once."""
    meter = _Meter()
    b_started = threading.Event()

    def body(name, partition):
        meter.enter(f"{name}/{partition}")
        try:
            if name == "a":
                assert b_started.wait(WAIT_S), "stream b waited for stream a"
            else:
                b_started.set()
            for _ in range(50):                    # give a fourth the chance to start
                if meter.most >= 4:
                    break
                threading.Event().wait(0.005)
        finally:
            meter.leave()

    streams = [_stream("a", ["1"], body), _stream("b", ["1", "2", "3"], body)]
    results = _runner(store, 4).run(streams)
    assert meter.most == 3
    assert [(r.stream, r.outcome) for r in results] == [("a", "ok")] + [("b", "ok")] * 3
    assert store.count("users") == 4


def test_streams_of_one_partition_each_still_work_two_at_once(store):
    """A run of one repository (every stream one partition), concurrency 4: two streams
    work at once, one's requests in flight while the other's pages are written, and
    never a third (more threads than that cost CPU on the interpreter's lock)."""
    meter = _Meter()

    def body(name, partition):
        meter.enter(name)
        try:
            for _ in range(50):                    # give a second (and a third) the chance
                if meter.most >= 3:
                    break
                threading.Event().wait(0.005)
        finally:
            meter.leave()

    streams = [_stream(n, ["1"], body) for n in ("a", "b", "c", "d")]
    results = _runner(store, 4).run(streams)
    assert meter.most == 2
    assert sorted(meter.started) == ["a", "b", "c", "d"]
    assert [(r.stream, r.outcome) for r in results] == [(n, "ok") for n in "abcd"]


def test_a_concurrency_of_one_runs_the_streams_one_after_the_other(store):
    meter = _Meter()

    def body(name, partition):
        meter.enter(f"{name}/{partition}")
        meter.leave()

    streams = [_stream("b", ["1", "2"], body, after=("a",)), _stream("a", ["1"], body)]
    results = _runner(store, 1).run(streams)
    assert meter.most == 1
    assert meter.started == ["a/1", "b/1", "b/2"]   # a first: b reads what it stores
    assert [r.stream for r in results] == ["a", "b", "b"]


@pytest.mark.parametrize("waiting", [
    lambda: waits.own_wait(1.0),      # the HTTP client sitting out its own Retry-After
    waits.elsewhere,                  # Slack's pass waiting for replies read ahead for it
], ids=["own retry", "read elsewhere"])
def test_a_partition_that_waits_lets_one_that_has_not_started_work(store, waiting):
    """One place; partition 1 waits and partition 2 works meanwhile (a shared wait,
    announced only, would have kept partition 2 waiting)."""
    meter = _Meter()
    two_done = threading.Event()

    def body(name, partition):
        meter.enter(partition)
        try:
            if partition == "1":
                with waiting():
                    assert two_done.wait(WAIT_S), "partition 2 never started"
            else:
                two_done.set()
        finally:
            meter.leave()

    results = _runner(store, 1).run([_stream("s", ["1", "2"], body)])
    assert [r.outcome for r in results] == ["ok", "ok"]
    assert meter.started == ["1", "2"] and meter.most == 2


def test_a_short_retry_wait_keeps_its_place(store):
    meter = _Meter()

    def body(name, partition):
        meter.enter(partition)
        try:
            if partition == "1":
                with waits.own_wait(waits.MIN_WAIT_S / 2):
                    threading.Event().wait(0.1)
                    assert meter.started == ["1"]  # nobody took the place meanwhile
        finally:
            meter.leave()

    results = _runner(store, 1).run([_stream("s", ["1", "2"], body)])
    assert [r.outcome for r in results] == ["ok", "ok"] and meter.most == 1


def test_waiting_elsewhere_is_announced_as_a_wait_of_a_second():
    heard: list[float] = []
    lent: list[str] = []

    class Lend:
        def __enter__(self):
            lent.append("lent")

        def __exit__(self, *exc):
            lent.append("back")

    with waits.before_waiting(heard.append, lend=Lend):
        with waits.elsewhere():
            assert lent == ["lent"]
    assert heard == [waits.MIN_WAIT_S] and lent == ["lent", "back"]
