"""Benchmark: what a git sync costs as the history grows (issue 16, goal 5).

    python benchmarks/bench_git_scale.py --sizes 100000,300000 [--workdir DIR] [--src TREE]
                                         [--steps first,again,incremental,read] [--write]

For each size, on a generated repository (tests/support/gitrepo.py, cached in --workdir):
- first: `dihub sync git commits` into an empty embedded store: wall and CPU time
  (user+sys of dihub and its git children), commits/s, bytes the dihub process wrote
  (/proc/self/io write_bytes at its exit) against the store's size, peak RSS of dihub
  alone and of the whole tree (git included);
- again: a second sync with nothing new (wall, CPU, bytes written);
- incremental: 1,000 new commits on main, then a sync (on a copy of the repository);
- read: the connector alone (no store): seconds to its first page of 1,000 commits,
  commits/s it reads and parses, peak RSS of the git children.
Each exponent k is the slope of log(cost) against log(commits) (least squares over the
sizes). --src runs another checkout of dihub (e.g. the code before a change) the same way;
--batch-size sets `store.batch_size` (records per write transaction) in the config.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import compiled, dihub_env, machine, run  # noqa: E402
from benchmarks.report import publish, table  # noqa: E402

# The dihub CLI, printing at exit what its process wrote and its own peak RSS.
_WRAPPER = (
    "import atexit, re, sys\n"
    "def _io():\n"
    "    io = open('/proc/self/io').read()\n"
    "    st = open('/proc/self/status').read()\n"
    "    print('dihub-io', re.search(r'write_bytes:\\s+(\\d+)', io).group(1),\n"
    "          re.search(r'VmHWM:\\s+(\\d+)', st).group(1), file=sys.stderr)\n"
    "atexit.register(_io)\n"
    "sys.argv = ['dihub', *sys.argv[1:]]\n"
    "from dihub.cli.app import main\n"
    "main()\n"
)

# The connector alone: pages of a first pass, timed, in a child process of its own.
_READ = (
    "import sys, time, resource\n"
    "from types import SimpleNamespace\n"
    "from dihub.connectors.git import GitConfig\n"
    "from dihub.connectors.git.client import GitRepo\n"
    "from dihub.connectors.git.streams import commit_pages\n"
    "from dihub.models import SyncState\n"
    "class S:\n"
    "    def __init__(self, repo):\n"
    "        self.repo = GitRepo.open(repo); self.config = GitConfig(connector='git', repo=repo)\n"
    "        self.settings = SimpleNamespace(store=SimpleNamespace(batch_size=1000))\n"
    "        self.branch_of = {}\n"
    "    def progress_total(self, p, t): pass\n"
    "t0 = time.perf_counter(); first = None; n = 0\n"
    "for page in commit_pages(S(sys.argv[1]), '*', SyncState(source='git', stream='commits', "
    "partition='*')):\n"
    "    first = first or time.perf_counter() - t0; n += len(page.items)\n"
    "wall = time.perf_counter() - t0\n"
    "ch = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print('read', n, first, wall, ch.ru_maxrss)\n"
)


def _fit(ns: list[int], costs: list[float]) -> str:
    pts = [(math.log(n), math.log(c)) for n, c in zip(ns, costs, strict=True) if c > 0]
    if len(pts) < 2:
        return "-"
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return f"{sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts):.2f}"


def _repo(workdir: Path, n: int) -> Path:
    from tests.support.gitrepo import generate

    repo = workdir / f"repo-{n}"
    if not (repo / ".git").exists():
        generate(repo, n)
    return repo


def _env(src: str | None, db: Path, home: Path) -> dict:
    env = dihub_env(db, home)
    if src:
        env["PYTHONPATH"] = src
        compiled(src)
    return env


def _sync(cfg: Path, env: dict) -> dict:
    t0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # run from the config's folder: a `python -c` child puts its working directory first
    # on sys.path, and a dihub checkout there would shadow the one --src names
    r = run([sys.executable, "-c", _WRAPPER, "-q", "--config", str(cfg), "sync", "git",
             "commits"], env=env, cwd=str(cfg.parent))
    t1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert r.returncode == 0, r.stderr[-2000:]
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("dihub-io "))
    written, hwm = (int(x) for x in line.split()[1:])
    return {"wall": r.wall_s, "cpu": (t1.ru_utime - t0.ru_utime) + (t1.ru_stime - t0.ru_stime),
            "written": written, "self_mb": hwm / 1024, "tree_mb": r.peak_rss_mb}


def _add_commits(repo: Path, n: int) -> None:
    """`n` new commits on main, with git fast-import."""
    tip = subprocess.run(["git", "-C", str(repo), "rev-parse", "main"], capture_output=True,
                         text=True, check=True).stdout.strip()
    lines = []
    for i in range(n):
        msg = f"late {i}\n".encode()
        lines += [b"commit refs/heads/main", f"mark :{i + 1}".encode(),
                  f"author Late <late@example.com> {2_000_000_000 + i} +0000".encode(),
                  f"committer Late <late@example.com> {2_000_000_000 + i} +0000".encode(),
                  b"data %d" % len(msg) + b"\n" + msg.rstrip(b"\n"),
                  (f"from {tip}" if i == 0 else f"from :{i}").encode(),
                  f"M 644 inline late{i % 10}.txt".encode(), b"data 2", b"x", b""]
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"],
                   input=b"\n".join(lines) + b"\n", check=True)


def measure(n: int, workdir: Path, src: str | None, steps: list[str],
            batch_size: int | None = None) -> dict:
    from tests.support.gitrepo import rev_count

    repo = _repo(workdir, n)
    out: dict = {"n": rev_count(repo, "--branches", "--remotes", "--tags")}
    with tempfile.TemporaryDirectory(prefix="dihub-scale-", dir=workdir) as tmp:
        tmp = Path(tmp)
        db = tmp / "store.db"
        env = _env(src, db, tmp)
        cfg = tmp / "dihub.yaml"
        store = f"store:\n  batch_size: {batch_size}\n" if batch_size else ""
        cfg.write_text(f"hub:\n  refresh_after_sync: false\n{store}sources:\n  git:\n"
                       f"    connector: git\n    repo: {repo}\n")
        if "read" in steps:
            r = subprocess.run([sys.executable, "-c", _READ, str(repo)], env=env,
                               capture_output=True, text=True, check=True)
            _, count, first, wall, rss = r.stdout.split()
            out["read"] = {"n": int(count), "first": float(first), "wall": float(wall),
                           "git_mb": int(rss) / 1024}
        if {"first", "again", "incremental"} & set(steps):
            out["first"] = _sync(cfg, env)
            out["size"] = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
        if "again" in steps:
            out["again"] = _sync(cfg, env)
        if "incremental" in steps:
            copy = tmp / "repo"
            shutil.copytree(repo, copy, symlinks=True)
            _add_commits(copy, 1000)
            cfg.write_text(cfg.read_text().replace(str(repo), str(copy)))
            _sync(cfg, env)                       # the copy's path: same commits, nothing new
            _add_commits(copy, 1000)
            out["incremental"] = _sync(cfg, env)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,300000")
    ap.add_argument("--steps", default="read,first,again,incremental")
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "dihub-bench-git"),
                    help="a disk folder (write counts come from the block layer); the "
                         "generated repositories are kept there between runs")
    ap.add_argument("--src", default=None, help="another dihub checkout to run")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="store.batch_size for the syncs (default: the config's default)")
    ap.add_argument("--label", default="")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    steps = args.steps.split(",")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    res = []
    for n in sizes:
        res.append(measure(n, workdir, args.src, steps, args.batch_size))
        print(res[-1], file=sys.stderr, flush=True)
    ns = [r["n"] for r in res]
    mb = 1024 * 1024
    lines = [f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end. "
             f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/bench_git_scale.py "
             f"--sizes {args.sizes} --steps {args.steps}"
             f"{f' --batch-size {args.batch_size}' if args.batch_size else ''}`{args.label}.",
             ""]

    def col(key, sub, f):
        return [f(r[key][sub]) if key in r else "-" for r in res]

    def k(key, sub):
        return _fit(ns, [r[key][sub] for r in res]) if all(key in r for r in res) else "-"

    def fmt(v, unit):
        return {"s": f"{v:.2f} s", "MB": f"{v / mb:.0f} MB", "KB": f"{v / 1024:.0f} KB",
                "rss": f"{v:.0f} MB"}[unit]

    spec = [("read", "first", "connector alone: first page of 1,000 after", "s"),
            ("read", "git_mb", "connector alone: peak RSS of git", "rss"),
            ("first", "wall", "first sync: wall", "s"),
            ("first", "cpu", "first sync: CPU (dihub + git)", "s"),
            ("first", "written", "first sync: written to disk", "MB"),
            ("first", "self_mb", "first sync: peak RSS of dihub", "rss"),
            ("first", "tree_mb", "first sync: peak RSS with git", "rss"),
            ("again", "wall", "no-change sync: wall", "s"),
            ("again", "cpu", "no-change sync: CPU", "s"),
            ("again", "written", "no-change sync: written", "KB"),
            ("incremental", "wall", "1,000 new commits: wall", "s"),
            ("incremental", "cpu", "1,000 new commits: CPU", "s"),
            ("incremental", "written", "1,000 new commits: written", "MB")]
    rows = [(name, col(key, sub, lambda v, u=unit: fmt(v, u)), k(key, sub))
            for key, sub, name, unit in spec if key in res[0]]
    if "read" in res[0]:
        rows.append(("connector alone: commits/s",
                     [f"{r['read']['n'] / r['read']['wall']:,.0f}" for r in res], "-"))
    if "first" in res[0]:
        rows += [("first sync: commits/s of CPU",
                  [f"{r['n'] / r['first']['cpu']:,.0f}" for r in res], "-"),
                 ("first sync: store size", [fmt(r["size"], "MB") for r in res],
                  _fit(ns, [r["size"] for r in res])),
                 ("first sync: written / store size",
                  [f"{r['first']['written'] / r['size']:.2f}" for r in res], "-")]
    lines += table(["", *[f"{n:,} commits" for n in ns], "k"],
                   [[name, *cells, kk] for name, cells, kk in rows], "l" + "r" * (len(ns) + 1))
    publish(lines, "git-scale", "## git connector: cost against history size", args.write)


if __name__ == "__main__":
    main()
