"""A generated Slack workspace: channels, messages, threads and users, plus the
changes a test makes between two syncs (new messages and replies, edits, deletions).

Every generated object starts as a copy of a recorded fixture object (see
fixtures.py); its identity (ids, ts, user, text) is overwritten, the other
fields and their order stay as recorded. The same arguments always give the
same workspace.

Timestamps are Slack `ts` strings ("1767225600.000123"): unique per channel,
compared as numbers. Each mutation helper takes the workspace lock and moves
the workspace clock forward (one minute unless `at=` is given), so a new
message is always the newest.
"""

from __future__ import annotations

import random
import threading
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import fixtures

TEAM = {"id": "T0SIM0001", "name": "dihub-sim", "domain": "dihub-sim"}
BOT = {"user_id": "U0BOT0001", "bot_id": "B0BOT0001", "name": "dihub"}
DEPLOY_BOT = {"bot_id": "B0DEPLOY1", "username": "deploybot"}
WORDS = ("deploy", "review", "incident", "lunch", "build", "flaky", "release", "metrics",
         "standup", "roadmap", "latency", "rollback", "ticket", "sprint", "coffee", "docs")


def ts_of(us: int) -> str:
    """Microseconds since the epoch → a Slack ts."""
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def us_of(ts: str) -> int:
    sec, _, frac = str(ts).partition(".")
    return int(sec) * 1_000_000 + int((frac + "000000")[:6])


@dataclass
class Channel:
    id: str
    info: dict[str, Any]                      # the conversations.list object
    member: bool = True                       # is the bot in it
    messages: list[dict[str, Any]] = field(default_factory=list)    # top level, oldest first
    keys: list[int] = field(default_factory=list)                   # their ts in µs
    threads: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # parent ts → replies
    used: set[int] = field(default_factory=set)                     # every ts in µs, ever

    @property
    def name(self) -> str:
        return self.info["name"]

    @property
    def private(self) -> bool:
        return bool(self.info.get("is_private"))

    def index(self, ts: str) -> int:
        us = us_of(ts)
        i = bisect_left(self.keys, us)
        if i == len(self.keys) or self.keys[i] != us:
            raise KeyError(f"no message {ts} in {self.id}")
        return i

    def message(self, ts: str) -> dict[str, Any]:
        return self.messages[self.index(ts)]

    def find(self, ts: str) -> dict[str, Any] | None:
        """A top-level message or a reply with this ts."""
        try:
            return self.message(ts)
        except KeyError:
            pass
        for replies in self.threads.values():
            for r in replies:
                if r["ts"] == ts:
                    return r
        return None

    def parents(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("reply_count")]

    def counts(self) -> dict[str, int]:
        replies = sum(len(r) for r in self.threads.values())
        return {"messages": len(self.messages), "threads": len(self.threads),
                "replies": replies, "events": len(self.messages) + replies}


