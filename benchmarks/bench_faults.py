"""Benchmark: what 5% injected faults cost in wall time, per connector, with dihub's
default `http:` settings (no tuned retry policy).

    python benchmarks/bench_faults.py [--runs 3] [--only jira,slack,github] [--root DIR]
                                      [--retry-after 1] [--latency-ms 0] [--write]

For each connector one simulator runs in a process of its own; `dihub sync <source>
--all` (the real CLI, a subprocess) then runs in pairs, a clean run and a run with 5%
of the API requests failing (the simulator's kinds: 429 with `Retry-After`, 500, 502,
503, dropped connections, truncated bodies; a new seed each pair), each into a fresh
store, interleaved clean, faulty, clean, faulty... so a drift of the shared machine's
speed hits both alike. Every store is checked to hold the same records as the clean
run. Reported: the median wall and CPU time (user + sys) of each kind of run, and the
median of the per-pair ratio faulty / clean. `--root` runs the dihub of another
checkout (e.g. an older commit, for a before/after). `--latency-ms` makes every answer
of the simulator wait that long, clean runs included, as a network between dihub and the
upstream would (the simulators answer on 127.0.0.1 in about a millisecond, so without it
the waits the faults ask for are measured against requests no real API answers that
fast). --write updates the faults section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import SYNC_ONLY, SimulatorProcess, compiled, dihub_env, machine, obey, run  # noqa: E402,I001
from benchmarks.report import publish, table  # noqa: E402

RATE = 0.05
SIZES = {
    "jira": "5,000 issues (4% with changelogs longer than a search embeds), 50 sprints",
    "slack": "10 channels x 1,000 messages with threads (about 26,000 events)",
    "github": "2 repositories x (2,500 commits, 500 PRs, 500 issues, 250 runs)",
}


# -- the simulators (each in its own process) ------------------------------------------------

def _serve(conn, name: str, retry_after: float, latency_s: float = 0.0) -> None:
    sim, faults, secret = _start(name, retry_after)
    sim.latency_s = latency_s       # every answer, clean or faulty, waits this long
    seeds = iter(range(1, 1 << 30))

    def faulty() -> str:
        sim.faults = faults(next(seeds))
        if hasattr(sim, "retry_after"):
            sim.retry_after = retry_after
        return "faulty"

    def clean() -> str:
        sim.faults = None
        return "clean"

    conn.send({"api_url": sim.api_url if name == "slack" else sim.base_url,
               "secret": secret})
    obey(conn, {"faulty": faulty, "clean": clean, "reset": lambda: sim.stats.reset(),
                "stats": lambda: sim.stats.snapshot()})
    sim.stop()


def _start(name: str, retry_after: float):
    if name == "jira":
        from tests.simulators.jira import Dataset, JiraSimulator, jira_faults
        from tests.simulators.jira.testing import TOKEN, credentials

        ds = Dataset.generate(5000, sprints=50, boards=3, seed=7, bulk_edit=130)
        sim = JiraSimulator(ds, credentials=credentials()).start()
        return sim, lambda seed: jira_faults(RATE, seed=seed, retry_after=retry_after), TOKEN
    if name == "slack":
        from tests.simulators.slack import SlackSimulator, Workspace, slack_faults
        from tests.simulators.slack.testing import TOKEN

        ws = Workspace.generate(channels=10, messages=1000, days=180, long_threads=0.2,
                                seed=11)
        sim = SlackSimulator(ws).start()
        return sim, lambda seed: slack_faults(RATE, seed=seed, retry_after=retry_after), TOKEN
    from tests.simulators.github import Dataset as GhData
    from tests.simulators.github import Faults, GitHubSimulator
    from tests.support.github import REPOS, TOKEN

    data = GhData.generate(REPOS, commits_per_repo=2500, prs_per_repo=500,
                           issues_per_repo=500, runs_per_repo=250, seed=11)
    sim = GitHubSimulator(data, rate_limit=1_000_000).start()
    return sim, lambda seed: Faults(rate=RATE, seed=seed, retry_after=retry_after), TOKEN


def _config(name: str, url: str) -> str:
    """The source with dihub's default http settings (nothing tuned for the faults)."""
    if name == "jira":
        from tests.simulators.jira.testing import EMAIL, TOKEN_ENV

        return (f"{SYNC_ONLY}sources:\n  jira:\n    connector: jira\n    base_url: {url}\n"
                f"    deployment: cloud\n    email: {EMAIL}\n    token_env: {TOKEN_ENV}\n")
    if name == "slack":
        from tests.simulators.slack.testing import TOKEN_ENV

        return (f"{SYNC_ONLY}sources:\n  slack:\n    connector: slack\n    base_url: {url}\n"
                f"    token_env: {TOKEN_ENV}\n    min_interval_s: {{'*': 0}}\n")
    from tests.support.github import REPOS, TOKEN_ENV

    return (f"{SYNC_ONLY}sources:\n  github:\n    connector: github\n    base_url: {url}\n"
            f"    repos: [{', '.join(REPOS)}]\n    token_env: {TOKEN_ENV}\n")


