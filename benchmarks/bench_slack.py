"""Benchmark: `dihub sync slack` (the real CLI in a subprocess) against the local Slack
simulator: 20 channels x 2,000 messages over 180 days, 10% of them threads with 1-30
replies; a fifth of the threads stay active from their parent until now (replies spread
over months, the latest within three days), as in real workspaces.

    python benchmarks/bench_slack.py [--channels 20] [--messages 2000] [--days 180]
                                     [--long-threads 0.2] [--write]
    python benchmarks/bench_slack.py --memory 1000,2000,4000 [--channels 20] [--root DIR]

Measures the first sync, a re-sync with nothing new, an incremental sync after new
messages and replies, a thread scan, and a first sync under 5% injected faults: wall
time, peak RSS, and the requests the simulator served per 1,000 stored events. The
simulator runs unpaced (min_interval_s: {"*": 0}) in its own process, so the measured
`dihub` process does not inherit the simulator's memory in its peak RSS (Linux keeps
the parent's high-water mark across fork and exec). The table also gives the time
Slack's per-method tier pacing would impose on the same requests. --write updates the
slack section of BENCHMARKS.md. --memory runs the first sync alone with each number of
messages per channel and prints the peak RSS of the dihub process (VmHWM at exit, see
benchmarks/measure.py) and its wall and CPU time; --root runs another checkout's dihub.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import (  # noqa: E402
    SYNC_ONLY,
    SimulatorProcess,
    dihub_argv,
    dihub_env,
    machine,
    obey,
    run,
    stored,
)
from benchmarks.report import publish, table  # noqa: E402
from tests.simulators.slack.testing import TOKEN, TOKEN_ENV, config_yaml  # noqa: E402

DAY_US = 86_400 * 1_000_000
# Slack's tiers (dihub.connectors.slack.limits.MIN_INTERVAL_S), without importing dihub here
TIER_INTERVAL_S = {"conversations.history": 1.2, "conversations.replies": 1.2,
                   "conversations.list": 3.0, "users.list": 3.0}


# -- the simulator process -----------------------------------------------------------------

def _recent_changes(ws) -> int:
    """10 new messages per channel, a reply to each of its 5 newest threads, some edits."""
    from tests.simulators.slack import us_of

    new = 0
    for i, ch in enumerate(list(ws.channels.values())):
        recent = [m for m in ch.messages if m.get("reply_count")
                  and us_of(m["ts"]) > ch.keys[-1] - 5 * DAY_US][-5:]
        for _ in range(10):
            ws.add_message(ch.id)
            new += 1
        for p in recent:
            ws.add_reply(ch.id, p["ts"])
            new += 1
        if i % 4 == 0:
            ws.edit(ch.id, ch.messages[-20]["ts"], "edited for the benchmark")
    return new


def _old_thread_replies(ws) -> int:
    """A reply to each of 2 threads per channel whose parent is over 2 months old and
    whose latest reply is within the week."""
    from tests.simulators.slack import us_of

    n = 0
    for ch in ws.channels.values():
        hwm = ch.keys[-1]
        old = [m for m in ch.messages if m.get("reply_count")
               and us_of(m["ts"]) < hwm - 60 * DAY_US
               and us_of(m["latest_reply"]) > hwm - 7 * DAY_US]
        for m in old[:2]:
            ws.add_reply(ch.id, m["ts"])
            n += 1
    return n


def _quiet_replies(ws) -> int:
    """A reply per channel to a thread quiet for 10 to 25 days."""
    from tests.simulators.slack import us_of

    n = 0
    for ch in ws.channels.values():
        hwm = ch.keys[-1]
        old = [m for m in ch.messages if m.get("reply_count")
               and hwm - 25 * DAY_US < us_of(m["latest_reply"]) < hwm - 10 * DAY_US]
        if old:
            ws.add_reply(ch.id, old[0]["ts"])
            n += 1
    return n


def serve(conn, channels: int, messages: int, days: float, long_threads: float) -> None:
    """Runs in a child process: generate, serve, and obey the benchmark's commands."""
    from tests.simulators.slack import SlackSimulator, Workspace, slack_faults

    t0 = time.perf_counter()
    ws = Workspace.generate(channels=channels, messages=messages, days=days,
                            long_threads=long_threads, seed=11)
    gen_s = time.perf_counter() - t0
    sim = SlackSimulator(ws).start()

    def with_faults() -> str:
        nonlocal sim
        sim.stop()
        sim = SlackSimulator(ws, faults=slack_faults(0.05, seed=3, retry_after=0)).start()
        return sim.api_url

    conn.send({"api_url": sim.api_url, "counts": ws.counts(), "users": len(ws.users),
               "gen_s": gen_s})
    # lambdas, not bound methods: "faults" replaces `sim`
    obey(conn, {"reset": lambda: sim.stats.reset(), "stats": lambda: sim.stats.snapshot(),
                "recent_changes": lambda: _recent_changes(ws),
                "old_thread_replies": lambda: _old_thread_replies(ws),
                "quiet_replies": lambda: _quiet_replies(ws), "faults": with_faults})
    sim.stop()


