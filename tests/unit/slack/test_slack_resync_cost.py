"""What an incremental `messages` pass costs when thread activity is spread over months
(threads whose parent is months old keep getting replies), and how a stopped pass
resumes. In-process against the simulator's method functions (see tests/support/slack.py)."""

from __future__ import annotations

import importlib
import json
import random

import pytest

from tests.simulators.slack import Workspace, us_of
from tests.support.slack import SlackSource

from .test_slack_pass import exact

DAY_US = 86_400 * 1_000_000
slack_messages = importlib.import_module("dihub.connectors.slack.messages")


def six_months(channels: int = 3, messages: int = 1500, seed: int = 31) -> Workspace:
    return Workspace.generate(channels=channels, messages=messages, days=180,
                              long_threads=0.2, seed=seed)


def old_and_active(ws: Workspace, ch) -> list[dict]:
    """Threads whose parent is over two months old and whose latest reply is recent."""
    end = ch.keys[-1]
    return [m for m in ch.messages if m.get("reply_count")
            and us_of(m["ts"]) < end - 60 * DAY_US
            and us_of(m["latest_reply"]) > end - 7 * DAY_US]


def by_method(h: SlackSource) -> dict[str, int]:
    out: dict[str, int] = {}
    for method, _ in h.client.calls:
        out[method] = out.get(method, 0) + 1
    return out


def test_a_no_change_resync_costs_channels_not_threads(slack_source):
    ws = six_months()
    n = len(ws.channels)
    for ch in ws.channels.values():                   # the shape the issue describes
        assert len(old_and_active(ws, ch)) >= 3, ch.id
    h = slack_source(ws)
    h.sync()
    exact(h)
    h.client.calls.clear()
    counts = h.sync()
    assert (counts["inserted"], counts["updated"]) == (0, 0)
    calls = by_method(h)
    # the channel listing, one window page per channel, and at most 2 pages more per
    # channel to reach the old parents of active threads; not a replies call per thread
    assert calls.get("conversations.replies", 0) == 0, calls
    assert len(h.client.calls) <= n + 2 * n, calls
    exact(h)


def test_new_replies_to_old_threads_cost_one_call_each_and_are_all_found(slack_source):
    ws = six_months(seed=32)
    n = len(ws.channels)
    h = slack_source(ws)
    h.sync()
    new, changed = [], 0
    for ch in ws.channels.values():
        for parent in old_and_active(ws, ch)[:2]:
            new.append(ws.add_reply(ch.id, parent["ts"]))
            changed += 1
    # and a six-month-old message of the first channel gets its first reply, broadcast
    first = next(iter(ws.channels.values()))
    plain = next(m for m in first.messages if "thread_ts" not in m)
    new.append(ws.add_reply(first.id, plain["ts"], broadcast=True))
    changed += 1
    assert us_of(plain["ts"]) < us_of(h.states[first.id].cursor["known_from"])
    h.client.calls.clear()
    counts = h.sync()
    exact(h)
    assert counts["inserted"] == len(new)
    assert counts["updated"] == changed                # the parents' reply_count
    assert {f"{ch_id}:{r['ts']}" for ch_id, r in
            ((r_ch.id, r) for r_ch in ws.channels.values() for r in new
             if r["ts"] in {x["ts"] for rs in r_ch.threads.values() for x in rs})} <= h.live()
    calls = by_method(h)
    assert calls["conversations.replies"] == changed, calls
    assert len(h.client.calls) <= n + 2 * n + changed, calls
    # nothing new: only the thread found older than known_from (where the cursor has
    # every mark) costs a replies call while it stays active
    h.client.calls.clear()
    assert h.sync()["inserted"] == 0
    assert by_method(h).get("conversations.replies", 0) == 1
    assert len(h.client.calls) <= n + 2 * n + 1


