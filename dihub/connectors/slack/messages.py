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
  or the re-read reaches back to some of their parents instead, wherever
  that costs fewer calls in all (see `_reach_followed`: the history pages it
  adds, estimated from the window's message density, plus one replies call
  per followed thread it does not reach). It only reaches back as far as
  `known_from`, the point from which the cursor holds a mark for every thread,
  so no thread in the stretched re-read looks new: a no-change pass costs one
  history page per channel plus at most min(followed threads, the extra
  pages), whatever the age of the threads;
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
(a new reply, a deletion), or on every pass with `recheck_threads: true`; a
deleted reply of a thread older than `thread_lookback_days` that is not
followed is not noticed (its reply list is not kept).

Cursor (per channel, JSON): {"v": 1, "hwm": ts, "window": [ts, ...],
"threads": {parent_ts: mark}, "known_from": ts, "scanned_at": epoch}. A mark
is [latest_reply, reply_count, [reply ts, ...]] for a thread whose parent is
within `thread_lookback_days` of hwm or that is followed, and the compact
[latest_reply, reply_count] for an older thread from `known_from` on, which
is the oldest followed parent (the furthest a re-read may reach back). What
bounds the map: the threads of the last `thread_lookback_days`, the followed
threads (replies within `lookback_days`), and at most MAX_OLD_MARKS compact
marks (past that, `known_from` moves up and the oldest followed threads cost
a replies call each).

While a pass is under way, "resume" says where it stands, checkpointed after
every history page and every thread read: the history walk resumes at the
message it stopped after (`latest`), then the followed and broadcast-found
threads still to read (`todo`). The pass keeps the plan it started with
(`start`, `scan`), so a run stopped at any page (exit 75, a kill, a crash)
continues from there and reads again at most the pages the engine had not yet
written (dihub/engine/runner.py: `store.checkpoint_s`).

Once a call of the run has been retried after a 5xx, a dropped connection or a
broken body, each pass reads the first replies page of its next threads (up to
AHEAD, and while those read and not yet taken weigh less than AHEAD_BYTES) in
the run's replies pool while it handles the current one, so a Retry-After holds
one thread instead of its channel (`_Ahead`), and several of them are sat out at
once; what is written and where checkpoints fall do not change, and a run
stopped then reads again at most those AHEAD threads as well.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from dihub import waits
from dihub.connectors.slack import shapes
from dihub.connectors.slack.client import AheadWeight, SlackClient, SlackSession, next_cursor
from dihub.connectors.slack.errors import ThreadSkipped
from dihub.connectors.stream import Page
from dihub.models import SyncState

VERSION = 1
RESUME = 2                          # resume format; an older one is dropped (the pass restarts)
DAY_S = 86_400
MAX_OLD_MARKS = 2_000               # compact marks of threads older than thread_lookback_days
AHEAD = 48                          # threads a pass has read ahead (first page), see _Ahead
AHEAD_BYTES = 1 << 20               # ... and the bytes read and not yet taken, of the run
AHEAD_PATIENCE_S = 0.05             # a page read ahead not there by then: lend the place
DELETED = "_dihub_deleted"          # marker item: {DELETED: ts, "thread_ts": ..., "noticed": ts}


tsf = float                         # a Slack ts ("1767225600.000123") as a number


def fmt(value: float) -> str:
    return f"{value:.6f}"


@dataclass
class Cursor:
    hwm: str | None = None
    window: list[str] = field(default_factory=list)
    threads: dict[str, list] = field(default_factory=dict)  # parent → mark (see above)
    scanned_at: float | None = None       # when thread_lookback_days was last re-read
    resume: dict[str, Any] | None = None
    known_from: str | None = None         # every thread parent from here on has a mark

    @classmethod
    def load(cls, raw: Any) -> Cursor | None:
        if not isinstance(raw, dict) or raw.get("v") != VERSION:
            return None
        return cls(raw.get("hwm"), list(raw.get("window") or []),
                   dict(raw.get("threads") or {}), raw.get("scanned_at"), raw.get("resume"),
                   raw.get("known_from"))

    def dump(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"v": VERSION, "hwm": self.hwm, "window": self.window,
                               "threads": self.threads, "scanned_at": self.scanned_at}
        if self.known_from is not None:
            doc["known_from"] = self.known_from
        if self.resume is not None:
            doc["resume"] = self.resume
        return doc


