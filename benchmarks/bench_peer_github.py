"""Benchmark: dihub against MeltanoLabs tap-github on the same simulated GitHub data, CPU time
and peak memory, runs interleaved (dihub, tap, dihub, tap, ...).

    python -m venv /tmp/tapvenv && /tmp/tapvenv/bin/pip install meltanolabs-tap-github
    python benchmarks/bench_peer_github.py --tap-python /tmp/tapvenv/bin/python \\
        [--scales 1,10] [--runs 2] [--write]

The dataset at scale 1: 2 repositories x 5,000 commits, 1,000 pull requests and 1,000
issues (the issues API lists every pull request too): 16,000 items of tap-github's three
streams, commits, pull_requests and issues. Both tools read all three from the local
GitHub simulator (tests/simulators/github, in a process of its own): dihub as
`dihub sync github commits pull_requests issues` into a fresh embedded SQLite store, the
tap with a catalog that selects the same three streams, its records written to a file.
Each run is a fresh first sync.

CPU is user + system time of the child's process tree (os.wait4); peak RSS is the VmHWM of
the measured process itself (read at its exit), so neither includes this process.

Two adjustments let the tap read the simulator; neither changes the work it does:
- it is configured with `organizations: [octo-org]`, not `repositories:`: with
  `repositories` it asks GitHub's GraphQL API for the repositories' ids, which the
  simulator does not serve; it runs without a token, since it checks a token against
  https://api.github.com/rate_limit whatever `api_url_base` says (the simulator needs none);
- the simulator's issues carry no `type` key (GitHub's issue types), which the tap's
  issues stream reads unconditionally, and it pages issues by `page=` links where the tap
  expects `after=` cursors for issues: the wrapper below sets the key to None when absent
  and makes the tap follow the page links, as it does for its other streams.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import (  # noqa: E402
    PEER_RSS,
    SYNC_ONLY,
    Sample,
    SimulatorProcess,
    dihub_argv,
    dihub_env,
    installed_version,
    machine,
    measure_tree,
    median_of,
    obey,
    pair_ratio,
    peer_program,
    stored,
)
from benchmarks.report import publish, table  # noqa: E402
from tests.support.github import REPOS, TOKEN, TOKEN_ENV, github_config  # noqa: E402

STREAMS = ("commits", "pull_requests", "issues")

# Runs the tap in its own venv; prints its VmHWM at exit like dihub_argv's wrapper.
_TAP = peer_program("""
from tap_github import repository_streams as rs
_post_process = rs.IssuesStream.post_process
def post_process(self, row, context=None):
    row.setdefault("type", None)         # the simulator's issues have no issue type
    return _post_process(self, row, context)
rs.IssuesStream.post_process = post_process
rs.IssuesStream.use_cursor_pagination = False     # the simulator pages issues by page=
from tap_github.tap import cli
sys.argv[0] = "tap-github"
sys.exit(cli())
""")


def _serve(conn, sizes: dict) -> None:
    """The simulator's process (see SimulatorProcess)."""
    from tests.simulators.github import Dataset, GitHubSimulator

    data = Dataset.generate(REPOS, **sizes)
    with GitHubSimulator(data, rate_limit=10_000_000) as sim:
        conn.send({"api_url": sim.api_url})
        obey(conn, {"stats": sim.stats.snapshot})


def run_dihub(api_url: str, tmp: Path) -> Sample:
    tmp.mkdir(parents=True)
    cfg = tmp / "dihub.yaml"
    cfg.write_text(SYNC_ONLY + github_config(api_url))
    env = dihub_env(tmp / "store.db", tmp, {TOKEN_ENV: TOKEN})
    argv = [*dihub_argv(sys.executable, "--config", str(cfg)), "-q", "sync", "github",
            *STREAMS]
    cpu, wall, rss, _ = measure_tree(argv, env, "dihub-rss-kib")
    # every item of the three listings, as the tap counts them: the issues listing's pull
    # requests are stored as pull requests (once), not as issues
    db = tmp / "store.db"
    records = stored(db, "github", "commits", "issues") + 2 * stored(db, "github",
                                                                    "pull_requests")
    return Sample(cpu, wall, rss, records)


def tap_catalog(tap_python: str, config: Path, tmp: Path) -> Path:
    out = subprocess.run([tap_python, "-c", _TAP, "--config", str(config), "--discover"],
                         capture_output=True, text=True, check=True)
    catalog = json.loads(out.stdout)
    for stream in catalog["streams"]:
        chosen = stream["tap_stream_id"] in STREAMS
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == [] or chosen:
                entry["metadata"]["selected"] = chosen
    path = tmp / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