def test_the_thread_map_is_bounded(slack_source, monkeypatch):
    """Compact marks go back only to the oldest followed parent, at most MAX_OLD_MARKS of
    them; past the cap the oldest followed threads cost a replies call, still exact."""
    ws = six_months(channels=1, messages=2000, seed=33)
    h = slack_source(ws)
    h.sync()
    cursor = h.states["C00000001"].cursor
    hwm = us_of(cursor["hwm"])
    known = us_of(cursor["known_from"])
    full = {p: m for p, m in cursor["threads"].items() if len(m) == 3}
    compact = {p: m for p, m in cursor["threads"].items() if len(m) == 2}
    followed = [p for p, m in full.items() if us_of(m[0]) >= hwm - 7 * DAY_US
                and us_of(p) < hwm - 30 * DAY_US]
    assert compact and followed
    assert known == min(us_of(p) for p in followed)
    assert all(us_of(p) >= known for p in compact)
    assert all(us_of(p) >= hwm - 30 * DAY_US or p in followed for p in full)
    assert len(json.dumps(cursor)) < 60_000

    monkeypatch.setattr(slack_messages, "MAX_OLD_MARKS", 5)
    capped = slack_source(ws)
    capped.sync()
    cursor = capped.states["C00000001"].cursor
    compact = [p for p, m in cursor["threads"].items() if len(m) == 2]
    assert len(compact) <= 5
    assert us_of(cursor["known_from"]) > known
    beyond = [p for p in followed if us_of(p) < us_of(cursor["known_from"])]
    assert beyond
    reply = ws.add_reply("chan-01", beyond[0])
    capped.client.calls.clear()
    assert capped.sync()["inserted"] == 1
    assert f"C00000001:{reply['ts']}" in capped.live()
    assert by_method(capped)["conversations.replies"] <= len(beyond)
    exact(capped)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_pass_stopped_again_and_again_reads_every_thread_once(slack_source, seed):
    """Stopped at random calls until done: the store is exact, no thread is read twice,
    and each stop costs at most the listing and one history page again."""
    ws = Workspace.generate(channels=1, messages=800, days=90, long_threads=0.2, seed=seed)
    clean = slack_source(ws, page_size=60)
    clean.sync()
    full = len(clean.client.calls)

    h = slack_source(ws, page_size=60)
    rng = random.Random(seed)
    stops = 0
    while True:
        h.client.fail_after = len(h.client.calls) + rng.randint(1, 25)
        try:
            h.sync()
            break
        except KeyboardInterrupt:
            stops += 1
    assert stops >= 3
    assert h.docs == clean.docs
    threads = [p["ts"] for m, p in h.client.calls if m == "conversations.replies"]
    assert len(threads) == len(set(threads)) == ws.counts()["threads"]
    assert len(h.client.calls) <= full + 2 * stops

    # and the next pass, with nothing new, is as cheap as after an uninterrupted run
    clean.client.calls.clear()
    h.client.calls.clear()
    clean.sync()
    h.sync()
    assert len(h.client.calls) == len(clean.client.calls)
    mine, theirs = (dict(x.states["C00000001"].cursor, scanned_at=None) for x in (h, clean))
    assert mine == theirs


def test_a_cursor_saved_before_known_from_and_its_old_resume_still_work(slack_source):
    ws = Workspace.generate(channels=1, messages=600, days=180, long_threads=0.2, seed=34)
    h = slack_source(ws)
    h.sync()
    state = h.states["C00000001"]
    cursor = state.cursor
    del cursor["known_from"]                     # as the previous version saved it
    cursor["resume"] = {"start": "0.000000", "top": None, "latest": None, "seen": [],
                        "threads": {}}           # and its resume format: dropped
    h.put_state(state)
    ch = ws.channel("chan-01")
    parent = old_and_active(ws, ch)[0]
    reply = ws.add_reply("chan-01", parent["ts"])
    assert h.sync()["inserted"] == 1
    exact(h)
    assert f"C00000001:{reply['ts']}" in h.live()
    cursor = h.states["C00000001"].cursor
    assert "resume" not in cursor and "known_from" in cursor
