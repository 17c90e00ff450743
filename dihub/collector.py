"""Objects that live as long as the process, kept out of the garbage collector's walks.

When a sync or a fetch starts, its imports (pydantic's models, typer, httpx, the
connector) have made most of the objects the process holds, and they live until it ends.
Every full collection during the run walked them all again while the run allocated its
records. `freeze_once()` moves what exists at that point into the collector's permanent
generation (`gc.freeze`), so later collections walk only what the run made: a sync or a
fetch takes up to 7% less CPU (BENCHMARKS.md, "Since the issue"). It acts once per process: a
long-running one (`dihub serve`, `dihub worker`) freezes at its first sync, and what later
syncs leave behind is collected as before.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_once() -> None:
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()
