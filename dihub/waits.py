"""What a thread does before the HTTP client makes it wait.

A sync pass buffers the pages it has read and writes them (with their cursor) in
batches. Before the client sleeps for a rate limit or a retry's backoff, the pass
writes what it holds, so a run killed during a long wait re-reads nothing it had
already read (docs/architecture.md, "The pass").

The hook is per thread: a pass runs its stream's fetch in its own thread, and that
thread's waits are the ones that hold its pages. Threads without a hook (a connector's
own pool) wait as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Waits shorter than this are the quick first retries: writing a batch for them would
# cost more than the pages it protects.
MIN_WAIT_S = 1.0

_local = threading.local()


@contextmanager
def before_waiting(hook: Callable[[float], None]) -> Iterator[None]:
    """Call `hook(seconds)` before any wait of this thread's HTTP client of at least
    MIN_WAIT_S, while the block runs. The hook must not raise."""
    previous = getattr(_local, "hook", None)
    _local.hook = hook
    try:
        yield
    finally:
        _local.hook = previous


def announce(seconds: float) -> None:
    """The HTTP client is about to wait `seconds` in this thread."""
    hook = getattr(_local, "hook", None)
    if hook is not None and seconds >= MIN_WAIT_S:
        hook(seconds)
