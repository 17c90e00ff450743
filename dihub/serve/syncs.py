"""`POST /api/sync/{source}/{stream}`: one pass of a stream in a background thread.

The pass is the CLI's (dihub.engine.runner.Runner) under the usual per-partition
leases. 409 when this server already runs it, or another process (cron) holds a
live lease on one of the stream's partitions; the lease still decides a race.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import HTTPException

from dihub.timeutil import now_iso

log = logging.getLogger("dihub.serve")


def start_sync(server: Any, source: str, stream: str) -> dict[str, Any]:
    from dihub.connectors.registry import load_connector
    from dihub.engine.runner import PassOptions, Runner

    cfg = server.cfg
    model = cfg.sources.get(source)
    if model is None:
        raise HTTPException(404, "unknown source")
    connector = load_connector(model.connector)
    if stream not in connector.streams:
        raise HTTPException(404, f"unknown stream; streams of {source}: "
                                 f"{', '.join(connector.streams)}")
    key = (source, stream)
    now = now_iso()
    with server.syncs_lock:
        running = server.syncs.get(key)
        if running is not None and running[0].is_alive():
            raise HTTPException(409, f"{source}/{stream} is running (run {running[1].run_id})")
        held = [st for st in server.store.list_states(source)
                if st.stream == stream and st.lease_owner and (st.lease_until or "") > now]
        if held:
            raise HTTPException(409, f"{source}/{stream} is running ({held[0].lease_owner})")
        settings = cfg.settings
        http = getattr(model, "http", None) or settings.http
        options = PassOptions(batch_size=settings.store.batch_size,
                              lease_ttl_s=settings.lease_ttl_s, concurrency=http.concurrency,
                              raw_payloads=settings.store.raw_payloads.enabled)
        runner = Runner(server.store, source, model, settings, options=options,
                        connector=connector)

        def run() -> None:
            try:
                runner.run([connector.streams[stream]])   # closes the run's session
            except BaseException as exc:   # noqa: BLE001 - recorded in the audit log
                log.warning("sync %s/%s: %s", source, stream, type(exc).__name__)
            finally:
                with server.syncs_lock:
                    if server.syncs.get(key, (None, None))[1] is runner:
                        del server.syncs[key]
            outcomes = sorted({r.outcome for r in runner.results})
            log.info("sync %s/%s finished: %s", source, stream, ", ".join(outcomes) or "-")

        thread = threading.Thread(target=run, name=f"dihub-sync-{source}-{stream}",
                                  daemon=True)
        server.syncs[key] = (thread, runner)
        thread.start()
    return {"started": True, "source": source, "stream": stream, "run_id": runner.run_id}
