"""Incremental `dihub sync slack messages`: after new messages, new replies to old
threads, an edit and a deletion, the next run picks up exactly those changes."""

from __future__ import annotations

from tests.integration.conftest import summary_counts
from tests.simulators.slack import SlackSimulator, Workspace, us_of
from tests.simulators.slack.testing import TOKEN, TOKEN_ENV, config_yaml, mismatches

DAY_US = 86_400 * 1_000_000


def _plain(ch, newer_than_us: int) -> list[dict]:
    return [m for m in ch.messages if "thread_ts" not in m and us_of(m["ts"]) > newer_than_us]


def test_incremental_run_picks_up_exactly_the_changes(dihub):
    ws = Workspace.generate(channels=3, messages=300, days=60, seed=21)
    a, b = ws.channel("chan-01"), ws.channel("chan-02")
    end = a.keys[-1]
    # A thread the cursor must follow: its parent is a month old (far outside the
    # 7-day window), its latest reply is recent.
    followed = _plain(a, 0)[10]
    assert us_of(followed["ts"]) < end - 30 * DAY_US
    ws.add_reply("chan-01", followed["ts"])
    # A thread quiet for two weeks: neither its parent nor its replies are in the
    # 7-day window; the thread scan (due on every run here) re-reads 30 days.
    quiet = next(m for m in a.messages if m.get("reply_count")
                 and end - 25 * DAY_US < us_of(m["ts"]) < us_of(m["latest_reply"])
                 < end - 10 * DAY_US)
    with SlackSimulator(ws) as sim:
        dihub.write_config(config_yaml(sim.api_url, extra="thread_scan_every_hours: 0"))
        dihub.env[TOKEN_ENV] = TOKEN
        dihub.run("sync", "slack", "messages", check_code=0)
        store = dihub.store()
        assert mismatches(store, ws) == []
        before = store.count("slack_events", "slack")

        # -- the changes --------------------------------------------------------------
        edited = _plain(a, end - 3 * DAY_US)[0]
        deleted = _plain(b, end - 3 * DAY_US)[-1]
        new = [ws.add_message("chan-01") for _ in range(3)] + [ws.add_message("chan-02")]
        # new replies to old threads: one whose parent is inside the look-back window
        # (its latest_reply changes in history), one followed from the cursor, one to
        # the quiet thread, and a reply that starts a thread on a message with none yet
        in_window = next(m for m in reversed(a.messages)
                         if m.get("reply_count") and us_of(m["ts"]) > end - 5 * DAY_US)
        replies = [ws.add_reply("chan-01", in_window["ts"]),
                   ws.add_reply("chan-01", in_window["ts"]),
                   ws.add_reply("chan-01", followed["ts"]),
                   ws.add_reply("chan-01", quiet["ts"]),
                   ws.add_reply("chan-02", _plain(b, end - 4 * DAY_US)[0]["ts"])]
        ws.edit("chan-01", edited["ts"], "the edited text")
        ws.delete("chan-02", deleted["ts"])

        sim.stats.reset()
        run = dihub.run("sync", "slack", "messages", check_code=0)
        c = summary_counts(run.stderr)
        assert mismatches(store, ws) == []
        # inserted: the new messages and replies; updated: the edit, the deletion and
        # the four parents whose reply_count / latest_reply changed; nothing else
        assert c["inserted"] == len(new) + len(replies)
        assert c["updated"] == 1 + 1 + 4
        assert store.count("slack_events", "slack") == before + len(new) + len(replies)
        docs = {d["event_id"]: d for d in store.iter_records("slack_events", "slack")}
        gone = docs[f"{b.id}:{deleted['ts']}"]
        assert gone["deleted"] is True and gone["text_sha256"] is None
        changed = docs[f"{a.id}:{edited['ts']}"]
        assert changed["edited_at"] and changed["text_length"] == len("the edited text")
        assert docs[f"{a.id}:{in_window['ts']}"]["reply_count"] == in_window["reply_count"]
        routes = sim.stats.snapshot()["by_route"]
        assert routes["GET conversations.history"] == 3        # one 30-day page per channel
        # the threads with new replies, plus the few followed ones: not every thread
        assert routes["GET conversations.replies"] < ws.counts()["threads"] / 4

        again = dihub.run("sync", "slack", "messages", check_code=0)
        c = summary_counts(again.stderr)
        assert (c["inserted"], c["updated"]) == (0, 0)


def test_with_thread_activity_over_6_months_a_resync_costs_channels_not_threads(dihub):
    """Threads whose parent is months old and whose replies are recent, in every
    channel: a re-sync with nothing new reads history pages, not every old thread, and
    new replies to old threads cost one call each."""
    ws = Workspace.generate(channels=4, messages=1500, days=180, long_threads=0.2, seed=23)
    n = len(ws.channels)
    old_active = {}
    for ch in ws.channels.values():
        end = ch.keys[-1]
        old_active[ch.id] = [m for m in ch.messages if m.get("reply_count")
                             and us_of(m["ts"]) < end - 60 * DAY_US
                             and us_of(m["latest_reply"]) > end - 7 * DAY_US]
        assert len(old_active[ch.id]) >= 3, ch.id
    with SlackSimulator(ws) as sim:
        dihub.write_config(config_yaml(sim.api_url))
        dihub.env[TOKEN_ENV] = TOKEN
        dihub.run("sync", "slack", "messages", check_code=0)
        store = dihub.store()
        assert mismatches(store, ws) == []

        sim.stats.reset()
        again = dihub.run("sync", "slack", "messages", check_code=0)
        c = summary_counts(again.stderr)
        assert (c["inserted"], c["updated"]) == (0, 0)
        stats = sim.stats.snapshot()
        assert stats["by_route"].get("GET conversations.replies", 0) == 0
        assert stats["requests"] <= n + 2 * n, stats["by_route"]

        # a few new replies to old threads, in half of the channels
        new = []
        for cid in list(old_active)[::2]:
            for parent in old_active[cid][:2]:
                new.append(ws.add_reply(cid, parent["ts"]))
        sim.stats.reset()
        inc = dihub.run("sync", "slack", "messages", check_code=0)
        c = summary_counts(inc.stderr)
        assert mismatches(store, ws) == []
        assert (c["inserted"], c["updated"]) == (len(new), len(new))   # replies, parents
        stats = sim.stats.snapshot()
        assert stats["by_route"]["GET conversations.replies"] == len(new)
        assert stats["requests"] <= n + 2 * n + len(new), stats["by_route"]