def run_tap(tap_python: str, config: Path, catalog: Path, tmp: Path) -> Sample:
    tmp.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    out = tmp / "records.jsonl"
    with out.open("w") as fh:
        cpu, wall, rss, _ = measure_tree([tap_python, "-c", _TAP, "--config", str(config),
                                          "--catalog", str(catalog)], env, PEER_RSS, stdout=fh)
    records = 0
    with out.open() as fh:
        for line in fh:
            if line.startswith('{"type":"RECORD"') or '"type": "RECORD"' in line[:30]:
                records += 1
    out.unlink()
    return Sample(cpu, wall, rss, records)


def measure(scale: float, runs: int, tap_python: str) -> dict:
    sizes = dict(commits_per_repo=int(5000 * scale), prs_per_repo=int(1000 * scale),
                 issues_per_repo=int(1000 * scale), runs_per_repo=0, seed=11)
    samples: dict[str, list[Sample]] = {"dihub": [], "tap": []}
    with tempfile.TemporaryDirectory(prefix="dihub-bench-peer-") as d:
        tmp = Path(d)
        sim = SimulatorProcess(_serve, sizes)
        try:
            config = tmp / "tap.json"
            config.write_text(json.dumps({"api_url_base": sim.api_url,
                                          "organizations": ["octo-org"],
                                          "start_date": "2000-01-01T00:00:00Z"}))
            catalog = tap_catalog(tap_python, config, tmp)
            for i in range(runs):
                samples["dihub"].append(run_dihub(sim.api_url, tmp / f"dihub{i}"))
                samples["tap"].append(run_tap(tap_python, config, catalog, tmp / f"tap{i}"))
                print(f"scale {scale}: run {i + 1}: dihub {samples['dihub'][-1]}, "
                      f"tap {samples['tap'][-1]}", file=sys.stderr)
        finally:
            sim.close()
    return {"sizes": sizes, **samples}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tap-python", required=True,
                    help="the python of a venv with meltanolabs-tap-github installed")
    ap.add_argument("--scales", default="1,10", help="1 = 16,000 items")
    ap.add_argument("--runs", type=int, default=2, help="runs of each tool per scale")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    tap_version = installed_version(args.tap_python, "meltanolabs-tap-github")
    rows = []
    for scale in (float(s) for s in args.scales.split(",")):
        result = measure(scale, args.runs, args.tap_python)
        dihub, tap = result["dihub"], result["tap"]
        cpu_ratio = pair_ratio(dihub, tap, "cpu_s")
        rss_ratio = pair_ratio(dihub, tap, "rss_mb")
        rows.append([f"{dihub[0].records:,}", f"{tap[0].records:,}",
                     f"{median_of(dihub, 'cpu_s'):.1f} s", f"{median_of(tap, 'cpu_s'):.1f} s",
                     f"**{cpu_ratio:.2f}x**",
                     f"{median_of(dihub, 'rss_mb'):.0f} MB", f"{median_of(tap, 'rss_mb'):.0f} MB",
                     f"**{rss_ratio:.2f}x**",
                     f"{median_of(dihub, 'wall_s'):.1f} s", f"{median_of(tap, 'wall_s'):.1f} s"])
    lines = [
        f"tap-github's three streams (commits, pull_requests, issues) from the local GitHub "
        f"simulator, 2 repositories, each tool's first sync; scale 1 = 5,000 commits, 1,000 "
        f"pull requests and 1,000 issues a repository (the issues API lists the pull requests "
        f"too). dihub: `sync github commits pull_requests issues`, `http.concurrency` 4, "
        f"embedded SQLite store. Peer: meltanolabs-tap-github {tap_version} in its own venv, "
        f"records to a file. {args.runs} runs of each, interleaved; medians, ratios pair by "
        f"pair. CPU = user + system time of the process tree (os.wait4); peak RSS = VmHWM of "
        f"the process. Machine: {machine()}, shared with other work (wall times are noisy; "
        f"CPU much less so). Measured {time.strftime('%Y-%m-%d')} with "
        f"`python benchmarks/bench_peer_github.py --tap-python ...`.",
        "",
        *table(["items, dihub", "records, tap", "CPU, dihub", "CPU, tap", "CPU ratio",
                "peak RSS, dihub", "peak RSS, tap", "RSS ratio", "wall, dihub", "wall, tap"],
               rows, "rrrrrrrrrr"),
        "",
        "Items count every item of the three listings (the issues listing's pull requests "
        "included, as the tap emits them): for dihub, its stored commits, pull requests "
        "and issues plus the pull requests again.",
    ]
    publish(lines, "peer-github", "## GitHub against tap-github: CPU and memory", args.write)


if __name__ == "__main__":
    main()
