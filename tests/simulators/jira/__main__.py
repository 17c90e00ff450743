"""Run the Jira simulator as a process (benchmarks, manual testing).

    python -m tests.simulators.jira --issues 5000 --sprints 50 --boards 3 --port 0

The first stdout line is the base URL. Credentials: `--token` (and `--email` on Cloud),
or none to accept any request. With `--control`, test-only endpoints drive it:

    GET  /_sim/info                        dataset sizes
    GET  /_sim/stats                       request statistics (control calls excluded)
    POST /_sim/stats/reset
    POST /_sim/change?count=20&store=PATH  change `count` issues, spread evenly, one minute
                                           apart from a minute after the issues cursor in
                                           that dihub SQLite store (or `after=ISO`)
    POST /_sim/faults?rate=0.05&seed=3     inject faults from now on (rate=0: none);
                                           &retry_after=1: the Retry-After of a 429
    GET  /_sim/verify?store=PATH           differences between a dihub SQLite store and
                                           the dataset: {"problems": [...]}

Serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import timedelta
from urllib.parse import parse_qsl

from tests.simulators.common import Reply

from .data import Dataset
from .server import Credentials, JiraSimulator, jira_faults


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.simulators.jira",
                                description="Local Jira Cloud / Data Center simulator.")
    p.add_argument("--issues", type=int, default=500)
    p.add_argument("--sprints", type=int, default=50)
    p.add_argument("--boards", type=int, default=3)
    p.add_argument("--users", type=int, default=30)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--bulk-edit", type=int, default=0)
    p.add_argument("--long-changelogs", type=float, default=0.04)
    p.add_argument("--deployment", choices=("cloud", "datacenter"), default="cloud")
    p.add_argument("--zone", default="America/New_York")
    p.add_argument("--token")
    p.add_argument("--email")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--control", action="store_true")
    return p.parse_args(argv)


def control(sim: JiraSimulator):
    """The /_sim/ endpoints (see the module docstring)."""
    from dihub.timeutil import parse

    def handle(method: str, path: str, query: str) -> Reply:
        q = dict(parse_qsl(query))
        ds = sim.dataset
        if path == "/_sim/info":
            long = [len(i.histories) for i in ds.issues if len(i.histories) > sim.embed_max]
            return Reply(200, {"issues": len(ds.issues), "users": len(ds.users),
                               "sprints": len(ds.sprints), "long_changelogs": len(long),
                               "longest": max(long, default=0),
                               "histories": sum(len(i.histories) for i in ds.issues)})
        if path == "/_sim/stats":
            snap = sim.stats.snapshot()
            snap["by_route"] = {k: v for k, v in snap["by_route"].items() if "/_sim/" not in k}
            snap["requests"] = sum(snap["by_route"].values())
            return Reply(200, snap)
        if path == "/_sim/stats/reset" and method == "POST":
            sim.stats.reset()
            return Reply(200, {})
        if path == "/_sim/change" and method == "POST":
            count = int(q.get("count", 20))
            after = q.get("after") or _cursor(q["store"])
            with ds.lock:
                ds.now = parse(after) + timedelta(minutes=1)
                picked = ds.issues[::max(1, len(ds.issues) // count)][:count]
                for n, issue in enumerate(picked):
                    ds.change(issue.key, status="Done" if issue.status != "Done" else "To Do",
                              summary=f"changed {n}")
            return Reply(200, {"changed": [i.key for i in picked]})
        if path == "/_sim/faults" and method == "POST":
            rate = float(q.get("rate", 0))
            sim.faults = jira_faults(rate, seed=int(q.get("seed", 1)),
                                     retry_after=float(q.get("retry_after", 0))) \
                if rate else None
            return Reply(200, {})
        if path == "/_sim/verify":
            from dihub.store.sqlite import SQLiteStore

            from .testing import issue_mismatches, sprint_mismatches, user_mismatches

            store = SQLiteStore(q["store"])
            try:
                with ds.lock:
                    problems = (issue_mismatches(store, ds) + sprint_mismatches(store, ds)
                                + user_mismatches(store, ds))
            finally:
                store.close()
            return Reply(200, {"problems": problems[:20], "count": len(problems)})
        return Reply(404, {"errorMessages": [f"no control endpoint {method} {path}"]})

    return handle


def _cursor(path: str) -> str:
    from dihub.store.sqlite import SQLiteStore

    store = SQLiteStore(path)
    try:
        return store.get_state("jira", "issues", "*").cursor
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ds = Dataset.generate(args.issues, sprints=args.sprints, boards=args.boards,
                          users=args.users, seed=args.seed, bulk_edit=args.bulk_edit,
                          long_changelogs=args.long_changelogs,
                          deployment=args.deployment, zone=args.zone)
    creds = Credentials(args.token, args.email) if args.token else None
    sim = JiraSimulator(ds, credentials=creds, port=args.port)
    if args.control:
        sim.control = control(sim)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with sim:
        print(sim.base_url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

