"""The `messages` pass of one channel (history + threads + look-back window), run
by the engine into a SQLiteStore, answered in-process by the simulator's method
functions (see tests/support/slack.py)."""

from __future__ import annotations

import json
import logging

import pytest

from tests.simulators.slack import Workspace, us_of
from tests.simulators.slack.testing import expected_events
from tests.support.slack import SlackSource

DAY_US = 86_400 * 1_000_000


def exact(h: SlackSource) -> None:
    want = expected_events(h.ws)
    have = h.events()
    assert h.live() == {k for k, v in want.items() if not v["deleted"]}
    for eid, exp in want.items():
        doc = have[eid]
        assert (doc["deleted"], doc["text_sha256"], doc["reply_count"], doc["latest_reply"]) \
            == (exp["deleted"], exp["text_sha256"], exp["reply_count"], exp["latest_reply"]), eid


def test_first_pass_reads_every_reply_with_one_call_per_thread(slack_source):
    ws = Workspace.generate(channels=2, messages=300, seed=1)
    h = slack_source(ws)
    counts = h.sync()
    exact(h)
    assert counts["inserted"] == ws.counts()["events"]
    assert h.client.count("conversations.replies") == ws.counts()["threads"]
    assert h.client.count("conversations.history") == 2


def test_the_cursor_keeps_only_the_window_and_followed_threads(slack_source):
    ws = Workspace.generate(channels=1, messages=2000, days=100, seed=2)
    h = slack_source(ws)
    h.sync()
    cursor = h.states["C00000001"].cursor
    hwm = us_of(cursor["hwm"])
    ch = ws.channel("chan-01")
    in_window = [m for m in ch.messages if us_of(m["ts"]) >= hwm - 7 * DAY_US]
    assert sorted(cursor["window"]) == sorted(m["ts"] for m in in_window)
    # marks of the threads a scan re-reads (30 days) or followed (replies within 7 days)
    assert all(us_of(p) >= hwm - 30 * DAY_US or us_of(mark[0]) >= hwm - 7 * DAY_US
               for p, mark in cursor["threads"].items())
    assert {p for p in cursor["threads"] if us_of(p) >= hwm - 30 * DAY_US} == {
        m["ts"] for m in ch.messages if m.get("reply_count")
        and us_of(m["ts"]) >= hwm - 30 * DAY_US}
    assert "resume" not in cursor
    assert len(json.dumps(cursor)) < 50_000        # 2,000 messages, 200 threads: ~25 KB


def test_threads_with_more_replies_than_a_page(slack_source):
    ws = Workspace.generate(channels=1, messages=50, max_replies=30, seed=3)
    h = slack_source(ws, page_size=7)
    h.sync()
    exact(h)
    assert h.client.count("conversations.history") == 8          # 50 messages / 7


def test_a_crashed_first_sync_resumes_where_it_stopped(slack_source):
    ws = Workspace.generate(channels=1, messages=400, seed=4)
    from_scratch = slack_source(ws, page_size=50)
    from_scratch.sync()
    full_cost = len(from_scratch.client.calls)          # 1 list + 8 history + 40 threads

    h = slack_source(ws, page_size=50)
    h.client.fail_after = 30                # in the middle of history pages and threads
    with pytest.raises(KeyboardInterrupt):
        h.sync()
    saved = h.states["C00000001"].cursor
    assert saved["hwm"] is None and saved["resume"]["latest"]
    h.client.fail_after = None
    h.client.calls.clear()
    h.sync()
    exact(h)
    history = [p for m, p in h.client.calls if m == "conversations.history"]
    assert history[0]["latest"] == saved["resume"]["latest"]
    # only what had not been checkpointed is read again
    assert 30 + len(h.client.calls) <= full_cost + 8
    assert "resume" not in h.states["C00000001"].cursor


def test_a_window_that_vanished_entirely_is_not_marked_deleted(slack_source, caplog):
    ws = Workspace.generate(channels=1, messages=100, seed=5)
    h = slack_source(ws)
    h.sync()
    ch = ws.channel("chan-01")
    hidden = list(ch.messages)
    ch.messages.clear()
    ch.keys.clear()                # e.g. a free workspace that no longer shows old history
    with caplog.at_level(logging.WARNING, logger="dihub.slack"):
        h.sync()
    assert "not marking them deleted" in caplog.text
    assert not any(d["deleted"] for d in h.events().values())
    assert hidden


