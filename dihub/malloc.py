"""At most two glibc malloc arenas for a sync process.

glibc gives each thread that allocates its own arena (up to 8 per core), and a sync's
threads (partitions, Slack's replies readers, the lease heartbeat) each keep one
partly used: several MB of peak RSS for memory the process does not hold. Python
allocates small objects through its own allocator under the GIL, so the threads gain
nothing from separate arenas. A MALLOC_ARENA_MAX set in the environment is left as
it is; on another C library this does nothing. Measured in BENCHMARKS.md ("memory").
"""

from __future__ import annotations

import os
import sys

_M_ARENA_MAX = -8       # glibc's mallopt parameter
_done = False


def limit_arenas(arenas: int = 2) -> None:
    """Once per process, before the threads start; best effort."""
    global _done
    if _done or not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        _done = True
        return
    _done = True
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas)
    except (OSError, AttributeError):     # not glibc
        pass
