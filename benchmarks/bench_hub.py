"""Benchmark: DORA and flow metrics (`dihub report --html`, `dihub metrics dora`) over a
generated store of 100,000 commits, 20,000 Jira issues and 5,000 builds: the full
computation (empty facts cache), a rerun after an incremental sync of 100 new records,
and a rerun with nothing new. Each run is a `dihub` subprocess; wall time and its peak RSS.

    python benchmarks/bench_hub.py [--commits 100000 --issues 20000 --builds 5000] [--write]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import dihub_argv, dihub_env, machine, run  # noqa: E402
from benchmarks.report import publish, table  # noqa: E402

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=10)
STATUSES = [("To Do", "new"), ("In Progress", "indeterminate"), ("In Review", "indeterminate"),
            ("Done", "done")]


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def commits(n: int, start: int = 0, stamp: str = "") -> list:
    """A main line with a merged side commit every 50 commits."""
    from dihub.models.records import Commit

    out = []
    for i in range(start, start + n):
        when = iso(T0 + STEP * i)
        parents = [f"c{i - 1}"] if i else []
        if i % 50 == 49:
            parents.append(f"s{i}")
            out.append(Commit(source="git", source_id=f"s{i}", commit_id=f"s{i}", repo="app",
                              author_id=f"email:dev{i % 25}@example.com",
                              author_email=f"dev{i % 25}@example.com",
                              message=f"APP-{i % 20000} side", timestamp=when,
                              parents=[f"c{i - 2}"], updated_at=when))
        out.append(Commit(source="git", source_id=f"c{i}", commit_id=f"c{i}", repo="app",
                          author_id=f"email:dev{i % 25}@example.com",
                          author_email=f"dev{i % 25}@example.com",
                          message=("Merge side" if len(parents) > 1 else f"APP-{i % 20000} x"),
                          timestamp=when, parents=parents, updated_at=when))
    return out


def builds(n: int, every: int, start: int = 0) -> list:
    """Half deployments (one every `every` commits, 1 in 10 failing), half CI runs."""
    from dihub.models.records import Build

    out = []
    for k in range(start, start + n):
        i = (k // 2) * every + every - 1
        deploy = k % 2 == 0
        when = iso(T0 + STEP * i + timedelta(minutes=30))
        out.append(Build(source="github", source_id=str(k), build_id=f"b{k}", repo="acme/app",
                         workflow_name="Deploy" if deploy else "CI", run_id=str(k),
                         head_sha=f"c{i}", branch="main", status="completed",
                         conclusion="failure" if k % 20 == 10 else "success",
                         created_at=when, completed_at=when, updated_at=when))
    return out


def issues(n: int, span: timedelta, start: int = 0, total: int | None = None) -> list:
    from dihub.models.records import Issue, Sprint, Transition

    out: list = []
    total = total or n
    for k in range(start, start + n):
        created = T0 + span * min(k / total, 1.0)
        steps = k % 4       # 0: To Do, 1: In Progress, 2: In Review, 3: Done
        transitions = [Transition(from_status=STATUSES[s][0], to_status=STATUSES[s + 1][0],
                                  timestamp=iso(created + timedelta(days=s + 1)))
                       for s in range(steps)]
        status, category = STATUSES[steps]
        incident = k % 50 == 0
        out.append(Issue(source="jira", source_id=str(k), issue_id=f"APP-{k}",
                         project_key="OPS" if incident else "APP",
                         type="Incident" if incident else "Story", status=status,
                         status_category=category, story_points=float(k % 5 + 1),
                         assignee_id=f"acc{k % 25}", sprint_ids=[str(min(k * 50 // total, 49))],
                         created_at=iso(created), updated_at=iso(created),
                         resolved_at=transitions[-1].timestamp if steps == 3 else None,
                         transitions=transitions))
    if start == 0:
        for s in range(50):
            begin = T0 + span * (s / 50)
            out.append(Sprint(source="jira", source_id=str(s), sprint_id=str(s),
                              name=f"Sprint {s}", start_date=iso(begin),
                              end_date=iso(begin + span / 50), updated_at=iso(begin)))
    return out


def write(db: Path, records: list, stamp: str) -> None:
    from dihub.models.documents import to_document
    from dihub.store.sqlite import SQLiteStore

    store = SQLiteStore(db)
    try:
        for i in range(0, len(records), 5000):
            store.upsert_many([to_document(r, stamp) for r in records[i:i + 5000]])
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--issues", type=int, default=20_000)
    parser.add_argument("--builds", type=int, default=5_000)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    db, home = work / "hub.db", work / "home"
    home.mkdir()
    main_line = args.commits * 49 // 50         # plus one side commit every 50
    span = STEP * main_line
    generated = datetime.now(UTC)
    base = [*commits(main_line), *builds(args.builds, max(1, 2 * main_line // args.builds)),
            *issues(args.issues, span)]
    write(db, base, iso(T0 + span + timedelta(days=1)))
    made_s = (datetime.now(UTC) - generated).total_seconds()
    env = dihub_env(db, home, {"XDG_CACHE_HOME": str(work / "cache")})
    window = ["--since", iso(T0), "--until", iso(T0 + span + timedelta(days=7))]
    html = str(work / "report.html")
    python = sys.executable

    rows = []

    def step(label: str, *argv: str) -> None:
        r = run(dihub_argv(python, *argv, *window), env=env)
        assert r.returncode == 0, r.stderr
        rows.append((label, f"{r.wall_s:.1f} s", f"{r.self_rss_mb:.0f} MB"))

    step("report --html, full (empty facts cache)", "report", "--html", html)
    step("metrics dora, nothing new (cache)", "metrics", "dora", "-f", "json")
    new = [*commits(92, start=main_line)[:92], *builds(4, 2, start=args.builds),
           *issues(4, span, start=args.issues, total=args.issues)]
    new = new[:100]
    write(db, new, iso(datetime.now(UTC)))
    step(f"report --html after an incremental sync of {len(new)} records", "report", "--html",
         html)
    env["XDG_CACHE_HOME"] = str(work / "cache-2")
    step("metrics dora, full (empty facts cache)", "metrics", "dora", "-f", "json")

    stored = args.commits + args.builds + args.issues
    lines = [
        f"Generated SQLite store: {main_line:,} main-line commits plus a merged side commit "
        f"every 50 ({len([c for c in base if c.entity == 'commits']):,} commits), "
        f"{args.builds:,} builds (half deployments, 1 in 10 of them failing), "
        f"{args.issues:,} Jira issues (up to 3 transitions each, 2% incidents) and 50 sprints, "
        f"over {span.days} days (about {stored:,} records; generated and written in "
        f"{made_s:.0f} s). Each step is a `dihub` subprocess over the whole period; peak RSS is "
        f"the dihub process. Machine: {machine()}. Measured {generated:%Y-%m-%d} with "
        "`python benchmarks/bench_hub.py`.",
        "",
        *table(["step", "wall time", "peak RSS"], rows, "lrr"),
        "",
        "The full run reads every record once into compact facts (one tuple a record), walks "
        "the commit graph from each deployment and keeps both in the facts cache (the user "
        "cache dir); a rerun reads only the records written since the last run "
        "(Store.iter_ingested_since: a range of the (entity, ingested_at, id) index, so "
        "nothing new reads no record), walks only the new deployments, and recomputes the "
        "weekly aggregates from the facts in memory.",
    ]
    publish(lines, "hub", "## hub: DORA and flow metrics, 100,000 commits", args.write)


if __name__ == "__main__":
    main()
