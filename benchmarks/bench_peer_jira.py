"""Benchmark: dihub against GrimoireLab's Perceval (its `jira` backend) on the same
simulated Jira Data Center site: CPU time, peak memory, wall time, HTTP requests and the
issues each emits, runs interleaved (dihub, Perceval, dihub, Perceval, ...).

    python -m venv /tmp/percevalvenv && /tmp/percevalvenv/bin/pip install perceval
    python benchmarks/bench_peer_jira.py --peer-python /tmp/percevalvenv/bin/python \\
        [--issues 5000] [--runs 3] [--write]

The dataset is the one benchmarks/bench_jira.py syncs (tests/simulators/jira, seed 7):
`--issues` issues (5,000 by default, as there) in two projects with their changelogs (4%
of them longer than the 40 entries a Jira Cloud search embeds, up to 260), 130 issues
bulk-edited in one minute, 50 sprints on 3 boards; served as Data Center (REST v2,
`/rest/api/2/search` paged by `startAt`, whole changelogs embedded), the mode Perceval
reads, from a process of its own, with a bearer personal access token. Each run is a
fresh first read of every issue:
- dihub: `dihub sync jira issues` (`deployment: datacenter`, `token_env`), into a fresh
  embedded SQLite store; the store is checked against the dataset after each run;
- Perceval: `perceval jira <url> --api-token <token> --no-archive --json-line`, its items
  written to a file. Perceval's jira backend reads `/rest/api/2/field` once, then
  `/rest/api/2/search` (`jql=updated > 0 order by updated asc`, 100 issues a page,
  `expand=renderedFields,transitions,operations,changelog`, every field), and for every
  issue `/rest/api/2/issue/{id}/comment`; it emits one item per issue: the issue as
  served plus its comments.
Records are issues for both: the issues dihub stored, the items Perceval wrote (each
must be the dataset's size, or the run fails: Perceval logs an error and exits 0).

CPU is user + system time of the child's process tree (os.wait4); peak RSS is the VmHWM of
the measured process itself (read at its exit), so neither includes this process or the
simulator. Requests are what the simulator served to each run. Wall time includes the
simulator answering them on the same (shared) machine, so Perceval's wall time (a request
an issue) is partly the simulator's; CPU is each tool's own.

What was adjusted for the peer: nothing in Perceval itself; it runs as released, with
`--no-archive` (by default it also stores every raw response in an archive under
~/.perceval; left out, it does less work than its default). The simulator gained two
things Perceval asks for and Jira serves (additively; nothing dihub reads changed): the
comments of an issue (`/rest/api/{2,3}/issue/{id}/comment`; the dataset's comments are
the ones that moved an issue's `updated` without a changelog entry, at most one an issue)
and JQL dates written as milliseconds since the epoch (`updated > 0`). The
simulator ignores `renderedFields`, `transitions` and `operations` in `expand`: Jira would
add rendered HTML and workflow data to each issue, so Perceval's pages here are smaller
than a real site's.
"""

from __future__ import annotations

import argparse
import importlib.metadata
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
    obey,
    peer_program,
    peer_rows,
    served,
    stored,
)
from benchmarks.measure import Sample as _Sample  # noqa: E402
from benchmarks.report import publish, table  # noqa: E402

TOKEN = "bench-pat-3c81f0e2d9"
TOKEN_ENV = "JIRA_BENCH_TOKEN"

# Runs the perceval CLI in its own venv; prints its VmHWM at exit like dihub_argv's wrapper.
_PEER = peer_program("""
from perceval.perceval import main
sys.argv[0] = "perceval"
sys.exit(main())
""")


@dataclass
class Sample(_Sample):
    requests: int = 0
    by_route: dict[str, int] = field(default_factory=dict)


def _serve(conn, n: int, long_changelogs: float) -> None:
    """The simulator's process (see SimulatorProcess): answers "stats", "reset",
    "info", ("verify", store path) and "stop"."""
    from tests.simulators.jira import Dataset, JiraSimulator
    from tests.simulators.jira.server import Credentials

    ds = Dataset.generate(n, sprints=50, boards=3, seed=7, bulk_edit=130,
                          long_changelogs=long_changelogs, deployment="datacenter")
    with JiraSimulator(ds, credentials=Credentials(TOKEN)) as sim:
        conn.send({"api_url": sim.base_url})

        def info() -> dict:
            long = [len(i.histories) for i in ds.issues if len(i.histories) > 40]
            last = [i.history_times[-1] if i.history_times else i.created for i in ds.issues]
            return {"issues": len(ds.issues), "long": len(long),
                    "longest": max(long, default=0),
                    "histories": sum(len(i.histories) for i in ds.issues),
                    "commented": sum(i.updated > t for i, t in zip(ds.issues, last,
                                                                  strict=True))}

        obey(conn, {"stats": sim.stats.snapshot, "reset": sim.stats.reset, "info": info,
                    "verify": lambda path: _verify(ds, path)})


def _verify(ds, store_path: str) -> list[str]:
    from dihub.store.sqlite import SQLiteStore
    from tests.simulators.jira.testing import issue_mismatches

    store = SQLiteStore(store_path)
    try:
        return issue_mismatches(store, ds)[:10]
    finally:
        store.close()