# -- measuring -----------------------------------------------------------------------------

def paced(by_route: dict[str, int]) -> str:
    """The least time Slack's tier pacing allows for these requests (per method, serial)."""
    per_method = [n * TIER_INTERVAL_S.get(route.split(" ", 1)[1], 0.0)
                  for route, n in by_route.items()]
    seconds = max(per_method, default=0.0)
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _label(name: str, stats: dict) -> str:
    faults = sum(stats["faults"].values())
    return name + (f" ({faults} injected)" if faults else "")


def sync(sim: SimulatorProcess, tmp: Path, name: str, *args: str, extra: str = ""):
    cfg = tmp / f"{name}.yaml"
    cfg.write_text(SYNC_ONLY + config_yaml(sim.api_url, extra=extra))
    env = dihub_env(tmp / f"{name}.db", tmp, {TOKEN_ENV: TOKEN})
    sim.ask("reset")
    result = run([sys.executable, "-m", "dihub", "--config", str(cfg), "-q", "sync", "slack",
                  *args], env=env)
    assert result.returncode == 0, result.stderr
    return result, sim.ask("stats")


def memory(channels: int, sizes: list[int], days: float, long_threads: float,
           root: Path, faults: bool = False) -> None:
    """The first sync alone at each size: peak RSS of the dihub process, wall and CPU;
    with `faults`, 5% of the requests fail (so the replies are read ahead)."""
    import json
    import resource

    for messages in sizes:
        sim = SimulatorProcess(serve, channels, messages, days, long_threads,
                               start_method="fork", join_s=10)
        try:
            with tempfile.TemporaryDirectory(prefix="dihub-bench-slack-") as tmp:
                tmp = Path(tmp)
                cfg = tmp / "main.yaml"
                url = sim.ask("faults") if faults else sim.api_url
                cfg.write_text(SYNC_ONLY + config_yaml(url))
                env = dihub_env(tmp / "main.db", tmp, {TOKEN_ENV: TOKEN,
                                                       "PYTHONPATH": str(root)})
                cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                first = run(dihub_argv(sys.executable, "--config", str(cfg), "-q", "sync",
                                       "slack"), env=env, cwd=str(root))
                cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                assert first.returncode == 0, first.stderr
                events = count_events(tmp, "main")
                assert events == sim.info["counts"]["events"], events
        finally:
            sim.close()
        cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
        print(json.dumps({"channels": channels, "messages": messages, "events": events,
                          "faults": faults,
                          "peak_rss_mb": round(first.self_rss_mb or first.peak_rss_mb, 1),
                          "wall_s": round(first.wall_s, 1), "cpu_s": round(cpu, 1)}),
              flush=True)


