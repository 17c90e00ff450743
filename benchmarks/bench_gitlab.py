"""Benchmark: `dihub sync gitlab` against the local GitLab simulator at the size of its
issue (2 projects x 5,000 commits, 1,000 merge requests, 1,000 issues, 500 pipelines).

    python benchmarks/bench_gitlab.py [--scale 1.0] [--write]

Rows: the first sync into an empty store, the no-change re-sync right after it, a second
no-change re-sync, and a first sync into a fresh store with 5% injected faults (429s
included). Requests come from the simulator (its own process); wall time, CPU time
(user + sys) and peak RSS are those of the real `dihub` child process. --write updates
the gitlab section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import re
import resource
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
from tests.simulators.gitlab import Dataset, Faults, GitLabSimulator  # noqa: E402
from tests.support.gitlab import PROJECTS, TOKEN, TOKEN_ENV, gitlab_config  # noqa: E402

DATA_ENTITIES = ("commits", "pull_requests", "issues", "builds")


def _serve(conn, sizes: dict, faults: dict | None) -> None:
    """The simulator's process (see SimulatorProcess)."""
    data = Dataset.generate(PROJECTS, **sizes)
    with GitLabSimulator(data, rate_limit=1_000_000,
                         faults=Faults(**faults) if faults else None) as sim:
        conn.send({"api_url": sim.base_url})
        obey(conn, {"stats": sim.stats.snapshot})


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _sync(sim: SimulatorProcess, tmp: Path, name: str):
    cfg = tmp / "dihub.yaml"
    tmp.mkdir(exist_ok=True)
    if not cfg.exists():
        cfg.write_text(SYNC_ONLY + gitlab_config(
            sim.api_url, http="  retry: {backoff_s: [0.2, 0.5, 1]}\n"))
    env = dihub_env(tmp / "store.db", tmp, {TOKEN_ENV: TOKEN})
    before = sim.ask("stats")
    cpu = _cpu()
    result = run([*dihub_argv(sys.executable, "--config", str(cfg)), "sync", "gitlab"],
                 env=env)
    cpu = _cpu() - cpu
    assert result.returncode == 0, result.stderr[-3000:]
    after = sim.ask("stats")
    delta = {k: after[k] - before[k] for k in ("requests", "not_modified")}
    delta["faults"] = sum(after["faults"].values()) - sum(before["faults"].values())
    lines = re.findall(r"^run \S+: .*$", result.stderr, re.M)
    found = re.findall(r"(\d+) inserted, (\d+) updated", lines[-1]) if lines else []
    written = sum(int(i) + int(u) for i, u in found) if found else 0
    print(f"{name}: {result.wall_s:.1f} s, cpu {cpu:.1f} s, {delta}", file=sys.stderr)
    return result, cpu, delta, written


def measure(scale: float):
    sizes = dict(commits_per_project=int(5000 * scale), mrs_per_project=int(1000 * scale),
                 issues_per_project=int(1000 * scale),
                 pipelines_per_project=int(500 * scale), seed=7)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dihub-bench-gl-") as d:
        tmp = Path(d)
        sim = SimulatorProcess(_serve, sizes, None)
        try:
            rows.append(("first sync (empty store)", *_sync(sim, tmp / "clean", "first")))
            records = stored(tmp / "clean" / "store.db", "gitlab", *DATA_ENTITIES)
            rows.append(("no-change re-sync", *_sync(sim, tmp / "clean", "re-sync")))
            rows.append(("second no-change re-sync", *_sync(sim, tmp / "clean", "again")))
        finally:
            sim.close()
        sim = SimulatorProcess(_serve, sizes, {"rate": 0.05, "seed": 3, "retry_after": 0})
        try:
            faulty = _sync(sim, tmp / "faulty", "faulty sync")
        finally:
            sim.close()
        assert stored(tmp / "faulty" / "store.db", "gitlab", *DATA_ENTITIES) == records
        rows.append(("first sync, 5% injected faults", *faulty))
    return rows, records, sizes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = the size of the issue")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    rows, records, sizes = measure(args.scale)
    lines = [
        f"2 projects x {sizes['commits_per_project']:,} commits, "
        f"{sizes['mrs_per_project']:,} merge requests, {sizes['issues_per_project']:,} issues "
        f"and {sizes['pipelines_per_project']:,} pipelines: {records:,} records (commits, "
        f"merge requests, issues, builds; users not counted) from the local GitLab simulator "
        f"(tests/simulators/gitlab, in a process of its own), `http.concurrency` 4, embedded "
        f"SQLite store. Machine: {machine()}, shared with other jobs (wall times are noisy; "
        f"requests are exact, CPU is user + sys of the dihub process). Measured "
        f"{time.strftime('%Y-%m-%d')} with `python benchmarks/bench_gitlab.py`.",
        "",
        *table(["run", "requests", "per 1,000 records", "304s", "faults",
                "records written (with users)", "wall time", "CPU time", "peak RSS, dihub"],
               [[name, f"{delta['requests']:,}", f"{delta['requests'] / records * 1000:.1f}",
                 f"{delta['not_modified']:,}", f"{delta['faults']:,}", f"{written:,}",
                 f"{r.wall_s:.1f} s", f"{cpu:.1f} s", f"{r.self_rss_mb:.0f} MB"]
                for name, r, cpu, delta, written in rows],
               "lrrrrrrrr"),
        "",
        "A first sync is one request per 100 commits, merge requests and issues (each list "
        "page restarts at the newest `updated_at` read, so no deep offsets), one per 100 "
        "pipelines plus one per pipeline: the list has no start/finish times or duration, "
        "only GET /pipelines/:id does. That detail request is most of the cost (1,000 of "
        "about 1,150 requests here). A no-change re-sync is 4 requests per project: the "
        "branch head and one list request each for merge requests, issues and pipelines "
        "(the project's id and default branch are kept in store meta for "
        "`project_cache_hours`, 24 by default, and looked up again when that branch is "
        "gone). The first re-sync after a sync gets some 200s (a list whose cursor moved on "
        "its last page asks a URL it has no ETag for yet); from the next one on, all are "
        "304s. GitLab counts a 304 against the rate limit like any request, and it has no "
        "request that says whether anything changed in a project, so with per-project "
        "lists 4 is the floor; nothing is written. "
        "The faulty run retries every fault (429 with Retry-After, 5xx, dropped connections, "
        "truncated JSON) and ends with the same records.",
    ]
    publish(lines, "gitlab", "## gitlab connector: the sync of its issue", args.write)


if __name__ == "__main__":
    main()