def test_recheck_threads_catches_an_edited_reply(slack_source):
    ws = Workspace.generate(channels=1, messages=200, days=20, seed=6)
    ch = ws.channel("chan-01")
    end = ch.keys[-1]
    parent = next(m for m in reversed(ch.messages) if m.get("reply_count")
                  and us_of(m["ts"]) > end - 3 * DAY_US)
    reply = ch.threads[parent["ts"]][0]
    plain = slack_source(ws)
    plain.sync()
    checked = slack_source(ws, recheck_threads=True)
    checked.sync()
    ws.edit("chan-01", reply["ts"], "an edited reply")
    plain.sync()
    checked.sync()
    eid = f"{ch.id}:{reply['ts']}"
    assert plain.events()[eid]["edited_at"] is None               # the documented limit
    assert checked.events()[eid]["edited_at"] is not None
    assert checked.last["updated"] == 1


def test_start_date_bounds_the_first_sync(slack_source):
    ws = Workspace.generate(channels=1, messages=200, days=60, start="2026-01-01", seed=7)
    h = slack_source(ws, start_date="2026-02-01")
    h.sync()
    floor = us_of("1769904000")                                  # 2026-02-01T00:00:00Z
    tops = {eid for eid, d in h.events().items() if d["thread_ts"] in (None, d["ts"])}
    want = {f"C00000001:{m['ts']}" for m in ws.channel("chan-01").messages
            if us_of(m["ts"]) >= floor}
    assert tops == want


def test_a_broadcast_reply_reveals_a_thread_the_cursor_does_not_follow(slack_source):
    ws = Workspace.generate(channels=1, messages=200, days=60, seed=8)
    ch = ws.channel("chan-01")
    end = ch.keys[-1]
    h = slack_source(ws)
    h.sync()
    old = next(m for m in ch.messages if m.get("reply_count")
               and us_of(m["latest_reply"]) < end - 30 * DAY_US)
    quiet = ws.add_reply("chan-01", old["ts"])
    loud = ws.add_reply("chan-01", old["ts"], broadcast=True)
    h.sync()
    exact(h)
    assert f"{ch.id}:{quiet['ts']}" in h.live() and f"{ch.id}:{loud['ts']}" in h.live()


def test_full_refresh_rereads_everything_and_writes_nothing_new(slack_source):
    ws = Workspace.generate(channels=1, messages=150, seed=9)
    h = slack_source(ws)
    h.sync()
    counts = h.sync(full_refresh=True)
    assert counts["inserted"] == counts["updated"] == 0
    assert counts["unchanged"] == ws.counts()["events"]


def test_zero_lookback_still_gets_new_messages_and_replies_to_the_newest(slack_source):
    ws = Workspace.generate(channels=1, messages=100, seed=10)
    h = slack_source(ws, lookback_days=0)
    h.sync()
    last = ws.channel("chan-01").messages[-1]
    ws.add_message("chan-01")
    ws.add_reply("chan-01", last["ts"])
    counts = h.sync()
    exact(h)
    assert counts["inserted"] == 2


def test_deleted_replies_and_thread_parents(slack_source):
    ws = Workspace.generate(channels=1, messages=200, days=30, seed=8)
    ch = ws.channel("chan-01")
    end = ch.keys[-1]
    one, two = [m for m in ch.messages if m.get("reply_count", 0) >= 2
                and us_of(m["ts"]) > end - 6 * DAY_US][:2]
    h = slack_source(ws)
    h.sync()
    reply = ch.threads[one["ts"]][0]["ts"]
    ws.delete("chan-01", reply)                 # a reply: its thread is re-read
    ws.delete("chan-01", two["ts"])             # a parent with replies: a tombstone
    h.sync()
    exact(h)
    docs = h.events()
    assert docs[f"{ch.id}:{reply}"]["deleted"] is True
    assert docs[f"{ch.id}:{reply}"]["thread_ts"] == one["ts"]
    tomb = docs[f"{ch.id}:{two['ts']}"]
    assert tomb["deleted"] is True and tomb["reply_count"] == two["reply_count"]
    for r in list(ch.threads[two["ts"]]):       # the last reply takes the tombstone along
        ws.delete("chan-01", r["ts"])
    h.sync()
    exact(h)
    assert h.events()[f"{ch.id}:{two['ts']}"]["deleted"] is True


