"""Benchmark: paired, interleaved runs of `dihub sync` from two source trees (two
revisions of this repository, e.g. `git worktree add /tmp/before REV`) against one
simulator, to tell whether a change made a connector slower.

    python benchmarks/bench_versions.py KIND RUNS BEFORE_TREE AFTER_TREE

KIND is github (2 x 5,000 commits, 1,000 PRs, 1,000 issues, 500 runs), jira (5,000
issues), slack (20 channels x 2,000 messages) or git (a generated 20,000-commit
repository). The simulators and config helpers come from this checkout; each dihub run
imports the tree given (PYTHONPATH). Prints wall time, CPU (user+sys) and peak RSS of
each run and their medians; the order of the two trees alternates from run to run. A
tree without the `hub.refresh_after_sync` setting gets a config without it (it has no
refresh to switch off).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import SYNC_ONLY, SimulatorProcess, compiled  # noqa: E402

TREES: dict[str, str] = {}
GIT_REPO = Path(tempfile.gettempdir()) / "dihub-bench-versions-git20k"
JIRA_TOKEN_ENV, JIRA_TOKEN = "JIRA_BENCH_TOKEN", "bench-token-5d1e9a77c3"


def _has_hub_setting(tree: str) -> bool:
    settings = Path(tree) / "dihub" / "settings.py"
    return settings.exists() and "refresh_after_sync" in settings.read_text()


def _config(kind: str, url: str) -> tuple[str, dict[str, str], list[str]]:
    """(config text, extra environment, dihub arguments) of one sync."""
    if kind == "github":
        from tests.support.github import TOKEN, TOKEN_ENV, github_config
        return (github_config(url, http="  retry: {backoff_s: [0.2, 0.5, 1]}\n"),
                {TOKEN_ENV: TOKEN}, ["sync", "github", "--all"])
    if kind == "jira":
        return (f"sources:\n  jira:\n    connector: jira\n    base_url: {url}\n"
                f"    deployment: cloud\n    email: bench@example.com\n"
                f"    token_env: {JIRA_TOKEN_ENV}\n",
                {JIRA_TOKEN_ENV: JIRA_TOKEN}, ["sync", "jira", "--all"])
    if kind == "slack":
        from tests.simulators.slack.testing import TOKEN, TOKEN_ENV, config_yaml
        return config_yaml(url), {TOKEN_ENV: TOKEN}, ["sync", "slack"]
    return (f"sources:\n  git:\n    connector: git\n    repo: {url}\n", {},
            ["sync", "git", "commits"])


def one(kind: str, tree: str, url: str, tmp: str) -> tuple[float, float, float]:
    """One sync into a fresh store: (wall s, CPU s, peak RSS MB)."""
    work = Path(tempfile.mkdtemp(dir=tmp))
    text, extra, args = _config(kind, url)
    cfg = work / "dihub.yaml"
    cfg.write_text((SYNC_ONLY if _has_hub_setting(tree) else "") + text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIHUB_")}
    compiled(tree)
    env.update(PYTHONPATH=tree, DIHUB_STORE_URI=f"sqlite:///{work / 'store.db'}",
               HOME=str(work), **extra)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dihub", "--config", str(cfg), "-q", *args],
                            env=env, cwd=tree, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    assert os.waitstatus_to_exitcode(status) == 0, err[-2000:]
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _simulator(kind: str):
    """(url, stop) of the simulator serving `kind`."""
    if kind == "github":
        from benchmarks.bench_github import _serve
        sizes = dict(commits_per_repo=5000, prs_per_repo=1000, issues_per_repo=1000,
                     runs_per_repo=500, seed=11)
        sim = SimulatorProcess(_serve, sizes, None)
        return sim.api_url, sim.close
    if kind == "jira":
        from benchmarks.bench_jira import Simulator
        jira = Simulator(5000)
        return jira.url, jira.stop
    if kind == "slack":
        from benchmarks.bench_slack import serve
        sim = SimulatorProcess(serve, 20, 2000, 180, 0.2, start_method="fork", join_s=10)
        return sim.api_url, sim.close
    from tests.support.gitrepo import generate
    if not GIT_REPO.exists():
        generate(GIT_REPO, 20000)
    return str(GIT_REPO), lambda: None


def main(kind: str, runs: int) -> None:
    tmp = tempfile.mkdtemp(prefix="dihub-bench-versions-")
    url, stop = _simulator(kind)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in TREES}
    try:
        for i in range(runs):
            for name in (list(TREES) if i % 2 == 0 else list(reversed(TREES))):
                wall, cpu, rss = one(kind, TREES[name], url, tmp)
                results[name].append((wall, cpu, rss))
                print(f"{kind} {name}: wall {wall:.2f} s, cpu {cpu:.2f} s, rss {rss:.0f} MB",
                      file=sys.stderr, flush=True)
    finally:
        stop()
    for name, rs in results.items():
        print(f"{kind} {name}: median wall {statistics.median(r[0] for r in rs):.2f} s, "
              f"median cpu {statistics.median(r[1] for r in rs):.2f} s, "
              f"median peak RSS {statistics.median(r[2] for r in rs):.0f} MB (n={len(rs)})")


if __name__ == "__main__":
    kind, runs, before, after = sys.argv[1:5]
    TREES.update(before=before, after=after)
    main(kind, int(runs))
