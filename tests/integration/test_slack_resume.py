"""A `dihub sync slack messages` stopped mid-pass (out of rate-limit quota: exit 75;
SIGKILL at a random request) continues on the next run from the page it stopped at:
the store ends up exactly as after an uninterrupted run, and the requests of all the
runs together stay within 5% of an uninterrupted sync. Runs that meet failures read
replies ahead, and killed while they do, they still lose and duplicate nothing."""

from __future__ import annotations

import random
import signal
from urllib.parse import parse_qs

import pytest

from tests.integration.conftest import Dihub
from tests.simulators.slack import RateLimits, SlackSimulator, Workspace, slack_faults
from tests.simulators.slack.testing import TOKEN, TOKEN_ENV, config_yaml, mismatches

TEMPFAIL = 75


def _setup(d: Dihub, sim: SlackSimulator, extra: str = "", http: str = "",
           checkpoint_s: float | None = None) -> None:
    text = config_yaml(sim.api_url, extra=extra, checkpoint_s=checkpoint_s)
    if http:
        text = text.replace("http:\n", f"http:\n{http}", 1)
    d.write_config(text)
    d.env[TOKEN_ENV] = TOKEN


def _signatures(d: Dihub) -> dict[str, str]:
    return {doc["_id"]: doc["raw_signature"]
            for doc in d.store().iter_records("slack_events", "slack")}


def _threads_read(sim: SlackSimulator) -> list[str]:
    """The thread of every conversations.replies call answered 200, in order."""
    return [parse_qs(r.query)["ts"][0] for r in sim.stats.requests_to("conversations.replies")
            if r.status == 200]


def test_a_channel_that_needs_3_quota_windows_completes_in_3_runs(dihub, tmp_path):
    ws = Workspace.generate(channels=1, messages=300, days=60, long_threads=0.2, seed=41)
    threads = ws.counts()["threads"]                       # 30
    with SlackSimulator(ws) as sim:
        clean = Dihub(tmp_path / "clean")
        _setup(clean, sim, extra="page_size: 50")
        clean.run("sync", "slack", "messages", check_code=0)
        uninterrupted = sim.stats.snapshot()["by_route"]
        assert uninterrupted["GET conversations.replies"] == threads

    # Tier-3-like limit on conversations.replies: 12 calls per minute-long window, on a
    # clock the test moves; a Retry-After longer than max_wait_s ends the run with 75
    now = [1000.0]
    with SlackSimulator(ws) as sim:
        sim.rate_limits = RateLimits({"conversations.replies": (12, 60.0)},
                                     clock=lambda: now[0])
        _setup(dihub, sim, extra="page_size: 50", http="  rate_limit: {max_wait_s: 5}\n")
        runs = []
        for _ in range(3):
            runs.append(dihub.run("sync", "slack", "messages"))
            now[0] += 61                                   # the next window opens
        codes = [r.returncode for r in runs]
        assert codes == [TEMPFAIL, TEMPFAIL, 0], runs[-1].stderr[-2000:]
        assert "rate limit" in runs[0].stderr.lower(), runs[0].stderr[-2000:]
        read = _threads_read(sim)
        by_route = sim.stats.snapshot()["by_route"]
        by_status = sim.stats.snapshot()["by_status"]
    assert by_status.get("429") == 2                      # one per exhausted window
    # every thread read exactly once over the 3 runs: each run continued where the
    # last one stopped, in the middle of the channel's history
    assert len(read) == len(set(read)) == threads
    # history: at most one page again per stop (the page the stop fell in)
    assert by_route["GET conversations.history"] <= uninterrupted[
        "GET conversations.history"] + 2
    assert mismatches(dihub.store(), ws) == []
    assert _signatures(dihub) == _signatures(clean)


@pytest.mark.slow
def test_sigkill_at_20_random_requests_then_the_store_equals_an_uninterrupted_run(
        dihub, tmp_path):
    # one channel: 12 history pages of 500 and 1,500 threads (a request each); every
    # page checkpointed at once (store.checkpoint_s: 0), so a kill re-reads at most the
    # page in flight
    ws = Workspace.generate(channels=1, messages=6_000, days=120, thread_ratio=0.25,
                            max_replies=4, long_threads=0.1, seed=42)
    extra = "page_size: 500"
    with SlackSimulator(ws) as sim:
        clean = Dihub(tmp_path / "clean")
        _setup(clean, sim, extra=extra, checkpoint_s=0)
        clean.run("sync", "slack", "messages", check_code=0)
        uninterrupted = sim.stats.snapshot()["requests"]
        assert uninterrupted > 1500
        want = _signatures(clean)
        assert len(want) == ws.counts()["events"]

        _setup(dihub, sim, extra=extra, checkpoint_s=0)
        sim.stats.reset()
        rng = random.Random(8)
        kills = 0
        for _ in range(20):
            proc = dihub.popen("sync", "slack", "messages")
            sim.kill_at(rng.randint(1, uninterrupted // 20), proc.pid, signal.SIGKILL)
            proc.communicate(timeout=300)
            if proc.returncode == 0:                      # finished before its kill
                break
            assert proc.returncode == -signal.SIGKILL
            kills += 1
        sim.kill_at(1 << 30, 0)                           # disarm
        dihub.run("sync", "slack", "messages", check_code=0)
        total = sim.stats.snapshot()["requests"]
        read = _threads_read(sim)
    print(f"uninterrupted: {uninterrupted} requests; 20 kills, then done: {total}")
    assert kills == 20
    assert _signatures(dihub) == want
    assert mismatches(dihub.store(), ws) == []
    assert len(read) == len(set(read)) == ws.counts()["threads"]
    assert total <= uninterrupted * 1.05, (total, uninterrupted)


@pytest.mark.slow
def test_killed_runs_that_read_replies_ahead_lose_and_duplicate_nothing(dihub, tmp_path):
    # 5% of the requests fail, so every run reads replies ahead (messages._Ahead) from
    # its first retry on; each run is killed at a random request while threads are read
    # ahead in the replies pool
    ws = Workspace.generate(channels=3, messages=1_500, days=90, thread_ratio=0.3,
                            max_replies=4, long_threads=0.1, seed=23)
    extra = "page_size: 300"
    with SlackSimulator(ws) as sim:
        clean = Dihub(tmp_path / "clean")
        _setup(clean, sim, extra=extra)
        clean.run("sync", "slack", "messages", check_code=0)
        want = _signatures(clean)
    assert len(want) == ws.counts()["events"]

    with SlackSimulator(ws, faults=slack_faults(0.05, seed=9, retry_after=0)) as sim:
        _setup(dihub, sim, extra=extra)
        rng = random.Random(3)
        kills = 0
        for _ in range(8):
            proc = dihub.popen("sync", "slack", "messages")
            sim.kill_at(rng.randint(20, 150), proc.pid, signal.SIGKILL)
            proc.communicate(timeout=300)
            if proc.returncode != -signal.SIGKILL:
                break
            kills += 1
        sim.kill_at(1 << 30, 0)                           # disarm
        dihub.run("sync", "slack", "messages", check_code=0)
        retried = [r for r in sim.stats.requests_to("conversations.replies")
                   if r.status != 200]
    assert kills >= 6 and retried                         # killed while failing
    assert _signatures(dihub) == want
    assert mismatches(dihub.store(), ws) == []
