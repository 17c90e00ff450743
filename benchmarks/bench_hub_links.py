"""Benchmark: what linking changed pull requests costs the hub refresh on a large store.

    python benchmarks/bench_hub_links.py [--commits 100000] [--src TREE] [--write]

A generated git history (tests.support.gitrepo: side branches merged into main) is synced
into the embedded store; then, in one child process per dihub tree, merged pull requests
whose head and merge commits are the history's 10 latest merges are written, and each is
linked (`Linker.links_of`, what `dihub hub refresh` runs for a changed pull request): CPU
of the linking, the child's peak RSS, and the links found. --src runs another checkout the
same way (the code before a change) and checks that both find the same links.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import SYNC_ONLY, dihub_argv, dihub_env, machine, run  # noqa: E402
from benchmarks.report import link_cells, publish, table  # noqa: E402
from tests.support.gitrepo import generate, rev_count  # noqa: E402

CHILD = """
import hashlib, json, resource, sys, time
from pathlib import Path
from dihub.config import parse_config
from dihub.hub.dataset import Dataset
from dihub.hub.links import Linker
from dihub.models.documents import to_document
from dihub.models.records import PullRequest
from dihub.store.sqlite import SQLiteStore

db, cfg, merges = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
settings = parse_config(open(cfg).read(), Path(cfg)).settings
store = SQLiteStore(db)
prs = [PullRequest(source="github", source_id=f"1:{n}", number=n, repo="acme/shop",
                   state="merged", merged_at="2026-01-01T00:00:00Z", head_sha=head,
                   merge_commit_sha=merge, updated_at="2026-01-01T00:00:00Z")
       for n, (merge, head) in enumerate(merges, 1)]
store.upsert_many([to_document(pr, "2026-11-30T00:00:00Z") for pr in prs])
docs = [store.query("pull_requests", filters={"_id": f"github:pull_requests:1:{n}"},
                    limit=1).records[0] for n in range(1, len(prs) + 1)]
start = time.process_time()
linker = Linker(Dataset(store, settings), settings)
links = sorted((d["_id"], link.kind, link.to_id) for d in docs
               for link in linker.links_of(d).links.values())
cpu = time.process_time() - start
print(json.dumps({"cpu_s": cpu, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                  / 1024, "links": len(links),
                  "digest": hashlib.sha256(repr(links).encode()).hexdigest()[:16]}))
"""


def link_cost(tmp: Path, db: Path, cfg: Path, merges: list, src: str | None) -> dict:
    copy = tmp / f"copy-{'src' if src else 'this'}.db"
    # each tree writes its own pull requests; copied without reading the file into this
    # process, whose RSS a child inherits as its starting peak (Linux keeps ru_maxrss
    # across fork and exec)
    shutil.copyfile(db, copy)
    env = dihub_env(copy, tmp, {"PYTHONPATH": src} if src else None)
    out = subprocess.run([sys.executable, "-c", CHILD, str(copy), str(cfg), json.dumps(merges)],
                         env=env, cwd=str(tmp), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    copy.unlink()
    return json.loads(out.stdout)


def measure(n_commits: int, src: str | None, runs: int) -> tuple[int, list]:
    with tempfile.TemporaryDirectory(prefix="dihub-bench-") as tmp:
        tmp = Path(tmp)
        repo = generate(tmp / "repo", n_commits)
        commits = rev_count(repo, "--branches", "--remotes", "--tags")
        cfg = tmp / "dihub.yaml"
        cfg.write_text(f"{SYNC_ONLY}sources:\n  git:\n    connector: git\n    repo: {repo}\n"
                       "  github:\n    connector: github\n    repos: [acme/shop]\n")
        db = tmp / "store.db"
        sync = run([*dihub_argv(sys.executable, "--config", str(cfg)), "sync", "git",
                    "commits"], env=dihub_env(db, tmp), cwd=str(tmp))
        assert sync.returncode == 0, sync.stderr
        lines = subprocess.run(["git", "-C", str(repo), "rev-list", "--merges", "--parents",
                                "-n", "10", "main"], capture_output=True, text=True,
                               check=True).stdout.split("\n")
        merges = [(sha, second) for sha, _first, second in
                  (line.split() for line in lines if line)]
        rows = []
        for label, tree in (("this tree", None), ("--src", src)):
            if label == "--src" and not src:
                continue
            samples = [link_cost(tmp, db, cfg, merges, tree) for _ in range(runs)]
            rows.append((label, samples))
    return commits, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", default="100000", help="comma-separated history sizes")
    ap.add_argument("--src", default=None, help="another dihub checkout to run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    cells = []
    for size in (int(x) for x in args.commits.split(",")):
        commits, rows = measure(size, args.src, args.runs)
        cells += link_cells(f"{commits:,}", rows)
    lines = [f"Generated git histories (tests.support.gitrepo), embedded SQLite store; 10 "
             f"merged pull requests (the 10 latest merges) linked in one child process per "
             f"tree, medians of {args.runs}. Machine: {machine()}. Measured "
             f"{time.strftime('%Y-%m-%d')} with `python benchmarks/bench_hub_links.py "
             f"--commits {args.commits}{' --src TREE' if args.src else ''}`.", ""]
    lines += table(["commits", "dihub", "CPU of the linking", "peak RSS, child",
                    "links found"], cells, "rlrrr")
    publish(lines, "hub-links", "## hub: linking a changed pull request", args.write)


if __name__ == "__main__":
    main()