def test_replies_to_quiet_threads_wait_for_the_thread_scan(slack_source):
    """A plain reply to a thread whose parent and latest reply are older than
    lookback_days is invisible in history. The periodic re-read of
    thread_lookback_days finds it (its parent's latest_reply changed); older than that,
    only a broadcast reply or --full-refresh does."""
    ws = Workspace.generate(channels=1, messages=300, days=90, seed=9)
    ch = ws.channel("chan-01")
    end = ch.keys[-1]
    quiet = [m for m in ch.messages if m.get("reply_count")
             and end - 25 * DAY_US < us_of(m["ts"]) < us_of(m["latest_reply"])
             < end - 10 * DAY_US]
    ancient = [m for m in ch.messages if m.get("reply_count")
               and us_of(m["latest_reply"]) < end - 45 * DAY_US]
    h = slack_source(ws, thread_scan_every_hours=24)
    h.sync()
    r1 = ws.add_reply("chan-01", quiet[0]["ts"])
    r2 = ws.add_reply("chan-01", ancient[0]["ts"])
    h.sync()                                       # the scan is not due yet
    assert f"{ch.id}:{r1['ts']}" not in h.live()
    history_calls = h.client.count("conversations.history")

    h.config.thread_scan_every_hours = 0           # due now
    h.sync()
    assert f"{ch.id}:{r1['ts']}" in h.live()
    assert f"{ch.id}:{r2['ts']}" not in h.live()   # beyond thread_lookback_days
    assert h.client.count("conversations.history") == history_calls + 1   # 30 days: 1 page
    h.sync(full_refresh=True)
    exact(h)


def test_lookback_days_is_what_catches_an_old_edit(slack_source):
    ws = Workspace.generate(channels=1, messages=150, days=60, seed=12)
    ch = ws.channel("chan-01")
    end = ch.keys[-1]
    target = next(m for m in ch.messages if "thread_ts" not in m
                  and end - 20 * DAY_US < us_of(m["ts"]) < end - 12 * DAY_US)
    week, month = slack_source(ws, lookback_days=7), slack_source(ws, lookback_days=30)
    week.sync()
    month.sync()
    ws.edit("chan-01", target["ts"], "changed much later")
    week.sync()
    month.sync()
    eid = f"{ch.id}:{target['ts']}"
    assert week.events()[eid]["edited_at"] is None          # 12+ days old: outside 7 days
    assert month.events()[eid]["edited_at"] is not None
    exact(month)


def test_followed_threads_cost_a_longer_history_page_not_a_call_each(slack_source):
    ws = Workspace.generate(channels=1, messages=2000, days=60, seed=13)
    h = slack_source(ws)
    h.sync()
    cursor = h.states["C00000001"].cursor
    floor = us_of(cursor["hwm"]) - 7 * DAY_US
    followed = [p for p, mark in cursor["threads"].items()
                if us_of(p) < floor and us_of(mark[0]) >= floor]
    assert len(followed) >= 3
    h.client.calls.clear()
    assert h.sync()["inserted"] == 0
    assert h.client.count("conversations.replies") == 0
    assert h.client.count("conversations.history") == 1
    # a new reply to one of them is still found, through its parent's latest_reply
    reply = ws.add_reply("chan-01", followed[0])
    h.client.calls.clear()
    assert h.sync()["inserted"] == 1
    assert h.client.count("conversations.replies") == 1
    assert f"C00000001:{reply['ts']}" in h.live()


def test_sparse_history_is_not_worth_reading_back_for_one_old_thread(slack_source):
    ws = Workspace.generate(channels=1, messages=3000, days=30, thread_ratio=0, seed=14)
    ch = ws.channel("chan-01")
    old = ch.messages[5]                                # ~30 days old, far behind the window
    ws.add_reply("chan-01", old["ts"])                  # recent reply: the thread is followed
    h = slack_source(ws)
    h.sync()
    ws.add_reply("chan-01", old["ts"])
    h.client.calls.clear()
    h.sync()
    exact(h)
    # 3,000 messages in 30 days: reading back would take 3 pages; one replies call is less
    history = [p for m, p in h.client.calls if m == "conversations.history"]
    assert len(history) == 1 and float(history[0]["oldest"]) > float(old["ts"])


@pytest.mark.parametrize("scopes,email", [
    (("users:read",), None),
    (("users:read", "users:read.email"), "user1@example.com"),
])
def test_users_carry_an_email_only_with_the_email_scope(scopes, email):
    from dihub.connectors.slack import SlackConfig
    from dihub.connectors.slack.client import SlackSession
    from dihub.connectors.slack.streams import users
    from dihub.connectors.stream import Context
    from tests.support.slack import FakeClient, answered_by

    ws = Workspace.generate(channels=1, messages=1, users=3)
    client = FakeClient(ws, scopes=scopes)
    config = SlackConfig.model_validate({"connector": "slack"})
    ctx = SlackSession(Context(source="slack", config=config, run_id="test",
                               log=logging.getLogger("dihub.slack")))
    with answered_by(client):
        raws = [raw for page in users.fetch(ctx, "*", None) for raw in page.items]
    got = [user for raw in raws for user in users.normalize(raw, ctx, "*")]
    assert [u.user_id for u in got] == ["U00000001", "U00000002", "U00000003"]
    assert got[0].email == email and got[0].display_name == "user1"