def _mark(parent: dict[str, Any], replies: list[str]) -> list:
    return [parent.get("latest_reply"), int(parent.get("reply_count") or 0), sorted(replies)]


def _replies_of(mark: list | None) -> list[str]:
    """The reply ts a full mark lists (a compact mark has none)."""
    return list(mark[2]) if mark and len(mark) > 2 else []


def _pack(parent: str, mark: list, full: bool) -> str:
    """A mark as the resume keeps it: "parent latest count[ reply,reply,...]"."""
    head = f"{parent} {mark[0] or '-'} {int(mark[1])}"
    return f"{head} {','.join(_replies_of(mark))}" if full else head


def _unpack(text: str) -> dict[str, list]:
    marks: dict[str, list] = {}
    for entry in text.split(";") if text else ():
        parent, latest, count, *replies = entry.split(" ")
        mark: list = [None if latest == "-" else latest, int(count)]
        if replies:
            mark.append([r for r in replies[0].split(",") if r])
        marks[parent] = mark
    return marks


_WALKED = ("ts", "thread_ts", "reply_count", "latest_reply")


def _walked(m: dict[str, Any]) -> dict[str, Any]:
    """The attributes of a history message the walk reads after its page is stored."""
    return {k: m[k] for k in _WALKED if k in m}


def _is_parent(m: dict[str, Any]) -> bool:
    return m.get("thread_ts") == m.get("ts") and bool(m.get("reply_count"))


