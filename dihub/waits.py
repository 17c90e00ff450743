"""What a thread does before the HTTP client makes it wait.

A sync pass buffers the pages it has read and writes them (with their cursor) in
batches. Before the client sleeps for a rate limit or a retry's backoff, the pass
writes what it holds, so a run killed during a long wait re-reads nothing it had
already read (docs/architecture.md, "The pass").

While the client sits out its own retry (a 5xx's backoff, the `Retry-After` of its own
429 or 503: `own_wait`), the pass also lends its place among the run's working
partitions, so one that has not started can work meanwhile (dihub/engine/schedule.py).
Waits every partition shares (a held bucket, pacing between calls of one method) only
write the pages: another partition would wait as well.

The hooks are per thread: a pass runs its stream's fetch in its own thread, and that
thread's waits are the ones that hold its pages and its place. Threads without hooks (a
connector's own pool) wait as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

# Waits shorter than this are the quick first retries: writing a batch for them would
# cost more than the pages it protects.
MIN_WAIT_S = 1.0

_local = threading.local()


@contextmanager
def before_waiting(hook: Callable[[float], None],
                   lend: Callable[[], AbstractContextManager[object]] | None = None
                   ) -> Iterator[None]:
    """While the block runs: call `hook(seconds)` before any wait of this thread's HTTP
    client of at least MIN_WAIT_S, and sit out each such retry wait inside `lend()`.
    The hook must not raise."""
    previous = getattr(_local, "hook", None), getattr(_local, "lend", None)
    _local.hook, _local.lend = hook, lend
    try:
        yield
    finally:
        _local.hook, _local.lend = previous


def announce(seconds: float) -> None:
    """The HTTP client is about to wait `seconds` in this thread."""
    hook = getattr(_local, "hook", None)
    if hook is not None and seconds >= MIN_WAIT_S:
        hook(seconds)


@contextmanager
def own_wait(seconds: float) -> Iterator[None]:
    """The HTTP client sits out its own retry wait of `seconds` in this block: announced
    first, and inside the thread's `lend()` when it is at least MIN_WAIT_S."""
    announce(seconds)
    lend = getattr(_local, "lend", None)
    if lend is None or seconds < MIN_WAIT_S:
        yield
        return
    with lend():
        yield


def elsewhere() -> AbstractContextManager[None]:
    """This thread waits, inside the block, for what another thread does for it (a page
    read ahead in a connector's pool, whose call sits out a retry): a wait of MIN_WAIT_S
    as `own_wait` sits it out (the pass writes its pages, then lends its place). For waits
    that already took a while, not for every moment a thread waits on another."""
    return own_wait(MIN_WAIT_S)
