"""Benchmark: ingest a generated 100,000-commit repository into the embedded SQLite store,
export it with `dihub fetch`, and time `dihub --help`.

    python benchmarks/bench_git.py [--commits 100000] [--write]

--write updates the git section of BENCHMARKS.md with the numbers of this run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import machine, run, update_section  # noqa: E402
from tests.support.gitrepo import generate, rev_count  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=100_000)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="dihub-bench-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        repo = generate(tmp / "repo", args.commits)
        gen_s = time.perf_counter() - t0
        commits = rev_count(repo, "--branches", "--remotes", "--tags")
        cfg = tmp / "dihub.yaml"
        cfg.write_text(f"sources:\n  git:\n    connector: git\n    repo: {repo}\n")
        env = {**os.environ, "DIHUB_STORE_URI": f"sqlite:///{tmp / 'store.db'}",
               "HOME": str(tmp)}
        dihub = [sys.executable, "-m", "dihub", "--config", str(cfg)]

        sync = run([*dihub, "sync", "git", "commits"], env=env)
        assert sync.returncode == 0, sync.stderr
        resync = run([*dihub, "sync", "git", "commits", "--full-refresh"], env=env)
        assert resync.returncode == 0, resync.stderr
        with open(tmp / "out.jsonl", "w") as out:
            fetch = run([*dihub, "fetch", "git", "commits", "--format", "jsonl"], env=env,
                        stdout=out)
        assert fetch.returncode == 0, fetch.stderr
        exported = sum(1 for _ in open(tmp / "out.jsonl"))
        assert exported == commits, (exported, commits)
        helps = sorted(run([sys.executable, "-m", "dihub", "--help"], env=env).wall_s
                       for _ in range(7))

    users = 25
    rows = [
        ("sync (first run)", commits, sync),
        ("sync --full-refresh (all unchanged)", commits, resync),
        ("fetch --format jsonl", exported, fetch),
    ]
    lines = [
        f"Generated repository: {commits:,} commits ({users} authors, side branches, merges, "
        f"tags; made in {gen_s:.1f} s with git fast-import). Embedded SQLite store. "
        f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with "
        f"`python benchmarks/bench_git.py --commits {args.commits}`.",
        "",
        "| step | records | wall time | records/s | peak RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, n, r in rows:
        lines.append(f"| {name} | {n:,} | {r.wall_s:.1f} s | {n / r.wall_s:,.0f} | "
                     f"{r.peak_rss_mb:.0f} MB |")
    lines += ["", f"`dihub --help` start-up: median {statistics.median(helps) * 1000:.0f} ms, "
                  f"min {helps[0] * 1000:.0f} ms over {len(helps)} runs (process start to exit)."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        update_section(ROOT / "BENCHMARKS.md", "git", "## git connector: 100,000 commits\n\n"
                       + text)


if __name__ == "__main__":
    main()
