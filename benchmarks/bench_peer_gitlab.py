"""Benchmark: dihub against GrimoireLab's Perceval (its `gitlab` backend) on the same
simulated GitLab projects: CPU time, peak memory, wall time, HTTP requests and the issues
and merge requests each emits, runs interleaved (dihub, Perceval, dihub, Perceval, ...).

    python -m venv /tmp/percevalvenv && /tmp/percevalvenv/bin/pip install perceval
    python benchmarks/bench_peer_gitlab.py --peer-python /tmp/percevalvenv/bin/python \\
        [--issues 1000] [--mrs 1000] [--runs 3] [--write]

The dataset (tests/simulators/gitlab, seed 7, served from a process of its own): the two
projects of tests/support/gitlab.py (`group-a/sub/project-a`, `group-a/project-b`), each
with `--issues` issues and `--mrs` merge requests (1,000 of each by default, as in
benchmarks/bench_gitlab.py; a Perceval run stays under two minutes on a small shared
machine), 5 commits a merge request and 10 pipelines (neither tool reads those here).
The streams both read are issues and merge requests; each run is a fresh first read of
all of them, with a personal access token:
- dihub: `dihub sync gitlab issues merge_requests` into a fresh embedded SQLite store
  (`http.concurrency` 4, the default); the store must then hold every issue and merge
  request of the dataset;
- Perceval: `perceval gitlab <owner> <repository> --url <simulator> --api-token ...
  --category issue|merge_request --no-archive --json-line`, once per project and
  category, the four runs in one Python process (below), items written to a file. Its
  gitlab backend reads `/projects/:id` once per run, lists issues and merge requests
  (`order_by=updated_at&sort=asc`, 100 a page; merge requests with `view=simple`), and
  per item: the notes, the award emoji and the award emoji of every note; per merge
  request also the merge request itself, its diff versions and each version's detail.
  It emits one item per issue or merge request with all of that inside.
Records are issues plus merge requests for both: the ones dihub stored (it also stores
the people they name), the items Perceval wrote (each run must emit the dataset's count,
or it fails: Perceval logs errors and exits 0).

CPU is user + system time of the child's process tree (os.wait4); peak RSS is the VmHWM of
the measured process itself (read at its exit), so neither includes this process or the
simulator. Requests are what the simulator served to each run. Wall time includes the
simulator answering them on the same (shared) machine; CPU is each tool's own.

What was adjusted for the peer: nothing in Perceval itself; it runs as released, with
`--no-archive` (by default it also stores every raw response in an archive under
~/.perceval; left out, it does less work than its default). The wrapper below only runs
its command line four times in one process (one interpreter start-up, as dihub has,
instead of four). The simulator gained, additively, what Perceval asks for and GitLab
serves in the documented REST v4 shapes: issue and merge request notes, award emoji (of
items and of notes), merge request diff versions and a version's detail, and
`view=simple` on the merge request list. Those are derived from each item: its
`user_notes_count` notes (no system notes), `upvotes`/`downvotes` awards, one award on
every seventh note, one diff version (two for every third merge request). A single merge
request here is the list's item (GitLab's detail adds a few fields, such as
`diff_refs` and `changes_count`), so that answer is a little smaller than a real one.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import (  # noqa: E402
    PEER_RSS,
    SYNC_ONLY,
    SimulatorProcess,
    dihub_argv,
    dihub_env,
    installed_version,
    machine,
    measure_tree,
    median_of,
    obey,
    peer_program,
    peer_rows,
    served,
    stored,
)
from benchmarks.measure import Sample as _Sample  # noqa: E402
from benchmarks.report import publish, table  # noqa: E402
from tests.support.gitlab import PROJECTS, TOKEN, TOKEN_ENV, gitlab_config  # noqa: E402

CATEGORIES = ("issue", "merge_request")

# Runs the perceval CLI once per argv of the JSON list in argv[1], in this one process,
# and prints its VmHWM at exit like dihub_argv's wrapper.
_PEER = peer_program("""
import json
from perceval.perceval import main
for job in json.loads(sys.argv[1]):
    sys.argv = ["perceval", *job]
    main()
