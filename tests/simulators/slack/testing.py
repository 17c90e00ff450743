"""Helpers for tests and benchmarks that run `dihub` against the Slack simulator:
the config, the token, and what the store must hold for a given workspace."""

from __future__ import annotations

import hashlib
from typing import Any

from .data import Workspace

TOKEN = "xoxb-1234567890-0987654321-SimulatorSecretTokenValue"
TOKEN_ENV = "SLACK_SIM_BOT_TOKEN"


def config_yaml(api_url: str, *, source: str = "slack", extra: str = "",
                batch_size: int = 1000, concurrency: int = 4,
                checkpoint_s: float | None = None) -> str:
    """A config for one Slack source on the simulator: no pacing (the simulator has no
    tiers unless asked), instant retries, token from TOKEN_ENV. `extra` is more YAML
    under the source, indented by 4 spaces."""
    more = "".join(f"    {line}\n" for line in extra.strip("\n").splitlines()) if extra else ""
    store = "" if checkpoint_s is None else f"  checkpoint_s: {checkpoint_s}\n"
    return (f"store:\n  batch_size: {batch_size}\n{store}"
            f"http:\n  concurrency: {concurrency}\n"
            f"  retry: {{attempts: 6, backoff_s: [0.01], jitter: 0}}\n"
            f"sources:\n  {source}:\n    connector: slack\n    base_url: {api_url}\n"
            f"    token_env: {TOKEN_ENV}\n    min_interval_s: {{'*': 0}}\n{more}")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def expected_events(ws: Workspace, member_only: bool = True) -> dict[str, dict[str, Any]]:
    """What slack_events must say about every live message and reply."""
    out: dict[str, dict[str, Any]] = {}
    for ch in ws.channels.values():
        if member_only and not ch.member:
            continue
        items = list(ch.messages) + [r for rs in ch.threads.values() for r in rs]
        for m in items:
            tomb = m.get("subtype") == "tombstone"
            parent = m.get("thread_ts") == m["ts"] and bool(m.get("reply_count"))
            out[f"{ch.id}:{m['ts']}"] = {
                "deleted": tomb,
                "text_sha256": None if tomb else sha(m.get("text", "")),
                "thread_ts": m.get("thread_ts"),
                "reply_count": m.get("reply_count") if parent else None,
                "latest_reply": m.get("latest_reply") if parent else None,
                "edited": "edited" in m,
            }
    return out


def stored_events(store, source: str = "slack") -> dict[str, dict[str, Any]]:
    return {d["event_id"]: d for d in store.iter_records("slack_events", source)}


def mismatches(store, ws: Workspace, source: str = "slack") -> list[str]:
    """Differences between the store and the workspace (empty = exact). Records of
    messages that no longer exist must be marked deleted."""
    want = expected_events(ws)
    have = stored_events(store, source)
    problems = []
    for eid, exp in want.items():
        doc = have.get(eid)
        if doc is None:
            problems.append(f"missing {eid}")
            continue
        got = {"deleted": doc["deleted"], "text_sha256": doc.get("text_sha256"),
               "thread_ts": doc.get("thread_ts"), "reply_count": doc.get("reply_count"),
               "latest_reply": doc.get("latest_reply"), "edited": bool(doc.get("edited_at"))}
        if got != exp:
            problems.append(f"{eid}: stored {got} != expected {exp}")
    for eid, doc in have.items():
        if eid not in want and not doc["deleted"]:
            problems.append(f"{eid} is gone upstream but not marked deleted")
    return problems
