"""Benchmark: queue mode, 1, 2 and 4 `dihub worker`s syncing the same 40 repositories.

    python benchmarks/bench_workers.py [--repos 40] [--commits 300] [--write]

Each run: a fresh SQLite store and a fresh redis-server, `dihub sync github commits
--enqueue` (40 jobs), then the workers with --burst until the queue is drained: 1
worker = 1 process x 1 thread, 2 = 2 processes x 1 thread, 4 = 2 processes x 2 threads.
Twice: with the simulator answering at once (what the workers' CPU and the store
allow) and with 150 ms added to every answer (about an API's latency; the simulator's
handler threads sleep in parallel). The GitHub simulator runs in a process of its own.
Wall time is from starting the workers to the last one's exit (start-up and the
burst's drain check included); CPU is user+sys of the worker processes (os.wait4);
requests come from the simulator. --write updates the workers section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import SYNC_ONLY, SimulatorProcess, machine, obey, stored  # noqa: E402
from benchmarks.report import publish, table  # noqa: E402
from tests.simulators.github import Dataset, GitHubSimulator  # noqa: E402
from tests.support.github import TOKEN, TOKEN_ENV, github_config  # noqa: E402
from tests.support.redisserver import RedisServer  # noqa: E402

LAYOUTS = {1: (1, 1), 2: (2, 1), 4: (2, 2)}      # workers -> (processes, threads each)


def _serve(conn, repos: list[str], commits: int, latency_s: float) -> None:
    data = Dataset.generate(repos, commits_per_repo=commits, prs_per_repo=0,
                            issues_per_repo=0, runs_per_repo=0, seed=15)
    with GitHubSimulator(data, rate_limit=1_000_000) as sim:
        if latency_s:
            respond = sim.respond

            def slow(rec, raw):
                time.sleep(latency_s)
                return respond(rec, raw)

            sim.respond = slow
        conn.send({"api_url": sim.api_url})
        obey(conn, {"stats": sim.stats.snapshot})


def one_run(tmp: Path, api_url: str, repos: list[str], workers: int, sim) -> dict:
    processes, threads = LAYOUTS[workers]
    redis = RedisServer(tmp / "redis").start()
    try:
        config = tmp / "dihub.yaml"
        config.write_text(github_config(api_url, repos) + SYNC_ONLY
                          + f"queue:\n  url: {redis.url}\n  redelivery_s: 10\n")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("DIHUB_")},
               "DIHUB_STORE_URI": f"sqlite:///{tmp / 'store.db'}", "HOME": str(tmp),
               "XDG_CONFIG_HOME": str(tmp / ".config"), TOKEN_ENV: TOKEN,
               "PYTHONPATH": str(ROOT)}
        base = [sys.executable, "-m", "dihub", "--config", str(config), "-q"]
        subprocess.run([*base, "sync", "github", "commits", "--enqueue"], env=env,
                       check=True, capture_output=True)
        before = sim.ask("stats")["requests"]
        t0 = time.perf_counter()
        procs = [subprocess.Popen([*base, "worker", "--burst", "--threads", str(threads)],
                                  env={**env, "DIHUB_HOSTNAME": f"host-{i}"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for i in range(processes)]
        cpu = 0.0
        for p in procs:
            _, status, usage = os.wait4(p.pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
            cpu += usage.ru_utime + usage.ru_stime
        wall = time.perf_counter() - t0
        requests = sim.ask("stats")["requests"] - before
        records = stored(tmp / "store.db", "github", "commits")
    finally:
        redis.stop()
    return {"wall": wall, "cpu": cpu, "requests": requests, "records": records}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=40)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--latencies", default="0,0.15")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    repos = [f"octo-org/repo-{i:02d}" for i in range(args.repos)]
    rows = []
    for latency in (float(x) for x in args.latencies.split(",")):
        sim = SimulatorProcess(_serve, repos, args.commits, latency)
        try:
            base_wall = None
            for workers in (1, 2, 4):
                with tempfile.TemporaryDirectory() as tmp:
                    r = one_run(Path(tmp), sim.api_url, repos, workers, sim)
                base_wall = base_wall or r["wall"]
                print(latency, workers, r, file=sys.stderr)
                rows.append([f"{int(latency * 1000)} ms", str(workers),
                             "x".join(map(str, LAYOUTS[workers])), f"{r['requests']:,}",
                             f"{r['records']:,}", f"{r['wall']:.1f} s",
                             f"{args.repos / r['wall']:.2f}",
                             f"{r['records'] / r['wall']:,.0f}",
                             f"{base_wall / r['wall']:.2f}", f"{r['cpu']:.1f} s",
                             f"{r['cpu'] / args.repos * 1000:.0f} ms"])
        finally:
            sim.close()
    lines = [f"{args.repos} repositories x {args.commits} commits, one stream (`commits`), "
             f"one job per repository; embedded SQLite store; redis-server on loopback. "
             f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with "
             "`python benchmarks/bench_workers.py`.", ""]
    lines += table(["added latency", "workers", "processes x threads", "requests",
                    "commits stored", "wall time", "repos/s", "records/s",
                    "speed-up vs 1", "worker CPU (user+sys)", "CPU per repo"],
                   rows, "lrlrrrrrrrr")
    publish(lines, "workers", "## queue mode: 1, 2 and 4 workers (`dihub worker`)", args.write)


if __name__ == "__main__":
    main()