""")


@dataclass
class Sample(_Sample):
    requests: int = 0
    by_route: dict[str, int] = field(default_factory=dict)


def _serve(conn, sizes: dict) -> None:
    """The simulator's process (see SimulatorProcess): answers "stats", "reset", "info"
    and "stop"."""
    from tests.simulators.gitlab import Dataset, GitLabSimulator

    data = Dataset.generate(PROJECTS, **sizes)

    def info() -> dict:
        items = [i for p in PROJECTS for i in (*data.projects[p].issues,
                                               *data.projects[p].merge_requests)]
        return {"issues": sum(len(data.projects[p].issues) for p in PROJECTS),
                "mrs": sum(len(data.projects[p].merge_requests) for p in PROJECTS),
                "notes": sum(i["user_notes_count"] for i in items)}

    with GitLabSimulator(data, rate_limit=1_000_000) as sim:
        conn.send({"api_url": sim.base_url})
        obey(conn, {"stats": sim.stats.snapshot, "reset": sim.stats.reset, "info": info})


def run_dihub(sim: SimulatorProcess, info: dict, tmp: Path) -> Sample:
    tmp.mkdir(parents=True)
    cfg = tmp / "dihub.yaml"
    cfg.write_text(SYNC_ONLY + gitlab_config(sim.api_url))
    env = dihub_env(tmp / "store.db", tmp, {TOKEN_ENV: TOKEN},
                    base={k: v for k, v in os.environ.items() if not k.startswith("DIHUB_")})
    sim.ask("reset")
    argv = [*dihub_argv(sys.executable, "--config", str(cfg)), "-q", "sync", "gitlab",
            "issues", "merge_requests"]
    cpu, wall, rss, _ = measure_tree(argv, env, "dihub-rss-kib")
    requests, by_route = served(sim)
    issues = stored(tmp / "store.db", "gitlab", "issues")
    mrs = stored(tmp / "store.db", "gitlab", "pull_requests")
    assert (issues, mrs) == (info["issues"], info["mrs"]), (issues, mrs, info)
    return Sample(cpu, wall, rss, issues + mrs, requests, by_route)


def peer_jobs(api_url: str) -> list[list[str]]:
    """Perceval's command lines: one per project and category (a nested group's path
    goes in `repository`, `%2F`-encoded, as its backend documents)."""
    jobs = []
    for path in PROJECTS:
        owner, repository = path.split("/", 1)
        for category in CATEGORIES:
            jobs.append(["gitlab", owner, repository.replace("/", "%2F"), "--url", api_url,
                         "--api-token", TOKEN, "--category", category, "--no-archive",
                         "--json-line"])
    return jobs


def run_peer(sim: SimulatorProcess, info: dict, peer_python: str, tmp: Path) -> Sample:
    tmp.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIHUB_", "PYTHON"))}
    env["HOME"] = str(tmp)
    out = tmp / "items.jsonl"
    sim.ask("reset")
    with out.open("w") as fh:
        cpu, wall, rss, err = measure_tree(
            [peer_python, "-c", _PEER, json.dumps(peer_jobs(sim.api_url))], env, PEER_RSS,
            stdout=fh)
    requests, by_route = served(sim)
    counts = {c: 0 for c in CATEGORIES}
    with out.open() as fh:
        for line in fh:
            if line.strip():
                counts[json.loads(line)["category"]] += 1
    out.unlink()
    assert counts == {"issue": info["issues"], "merge_request": info["mrs"]}, (
        counts, info, err[-2000:])
    return Sample(cpu, wall, rss, sum(counts.values()), requests, by_route)


def _routes(sample: Sample) -> str:
    return ", ".join(f"{v:,} × `{k.split(' ', 1)[1].removeprefix('/api/v4')}`"
                     for k, v in sorted(sample.by_route.items(), key=lambda kv: -kv[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer-python", required=True,
                    help="the python of a venv with perceval installed")
    ap.add_argument("--issues", type=int, default=1000, help="issues a project")
    ap.add_argument("--mrs", type=int, default=1000, help="merge requests a project")
    ap.add_argument("--runs", type=int, default=3, help="runs of each tool")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    sizes = dict(commits_per_project=5 * args.mrs, mrs_per_project=args.mrs,
                 issues_per_project=args.issues, pipelines_per_project=10, seed=7)
    peer_version = installed_version(args.peer_python, "perceval")
    dihub_version = importlib.metadata.version("dihub")
    load = os.getloadavg()[0]
    samples: dict[str, list[Sample]] = {"dihub": [], "peer": []}
    with tempfile.TemporaryDirectory(prefix="dihub-bench-peer-gitlab-") as d:
        tmp = Path(d)
        sim = SimulatorProcess(_serve, sizes)
        try:
            info = sim.ask("info")
            for i in range(args.runs):
                samples["dihub"].append(run_dihub(sim, info, tmp / f"dihub{i}"))
                samples["peer"].append(run_peer(sim, info, args.peer_python,
                                                tmp / f"peer{i}"))
                print(f"run {i + 1}: dihub {samples['dihub'][-1]}\n       perceval "
                      f"{samples['peer'][-1]}", file=sys.stderr)
        finally:
            sim.close()
    dihub, peer = samples["dihub"], samples["peer"]
    rows = [
        *peer_rows(dihub, peer),
        ["HTTP requests", f"{dihub[0].requests:,}", f"{peer[0].requests:,}",
         f"{dihub[0].requests / peer[0].requests:.4f}x"],
        ["issues + merge requests emitted", f"{dihub[0].records:,}", f"{peer[0].records:,}",
         ""],
    ]
    n = len(PROJECTS)
    lines = [
        f"The same simulated GitLab projects (REST API v4, tests/simulators/gitlab, seed 7): "
        f"{n} projects (`{'`, `'.join(PROJECTS)}`) with {args.issues:,} issues and "
        f"{args.mrs:,} merge requests each ({info['issues']:,} issues, {info['mrs']:,} merge "
        f"requests, {info['notes']:,} notes in all; the issues and merge requests of "
        f"benchmarks/bench_gitlab.py); the streams both read, issues and merge requests, each "
        f"tool's first read of all of them, with a personal access token. dihub "
        f"{dihub_version}: `dihub sync gitlab issues merge_requests` (`http.concurrency` 4) "
        f"into a fresh embedded SQLite store, each run's store checked for every issue and "
        f"merge request. Peer: Perceval {peer_version} (GrimoireLab) in its own venv, "
        f"`perceval gitlab <owner> <repository> --url ... --api-token ... --category "
        f"issue|merge_request --no-archive --json-line` for each project and category (4 "
        f"command lines run in one Python process), items to a file. Records are issues "
        f"plus merge requests for both: dihub's stored ones (it also stores the people they "
        f"name), Perceval's items (one per issue or merge request, with its notes, award "
        f"emoji, and for a merge request its diff versions). {args.runs} runs of each, "
        f"interleaved (dihub, Perceval, ...); medians, ratios pair by pair. CPU = user + "
        f"system time of the process tree (os.wait4); peak RSS = VmHWM of the process at "
        f"exit; requests = what the simulator (its own process, not measured) served to "
        f"the run. Machine: {machine()}, shared with other work (load average {load:.1f} "
        f"at the start: wall times are noisy, CPU much less so). Measured "
        f"{time.strftime('%Y-%m-%d')} with `python benchmarks/bench_peer_gitlab.py "
        f"--issues {args.issues} --mrs {args.mrs} --runs {args.runs}`.",
        "",
        *table(["", "dihub", "Perceval", "dihub / Perceval"], rows, "lrrr"),
        "",
        f"Requests, dihub: {_routes(dihub[0])}. Perceval: {_routes(peer[0])}. Perceval asks "
        f"for every item's notes and award emoji and for every note's award emoji, whether "
        f"there are any or not, and for each merge request again; dihub reads the lists "
        f"(100 a page) and stores no notes, award emoji or diff versions, so Perceval "
        f"also emits more per item. Per request, Perceval spends "
        f"{median_of(peer, 'cpu_s') / peer[0].requests * 1000:.1f} ms of CPU: the gap is "
        f"the requests it makes, not the cost of each.",
        "",
        "Adjustments for the peer: none to Perceval; `--no-archive` leaves out its default "
        "archive of every raw response (less work than its default); its four command lines "
        "run in one process (one start-up). The simulator serves, additively and in GitLab's "
        "documented shapes, what Perceval asks for: notes, award emoji (of items and of "
        "notes), merge request diff versions and their detail, `view=simple` merge request "
        "lists; a single merge request is the list's item (GitLab's detail has a few more "
        "fields). See the docstring of benchmarks/bench_peer_gitlab.py.",
    ]
    publish(lines, "peer-gitlab", "## GitLab against Perceval: CPU and memory", args.write)


if __name__ == "__main__":
    main()
