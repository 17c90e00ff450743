"""`dihub sync slack` end to end (the real CLI in a subprocess) against the local Slack
simulator: exact counts including every thread reply, faults, privacy, secrets."""

from __future__ import annotations

import pytest

from tests.integration.conftest import summary_counts
from tests.simulators.slack import SLACK_FAULT_KINDS, SlackSimulator, Workspace, slack_faults
from tests.simulators.slack.testing import TOKEN, TOKEN_ENV, config_yaml, mismatches


def _setup(dihub, sim: SlackSimulator, extra: str = "", **kw) -> None:
    dihub.write_config(config_yaml(sim.api_url, extra=extra, **kw))
    dihub.env[TOKEN_ENV] = TOKEN


@pytest.mark.slow
def test_exact_sync_20_channels_2000_messages_with_threads(dihub):
    ws = Workspace.generate(channels=20, messages=2000, thread_ratio=0.10, max_replies=30,
                            seed=11)
    want = ws.counts()
    assert want["threads"] == 20 * 200 and want["replies"] > 20 * 200
    with SlackSimulator(ws) as sim:
        _setup(dihub, sim)
        first = dihub.run("sync", "slack", check_code=0)
        store = dihub.store()
        assert store.count("slack_events", "slack") == want["events"]
        assert store.count("channels", "slack") == 20
        assert store.count("users", "slack") == len(ws.users)
        assert mismatches(store, ws) == []
        c = summary_counts(first.stderr)
        assert c["inserted"] == want["events"] + 20 + len(ws.users)
        routes = sim.stats.snapshot()["by_route"]
        # one replies call per thread (none has more than 999 replies), 3 history pages
        # (limit=999) per channel, and one listing each
        assert routes["GET conversations.replies"] == want["threads"]
        assert routes["GET conversations.history"] == 20 * 3        # 999 + 999 + 2
        assert routes["GET conversations.list"] == 1 and routes["GET users.list"] == 1

        sim.stats.reset()
        again = dihub.run("sync", "slack", "messages", check_code=0)
        c = summary_counts(again.stderr)
        assert (c["inserted"], c["updated"]) == (0, 0)
        routes = sim.stats.snapshot()["by_route"]
        # only the look-back window (stretched back to the few followed threads) is
        # re-read: one history page per channel, no thread needs reading
        assert routes["GET conversations.history"] == 20
        assert routes.get("GET conversations.replies", 0) == 0
        assert store.count("slack_events", "slack") == want["events"]


def _dataset(store) -> dict[str, str]:
    out = {}
    for entity in ("slack_events", "channels", "users"):
        out.update({d["_id"]: d["raw_signature"] for d in store.iter_records(entity, "slack")})
    return out


def test_with_5_percent_faults_the_dataset_equals_the_clean_run(dihub, tmp_path):
    ws = Workspace.generate(channels=5, messages=500, seed=5)
    with SlackSimulator(ws) as sim:
        _setup(dihub, sim)
        dihub.run("sync", "slack", check_code=0)
        clean = _dataset(dihub.store())
    assert len(clean) == ws.counts()["events"] + 5 + len(ws.users)

    from tests.integration.conftest import Dihub

    faulty = Dihub(tmp_path / "faulty")
    kinds = ("429", *SLACK_FAULT_KINDS)          # 429s twice as likely as each other kind
    with SlackSimulator(ws, faults=slack_faults(0.05, seed=3, kinds=kinds)) as sim:
        _setup(faulty, sim)
        faulty.run("sync", "slack", check_code=0)
        faults = sim.stats.snapshot()["faults"]
    assert faults.get("429", 0) >= 2 and sum(faults.values()) >= 10, faults
    assert _dataset(faulty.store()) == clean
    retried = faulty.store().query_audit(source="slack", outcome="retried", limit=1000)
    assert len(retried) >= sum(faults.values()) - faults.get("drop", 0)
    assert any(e.detail and e.detail.get("status") == 429 for e in retried)


def test_no_message_text_is_stored_unless_store_text_is_true(dihub, tmp_path):
    ws = Workspace.generate(channels=2, messages=60, seed=2)
    texts = [t for t in ws.texts() if len(t) > 20]
    with SlackSimulator(ws) as sim:
        _setup(dihub, sim, extra="classify: [{tag: deploy_notification, bot_id: B0DEPLOY1}]")
        # raw payloads on: they must not carry the text either
        dihub.write_config(dihub.config.read_text().replace(
            "store:\n", "store:\n  raw_payloads: {enabled: true}\n"))
        dihub.run("sync", "slack", check_code=0)
        store = dihub.store()
        events = list(store.iter_records("slack_events", "slack"))
        assert len(events) == ws.counts()["events"]
        assert all(e["text"] is None and e["payload"] is None for e in events)
        assert all(e["text_length"] and len(e["text_sha256"]) == 64 for e in events)
        assert any("deploy_notification" in e["tags"] for e in events)
        store.close()
        raw = b"".join(p.read_bytes() for p in dihub.tmp.glob("store.db*"))
        leaked = [t for t in texts if t.encode() in raw]
        assert leaked == []
        out = dihub.run("fetch", "slack", "slack_events", "--format", "jsonl",
                        check_code=0).stdout
        assert not any(t in out for t in texts)

        # the control: with store_text the same texts are there
        from tests.integration.conftest import Dihub

        kept = Dihub(tmp_path / "kept")
        _setup(kept, sim, extra="store_text: true")
        kept.run("sync", "slack", "messages", check_code=0)
        kept_texts = {e["text"] for e in kept.store().iter_records("slack_events", "slack")}
        assert set(texts) <= kept_texts


def test_the_token_never_reaches_output_audit_or_store(dihub):
    ws = Workspace.generate(channels=2, messages=50, seed=4)
    with SlackSimulator(ws, faults=slack_faults(0.1, seed=9), tokens=[TOKEN]) as sim:
        _setup(dihub, sim)
        proc = dihub.run("-vv", "sync", "slack", check_code=0)
        assert "DEBUG" in proc.stderr
        sim.fail("conversations.history", "invalid_auth")
        failed = dihub.run("-vv", "sync", "slack", "messages", "--full-refresh")
        assert failed.returncode == 1
        assert "invalid_auth" in failed.stderr
        audit = dihub.run("audit", "--format", "json", "--limit", "5000", check_code=0).stdout
        status = dihub.run("auth", "status", "slack", "--check", check_code=0).stdout
    dihub.store().close()
    raw = b"".join(p.read_bytes() for p in dihub.tmp.glob("store.db*"))
    secret = TOKEN.split("-", 1)[1]
    for text in (proc.stdout, proc.stderr, failed.stdout, failed.stderr, audit, status):
        assert secret not in text
    assert secret.encode() not in raw
    assert "dihub-sim" in status and "dihub" in status