def _token_env(name: str) -> str:
    if name == "jira":
        from tests.simulators.jira.testing import TOKEN_ENV
    elif name == "slack":
        from tests.simulators.slack.testing import TOKEN_ENV
    else:
        from tests.support.github import TOKEN_ENV
    return TOKEN_ENV


# -- measuring -------------------------------------------------------------------------------

def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _count(db: Path, source: str) -> int:
    from benchmarks.measure import stored

    entities = {"jira": ("issues", "sprints", "users"),
                "slack": ("slack_events",),
                "github": ("commits", "pull_requests", "issues", "builds")}[source]
    return stored(db, source, *entities)


def _sync(sim: SimulatorProcess, name: str, tmp: Path, label: str, root: Path
          ) -> tuple[float, float, int, int]:
    work = tmp / label
    work.mkdir()
    cfg = work / "dihub.yaml"
    cfg.write_text(_config(name, sim.api_url))
    env = dihub_env(work / "store.db", work, {_token_env(name): sim.info["secret"]},
                    base={k: v for k, v in os.environ.items() if not k.startswith("DIHUB_")})
    env["PYTHONPATH"] = str(root)
    compiled(root)
    sim.ask("reset")
    cpu0 = _children_cpu()
    result = run([sys.executable, "-m", "dihub", "--config", str(cfg), "-q", "sync", name,
                  "--all"], env=env, cwd=str(root))
    cpu = _children_cpu() - cpu0
    assert result.returncode == 0, result.stderr[-3000:]
    stats = sim.ask("stats")
    return result.wall_s, cpu, sum(stats["faults"].values()), _count(work / "store.db", name)


def waits(db: Path) -> dict[str, float]:
    """Seconds a faulty run spent waiting, from its audit log: retry waits of 429s
    (`Retry-After`), of 5xx and of failed transfers (dropped, truncated), and the
    governor's waits of other calls for a method a 429 holds."""
    import json
    import sqlite3

    out = {"429": 0.0, "5xx": 0.0, "transport": 0.0, "held": 0.0}
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT doc FROM audit_log").fetchall()
    finally:
        con.close()
    for (doc,) in rows:
        entry = json.loads(doc)
        detail = entry.get("detail") or {}
        wait = float(detail.get("wait_s") or 0.0)
        if entry.get("action") == "retry":
            status = detail.get("status")
            key = "429" if status == 429 else "5xx" if status else "transport"
            out[key] += wait
        elif entry.get("action") == "wait" and entry.get("outcome") == "ok":
            out["held"] += wait
    return out