def count_events(tmp: Path, name: str) -> int:
    return stored(tmp / f"{name}.db", "slack", "slack_events")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--channels", type=int, default=20)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--days", type=float, default=180)
    ap.add_argument("--long-threads", type=float, default=0.2)
    ap.add_argument("--memory", default="")
    ap.add_argument("--faults", action="store_true",
                    help="with --memory: 5%% of the requests fail")
    ap.add_argument("--root", type=Path, default=ROOT)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if args.memory:
        memory(args.channels, [int(x) for x in args.memory.split(",")], args.days,
               args.long_threads, args.root.resolve(), args.faults)
        return

    load = os.getloadavg()[0]
    sim = SimulatorProcess(serve, args.channels, args.messages, args.days, args.long_threads,
                           start_method="fork", join_s=10)
    counts = sim.info["counts"]
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="dihub-bench-slack-") as tmp:
            tmp = Path(tmp)
            first, stats = sync(sim, tmp, "main")
            events = count_events(tmp, "main")
            assert events == counts["events"], (events, counts)
            rows.append(("first sync (all streams)", events, first, stats))
            again, stats = sync(sim, tmp, "main", "messages")
            rows.append(("re-sync, nothing new (messages)", 0, again, stats))
            new = sim.ask("recent_changes")
            inc, stats = sync(sim, tmp, "main", "messages")
            assert count_events(tmp, "main") == events + new
            rows.append((f"incremental: {new:,} new messages and replies to recent "
                         "threads", new, inc, stats))
            old = sim.ask("old_thread_replies")
            olds, stats = sync(sim, tmp, "main", "messages")
            assert count_events(tmp, "main") == events + new + old
            new += old
            rows.append((f"incremental: {old} replies to threads started 2+ months ago",
                         old, olds, stats))
            quiet = sim.ask("quiet_replies")
            scan, stats = sync(sim, tmp, "main", "messages",
                               extra="thread_scan_every_hours: 0")
            assert count_events(tmp, "main") == events + new + quiet
            rows.append((f"thread scan (30 days): {quiet} replies to threads quiet for "
                         "10+ days", quiet, scan, stats))
            total = events + new + quiet
            sim.api_url = sim.ask("faults")
            faulty, stats = sync(sim, tmp, "faulty")
            assert count_events(tmp, "faulty") == total
            rows.append(("first sync, 5% faults incl. 429s", total, faulty, stats))
    finally:
        sim.close()

    lines = [
        f"Simulated workspace: {args.channels} channels x {args.messages:,} messages over "
        f"{args.days:g} days, {counts['threads']:,} threads with {counts['replies']:,} replies "
        f"(1-30 each; {args.long_threads:.0%} of the threads active from their parent until "
        f"now, replies spread over months): {counts['events']:,} events, plus "
        f"{sim.info['users']} users "
        f"(generated in {sim.info['gen_s']:.1f} s). Local simulator in its own process, "
        f"unpaced (`min_interval_s: {{'*': 0}}`, `Retry-After: 0`); embedded SQLite store; "
        f"`dihub -q sync slack` as a subprocess. Machine: {machine()}; load average "
        f"{load:.1f} when the run started (other work shared the machine). Measured "
        f"{time.strftime('%Y-%m-%d')} with `python benchmarks/bench_slack.py`.",
        "",
        *table(["step", "events", "requests", "requests / 1,000 events", "wall time",
                "peak RSS", "Slack tier pacing would need"],
               [[_label(name, st), f"{n:,}", f"{st['requests']:,}",
                 f"{st['requests'] / n * 1000:,.1f}" if n else "-", f"{r.wall_s:.1f} s",
                 f"{r.peak_rss_mb:.0f} MB", paced(st["by_route"])]
                for name, n, r, st in rows],
               "lrrrrrr"),
        "",
        "Requests are one `conversations.replies` call per thread (a thread of up to 999 "
        "replies is one page), one `conversations.history` page per 999 messages, and one "
        "listing of channels and users. A re-sync re-reads only the 7-day look-back window, "
        "stretched back to the parents of threads with recent replies when that costs "
        "fewer calls than a replies call per such thread (here: 2 history pages per "
        "channel reach back 6 months), and reads only the threads whose latest_reply "
        "changed (the cursor keeps [latest_reply, reply_count] of every thread back to "
        "the oldest active one, so no old thread looks new); once a day "
        "(`thread_scan_every_hours`) it re-reads 30 days instead to find replies to quiet "
        "threads. Against slack.com the tier pacing "
        "(Tier 3: 50 calls/min for history and replies) dominates: the last column is "
        "that floor for the same requests. Apps created after 2025-05-29 outside the "
        "Marketplace are limited to 1 call/min and 15 messages per page for these two "
        "methods; set `page_size: 15` and `min_interval_s: {conversations.history: 60, "
        "conversations.replies: 60}` there.",
    ]
    publish(lines, "slack", "## slack connector: 20 channels x 2,000 messages, threads "
            "active over 6 months", args.write)


if __name__ == "__main__":
    main()