def run_dihub(sim: SimulatorProcess, n: int, tmp: Path) -> Sample:
    tmp.mkdir(parents=True)
    cfg = tmp / "dihub.yaml"
    cfg.write_text(f"{SYNC_ONLY}sources:\n  jira:\n    connector: jira\n"
                   f"    base_url: {sim.api_url}\n    deployment: datacenter\n"
                   f"    token_env: {TOKEN_ENV}\n")
    env = dihub_env(tmp / "store.db", tmp, {TOKEN_ENV: TOKEN},
                    base={k: v for k, v in os.environ.items() if not k.startswith("DIHUB_")})
    sim.ask("reset")
    argv = [*dihub_argv(sys.executable, "--config", str(cfg)), "-q", "sync", "jira", "issues"]
    cpu, wall, rss, _ = measure_tree(argv, env, "dihub-rss-kib")
    requests, by_route = served(sim)
    problems = sim.ask(("verify", str(tmp / "store.db")))
    assert not problems, problems
    records = stored(tmp / "store.db", "jira", "issues")
    assert records == n, (records, n)
    return Sample(cpu, wall, rss, records, requests, by_route)


def run_peer(sim: SimulatorProcess, n: int, peer_python: str, tmp: Path) -> Sample:
    tmp.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIHUB_", "PYTHON"))}
    env["HOME"] = str(tmp)
    out = tmp / "items.jsonl"
    sim.ask("reset")
    with out.open("w") as fh:
        cpu, wall, rss, err = measure_tree(
            [peer_python, "-c", _PEER, "jira", sim.api_url, "--api-token", TOKEN,
             "--no-archive", "--json-line"], env, PEER_RSS, stdout=fh)
    requests, by_route = served(sim)
    with out.open() as fh:
        records = sum(1 for line in fh if line.strip())
    out.unlink()
    assert records == n, (records, n, err[-2000:])
    return Sample(cpu, wall, rss, records, requests, by_route)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer-python", required=True,
                    help="the python of a venv with perceval installed")
    ap.add_argument("--issues", type=int, default=5000, help="issues in the dataset")
    ap.add_argument("--long-changelogs", type=float, default=0.04)
    ap.add_argument("--runs", type=int, default=3, help="runs of each tool")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    n = args.issues
    peer_version = installed_version(args.peer_python, "perceval")
    dihub_version = importlib.metadata.version("dihub")
    load = os.getloadavg()[0]
    samples: dict[str, list[Sample]] = {"dihub": [], "peer": []}
    with tempfile.TemporaryDirectory(prefix="dihub-bench-peer-jira-") as d:
        tmp = Path(d)
        sim = SimulatorProcess(_serve, n, args.long_changelogs)
        try:
            info = sim.ask("info")
            for i in range(args.runs):
                samples["dihub"].append(run_dihub(sim, n, tmp / f"dihub{i}"))
                samples["peer"].append(run_peer(sim, n, args.peer_python, tmp / f"peer{i}"))
                print(f"run {i + 1}: dihub {samples['dihub'][-1]}\n       perceval "
                      f"{samples['peer'][-1]}", file=sys.stderr)
        finally:
            sim.close()
    dihub, peer = samples["dihub"], samples["peer"]
    rows = [
        *peer_rows(dihub, peer),
        ["HTTP requests", f"{dihub[0].requests:,}", f"{peer[0].requests:,}",
         f"{dihub[0].requests / peer[0].requests:.3f}x"],
        ["issues emitted", f"{dihub[0].records:,}", f"{peer[0].records:,}", ""],
    ]
    routes = {name: ", ".join(f"{v:,} × `{k.split(' ', 1)[1]}`"
                              for k, v in sorted(s.by_route.items(), key=lambda kv: -kv[1]))
              for name, s in (("dihub", dihub[0]), ("peer", peer[0]))}
    lines = [
        f"The same simulated Jira Data Center site (REST v2, tests/simulators/jira, seed 7): "
        f"{n:,} issues with {info['histories']:,} changelog entries ({info['long']} longer "
        f"than 40, up to {info['longest']}), {info['commented']:,} with a comment, 130 "
        f"bulk-edited in one minute, 50 sprints on 3 boards; each tool's first read of every "
        f"issue, with a bearer personal access token. dihub {dihub_version}: `dihub sync jira "
        f"issues` (`deployment: datacenter`) into a fresh embedded SQLite store, each run's "
        f"store checked against the dataset. Peer: Perceval {peer_version} (GrimoireLab) in "
        f"its own venv, `perceval jira <url> --api-token ... --no-archive --json-line`, "
        f"items to a file. Records are issues for both: dihub's stored issues (it also "
        f"stores the people they name), Perceval's items (one per issue: the issue as served "
        f"with its changelog, plus its comments). {args.runs} runs of each, interleaved "
        f"(dihub, Perceval, ...); medians, ratios pair by pair. CPU = user + system time of "
        f"the process tree (os.wait4); peak RSS = VmHWM of the process at exit; requests = "
        f"what the simulator served to the run. Machine: {machine()}, shared with other "
        f"work (load average {load:.1f} at the start: wall times are noisy, CPU much less "
        f"so). Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/bench_peer_jira.py "
        f"--issues {n} --runs {args.runs}`.",
        "",
        *table(["", "dihub", "Perceval", "dihub / Perceval"], rows, "lrrr"),
        "",
        f"Requests, dihub: {routes['dihub']}. Perceval: {routes['peer']} (one comments "
        f"request per issue, whether it has comments or not).",
        "",
        "Adjustments for the peer: none to Perceval; `--no-archive` leaves out its default "
        "archive of every raw response (less work than its default). The simulator serves "
        "two things Perceval asks for as Jira does (an issue's comments, JQL dates as epoch "
        "milliseconds) and ignores `renderedFields`, `transitions` and `operations` in "
        "`expand`, so Perceval's pages here are smaller than on a real site. See the "
        "docstring of benchmarks/bench_peer_jira.py.",
    ]
    publish(lines, "peer-jira", "## Jira against Perceval: CPU and memory", args.write)


if __name__ == "__main__":
    main()