class Workspace:
    def __init__(self, *, start: str = "2026-01-01T00:00:00Z"):
        self.team = dict(TEAM)
        self.bot = dict(BOT)
        self.channels: dict[str, Channel] = {}
        self.users: list[dict[str, Any]] = []
        self.lock = threading.RLock()
        self.clock_us = _epoch_us(start)
        self._rng = random.Random(0)

    # -- generation --------------------------------------------------------------------
    @classmethod
    def generate(cls, channels: int = 3, messages: int = 100, *, thread_ratio: float = 0.10,
                 max_replies: int = 30, users: int = 20, private: int = 0,
                 not_member: int = 0, bot_ratio: float = 0.05, days: float = 60,
                 start: str = "2026-01-01T00:00:00Z", seed: int = 7,
                 long_threads: float = 0.0) -> Workspace:
        """`channels` public channels the bot is in, each with `messages` top-level
        messages over `days`; exactly round(thread_ratio * messages) of them are
        thread parents with 1..max_replies replies. Plus `private` private channels
        (bot is a member) and `not_member` public channels the bot is not in, with
        the same content. About `bot_ratio` of the messages come from the deploy bot.

        Replies come within three days of their parent, except in
        round(long_threads * threads) threads of each channel (at least one when
        long_threads > 0): those stay active from their parent to the end, replies
        spread over the whole time, the latest within the last three days. Their
        parents are spread over `days` like the others, so most are months old
        when `days` is (thread activity as real workspaces show it)."""
        ws = cls(start=start)
        rng = random.Random(seed)
        ws._rng = random.Random(seed + 1)
        for i in range(users):
            ws._add_user(i)
        begin = ws.clock_us
        span = int(days * 86_400 * 1_000_000)
        kinds = ([("public", True)] * channels + [("private", True)] * private
                 + [("public", False)] * not_member)
        for n, (kind, member) in enumerate(kinds):
            ch = ws._add_channel(n, private=kind == "private", member=member, created=begin)
            ws._fill(ch, rng, messages, thread_ratio, max_replies, bot_ratio, begin, span,
                     long_threads)
        ws.clock_us = begin + span + 60_000_000
        return ws

    def _add_user(self, i: int) -> None:
        u = fixtures.user()
        uid = f"U{i + 1:08d}"
        u.update(id=uid, name=f"user{i + 1}", real_name=f"User {i + 1}", team_id=TEAM["id"],
                 updated=1_767_225_600 + i)
        u["profile"].update(display_name=f"user{i + 1}", real_name=f"User {i + 1}",
                            real_name_normalized=f"User {i + 1}",
                            display_name_normalized=f"user{i + 1}",
                            email=f"user{i + 1}@example.com", team=TEAM["id"])
        self.users.append(u)

    def _add_channel(self, n: int, *, private: bool, member: bool, created: int) -> Channel:
        info = fixtures.channel()
        cid = f"{'G' if private else 'C'}{n + 1:08d}"
        name = f"{'private' if private else 'chan'}-{n + 1:02d}"
        if not member:
            name = f"elsewhere-{n + 1:02d}"
        info.update(id=cid, name=name, name_normalized=name, created=created // 1_000_000,
                    is_general=False, is_member=member, is_private=private,
                    creator=self.users[0]["id"] if self.users else "U00000001",
                    shared_team_ids=[TEAM["id"]], num_members=len(self.users))
        ch = Channel(cid, info, member=member)
        self.channels[cid] = ch
        return ch

    def _fill(self, ch: Channel, rng: random.Random, n: int, thread_ratio: float,
              max_replies: int, bot_ratio: float, begin: int, span: int,
              long_threads: float = 0.0) -> None:
        times = sorted(rng.sample(range(span), n)) if n else []
        for i, off in enumerate(times):
            by_bot = rng.random() < bot_ratio
            self._put(ch, self._new_message(ch, begin + off, i, rng, by_bot))
        parents = rng.sample(range(n), round(thread_ratio * n)) if n else []
        end = begin + span
        recent = 3 * 86_400 * 1_000_000
        long: set[int] = set()
        if long_threads > 0 and parents:
            # a draw of its own, so the other threads stay as they are without long ones
            pick = random.Random(f"{ch.id}:{n}:{len(parents)}:long")
            long = set(pick.sample(parents, max(1, min(len(parents),
                                                       round(long_threads * len(parents))))))
        for p in sorted(parents):
            parent = ch.messages[p]
            t0 = us_of(parent["ts"])
            k = rng.randint(1, max_replies)
            if p in long and end - t0 > recent + k + 1:
                # active until now: replies over the whole time, the latest recent
                offs = sorted(rng.sample(range(1, end - recent - t0), k - 1)) + [
                    rng.randrange(end - recent - t0, end - t0)]
            else:
                window = max(k + 1, min(recent, end - t0))
                offs = sorted(rng.sample(range(1, window), k))
            for off in offs:
                self._reply(ch, parent, t0 + off, rng, refresh=False)
            self._refresh_parent(ch, parent["ts"])

    def _new_message(self, ch: Channel, us: int, i: int, rng: random.Random,
                     by_bot: bool = False, text: str | None = None,
                     user: str | None = None) -> dict[str, Any]:
        m = fixtures.message()
        us = self._free(ch, us)
        if by_bot:
            m.pop("user", None)
            m.update(subtype="bot_message", bot_id=DEPLOY_BOT["bot_id"],
                     username=DEPLOY_BOT["username"])
            text = text or f"Deployed service-{rng.randint(1, 9)} v1.{i}.{rng.randint(0, 9)} " \
                           f"to production (#{ch.name} {ts_of(us)})"
        else:
            m["user"] = user or rng.choice(self.users)["id"]
        m["text"] = text or _words(rng, f"#{ch.name} message {i}")
        m["ts"] = ts_of(us)
        return m

    def _reply(self, ch: Channel, parent: dict[str, Any], us: int, rng: random.Random,
               text: str | None = None, user: str | None = None,
               broadcast: bool = False, refresh: bool = True) -> dict[str, Any]:
        r = fixtures.reply()
        us = self._free(ch, us)
        r.update(parent_user_id=parent.get("user") or parent.get("bot_id"),
                 text=text or _words(rng, f"#{ch.name} reply to {parent['ts']}"),
                 thread_ts=parent["ts"], ts=ts_of(us),
                 user=user or rng.choice(self.users)["id"])
        if broadcast:
            r["subtype"] = "thread_broadcast"
        replies = ch.threads.setdefault(parent["ts"], [])
        replies.append(r)
        if len(replies) > 1 and us < us_of(replies[-2]["ts"]):
            replies.sort(key=lambda x: us_of(x["ts"]))
        if broadcast:
            self._put(ch, r)
        if refresh:
            self._refresh_parent(ch, parent["ts"])
        return r

    def _free(self, ch: Channel, us: int) -> int:
        while us in ch.used:
            us += 1
        ch.used.add(us)
        return us

    def _put(self, ch: Channel, m: dict[str, Any]) -> None:
        us = us_of(m["ts"])
        i = bisect_left(ch.keys, us)
        ch.keys.insert(i, us)
        ch.messages.insert(i, m)

    def _refresh_parent(self, ch: Channel, parent_ts: str) -> None:
        """Recompute reply_count, reply_users, latest_reply of a thread parent."""
        parent = ch.message(parent_ts)
        replies = ch.threads.get(parent_ts, [])
        if not replies:
            ch.threads.pop(parent_ts, None)
            if parent.get("subtype") == "tombstone":      # nothing left hanging off it
                self._remove(ch, parent_ts)
                return
            for k in ("thread_ts", "reply_count", "reply_users_count", "latest_reply",
                      "reply_users", "is_locked", "subscribed"):
                parent.pop(k, None)
            return
        users = list(dict.fromkeys(r["user"] for r in replies))
        parent.update(thread_ts=parent["ts"], reply_count=len(replies),
                      reply_users_count=len(users), latest_reply=replies[-1]["ts"],
                      reply_users=users[:5], is_locked=False, subscribed=False)

    def _remove(self, ch: Channel, ts: str) -> None:
        i = ch.index(ts)
        del ch.keys[i]
        del ch.messages[i]

    # -- changes between syncs -----------------------------------------------------------
    def channel(self, ref: str) -> Channel:
        for ch in self.channels.values():
            if ref in (ch.id, ch.name, f"#{ch.name}"):
                return ch
        raise KeyError(f"no channel {ref!r}")

    def tick(self, minutes: float = 1) -> int:
        with self.lock:
            self.clock_us += int(minutes * 60_000_000)
            return self.clock_us

    def _at(self, at: str | None) -> int:
        if at is not None:
            self.clock_us = max(self.clock_us, _epoch_us(at))
            return _epoch_us(at)
        return self.tick()

    def add_message(self, channel: str, text: str | None = None, *, user: str | None = None,
                    bot: bool = False, at: str | None = None) -> dict[str, Any]:
        with self.lock:
            ch = self.channel(channel)
            m = self._new_message(ch, self._at(at), len(ch.messages), self._rng, bot, text,
                                  user)
            self._put(ch, m)
            return m

    def add_reply(self, channel: str, parent_ts: str, text: str | None = None, *,
                  user: str | None = None, broadcast: bool = False,
                  at: str | None = None) -> dict[str, Any]:
        with self.lock:
            ch = self.channel(channel)
            return self._reply(ch, ch.message(parent_ts), self._at(at), self._rng, text,
                               user, broadcast)

    def edit(self, channel: str, ts: str, text: str, *, at: str | None = None
             ) -> dict[str, Any]:
        """Change a message's or a reply's text; Slack adds `edited: {user, ts}`."""
        with self.lock:
            ch = self.channel(channel)
            m = ch.find(ts)
            if m is None:
                raise KeyError(f"no message {ts} in {ch.id}")
            m["text"] = text
            m["edited"] = {"user": m.get("user") or m.get("bot_id"), "ts": ts_of(self._at(at))}
            return m

    def delete(self, channel: str, ts: str, *, at: str | None = None) -> None:
        """Delete a message. A thread parent with replies becomes a `tombstone`; a
        deleted reply leaves its thread (and the parent's counts change)."""
        with self.lock:
            ch = self.channel(channel)
            self._at(at)
            for parent_ts, replies in list(ch.threads.items()):
                kept = [r for r in replies if r["ts"] != ts]
                if len(kept) != len(replies):
                    ch.threads[parent_ts] = kept
                    if any(m["ts"] == ts for m in ch.messages):      # a broadcast reply
                        self._remove(ch, ts)
                    self._refresh_parent(ch, parent_ts)
                    return
            ch.message(ts)                                  # KeyError if unknown
            if ch.threads.get(ts):
                tomb = {"type": "message", "subtype": "tombstone", "text":
                        "This message was deleted.", "user": "USLACKBOT", "hidden": True,
                        "ts": ts}
                ch.messages[ch.index(ts)] = tomb
                self._refresh_parent(ch, ts)
                return
            self._remove(ch, ts)

    # -- views -----------------------------------------------------------------------------
    def counts(self, member_only: bool = True) -> dict[str, int]:
        total = {"channels": 0, "messages": 0, "threads": 0, "replies": 0, "events": 0}
        for ch in self.channels.values():
            if member_only and not ch.member:
                continue
            total["channels"] += 1
            for k, v in ch.counts().items():
                total[k] += v
        return total

    def event_ids(self, member_only: bool = True) -> set[str]:
        """`<channel>:<ts>` of every message and reply (what slack_events must hold)."""
        out: set[str] = set()
        for ch in self.channels.values():
            if member_only and not ch.member:
                continue
            out.update(f"{ch.id}:{m['ts']}" for m in ch.messages)
            for replies in ch.threads.values():
                out.update(f"{ch.id}:{r['ts']}" for r in replies)
        return out

    def texts(self) -> list[str]:
        out = []
        for ch in self.channels.values():
            out.extend(m.get("text", "") for m in ch.messages)
            for replies in ch.threads.values():
                out.extend(r["text"] for r in replies)
        return out


def _words(rng: random.Random, head: str) -> str:
    return f"{head}: " + " ".join(rng.choices(WORDS, k=rng.randint(3, 12)))


def _epoch_us(iso: str) -> int:
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000


__all__ = ["BOT", "DEPLOY_BOT", "TEAM", "Channel", "Workspace", "ts_of", "us_of"]