def measure(name: str, runs: int, root: Path, retry_after: float,
            latency_s: float = 0.0) -> dict:
    sim = SimulatorProcess(_serve, name, retry_after, latency_s, start_method="fork",
                           join_s=10)
    clean, faulty, ratios, cpu_c, cpu_f, injected = [], [], [], [], [], []
    waited: list[dict[str, float]] = []
    try:
        with tempfile.TemporaryDirectory(prefix=f"dihub-bench-faults-{name}-") as d:
            tmp = Path(d)
            sim.ask("clean")
            _sync(sim, name, tmp, "warmup", root)
            for k in range(runs):
                sim.ask("clean")
                wc, cc, _, records = _sync(sim, name, tmp, f"clean-{k}", root)
                sim.ask("faulty")
                wf, cf, n, got = _sync(sim, name, tmp, f"faulty-{k}", root)
                assert got == records, (name, got, records)
                waited.append(waits(tmp / f"faulty-{k}" / "store.db"))
                clean.append(wc)
                faulty.append(wf)
                cpu_c.append(cc)
                cpu_f.append(cf)
                injected.append(n)
                ratios.append(wf / wc)
                print(f"{name} pair {k + 1}: clean {wc:.1f} s, faulty {wf:.1f} s "
                      f"({n} faults), ratio {wf / wc:.2f}; waits summed over workers: "
                      + ", ".join(f"{key} {v:.1f} s" for key, v in waited[-1].items()),
                      file=sys.stderr)
    finally:
        sim.close()
    med = statistics.median
    return {"clean": med(clean), "faulty": med(faulty), "ratio": med(ratios),
            "ratios": ratios, "cpu_clean": med(cpu_c), "cpu_faulty": med(cpu_f),
            "faults": med(injected), "records": records,
            "waits": {key: med(w[key] for w in waited) for key in waited[0]}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="jira,slack,github")
    ap.add_argument("--root", type=Path, default=ROOT)
    ap.add_argument("--retry-after", type=float, default=1.0)
    ap.add_argument("--latency-ms", type=float, default=0.0,
                    help="each simulated answer waits this long (a network's round trip)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    results = {n: measure(n, args.runs, args.root.resolve(), args.retry_after,
                          args.latency_ms / 1000) for n in args.only.split(",")}
    rows = [[n, SIZES[n], f"{r['records']:,}", f"{r['faults']:.0f}",
             f"{r['clean']:.1f} s", f"{r['faulty']:.1f} s",
             f"{r['cpu_clean']:.1f} s / {r['cpu_faulty']:.1f} s",
             f"**{r['ratio']:.2f}x** ({', '.join(f'{x:.2f}' for x in r['ratios'])})",
             " / ".join(f"{r['waits'][k]:.1f}" for k in ("429", "5xx", "transport", "held"))]
            for n, r in results.items()]
    lines = [
        f"`dihub sync <source> --all` with dihub's default `http:` settings (retry, rate "
        f"limit) against each simulator in a process of its own; {RATE:.0%} of the API "
        f"requests fail (429 with `Retry-After: {args.retry_after:g}`, 500, 502, 503, a "
        f"dropped connection, a truncated body; a new seed each pair)"
        + (f"; every answer waits {args.latency_ms:g} ms, as over a network"
           if args.latency_ms else "") + f". {args.runs} pairs a "
        f"connector, clean and faulty interleaved after one warm-up run, each into a fresh "
        f"store; every faulty run stored as many records as its clean run. Medians; the "
        f"ratio is the median of the per-pair ratios (each pair's in brackets). Machine: "
        f"{machine()}; load average {load:.1f} at the start (other work shared the "
        f"machine). Measured {time.strftime('%Y-%m-%d')} with "
        f"`python benchmarks/bench_faults.py --runs {args.runs}"
        + (f" --latency-ms {args.latency_ms:g}" if args.latency_ms else "")
        + "`. Waits (medians, "
        "summed over a run's threads, from its audit log): the retry waits of the 429s "
        "(their `Retry-After`), of the 5xx and of failed transfers, and `held`, the waits "
        "of other calls for a method a 429 holds.",
        "",
        *table(["connector", "data", "records", "faults injected", "wall, clean",
                "wall, 5% faults", "CPU clean / faulty", "faulty / clean",
                "waits, s: 429 / 5xx / transfers / held"], rows, "llrrrrrlr"),
    ]
    publish(lines, "faults", "## faults: wall time with 5% injected faults", args.write)


if __name__ == "__main__":
    main()
