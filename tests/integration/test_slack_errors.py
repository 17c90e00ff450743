"""What a person sees when a Slack channel or the whole sync cannot be read, and that
rate limits are waited out as Slack asks."""

from __future__ import annotations

from tests.simulators.slack import SlackSimulator, Workspace
from tests.simulators.slack.testing import TOKEN, TOKEN_ENV, config_yaml, mismatches

NO_PRIVATE_HISTORY = ("channels:read", "groups:read", "channels:history", "users:read")


def _ws() -> Workspace:
    return Workspace.generate(channels=2, messages=40, private=1, not_member=1, seed=3)


def _setup(dihub, sim: SlackSimulator, extra: str = "") -> None:
    dihub.write_config(config_yaml(sim.api_url, extra=extra))
    dihub.env[TOKEN_ENV] = TOKEN


def test_unreadable_channels_are_warnings_and_the_others_sync(dihub):
    ws = _ws()
    with SlackSimulator(ws, scopes=NO_PRIVATE_HISTORY) as sim:
        _setup(dihub, sim, extra="channels: ['#chan-01', chan-02, private-03, "
                                  "'#elsewhere-04', '#no-such-channel']")
        proc = dihub.run("sync", "slack", "messages", check_code=0)
        store = dihub.store()
        stored = {d["channel_id"] for d in store.iter_records("slack_events", "slack")}
        assert stored == {"C00000001", "C00000002"}
        warnings = {e.partition: e.error for e in store.query_audit(
            source="slack", outcome="warning")}
    assert set(warnings) == {"G00000003", "C00000004", "#no-such-channel"}
    # the bot is not in it: say which channel and how to invite it
    assert "not in #elsewhere-04" in warnings["C00000004"]
    assert "/invite" in warnings["C00000004"]
    # a private channel without groups:history: name the channel and the scope to add
    assert "#private-03" in warnings["G00000003"]
    assert "groups:history" in warnings["G00000003"]
    assert "#no-such-channel" in warnings["#no-such-channel"]
    for text in ("#elsewhere-04", "groups:history", "#no-such-channel", "hint:"):
        assert text in proc.stderr
    assert "3 skipped" in proc.stderr and "2 ok" in proc.stderr


def test_the_run_exits_1_only_when_every_channel_failed(dihub):
    ws = _ws()
    with SlackSimulator(ws, scopes=NO_PRIVATE_HISTORY) as sim:
        _setup(dihub, sim, extra="channels: [private-03, elsewhere-04]")
        proc = dihub.run("sync", "slack", "messages", check_code=1)
        assert "groups:history" in proc.stderr and "#elsewhere-04" in proc.stderr
        # default channels: only those the bot is a member of, so this one syncs
        _setup(dihub, sim)
        dihub.run("sync", "slack", "messages", check_code=0)
        assert dihub.store().count("slack_events", "slack") == (
            ws.channel("chan-01").counts()["events"] + ws.channel("chan-02").counts()["events"])


def test_a_revoked_token_fails_the_run_with_how_to_log_in_again(dihub):
    ws = _ws()
    with SlackSimulator(ws, tokens=["xoxb-some-other-token"]) as sim:
        _setup(dihub, sim)
        proc = dihub.run("sync", "slack", "channels", check_code=1)
    assert "invalid_auth" in proc.stderr
    assert "dihub auth slack" in proc.stderr


def test_no_token_at_all_says_where_to_put_one(dihub):
    with SlackSimulator(_ws()) as sim:
        _setup(dihub, sim)
        del dihub.env[TOKEN_ENV]
        proc = dihub.run("sync", "slack", "users", check_code=1)
    assert "no Slack token" in proc.stderr and TOKEN_ENV in proc.stderr


def test_retry_after_is_waited_out_and_audited(dihub):
    ws = Workspace.generate(channels=1, messages=30, seed=6)
    with SlackSimulator(ws) as sim:
        _setup(dihub, sim)
        body = {"ok": False, "error": "ratelimited"}
        sim.script(r"^/api/conversations\.history", [
            {"status": 429, "headers": {"retry-after": "1"}, "body": body}])
        dihub.run("sync", "slack", "messages", check_code=0)
        store = dihub.store()
        assert mismatches(store, ws) == []
        retries = store.query_audit(source="slack", outcome="retried")
    assert len(retries) == 1
    assert retries[0].detail["status"] == 429 and retries[0].detail["wait_s"] == 1.0
    metrics = store.query_metrics(source="slack", stream="messages")[0]
    assert metrics.rate_limit_waits == 1 and metrics.rate_limit_wait_s == 1.0


def test_a_rate_limit_longer_than_max_wait_exits_75_and_resumes(dihub):
    ws = Workspace.generate(channels=1, messages=30, seed=6)
    with SlackSimulator(ws) as sim:
        _setup(dihub, sim)
        dihub.write_config(config_yaml(sim.api_url).replace(
            "http:\n", "http:\n  rate_limit: {max_wait_s: 5}\n"))
        sim.script(r"^/api/conversations\.replies", ["pass", "pass", {
            "status": 429, "headers": {"retry-after": "120"},
            "body": {"ok": False, "error": "ratelimited"}}])
        proc = dihub.run("sync", "slack", "messages", check_code=75)
        assert "rate limited" in proc.stderr
        partial = dihub.store().count("slack_events", "slack")
        assert 0 < partial < ws.counts()["events"]
        dihub.run("sync", "slack", "messages", check_code=0)
        assert mismatches(dihub.store(), ws) == []


def test_a_channel_type_without_its_read_scope_is_left_out_with_a_warning(dihub):
    ws = _ws()
    scopes = ("channels:read", "channels:history", "users:read")       # no groups:read
    with SlackSimulator(ws, scopes=scopes) as sim:
        _setup(dihub, sim)
        proc = dihub.run("sync", "slack", "channels", "messages", check_code=0)
        store = dihub.store()
        assert {c["channel_id"] for c in store.iter_records("channels", "slack")} == {
            "C00000001", "C00000002", "C00000004"}
        assert store.count("slack_events", "slack") == ws.counts()["events"] - ws.channel(
            "private-03").counts()["events"]
        warnings = [e.error for e in store.query_audit(source="slack", outcome="warning")]
    assert "groups:read" in proc.stderr
    assert any("private_channel" in w and "groups:read" in w for w in warnings)
