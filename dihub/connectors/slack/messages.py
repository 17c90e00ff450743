"""The `messages` stream, one pass per channel: history and thread replies together,
so a channel's cursor only moves once the replies it covers are stored.

Why re-read: `conversations.history` with `oldest` returns only top-level
messages newer than the cursor. A new reply does not change its parent's ts,
an edit does not change the message's ts, and a deleted message simply
disappears, so none of them show up after the cursor. Each pass therefore
re-reads history from `hwm - lookback_days` (hwm: the newest message ts seen
in the channel) and compares what it sees with the cursor:

* a parent whose `latest_reply` / `reply_count` differ from the cursor's mark
  (or a message that just got its first reply) has its thread re-read with
  `conversations.replies`;
* an edit changes the record's content, so the store updates it (unchanged
  messages are re-read but not re-written: same signature);
* a message the cursor lists in the window that the re-read no longer returns
  was deleted and is stored as deleted (a parent with replies stays as a
  `tombstone`, which normalize marks deleted); a reply missing from its
  re-read thread likewise;
* threads whose parent is older than the re-read but whose latest reply is
  inside the window are "followed": one conversations.replies call each pass,
  or, when fewer history pages would do (judged from the window's message
  density), the re-read reaches back to their parents instead;
* every `thread_scan_every_hours` (default 24) the re-read goes back
  `thread_lookback_days` (default 30) instead, so a reply to a thread that
  had been quiet for longer than the window is found by its parent's changed
  `latest_reply` (one extra history page per 999 messages, once a day);
* a `thread_broadcast` reply in history whose thread is unknown gets its
  thread read too.

Limits (documented in the README): a plain reply to a thread whose parent is
older than `thread_lookback_days` and that had no reply within `lookback_days`
is seen only when broadcast to the channel, or on `--full-refresh`. Edits and
deletions are caught within `lookback_days` (edits of top-level messages also
during a thread scan). Edits of replies are seen when their thread is re-read
(a new reply, a deletion), or on every pass with `recheck_threads: true`.

Cursor (per channel, JSON): {"v": 1, "hwm": ts, "window": [ts, ...],
"threads": {parent_ts: [latest_reply, reply_count, [reply ts, ...]]},
"scanned_at": epoch} plus, while a pass is under way, "resume": where the
history walk stopped, so a killed or rate-limited first sync of a large
channel continues instead of starting over.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dihub.connectors.slack.client import SlackClient
from dihub.connectors.slack.errors import ThreadSkipped
from dihub.engine.stream import Context, Page
from dihub.models import AuditEntry, SyncState
from dihub.timeutil import now_iso

VERSION = 1
DAY_S = 86_400
DELETED = "_dihub_deleted"          # marker item: {DELETED: ts, "thread_ts": ..., "noticed": ts}


def tsf(ts: Any) -> float:
    return float(ts)


def fmt(value: float) -> str:
    return f"{value:.6f}"


@dataclass
class Cursor:
    hwm: str | None = None
    window: list[str] = field(default_factory=list)
    threads: dict[str, list] = field(default_factory=dict)  # parent → [latest, count, [ts]]
    scanned_at: float | None = None       # when thread_lookback_days was last re-read
    resume: dict[str, Any] | None = None

    @classmethod
    def load(cls, raw: Any) -> Cursor | None:
        if not isinstance(raw, dict) or raw.get("v") != VERSION:
            return None
        return cls(raw.get("hwm"), list(raw.get("window") or []),
                   dict(raw.get("threads") or {}), raw.get("scanned_at"), raw.get("resume"))

    def dump(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"v": VERSION, "hwm": self.hwm, "window": self.window,
                               "threads": self.threads, "scanned_at": self.scanned_at}
        if self.resume is not None:
            doc["resume"] = self.resume
        return doc


def _mark(parent: dict[str, Any], replies: list[str]) -> list:
    return [parent.get("latest_reply"), int(parent.get("reply_count") or 0), sorted(replies)]


def _is_parent(m: dict[str, Any]) -> bool:
    return m.get("thread_ts") == m.get("ts") and bool(m.get("reply_count"))


class ChannelPass:
    """One channel's pass. `run()` yields the engine's Pages."""

    def __init__(self, ctx: Context, client: SlackClient, channel_id: str,
                 label: str, state: SyncState, start_floor: float):
        cfg = ctx.config
        self.ctx, self.client, self.cid, self.label = ctx, client, channel_id, label
        self.lookback = float(cfg.lookback_days) * DAY_S
        self.thread_lookback = max(self.lookback, float(cfg.thread_lookback_days) * DAY_S)
        self.page_size = cfg.page_size
        self.recheck = cfg.recheck_threads
        self.raw = bool(cfg.store_text)
        self.now = time.time()
        self.noticed = fmt(self.now)
        self.prev = Cursor.load(state.cursor)
        prev_hwm = self.prev.hwm if self.prev else None
        self.first = prev_hwm is None             # nothing to compare with yet
        # the window of edits and deletions; a deeper re-read for thread activity is due
        # every thread_scan_every_hours
        self.window_floor = max(start_floor, tsf(prev_hwm) - self.lookback if prev_hwm else 0)
        last_scan = self.prev.scanned_at if self.prev else None
        self.scan = (not self.first and self.thread_lookback > self.lookback and (
            last_scan is None or self.now - last_scan >= cfg.thread_scan_every_hours * 3600))
        self.start = max(start_floor, tsf(prev_hwm) - self.thread_lookback) if self.scan \
            else self.window_floor
        self.start = self._reach_followed(self.start, start_floor)
        resume = self.prev.resume if self.prev else None
        if not (isinstance(resume, dict) and resume.get("start") == fmt(self.start)):
            resume = None
        self.top: str | None = resume["top"] if resume else None
        self.latest: str | None = resume["latest"] if resume else None
        self.seen: set[str] = set(resume["seen"]) if resume else set()
        # thread marks: carried over, updated by what this pass reads
        self.threads: dict[str, list] = dict(resume["threads"]) if resume else (
            dict(self.prev.threads) if self.prev else {})
        self.read: set[str] = set()                  # threads read in this pass

    # -- the pass ------------------------------------------------------------------------
    def run(self) -> Iterator[Page]:
        extra: dict[str, None] = {}                  # threads found via broadcasts
        for resp in self._history():
            msgs = resp.data.get("messages") or []
            if self.top is None:
                self.top = msgs[0]["ts"] if msgs else (self.prev.hwm if self.prev else None)
            yield self._page(msgs, resp)
            self.seen.update(m["ts"] for m in msgs if m.get("ts") and self._keep(m["ts"]))
            for m in msgs:
                if "ts" not in m or m["ts"] in self.read:
                    continue
                known = self._known(m["ts"])
                if (_is_parent(m) or known is not None) and self._changed(m, known):
                    yield from self._thread(m["ts"], known)
                thread = m.get("thread_ts")
                if thread and thread != m["ts"] and self._known(thread) is None:
                    extra[thread] = None
            if msgs:
                self.latest = msgs[-1]["ts"]
            yield Page([], cursor=self._checkpoint())
        for parent_ts in self._followed():
            yield from self._thread(parent_ts, self._known(parent_ts), with_parent=True)
        for parent_ts in extra:
            if parent_ts not in self.read and parent_ts not in self.threads:
                yield from self._thread(parent_ts, None, with_parent=True)
        gone = self._vanished()
        if gone:
            yield Page(gone)
        yield Page([], cursor=self._final())

    def _history(self) -> Iterator[Any]:
        params: dict[str, Any] = {"channel": self.cid, "limit": self.page_size,
                                  "inclusive": "true"}
        if self.start > 0:
            params["oldest"] = fmt(self.start)
        if self.latest:
            params["latest"] = self.latest
        return self.client.pages("conversations.history", params, channel=self.label)

    def _thread(self, parent_ts: str, known: list | None, *,
                with_parent: bool = False) -> Iterator[Page]:
        """Read a whole thread; replies the cursor knew that are gone become deletions."""
        self.read.add(parent_ts)
        params = {"channel": self.cid, "ts": parent_ts, "limit": self.page_size}
        parent: dict[str, Any] | None = None
        replies: list[str] = []
        try:
            for resp in self.client.pages("conversations.replies", params, channel=self.label):
                msgs = resp.data.get("messages") or []
                items = []
                for m in msgs:
                    if m.get("ts") == parent_ts:
                        parent = m
                        if with_parent:
                            items.append(m)
                    elif m.get("ts"):
                        replies.append(m["ts"])
                        items.append(m)
                yield self._page(items, resp)
        except ThreadSkipped as err:
            self._audit_thread(parent_ts, err)
            self.threads.pop(parent_ts, None)
            gone = list(known[2]) if known else []
            gone_items = [self._deleted(ts, parent_ts) for ts in gone]
            if with_parent:
                gone_items.append(self._deleted(parent_ts, None))
            if gone_items:
                yield Page(gone_items)
            return
        missing = sorted(set(known[2]) - set(replies)) if known else []
        if missing:
            yield Page([self._deleted(ts, parent_ts) for ts in missing])
        if parent is not None and (parent.get("reply_count") or replies):
            self.threads[parent_ts] = _mark(parent, replies)
        else:
            self.threads.pop(parent_ts, None)

    def _reach_followed(self, start: float, floor: float) -> float:
        """Re-read back to the oldest followed parent when that costs fewer history pages
        (estimated from the window's message density) than one replies call per followed
        thread: their parents then show their latest_reply like any other."""
        if self.first:
            return start
        followed = [tsf(p) for p, mark in self.prev.threads.items()
                    if tsf(p) < start and mark[0] and tsf(mark[0]) >= self.window_floor]
        if not followed:
            return start
        oldest = max(floor, min(followed))
        per_s = len(self.prev.window) / max(self.lookback, DAY_S)
        extra_pages = math.ceil(per_s * (start - oldest) / self.page_size)
        return oldest if extra_pages < len(followed) else start

    # -- comparisons -----------------------------------------------------------------------
    def _known(self, parent_ts: str) -> list | None:
        return self.prev.threads.get(parent_ts) if self.prev else None

    def _changed(self, m: dict[str, Any], known: list | None) -> bool:
        if known is None:
            return True
        if self.recheck:
            return True
        return [known[0], known[1]] != [m.get("latest_reply"), int(m.get("reply_count") or 0)]

    def _followed(self) -> list[str]:
        """Threads with replies inside the window whose parent is older than this re-read."""
        if self.first:
            return []
        return sorted((p for p, mark in self.prev.threads.items()
                       if tsf(p) < self.start and mark[0] and tsf(mark[0]) >= self.window_floor
                       and p not in self.read), key=tsf)

    def _vanished(self) -> list[dict[str, Any]]:
        """Messages the last pass saw in the window that this re-read did not return."""
        if self.first or not self.prev.window:
            return []
        expected = [ts for ts in self.prev.window if tsf(ts) >= self.window_floor]
        gone = [ts for ts in expected if ts not in self.seen]
        if gone and len(gone) == len(expected) and not self.seen:
            # Nothing at all came back: more likely history became invisible (a free
            # workspace hides messages after 90 days) than every message deleted.
            self.ctx.log.warning(
                "%s/messages [%s]: none of the %d messages of the look-back window came "
                "back; not marking them deleted (history may no longer be visible)",
                self.ctx.source, self.cid, len(gone))
            return []
        items = []
        for ts in gone:
            items.append(self._deleted(ts, None))
            for reply_ts in (self.prev.threads.get(ts) or [None, 0, []])[2]:
                items.append(self._deleted(reply_ts, ts))
            self.threads.pop(ts, None)
        return items

    # -- cursor ----------------------------------------------------------------------------
    def _hwm(self) -> str | None:
        prev = self.prev.hwm if self.prev else None
        candidates = [t for t in (prev, self.top) if t]
        return max(candidates, key=tsf) if candidates else None

    def _window_start(self) -> float:
        hwm = self._hwm()
        return tsf(hwm) - self.lookback if hwm else 0.0

    def _keep(self, ts: str) -> bool:
        """Is a seen ts worth remembering: in the old window (to find deletions) or in
        the new one (the next pass's window)?"""
        t = tsf(ts)
        if t >= self._window_start():
            return True
        return not self.first and self.window_floor <= t <= tsf(self.prev.hwm)

    def _pruned_threads(self) -> dict[str, list]:
        """Marks of threads whose parent a scan re-reads, or with replies in the window."""
        window = self._window_start()
        scanned = window + self.lookback - self.thread_lookback
        return {p: mark for p, mark in self.threads.items()
                if tsf(p) >= scanned or (mark[0] and tsf(mark[0]) >= window)}

    def _checkpoint(self) -> dict[str, Any]:
        base = self.prev or Cursor()
        resume = {"start": fmt(self.start), "top": self.top, "latest": self.latest,
                  "seen": sorted(self.seen, key=tsf), "threads": self._pruned_threads()}
        return Cursor(base.hwm, base.window, base.threads, base.scanned_at, resume).dump()

    def _final(self) -> dict[str, Any]:
        start = self._window_start()
        window = sorted((ts for ts in self.seen if tsf(ts) >= start), key=tsf)
        scanned = self.now if self.first or self.scan else self.prev.scanned_at
        return Cursor(self._hwm(), window, self._pruned_threads(), scanned).dump()

    # -- items -----------------------------------------------------------------------------
    def _page(self, items: list[dict[str, Any]], resp: Any) -> Page:
        return Page(items, raw_size=resp.size, raw_payload=resp.text if self.raw else None)

    def _deleted(self, ts: str, thread_ts: str | None) -> dict[str, Any]:
        return {DELETED: ts, "thread_ts": thread_ts, "noticed": self.noticed}

    def _audit_thread(self, parent_ts: str, err: Exception) -> None:
        self.ctx.log.warning("%s/messages [%s]: %s", self.ctx.source, self.cid, err)
        if self.ctx.audit is not None:
            self.ctx.audit(AuditEntry(
                run_id=self.ctx.run_id, source=self.ctx.source, entity="slack_events",
                stream="messages", partition=self.cid, action="thread", outcome="skipped",
                timestamp=now_iso(), error=str(err), detail={"thread_ts": parent_ts}))
