"""Run the simulator as a process (benchmarks, manual testing).

    python -m tests.simulators.github --repos 2 --commits 5000 --prs 1000 \\
        --issues 1000 --runs 500 --port 0

The first stdout line is the base URL; the process serves until SIGTERM/SIGINT
and then writes its stats as JSON to stderr (and to --stats-file if given).
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path

from ..common.cli import serve_until_signal
from ..common.faults import RANDOM_KINDS, Faults
from .auth import TokenAuth
from .data import Dataset
from .server import GitHubSimulator


def repo_names(org: str, count: int) -> list[str]:
    """octo-org/repo-a, repo-b, ... repo-z, then repo-27, repo-28, ..."""
    letters = string.ascii_lowercase
    return [f"{org}/repo-{letters[i] if i < 26 else i + 1}" for i in range(count)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.simulators.github",
                                description="Local GitHub REST API simulator.")
    p.add_argument("--repos", type=int, default=1, help="repositories to generate")
    p.add_argument("--org", default="octo-org", help="owner of the generated repositories")
    p.add_argument("--commits", type=int, default=100, help="commits per repository")
    p.add_argument("--prs", type=int, default=20, help="pull requests per repository")
    p.add_argument("--issues", type=int, default=20, help="plain issues per repository")
    p.add_argument("--runs", type=int, default=20, help="workflow runs per repository")
    p.add_argument("--seed", type=int, default=1, help="data seed")
    p.add_argument("--days", type=int, default=180, help="time span of the data")
    p.add_argument("--port", type=int, default=0, help="0 = an ephemeral port")
    p.add_argument("--rate-limit", type=int, default=5000, help="primary quota per window")
    p.add_argument("--rate-window", type=float, default=3600, help="quota window, seconds")
    p.add_argument("--fault-rate", type=float, default=0.0, help="random fault probability")
    p.add_argument("--fault-kinds", default=",".join(RANDOM_KINDS),
                   help="comma-separated fault kinds")
    p.add_argument("--fault-seed", type=int, default=1)
    p.add_argument("--retry-after", type=float, default=1,
                   help="Retry-After seconds of 429 / secondary 403")
    p.add_argument("--token", action="append", default=[],
                   help="accept only these tokens (repeatable); default: any token")
    p.add_argument("--anonymous", action="store_true",
                   help="with --token: also accept requests without a token")
    p.add_argument("--stats-file", type=Path, help="write the final stats JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = Dataset.generate(repo_names(args.org, args.repos), commits_per_repo=args.commits,
                            prs_per_repo=args.prs, issues_per_repo=args.issues,
                            runs_per_repo=args.runs, seed=args.seed, days=args.days)
    faults = None
    if args.fault_rate > 0:
        faults = Faults(rate=args.fault_rate, seed=args.fault_seed,
                        kinds=tuple(k.strip() for k in args.fault_kinds.split(",") if k),
                        retry_after=args.retry_after)
    auth = TokenAuth(args.token, allow_anonymous=args.anonymous) if args.token else None
    sim = GitHubSimulator(data, faults, args.rate_limit, auth=auth, port=args.port,
                          retry_after=args.retry_after, rate_window_s=args.rate_window)
    return serve_until_signal(sim, {"repos": data.counts()}, args.stats_file)


if __name__ == "__main__":
    sys.exit(main())
