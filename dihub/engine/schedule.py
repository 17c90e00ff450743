"""When a run's streams and partitions work: together, within places.

A run of several streams (`sync github --all`) runs them together (`run_together`): each
stream lists its partitions and runs them as places free up, so a stream whose last
partition is slow, or waits, does not keep the next stream's partitions from starting. A
stream that reads what another one of the run stores (`Stream.after`: GitHub's reviews
read the pull requests) starts once that one has ended.

A run's partitions (of one stream, or of every stream of `sync --all`) take a place
before they start. A run of one stream has `http.concurrency` places; a run of several
has as many as its widest stream has partitions, and at least two (`TOGETHER_MIN`), up
to `http.concurrency`: a run of two repositories works on two partitions at once,
whichever streams they are of, as it did stream by stream, and so does a run of one
repository, whose streams have one partition each (one stream's requests are in flight
while another's pages are normalized and written). More threads in one process cost
CPU on the interpreter's lock.

A partition that waits a second or more for its own retry (a 5xx's backoff, its 429's
or 503's `Retry-After`: dihub/waits.py) lends its place while it sleeps, as does one that
waits for a page another thread reads for it (Slack's replies read ahead:
`waits.elsewhere`), so a partition that has not started yet can work in the meantime.
When the wait ends, the partition that lent its place goes on at once: it does not queue
behind partitions that have not started. For that moment more partitions than places
may be working, and no new one starts until fewer are; and at most three times as many
as places are under way at once (started and not ended), so the pages that waiting
partitions hold stay bounded (a waiting pass has written its pages: it holds its
position and what is in flight). Twice as many left the last of ten Slack channels to
start only once two of the first eight had ended, waits and all: 5% faults cost 1.88x
the clean run instead of 1.61x (BENCHMARKS.md, faults). Waits that hold every partition
alike (a bucket held by a rate limit, pacing between two calls of one method) lend
nothing: another partition would only wait as well.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

TOGETHER_MIN = 2      # places of a run of several streams, however narrow they are


class Slots:
    """At most `n` partitions working at once, counting the ones that lent their place
    and came back, and at most `UNDER_WAY * n` under way (see the module's docstring).
    `widen(k)` raises `n` to `k`, up to `cap`."""

    UNDER_WAY = 3

    def __init__(self, n: int, cap: int | None = None):
        self.n = max(1, int(n))
        self.cap = max(self.n, int(cap or n))
        self.limit = self.UNDER_WAY * self.n
        self._active = 0           # working: holding a place
        self._under_way = 0        # started and not ended, working or lending
        self._cond = threading.Condition()

    @property
    def active(self) -> int:
        return self._active

    @property
    def under_way(self) -> int:
        return self._under_way

    @contextmanager
    def taken(self) -> Iterator[None]:
        """A partition's whole pass: waits for a place, frees it at the end."""
        with self._cond:
            while self._active >= self.n or self._under_way >= self.limit:
                self._cond.wait()
            self._active += 1
            self._under_way += 1
        try:
            yield
        finally:
            with self._cond:
                self._under_way -= 1
            self._free()

    @contextmanager
    def lent(self) -> Iterator[None]:
        """A wait inside a partition's pass: its place is free meanwhile; taken back at
        once when the block ends."""
        self._free()
        try:
            yield
        finally:
            with self._cond:
                self._active += 1

    def widen(self, k: int) -> None:
        with self._cond:
            n = max(self.n, min(int(k), self.cap))
            if n != self.n:
                self.n, self.limit = n, self.UNDER_WAY * n
                self._cond.notify_all()

    def _free(self) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify()


def ordered(streams: Sequence[Any]) -> list[Any]:
    """`streams` in their order, except that a stream comes after those of them its
    `after` names (a cycle is broken where it closes)."""
    by_name = {s.name: s for s in streams}
    out: list[Any] = []
    placed: set[str] = set()

    def place(stream: Any, path: frozenset[str]) -> None:
        if stream.name in placed or stream.name in path:
            return
        for name in getattr(stream, "after", ()):
            if name in by_name:
                place(by_name[name], path | {stream.name})
        placed.add(stream.name)
        out.append(stream)

    for stream in streams:
        place(stream, frozenset())
    return out


def run_together(streams: Sequence[Any], run_stream: Callable[[Any], object],
                 stop: Callable[[], None]) -> None:
    """Run `run_stream(stream)` for every stream at once, each in a thread of its own, a
    stream whose `after` names another of `streams` once that one has ended (`streams` as
    `ordered` gives them). Returns when every one has ended; an exception of one (a bug: a
    pass's errors are its results) is raised then. An exception in the calling thread
    (KeyboardInterrupt from a signal handler) calls `stop()`, waits for the streams, and
    is raised again."""
    ended = {s.name: threading.Event() for s in streams}
    position = {s.name: i for i, s in enumerate(streams)}
    errors: list[BaseException] = []

    def one(stream: Any) -> None:
        try:
            for name in getattr(stream, "after", ()):
                if position.get(name, len(streams)) < position[stream.name]:
                    ended[name].wait()
            run_stream(stream)
        except BaseException as exc:   # noqa: BLE001 - raised again in the calling thread
            errors.append(exc)
        finally:
            ended[stream.name].set()

    threads = [threading.Thread(target=one, args=(s,), name=f"dihub-{s.name}", daemon=True)
               for s in streams]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except BaseException:
        stop()
        for t in threads:
            t.join()
        raise
    if errors:
        raise errors[0]
