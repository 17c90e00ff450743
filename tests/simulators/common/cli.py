"""What every simulator's `python -m tests.simulators.X` shares: serve until SIGTERM or
SIGINT, then write the statistics; and the parser of OAuth form/JSON parameters."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl


def serve_until_signal(sim: Any, summary: dict[str, Any], stats_file: Path | None) -> int:
    """Print `sim.base_url` (the first stdout line) and `summary` (stderr), serve until
    SIGTERM/SIGINT, then write the statistics as JSON to stderr and to `stats_file`.
    `sim` is a simulator not started yet (a context manager)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with sim:
        print(sim.base_url, flush=True)
        print(json.dumps(summary), file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
        stats = json.dumps(sim.stats.snapshot(), indent=2)
    print(stats, file=sys.stderr, flush=True)
    if stats_file:
        stats_file.write_text(stats + "\n", encoding="utf-8")
    return 0


def form_params(query: str, raw: bytes, content_type: str) -> dict[str, str]:
    """Parameters from the query string and a form or JSON body (body wins), as OAuth
    endpoints accept them."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    if raw:
        if "json" in (content_type or ""):
            try:
                data = json.loads(raw)
            except ValueError:
                data = {}
            if isinstance(data, dict):
                params.update({k: str(v) for k, v in data.items()})
        else:
            params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return params
