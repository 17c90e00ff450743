"""Benchmark: dihub against Airbyte's Slack source (airbyte-source-slack) on the same simulated
Slack workspace: CPU time, peak memory, wall time, requests and records, runs interleaved
(dihub, Airbyte, dihub, Airbyte, ...).

    python -m venv /tmp/airbytevenv
    /tmp/airbytevenv/bin/pip install airbyte-source-slack==3.0.0 airbyte-cdk==6.60.1
    python benchmarks/bench_peer_slack.py --airbyte-python /tmp/airbytevenv/bin/python \\
        [--channels 20] [--messages 500] [--days 180] [--long-threads 0.2] [--runs 3] \\
        [--concurrency 4] [--write]

The workspace is the kind benchmarks/bench_slack.py syncs (tests/simulators/slack, seed
11, served from a process of its own): `--channels` public channels the bot is in, each with
`--messages` top-level messages over `--days` days, 10% of them threads with 1-30 replies,
a fifth of the threads active from their parent until the workspace's end. Both tools read
it from the same simulator, each run a fresh first sync:
- dihub: `dihub -q sync slack` (channels, users, messages with every thread's replies) into a
  fresh embedded SQLite store, `http.concurrency` = `--concurrency`;
- Airbyte: `source-slack read --config ... --catalog ...`, its records written to a file,
  with a configured catalog (built from its `discover`) selecting the streams that match
  dihub's: channels and users (full refresh), channel_messages and threads (incremental,
  cursor float_ts, no state); config: an API token, start_date 2025-12-01 (before the
  workspace's first message; the data ends months before today, so all of it is in the
  past), lookback_window 7 (it only shifts a later sync's start), join_channels false,
  include_private_channels false, no channel_filter, channel_messages_window_size 100 (its
  default), num_workers = `--concurrency` (its default is 2).

Records compared are messages + thread replies. dihub stores each message and each reply
once (slack_events). Airbyte's channel_messages stream emits the top-level messages; its
threads stream calls conversations.replies once for every top-level message (threads or
not) and emits what it answers: the message itself, then the thread's replies. So its
replies are its threads records whose thread_ts differs from their ts; the table counts
those plus channel_messages, and the text says how many records it emitted in all.

Both run unthrottled: the simulator has no rate limits (`rate_limits=None`, no 429 or
Retry-After ever) and no faults; dihub runs with `min_interval_s: {'*': 0}` (as
bench_slack.py does); Airbyte's own API budget (one call a minute after a 429) applies only
with OAuth credentials and only after a 429, so with an API token it never paces.

CPU is user + system time of the child's process tree (os.wait4); peak RSS is the VmHWM of
the measured process itself (read at its exit); requests are what the simulator served to
that run (its counters reset before each run).

Adjustments for the peer, none of which changes what it requests:
- airbyte-source-slack 3.0.0 (the newest release) asks for airbyte-cdk >=6,<7, and pip
  picks 6.61+, whose SimpleRetriever no longer has the `_get_most_recent_record` its
  ChannelsRetriever calls (every stream then fails); airbyte-cdk 6.60.1 is the newest
  release that still has it, so it is pinned;
- it calls https://slack.com/api/ hard-coded (the manifest's url_base, and the class
  attribute of its join-channels stream, unused with join_channels false): the wrapper
  below (_AIRBYTE) rewrites that prefix to the simulator's URL in the parsed manifest,
  before the source is built, and in that attribute. Nothing else is patched. The run's
  environment sets HTTPS_PROXY to a closed local port (NO_PROXY for 127.0.0.1), so a
  request that escaped the rewrite would fail the run;
- it sends `inclusive=True` to conversations.history; the simulator takes only `true` or
  `1` as true, so its window bounds are exclusive there, which would matter only for a
  message whose ts equals a window bound to the microsecond (none here: the counts match).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_slack import serve  # noqa: E402
from benchmarks.measure import (  # noqa: E402
    PEER_RSS,
    SYNC_ONLY,
    SimulatorProcess,
    dihub_argv,
    dihub_env,
    machine,
    measure_tree,
    median_of,
    pair_ratio,
    peer_program,
    stored,
)
from benchmarks.report import publish, table  # noqa: E402
from tests.simulators.slack.testing import TOKEN, TOKEN_ENV, config_yaml  # noqa: E402

STREAMS = ("channels", "users", "channel_messages", "threads")
START_DATE = "2025-12-01T00:00:00Z"     # the workspace (tests/simulators/slack) starts 2026-01-01

# Runs Airbyte's source-slack CLI in its own venv with slack.com/api/ pointed at the
# simulator (the first argument); prints its VmHWM at exit like dihub_argv's wrapper.
_AIRBYTE = peer_program("""
import sys
SLACK = "https://slack.com/api/"
API = sys.argv.pop(1).rstrip("/") + "/"
def _redirect(node):
    if isinstance(node, dict):
        return {k: _redirect(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_redirect(v) for v in node]
    if isinstance(node, str) and node.startswith(SLACK):
        return API + node[len(SLACK):]
    return node
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
_read = YamlDeclarativeSource._read_and_parse_yaml_file
YamlDeclarativeSource._read_and_parse_yaml_file = lambda self, p: _redirect(_read(self, p))
from source_slack.components import join_channels
join_channels.JoinChannelsStream.url_base = API
from source_slack.run import run
sys.argv[0] = "source-slack"
sys.exit(run())
""")


@dataclass
class Sample:
    cpu_s: float
    wall_s: float
    rss_mb: float
    requests: int
    by_route: dict[str, int]
    events: int                    # messages + thread replies
    records: dict[str, int] = field(default_factory=dict)    # everything emitted or stored


def _served(sim: SimulatorProcess) -> tuple[int, dict[str, int]]:
    stats = sim.ask("stats")
    return stats["requests"], {route.split(" ", 1)[1]: n
                               for route, n in sorted(stats["by_route"].items())}


def run_dihub(sim: SimulatorProcess, tmp: Path, concurrency: int) -> Sample:
    tmp.mkdir(parents=True)
    cfg = tmp / "dihub.yaml"
    cfg.write_text(SYNC_ONLY + config_yaml(sim.api_url, concurrency=concurrency))
    env = dihub_env(tmp / "store.db", tmp, {TOKEN_ENV: TOKEN})
    argv = [*dihub_argv(sys.executable, "--config", str(cfg)), "-q", "sync", "slack"]
    sim.ask("reset")
    cpu, wall, rss, _ = measure_tree(argv, env, "dihub-rss-kib")
    requests, by_route = _served(sim)
    db = tmp / "store.db"
    records = {e: stored(db, "slack", e) for e in ("channels", "users", "slack_events")}
    assert records["slack_events"] == sim.info["counts"]["events"], (records, sim.info)
    return Sample(cpu, wall, rss, requests, by_route, records["slack_events"], records)


def airbyte_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SLACK")
           and k.upper() not in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")}
    # a request that escaped the redirect to the simulator fails instead of leaving
    return {**env, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost"}


def airbyte_catalog(python: str, api_url: str, config: Path, tmp: Path) -> Path:
    out = subprocess.run([python, "-c", _AIRBYTE, api_url, "discover", "--config", str(config)],
                         capture_output=True, text=True, check=True, env=airbyte_env())
    catalog = next(json.loads(line)["catalog"] for line in out.stdout.splitlines()
                   if line.startswith('{"type":"CATALOG"'))
    streams = []
    for stream in catalog["streams"]:
        if stream["name"] not in STREAMS:
            continue
        incremental = "incremental" in stream["supported_sync_modes"]
        streams.append({"stream": stream, "destination_sync_mode": "append",
                        "sync_mode": "incremental" if incremental else "full_refresh",
                        **({"cursor_field": stream["default_cursor_field"]}
                           if incremental else {})})
    assert sorted(s["stream"]["name"] for s in streams) == sorted(STREAMS), streams
    path = tmp / "catalog.json"
    path.write_text(json.dumps({"streams": streams}))
    return path


def run_airbyte(python: str, sim: SimulatorProcess, config: Path, catalog: Path,
                tmp: Path) -> Sample:
    tmp.mkdir(parents=True)
    out = tmp / "records.jsonl"
    sim.ask("reset")
    with out.open("w") as fh:
        cpu, wall, rss, _ = measure_tree([python, "-c", _AIRBYTE, sim.api_url, "read",
                                          "--config", str(config), "--catalog", str(catalog)],
                                         airbyte_env(), PEER_RSS, stdout=fh)
    requests, by_route = _served(sim)
    records: dict[str, int] = dict.fromkeys(STREAMS, 0)
    replies = 0
    errors = []
    with out.open() as fh:
        for line in fh:
            if line.startswith('{"type":"RECORD"'):
                rec = json.loads(line)["record"]
                records[rec["stream"]] += 1
                data = rec["data"]
                if rec["stream"] == "threads" and data.get("thread_ts") not in (None,
                                                                                data["ts"]):
                    replies += 1
            elif '"level":"ERROR"' in line[:60] or '"type":"ERROR"' in line[:60]:
                errors.append(line[:500])
    out.unlink()
    assert not errors, errors[:3]
    return Sample(cpu, wall, rss, requests, by_route, records["channel_messages"] + replies,
                  {**records, "thread replies": replies})


def versions(python: str) -> str:
    out = subprocess.run([python, "-c", "from importlib.metadata import version as v; "
                          "print(v('airbyte-source-slack'), v('airbyte-cdk'))"],
                         capture_output=True, text=True, check=True).stdout.split()
    return f"airbyte-source-slack {out[0]} (airbyte-cdk {out[1]})"


def measure(args) -> tuple[dict, list[Sample], list[Sample]]:
    dihub: list[Sample] = []
    airbyte: list[Sample] = []
    sim = SimulatorProcess(serve, args.channels, args.messages, args.days, args.long_threads,
                           start_method="fork", join_s=10)
    try:
        with tempfile.TemporaryDirectory(prefix="dihub-bench-peer-slack-") as d:
            tmp = Path(d)
            config = tmp / "airbyte.json"
            config.write_text(json.dumps({
                "credentials": {"option_title": "API Token Credentials", "api_token": TOKEN},
                "start_date": START_DATE, "lookback_window": 7, "join_channels": False,
                "include_private_channels": False, "channel_filter": [],
                "channel_messages_window_size": 100, "num_workers": args.concurrency}))
            catalog = airbyte_catalog(args.airbyte_python, sim.api_url, config, tmp)
            for i in range(args.runs):
                dihub.append(run_dihub(sim, tmp / f"dihub{i}", args.concurrency))
                airbyte.append(run_airbyte(args.airbyte_python, sim, config, catalog,
                                           tmp / f"airbyte{i}"))
                for name, s in (("dihub", dihub[-1]), ("airbyte", airbyte[-1])):
                    print(f"run {i + 1}: {name}: cpu {s.cpu_s:.2f} s, wall {s.wall_s:.1f} s, "
                          f"rss {s.rss_mb:.0f} MB, {s.requests:,} requests, "
                          f"{s.events:,} messages + replies, {s.records}", file=sys.stderr,
                          flush=True)
    finally:
        sim.close()
    return sim.info, dihub, airbyte


def _routes(s: Sample) -> str:
    return ", ".join(f"{n:,} × `{route}`" for route, n in
                     sorted(s.by_route.items(), key=lambda kv: -kv[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--airbyte-python", required=True,
                    help="the python of a venv with airbyte-source-slack installed")
    ap.add_argument("--channels", type=int, default=20)
    ap.add_argument("--messages", type=int, default=500, help="top-level messages a channel")
    ap.add_argument("--days", type=float, default=180)
    ap.add_argument("--long-threads", type=float, default=0.2)
    ap.add_argument("--runs", type=int, default=3, help="runs of each tool")
    ap.add_argument("--concurrency", type=int, default=4,
                    help="dihub's http.concurrency and Airbyte's num_workers")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    peer = versions(args.airbyte_python)
    ours = metadata.version("dihub")
    load = os.getloadavg()[0]
    info, dihub, airbyte = measure(args)
    counts = info["counts"]
    d, a = dihub[-1], airbyte[-1]
    size = (f"{args.channels} channels × {args.messages:,} messages, {counts['threads']:,} "
            f"threads, {counts['replies']:,} replies")
    each = " / ".join(f"{s.cpu_s:.1f}" for s in dihub), " / ".join(f"{s.cpu_s:.1f}"
                                                                   for s in airbyte)
    rows = [
        ["CPU (user + sys), median", f"{median_of(dihub, 'cpu_s'):.1f} s",
         f"{median_of(airbyte, 'cpu_s'):.1f} s", f"**{pair_ratio(dihub, airbyte, 'cpu_s'):.2f}x**"],
        ["CPU, each run", f"{each[0]} s", f"{each[1]} s", ""],
        ["peak RSS", f"{median_of(dihub, 'rss_mb'):.0f} MB",
         f"{median_of(airbyte, 'rss_mb'):.0f} MB",
         f"{pair_ratio(dihub, airbyte, 'rss_mb'):.2f}x"],
        ["wall time", f"{median_of(dihub, 'wall_s'):.1f} s",
         f"{median_of(airbyte, 'wall_s'):.1f} s",
         f"{pair_ratio(dihub, airbyte, 'wall_s'):.2f}x"],
        ["HTTP requests", f"{median_of(dihub, 'requests'):,.0f}",
         f"{median_of(airbyte, 'requests'):,.0f}",
         f"{pair_ratio(dihub, airbyte, 'requests'):.3f}x"],
        ["messages + thread replies", f"{d.events:,}", f"{a.events:,}", ""],
    ]
    lines = [
        f"The same simulated Slack workspace (tests/simulators/slack, seed 11, in its own "
        f"process): {size} ({counts['events']:,} messages and replies; 1-30 replies a thread, "
        f"{args.long_threads:.0%} of the threads active from their parent until the end, over "
        f"{args.days:g} days), {info['users']} users; each tool's first sync of channels, "
        f"users, messages and thread replies. dihub {ours}: `dihub -q sync slack` into a fresh "
        f"embedded SQLite store, `http.concurrency` {args.concurrency}. Peer: {peer} in its "
        f"own venv, `source-slack read` with a catalog selecting channels, users, "
        f"channel_messages and threads (incremental, no state), API token, start_date "
        f"{START_DATE[:10]}, join_channels false, num_workers {args.concurrency}, records "
        f"written to a file. Both unthrottled: the simulator has no rate limits and no faults "
        f"(no 429, no Retry-After), dihub runs with `min_interval_s: {{'*': 0}}`, and "
        f"Airbyte's API budget applies only to OAuth tokens after a 429. {args.runs} runs of "
        f"each, interleaved (dihub, Airbyte, ...); medians, ratios pair by pair. CPU = user + "
        f"system time of the process tree (os.wait4); peak RSS = VmHWM of the process at "
        f"exit; requests = what the simulator served to the run. Machine: {machine()}, shared "
        f"with other work (load average {load:.1f} at the start: wall times are noisy, CPU "
        f"much less so). Measured {time.strftime('%Y-%m-%d')} with `python "
        f"benchmarks/bench_peer_slack.py --airbyte-python VENV/bin/python --channels "
        f"{args.channels} --messages {args.messages} --runs {args.runs}`.",
        "",
        *table([size, "dihub", "Airbyte source-slack", "dihub / Airbyte"], rows, "lrrr"),
        "",
        f"Requests, dihub: {_routes(d)}. Airbyte: {_routes(a)}: one conversations.replies "
        f"call for every top-level message, thread or not, and conversations.history read "
        f"twice a channel and 100-day window (once for channel_messages, once again as the "
        f"threads stream's parent).",
        "",
        f"Records: dihub stored {d.records['slack_events']:,} slack_events (each message and "
        f"reply once), {d.records['channels']} channels and {d.records['users']} users. "
        f"Airbyte emitted {a.records['channel_messages']:,} channel_messages, "
        f"{a.records['threads']:,} threads records ({a.records['thread replies']:,} replies, "
        f"every reply of every thread, plus each top-level message again as the head of "
        f"its conversations.replies answer), {a.records['channels']} channels and "
        f"{a.records['users']} users.",
        "",
        "Adjustments for the peer: airbyte-cdk pinned to 6.60.1 (source-slack 3.0.0 allows "
        "any 6.x, but from 6.60.2 on its channels stream fails on a removed CDK method); a "
        "wrapper rewrites the hard-coded `https://slack.com/api/` in its manifest to the "
        "simulator's URL, nothing else. See the docstring of benchmarks/bench_peer_slack.py.",
    ]
    publish(lines, "peer-slack", "## Slack against Airbyte's source-slack: CPU and memory",
            args.write)


if __name__ == "__main__":
    main()