class ChannelPass:
    """One channel's pass. `run()` yields the engine's Pages."""

    def __init__(self, ctx: SlackSession, client: SlackClient, channel_id: str,
                 label: str, state: SyncState, start_floor: float):
        cfg = ctx.config
        self.ctx, self.client, self.cid, self.label = ctx, client, channel_id, label
        self.lookback = float(cfg.lookback_days) * DAY_S
        self.thread_lookback = max(self.lookback, float(cfg.thread_lookback_days) * DAY_S)
        self.page_size = cfg.page_size
        self.recheck = cfg.recheck_threads
        self.raw = bool(cfg.store_text)
        # what of each message to read: its content too when it is stored or classified
        self.shape = shapes.ContentMessages if cfg.store_text or cfg.classifier.rules \
            else shapes.Messages
        self.now = time.time()
        self.noticed = fmt(self.now)
        self.prev = Cursor.load(state.cursor)
        prev_hwm = self.prev.hwm if self.prev else None
        self.first = prev_hwm is None             # nothing to compare with yet
        # the window of edits and deletions; a deeper re-read for thread activity is due
        # every thread_scan_every_hours
        self.window_floor = max(start_floor, tsf(prev_hwm) - self.lookback if prev_hwm else 0)
        resume = self.prev.resume if self.prev else None
        if not (isinstance(resume, dict) and resume.get("r") == RESUME):
            resume = None
        if resume:                                # keep the plan of the stopped run
            self.scan, self.start = bool(resume["scan"]), tsf(resume["start"])
        else:
            last_scan = self.prev.scanned_at if self.prev else None
            self.scan = (not self.first and self.thread_lookback > self.lookback and (
                last_scan is None or self.now - last_scan >= cfg.thread_scan_every_hours * 3600))
            start = max(start_floor, tsf(prev_hwm) - self.thread_lookback) if self.scan \
                else self.window_floor
            self.start = self._reach_followed(start, start_floor)
        resume = resume or {}
        self.phase: str = resume.get("phase") or "history"
        self.top: str | None = resume.get("top")
        self.latest: str | None = resume.get("latest")   # the walk handled it and all newer
        self.skip = self.latest                  # ...so it is not handled twice
        self.saved: str | None = self.latest     # latest of the last checkpoint
        self.seen: set[str] = set((resume.get("seen") or "").split())
        self.extra: dict[str, None] = dict.fromkeys(resume.get("extra") or ())
        self.todo: list[str] = list(resume.get("todo") or ())
        self.capped: str | None = resume.get("capped")   # newest compact mark the cap dropped
        # thread marks: carried over, updated by what this pass reads (through _set/_drop,
        # which keep each mark's resume form ready: a checkpoint after every thread read
        # then costs a join of strings, not a walk over every mark)
        self.threads: dict[str, list] = _unpack(resume["marks"]) if "marks" in resume else (
            dict(self.prev.threads) if self.prev else {})
        self._packed_for: float | None = None    # the window start the forms are for
        self._full: dict[str, str] = {}          # parent → packed full mark
        self._old: list[tuple[float, str, str]] = []   # (ts, parent, packed), compact, sorted
        self.read: set[str] = set()                  # threads read in this run
        self.known_from: float = 0.0

    # -- the pass ------------------------------------------------------------------------
    def run(self) -> Iterator[Page]:
        if self.phase == "history":
            yield from self._walk()
            followed = self._followed()
            self.todo = followed + [p for p in self.extra if p not in self.read
                                    and p not in self.threads and p not in followed]
            self.phase, self.extra = "threads", {}
            if self.todo:
                yield self._checkpoint()
        ahead = self._ahead(list(self.todo))
        try:
            while self.todo:
                parent_ts = self.todo[0]
                yield from self._thread(parent_ts, self.threads.get(parent_ts),
                                        with_parent=True, first=ahead.take(parent_ts))
                self.todo.pop(0)
                yield self._checkpoint()
        finally:
            ahead.close()
        gone = self._vanished()
        if gone:
            yield Page(gone)
        yield Page([], cursor=self._final())

    def _walk(self) -> Iterator[Page]:
        """History from the newest message back to `start`, each changed thread read as
        its parent comes by; a checkpoint after every thread and every page."""
        for resp in self._history():
            msgs = resp.data.get("messages") or []
            if self.top is None:
                self.top = msgs[0]["ts"] if msgs else (self.prev.hwm if self.prev else None)
            yield self._page(msgs, resp)
            # normalized: while this page's threads are read, keep only what the walk
            # reads of its messages (a page holds up to `page_size` whole messages)
            resp, msgs = None, [_walked(m) for m in msgs]
            self.seen.update(m["ts"] for m in msgs if m.get("ts") and self._keep(m["ts"]))
            ahead = self._ahead([m["ts"] for m in msgs if self._to_read(m)])
            try:
                for m in msgs:
                    ts = m.get("ts")
                    if not ts or ts == self.skip:
                        continue
                    if self._to_read(m):
                        yield from self._thread(ts, self.threads.get(ts),
                                                first=ahead.take(ts))
                        self.latest = ts
                        yield self._checkpoint()
                    thread = m.get("thread_ts")
                    if thread and thread != ts and thread not in self.threads:
                        self.extra[thread] = None
            finally:
                ahead.close()
            if msgs:
                self.latest = msgs[-1]["ts"]
                if self.latest != self.saved:       # not already saved with its thread
                    yield self._checkpoint()

    def _history(self) -> Iterator[Any]:
        params: dict[str, Any] = {"channel": self.cid, "limit": self.page_size,
                                  "inclusive": "true"}
        if self.start > 0:
            params["oldest"] = fmt(self.start)
        if self.latest:
            params["latest"] = self.latest
        return self.client.pages("conversations.history", params, channel=self.label,
                                 keep_body=self.raw, shape=self.shape)

    def _to_read(self, m: dict[str, Any]) -> bool:
        """Whether the walk reads the thread of history message `m` (not read yet in this
        run, and new or changed since the cursor's mark)."""
        ts = m.get("ts")
        if not ts or ts == self.skip or ts in self.read:
            return False
        known = self.threads.get(ts)
        return (_is_parent(m) or known is not None) and self._changed(m, known)

    def _ahead(self, parents: list[str]) -> _Ahead:
        return _Ahead(self._first_replies, self.ctx.replies_pool(), parents, self._failing,
                      self.ctx.ahead)

    def _failing(self) -> bool:
        """Whether a call of this stream has been retried after a 5xx, a dropped
        connection or a broken body in this run (see _Ahead)."""
        return getattr(getattr(self.ctx, "metrics", None), "transient_retries", 0) > 0

    def _first_replies(self, parent_ts: str) -> Any:
        return self.client.first_page("conversations.replies", self._replies_query(parent_ts),
                                      channel=self.label, keep_body=self.raw, shape=self.shape)

    def _replies_query(self, parent_ts: str) -> dict[str, Any]:
        return {"channel": self.cid, "ts": parent_ts, "limit": self.page_size}

    def _replies(self, parent_ts: str, first: Future | None) -> Iterator[Any]:
        """The pages of a thread: the first one read ahead (`first`), if it was."""
        params = self._replies_query(parent_ts)
        if first is not None:
            try:                           # raises what reading it raised
                resp = first.result(timeout=AHEAD_PATIENCE_S)
            except TimeoutError:           # sitting out a Retry-After, most likely
                with waits.elsewhere():
                    resp = first.result()
            yield resp
            cursor = next_cursor(resp)
            if not cursor:
                return
            params["cursor"] = cursor
        yield from self.client.pages("conversations.replies", params, channel=self.label,
                                     keep_body=self.raw, shape=self.shape)

    def _thread(self, parent_ts: str, known: list | None, *, with_parent: bool = False,
                first: Future | None = None) -> Iterator[Page]:
        """Read a whole thread; replies the cursor knew that are gone become deletions."""
        self.read.add(parent_ts)
        parent: dict[str, Any] | None = None
        replies: list[str] = []
        try:
            for resp in self._replies(parent_ts, first):
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
            self._drop(parent_ts)
            gone_items = [self._deleted(ts, parent_ts) for ts in _replies_of(known)]
            if with_parent:
                gone_items.append(self._deleted(parent_ts, None))
            if gone_items:
                yield Page(gone_items)
            return
        missing = sorted(set(_replies_of(known)) - set(replies))
        if missing:
            yield Page([self._deleted(ts, parent_ts) for ts in missing])
        if parent is not None and (parent.get("reply_count") or replies):
            self._set(parent_ts, _mark(parent, replies))
        else:
            self._drop(parent_ts)

    def _prev_known_from(self) -> float:
        """From where the previous cursor has a mark for every thread parent (a cursor
        from before `known_from` kept every thread of thread_lookback_days)."""
        if self.prev.known_from is not None:
            return tsf(self.prev.known_from)
        return tsf(self.prev.hwm) - self.thread_lookback

    def _reach_followed(self, start: float, floor: float) -> float:
        """Where to start the re-read: `start`, or further back at the parent of a
        followed thread when that costs fewer calls in all. Reaching back to the i-th
        oldest followed parent costs the history pages it adds (estimated from the
        window's message density) plus one replies call for each of the i older
        followed threads; not reaching back costs one replies call per followed thread.
        It never reaches back past `known_from`: every thread parent it re-reads has a
        mark, so none of them costs a replies call unless it changed."""
        if self.first:
            return start
        followed = sorted(tsf(p) for p, mark in self.prev.threads.items()
                          if floor <= tsf(p) < start and mark[0]
                          and tsf(mark[0]) >= self.window_floor)
        if not followed:
            return start
        known = self._prev_known_from()
        hwm = tsf(self.prev.hwm)
        per_s = len(self.prev.window) / max(self.lookback, DAY_S)

        def pages(since: float) -> int:
            return max(1, math.ceil(per_s * (hwm - since) / self.page_size))

        best, cost = start, len(followed)
        for older, parent in enumerate(followed):
            if parent < known:
                continue
            reach = pages(parent) - pages(start) + older
            if reach < cost:
                best, cost = parent, reach
        if best != start:
            self.ctx.log.debug("%s/messages [%s]: re-reading from %s: about %d more history "
                               "page(s) and %d replies call(s) instead of %d replies calls",
                               self.ctx.source, self.cid, fmt(best),
                               pages(best) - pages(start), followed.index(best),
                               len(followed))
        return best

    # -- comparisons -----------------------------------------------------------------------
    def _changed(self, m: dict[str, Any], known: list | None) -> bool:
        if known is None:
            return True
        if self.recheck and tsf(m["ts"]) >= self.window_floor:
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
            for reply_ts in _replies_of(self.prev.threads.get(ts)):
                items.append(self._deleted(reply_ts, ts))
            self._drop(ts)
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

    def _scan_floor(self, window: float) -> float:
        return window + self.lookback - self.thread_lookback

    def _is_full(self, parent: str, mark: list, window: float) -> bool:
        """A full mark: the thread is within thread_lookback_days or followed."""
        return tsf(parent) >= self._scan_floor(window) or bool(
            mark[0] and tsf(mark[0]) >= window)

    def _forget(self, parent: str) -> None:
        if self._full.pop(parent, None) is None:
            i = bisect_left(self._old, (tsf(parent), parent))
            if i < len(self._old) and self._old[i][1] == parent:
                del self._old[i]

    def _remember(self, parent: str) -> None:
        mark = self.threads[parent]
        if self._is_full(parent, mark, self._packed_for):
            self._full[parent] = _pack(parent, mark, True)
        else:
            item = (tsf(parent), parent, _pack(parent, mark, False))
            self._old.insert(bisect_left(self._old, item), item)

    def _set(self, parent: str, mark: list) -> None:
        if self._packed_for is not None:
            self._forget(parent)
        self.threads[parent] = mark
        if self._packed_for is not None:
            self._remember(parent)

    def _drop(self, parent: str) -> None:
        if self.threads.pop(parent, None) is not None and self._packed_for is not None:
            self._forget(parent)

    def _packed_marks(self) -> str:
        """The marks for the resume: full ones, and at most MAX_OLD_MARKS compact ones
        (the newest; `capped` remembers the newest one left out)."""
        window = self._window_start()
        if window != self._packed_for:
            self._packed_for, self._full, self._old = window, {}, []
            for parent in self.threads:
                self._remember(parent)
        if len(self._old) > MAX_OLD_MARKS:
            dropped = self._old[-MAX_OLD_MARKS - 1][1]
            if self.capped is None or tsf(dropped) > tsf(self.capped):
                self.capped = dropped
        old = [item[2] for item in self._old[-MAX_OLD_MARKS:]]
        return ";".join([*self._full.values(), *old])

    def _pruned_threads(self) -> dict[str, list]:
        """The marks the next pass needs: full marks of the threads a scan re-reads or
        with replies in the window; compact marks of older threads from the oldest
        followed parent on (the furthest the next pass may reach back), at most
        MAX_OLD_MARKS, the newest. Sets `known_from`."""
        window = self._window_start()
        scanned = self._scan_floor(window)
        full: dict[str, list] = {}
        old: list[str] = []
        for p, mark in self.threads.items():
            if self._is_full(p, mark, window):
                full[p] = mark
            else:
                old.append(p)
        known = self.start if self.first else min(self.start, self._prev_known_from())
        if self.capped is not None:
            known = max(known, tsf(self.capped) + 1e-6)
        horizon = max(known, min((tsf(p) for p in full if known <= tsf(p) < scanned),
                                 default=scanned))
        old = sorted((p for p in old if tsf(p) >= horizon), key=tsf, reverse=True)
        if len(old) > MAX_OLD_MARKS:
            old = old[:MAX_OLD_MARKS]
            horizon = tsf(old[-1])
        self.known_from = horizon
        full.update((p, list(self.threads[p][:2])) for p in old)
        return full

    def _checkpoint(self) -> Page:
        base = self.prev or Cursor()
        self.saved = self.latest
        resume = {"r": RESUME, "start": fmt(self.start), "scan": self.scan,
                  "phase": self.phase, "top": self.top, "latest": self.latest,
                  "todo": list(self.todo), "extra": list(self.extra),
                  "seen": " ".join(self.seen), "marks": self._packed_marks(),
                  "capped": self.capped}
        return Page([], cursor=Cursor(base.hwm, base.window, base.threads, base.scanned_at,
                                      resume, base.known_from).dump())

    def _final(self) -> dict[str, Any]:
        start = self._window_start()
        window = sorted((ts for ts in self.seen if tsf(ts) >= start), key=tsf)
        scanned = self.now if self.first or self.scan else self.prev.scanned_at
        threads = self._pruned_threads()
        return Cursor(self._hwm(), window, threads, scanned, None,
                      fmt(self.known_from)).dump()

    # -- items -----------------------------------------------------------------------------
    def _page(self, items: list[dict[str, Any]], resp: Any) -> Page:
        return Page(items, raw_size=resp.size, raw_payload=resp.text if self.raw else None)

    def _deleted(self, ts: str, thread_ts: str | None) -> dict[str, Any]:
        return {DELETED: ts, "thread_ts": thread_ts, "noticed": self.noticed}

    def _audit_thread(self, parent_ts: str, err: Exception) -> None:
        self.ctx.log.warning("%s/messages [%s]: %s", self.ctx.source, self.cid, err)
        self.ctx.audit_event(entity="slack_events", stream="messages", partition=self.cid,
                             action="thread", outcome="skipped", error=str(err),
                             detail={"thread_ts": parent_ts})


