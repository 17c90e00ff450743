"""Benchmark: the syncs whose requests went one after the other: a run of one
repository (each stream one partition), and the streams that read something for each
stored record updated since their cursor (GitHub's reviews, GitLab's pipeline details and jobs).

    python benchmarks/bench_one_repo.py [--runs 3] [--latency-ms 50] [--only ...]
                                        [--root [LABEL=]DIR ...] [--write]

Each case syncs into a fresh embedded store from a simulator in a process of its own,
whose every answer waits `--latency-ms` (a network's round trip; 0 = bare loopback).
`--root [LABEL=]DIR` (repeatable) names the trees to run, alternated run by run (default:
this one), so a tree before a change is measured in the same minutes as the one after it.
Reports the median wall and CPU (user + system of the dihub process tree), the
requests the simulator served and the records stored, per case and tree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import (  # noqa: E402
    SYNC_ONLY,
    SimulatorProcess,
    dihub_argv,
    dihub_env,
    machine,
    measure_tree,
    obey,
    stored,
)
from benchmarks.report import publish, table  # noqa: E402

REPO = "octo-org/repo-a"
PROJECT = "group-a/sub/project-a"
# case -> (simulator, what the sync reads, its streams, stored entities, config lines)
CASES = {
    "github-all": ("github", "1 repository: 2,500 commits, 500 PRs, 500 issues, 250 runs",
                   ("--all",), ("commits", "pull_requests", "issues", "builds"), ""),
    "github-reviews": ("github", "1 repository: 500 PRs, 1,156 reviews (one PR has 130)",
                       ("pull_requests", "reviews"), ("reviews",),
                       "    streams: [pull_requests, reviews]\n"),
    "gitlab-pipelines": ("gitlab", "1 project: 500 pipelines, a detail request each",
                         ("pipelines",), ("builds",), ""),
    "gitlab-jobs": ("gitlab", "1 project: 500 pipelines and their 2,133 jobs",
                    ("pipelines", "jobs"), ("jobs",), "    streams: [pipelines, jobs]\n"),
}


def _serve(conn, kind: str, latency_s: float) -> None:
    if kind == "github":
        from tests.simulators.github import Dataset, GitHubSimulator
        from tests.support.github import TOKEN

        data = Dataset.generate([REPO], commits_per_repo=2500, prs_per_repo=500,
                                issues_per_repo=500, runs_per_repo=250, seed=11,
                                reviews_per_pull=2)
        sim = GitHubSimulator(data, rate_limit=1_000_000).start()
    else:
        from tests.simulators.gitlab import Dataset, GitLabSimulator
        from tests.support.gitlab import TOKEN

        data = Dataset.generate([PROJECT], commits_per_project=20, mrs_per_project=0,
                                issues_per_project=0, pipelines_per_project=500, seed=3)
        sim = GitLabSimulator(data, rate_limit=1_000_000).start()
    sim.latency_s = latency_s
    conn.send({"api_url": sim.base_url, "secret": TOKEN})
    obey(conn, {"requests": lambda: sim.stats.requests})
    sim.stop()


def _config(kind: str, url: str, extra: str) -> tuple[str, str]:
    if kind == "github":
        from tests.support.github import TOKEN_ENV, github_config

        return SYNC_ONLY + github_config(url, [REPO], extra=extra.strip(),
                                         http="  {}\n"), TOKEN_ENV
    from tests.support.gitlab import TOKEN_ENV, gitlab_config

    return SYNC_ONLY + gitlab_config(url, [PROJECT], extra=extra.strip(),
                                     http="  {}\n"), TOKEN_ENV


def measure(case: str, runs: int, roots: list[Path], latency_s: float) -> dict[Path, dict]:
    kind, _, streams, entities, extra = CASES[case]
    sim = SimulatorProcess(_serve, kind, latency_s, start_method="fork")
    out: dict[Path, list[tuple[float, float, int, int]]] = {r: [] for r in roots}
    try:
        text, token_env = _config(kind, sim.api_url, extra)
        with tempfile.TemporaryDirectory(prefix=f"dihub-bench-{case}-") as d:
            for k in range(runs):
                for root in roots:
                    work = Path(d) / f"{k}-{len(out[root])}-{root.name}"
                    work.mkdir()
                    (work / "dihub.yaml").write_text(text)
                    env = dihub_env(work / "store.db", work,
                                    {token_env: sim.info["secret"], "PYTHONPATH": str(root)},
                                    base={k: v for k, v in os.environ.items()
                                          if not k.startswith("DIHUB_")})
                    before = sim.ask("requests")
                    cpu, wall, _, _ = measure_tree(
                        [*dihub_argv(sys.executable, "--config", str(work / "dihub.yaml")),
                         "-q", "sync", kind, *streams], env, "dihub-rss-kib")
                    requests = sim.ask("requests") - before
                    out[root].append((wall, cpu, requests, stored(work / "store.db", kind,
                                                                  *entities)))
    finally:
        sim.close()
    return {root: {"wall": statistics.median(s[0] for s in v),
                   "cpu": statistics.median(s[1] for s in v),
                   "requests": sorted({s[2] for s in v}), "records": sorted({s[3] for s in v})}
            for root, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--only", default=",".join(CASES))
    ap.add_argument("--root", action="append",
                    help="a tree to run, [LABEL=]DIR (repeatable; default: this one)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    labels = {}
    for spec in args.root or [str(ROOT)]:
        label, _, path = spec.rpartition("=")
        labels[Path(path).resolve()] = label or Path(path).name
    roots = list(labels)
    rows = []
    for case in args.only.split(","):
        results = measure(case, args.runs, roots, args.latency_ms / 1000)
        for root, r in results.items():
            rows.append([f"`{case}`", CASES[case][1], labels[root], f"{r['wall']:.2f} s",
                         f"{r['cpu']:.2f} s", "/".join(map(str, r["requests"])),
                         "/".join(map(str, r["records"]))])
    lines = [f"`python benchmarks/bench_one_repo.py --runs {args.runs} --latency-ms "
             f"{args.latency_ms:g}`: {args.runs} runs a tree, alternated; medians. Machine: "
             f"{machine()}.", "",
             *table(["case", "data", "tree", "wall", "CPU", "requests", "records"], rows,
                    "lllrrrr")]
    publish(lines, "one-repo", "## One repository, and a request per stored record",
            args.write)


if __name__ == "__main__":
    main()
