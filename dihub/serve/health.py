"""`GET /api/health`: is the hub fit to be read?

Unhealthy (503, each reason listed) when: the store does not answer a read; a
stream's last successful sync is older than `serve.max_sync_age_s` (or the
`serve.max_sync_age["source/stream"]` override; a stream never synced
successfully counts from its first attempt); a circuit breaker is open; the
oldest pending webhook delivery waits longer than `serve.max_inbox_lag_s`.
Streams that were never synced are not judged (they are not set up yet).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from dihub.timeutil import parse


def breakers(server: Any) -> dict[str, dict[str, Any]]:
    """source -> its persisted breaker document (for sources with an HTTP base_url)."""
    from dihub.http.breaker import breaker_key

    out = {}
    for name, model in server.cfg.sources.items():
        url = getattr(model, "base_url", None)
        if not url:
            continue
        host = urlsplit(url).hostname or url
        doc = server.store.get_meta(breaker_key(name, host))
        if doc:
            out[name] = doc
    return out


def is_open(doc: dict[str, Any], now: float) -> bool:
    return doc.get("state") == "open" and \
        (doc.get("opened_at") or 0) + (doc.get("cooldown") or 0) > now


def health(server: Any) -> dict[str, Any]:
    settings = server.settings
    now = time.time()
    reasons: list[str] = []
    try:
        server.store.get_meta("serve.health")
    except Exception as exc:   # noqa: BLE001 - any failure means unreachable
        return {"status": "unhealthy",
                "reasons": [f"the store does not answer: {type(exc).__name__}"],
                "store": "unreachable"}
    streams = []
    states: dict[tuple[str, str], list] = {}
    for st in server.store.list_states():
        states.setdefault((st.source, st.stream), []).append(st)
    for (source, stream), parts in sorted(states.items()):
        if source not in server.cfg.sources:
            continue
        successes = [p.last_success_at for p in parts if p.last_success_at]
        # the stream's age is its stalest partition's
        last = min(successes) if len(successes) == len(parts) else None
        since = last or min((p.last_sync_at for p in parts if p.last_sync_at), default=None)
        age = now - parse(since).timestamp() if since else None
        limit = settings.max_sync_age.get(f"{source}/{stream}", settings.max_sync_age_s)
        stale = age is not None and age > limit
        streams.append({"source": source, "stream": stream, "last_success_at": last,
                        "age_s": round(age, 1) if age is not None else None,
                        "max_age_s": limit, "ok": not stale})
        if stale:
            reasons.append(f"{source}/{stream}: last successful sync "
                           f"{'never' if last is None else f'{age:.0f} s ago'} "
                           f"(limit {limit:.0f} s)")
    open_breakers = [name for name, doc in breakers(server).items() if is_open(doc, now)]
    for name in open_breakers:
        reasons.append(f"{name}: circuit breaker open")
    inbox = server.store.inbox_stats(now)
    if inbox["oldest_pending_age_s"] > settings.max_inbox_lag_s:
        reasons.append(f"webhook inbox: oldest pending delivery waits "
                       f"{inbox['oldest_pending_age_s']:.0f} s "
                       f"(limit {settings.max_inbox_lag_s:.0f} s)")
    return {"status": "unhealthy" if reasons else "ok", "reasons": reasons, "store": "ok",
            "streams": streams, "open_breakers": open_breakers, "inbox": inbox}
