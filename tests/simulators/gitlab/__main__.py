"""Run the GitLab simulator as a process (benchmarks, manual testing).

    python -m tests.simulators.gitlab --projects 2 --commits 5000 --mrs 1000 \\
        --issues 1000 --pipelines 500 --port 0

The first stdout line is the base URL (the API is below /api/v4); the process serves
until SIGTERM/SIGINT and then writes its stats as JSON to stderr (and to --stats-file).
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path

from ..common.cli import serve_until_signal
from .auth import TokenAuth
from .data import Dataset
from .faults import GITLAB_KINDS, Faults
from .server import GitLabSimulator


def project_paths(group: str, count: int) -> list[str]:
    """group-a/sub/project-a, group-a/project-b, group-a/sub/project-c, ..."""
    letters = string.ascii_lowercase
    names = [f"project-{letters[i] if i < 26 else i + 1}" for i in range(count)]
    return [f"{group}/sub/{n}" if i % 2 == 0 else f"{group}/{n}" for i, n in enumerate(names)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.simulators.gitlab",
                                description="Local GitLab REST API v4 simulator.")
    p.add_argument("--projects", type=int, default=1, help="projects to generate")
    p.add_argument("--group", default="group-a", help="top-level group of the projects")
    p.add_argument("--commits", type=int, default=100, help="commits per project (main)")
    p.add_argument("--mrs", type=int, default=20, help="merge requests per project")
    p.add_argument("--issues", type=int, default=20, help="issues per project")
    p.add_argument("--pipelines", type=int, default=20, help="pipelines per project")
    p.add_argument("--branches", type=int, default=2, help="extra branches per project")
    p.add_argument("--archived", action="append", default=[],
                   help="an extra archived project path (repeatable)")
    p.add_argument("--seed", type=int, default=7, help="data seed")
    p.add_argument("--port", type=int, default=0, help="0 = an ephemeral port")
    p.add_argument("--rate-limit", type=int, default=2000, help="requests per window")
    p.add_argument("--rate-window", type=float, default=60, help="rate window, seconds")
    p.add_argument("--count-limit", type=int, default=10_000,
                   help="lists longer than this drop x-total / x-total-pages / rel=last")
    p.add_argument("--fault-rate", type=float, default=0.0, help="random fault probability")
    p.add_argument("--fault-kinds", default=",".join(GITLAB_KINDS),
                   help="comma-separated fault kinds")
    p.add_argument("--fault-seed", type=int, default=1)
    p.add_argument("--retry-after", type=float, default=1, help="Retry-After of a 429 fault")
    p.add_argument("--token", action="append", default=[],
                   help="accept only this token (repeatable; TOKEN or TOKEN:scope,scope)")
    p.add_argument("--stats-file", type=Path, help="write the final stats JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = Dataset.generate(project_paths(args.group, args.projects),
                            commits_per_project=args.commits, mrs_per_project=args.mrs,
                            issues_per_project=args.issues,
                            pipelines_per_project=args.pipelines, seed=args.seed,
                            branches=args.branches, archived=args.archived)
    faults = None
    if args.fault_rate > 0:
        faults = Faults(rate=args.fault_rate, seed=args.fault_seed,
                        kinds=tuple(k.strip() for k in args.fault_kinds.split(",") if k),
                        retry_after=args.retry_after)
    auth = None
    if args.token:
        tokens = {}
        for spec in args.token:
            token, _, scopes = spec.partition(":")
            tokens[token] = scopes.replace(",", " ") or "api"
        auth = TokenAuth(tokens)
    sim = GitLabSimulator(data, faults, args.rate_limit, rate_window_s=args.rate_window,
                          auth=auth, port=args.port, retry_after=args.retry_after,
                          count_limit=args.count_limit)
    return serve_until_signal(sim, {"projects": data.counts()}, args.stats_file)


if __name__ == "__main__":
    sys.exit(main())