class _Ahead:
    """The first replies page of the threads a pass reads next, read in the run's replies
    pool (SlackSession.replies_pool) while the pass handles the thread before them, once
    the upstream has failed transiently in this run (`armed`: a 5xx, a dropped connection
    or a broken body was retried): a call that waits (a 503's or a 429's Retry-After)
    then holds its thread, not its channel. While the upstream is healthy a pass reads
    one thread at a time, so a run stopped at any request (a kill, a rate limit that
    ends it) has read nothing it must read again. At most AHEAD are read or in flight
    for a pass, and none more is started while the pages read and not taken yet, by
    every pass of the run (`weight`, SlackSession.ahead), weigh AHEAD_BYTES (long
    threads' first pages); it takes them in its own order, so what it writes, and where
    its checkpoints fall, are the same as without them. A pass that stops cancels those
    not started, and what the rest weigh no longer counts."""

    def __init__(self, read: Callable[[str], Any], pool: Executor, parents: list[str],
                 armed: Callable[[], bool], weight: AheadWeight | None = None):
        self._read, self._pool, self._parents, self._armed = read, pool, parents, armed
        self._weight = weight if weight is not None else AheadWeight()
        self._futures: dict[str, Future] = {}
        self._submitted = self._taken = 0
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}     # pages read and not taken: their bytes
        self._gone: set[str] = set()         # taken (their pages are the pass's) or dropped
        self._closed = False

    def take(self, parent: str) -> Future | None:
        """The read of `parent`'s first page, started (None: the pass reads it itself)."""
        at = self._taken
        self._taken += 1
        if self._armed():
            self._submitted = max(self._submitted, at)
            while (self._submitted < len(self._parents) and self._submitted <= at + AHEAD
                   and self._weight.held < AHEAD_BYTES):
                nxt = self._parents[self._submitted]
                future = self._futures[nxt] = self._pool.submit(self._read, nxt)
                future.add_done_callback(lambda f, p=nxt: self._weigh(p, f))
                self._submitted += 1
        future = self._futures.pop(parent, None)
        if future is not None:
            self._drop(parent)
        return future

    def _drop(self, parent: str) -> None:
        with self._lock:
            self._weight.add(-self._sizes.pop(parent, 0))
            self._gone.add(parent)

    def _weigh(self, parent: str, future: Future) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        size = getattr(future.result(), "size", 0) or 0
        with self._lock:
            if parent not in self._gone and not self._closed:
                self._sizes[parent] = size
                self._weight.add(size)

    def close(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        with self._lock:
            self._closed = True
            self._weight.add(-sum(self._sizes.values()))
            self._sizes.clear()
