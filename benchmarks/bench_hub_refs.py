"""Benchmark: what linking a few changed records that name issues, pull requests and runs
costs the hub refresh on a store holding many of them.

    python benchmarks/bench_hub_refs.py [--issues 100000] [--src TREE] [--runs 3] [--write]

The store (embedded SQLite) holds --issues Jira issues (`ENG-1`...), a fifth as many
GitHub issues and as many pull requests of `acme/shop`, and as many workflow runs; then, in
one child process per dihub tree, 50 new git commits whose messages name a Jira key and a
`#number` each, and 10 deploy notifications naming a run, are written and linked
(`Linker.links_of`, what `dihub hub refresh` runs for each changed record): CPU of the
linking, the child's peak RSS and the links found. --src runs another checkout the same
way (the code before a change) and checks that both find the same links.
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

from benchmarks.measure import SYNC_ONLY, dihub_env, machine  # noqa: E402
from benchmarks.report import link_cells, publish, table  # noqa: E402

CONFIG = (SYNC_ONLY + "sources:\n  git: {connector: git, repo: .}\n"
          "  github: {connector: github, repos: [acme/shop]}\n"
          "  jira: {connector: jira, base_url: https://acme.atlassian.net, "
          "email: a@acme.example}\n  slack: {connector: slack}\n"
          "links: {repos: {git: acme/shop}}\n")

FILL = """
import sys
from dihub.models.documents import to_document
from dihub.models.records import Build, Issue, PullRequest
from dihub.store.sqlite import SQLiteStore

db, n = sys.argv[1], int(sys.argv[2])
store = SQLiteStore(db)
at = "2026-06-01T00:00:00Z"
def write(records):
    batch = []
    for r in records:
        batch.append(to_document(r, at))
        if len(batch) == 5000:
            store.upsert_many(batch); batch = []
    store.upsert_many(batch)
write(Issue(source="jira", source_id=str(10000 + i), issue_id=f"ENG-{i}", project_key="ENG",
            summary=f"issue {i}", updated_at=f"2025-{1 + i % 12:02d}-01T00:00:00Z")
      for i in range(1, n + 1))
m = n // 5
write(Issue(source="github", source_id=f"7:{i}", issue_id=str(i), project_key="acme/shop",
            summary=f"gh issue {i}", updated_at="2025-06-01T00:00:00Z")
      for i in range(1, 2 * m, 2))
write(PullRequest(source="github", source_id=f"7:{i}", number=i, repo="acme/shop",
                  title=f"pr {i}", state="merged", updated_at="2025-06-01T00:00:00Z")
      for i in range(2, 2 * m + 1, 2))
write(Build(source="github", source_id=f"7:{900000 + i}:1",
            build_id=f"github_actions:7:{900000 + i}:1", repo="acme/shop",
            run_id=str(900000 + i), head_sha=f"{i:040x}", updated_at="2025-06-01T00:00:00Z")
      for i in range(m))
store.close()
"""

CHILD = """
import hashlib, json, resource, sys, time
from pathlib import Path
from dihub.config import parse_config
from dihub.hub.dataset import Dataset
from dihub.hub.links import Linker
from dihub.models.documents import to_document
from dihub.models.records import Commit, SlackEvent
from dihub.store.sqlite import SQLiteStore

db, cfg, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = parse_config(open(cfg).read(), Path(cfg)).settings
store = SQLiteStore(db)
m = n // 5
new = [Commit(source="git", source_id=f"{k:040x}", commit_id=f"{k:040x}", repo="shop",
              message=f"ENG-{k * 97 % n + 1}: fix #{k * 31 % (2 * m) + 1}",
              timestamp="2026-11-30T00:00:00Z", updated_at="2026-11-30T00:00:00Z")
       for k in range(1, 51)]
new += [SlackEvent(source="slack", source_id=f"C9:{k}.0", event_id=f"C9:{k}.0", channel_id="C9",
                   ts=f"{k}.0", timestamp="2026-11-30T00:00:00Z", tags=["deploy_notification"],
                   text=f"Deployed https://github.com/acme/shop/actions/runs/{900000 + k * 7}",
                   updated_at="2026-11-30T00:00:00Z") for k in range(10)]
store.upsert_many([to_document(r, "2026-11-30T00:00:00Z") for r in new])
docs = [d for entity in ("commits", "slack_events")
        for d in store.iter_records(entity, since="2026-11-30T00:00:00Z")]
start = time.process_time()
linker = Linker(Dataset(store, settings), settings)
links = sorted((d["_id"], link.kind, link.to_id) for d in docs
               for link in linker.links_of(d).links.values())
cpu = time.process_time() - start
print(json.dumps({"cpu_s": cpu, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                  / 1024, "links": len(links),
                  "digest": hashlib.sha256(repr(links).encode()).hexdigest()[:16]}))
"""


def _child(code: str, args: list[str], tmp: Path, db: Path, src: str | None) -> str:
    env = dihub_env(db, tmp, {"PYTHONPATH": src} if src else None)
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=str(tmp),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def measure(n: int, src: str | None, runs: int, tmp: Path) -> list:
    db = tmp / "store.db"
    cfg = tmp / "dihub.yaml"
    cfg.write_text(CONFIG)
    (tmp / ".git").mkdir()
    _child(FILL, [str(db), str(n)], tmp, db, None)
    rows = []
    for label, tree in (("this tree", None), ("--src", src)):
        if label == "--src" and not src:
            continue
        samples = []
        for _ in range(runs):
            # a fresh copy each run, made without reading the file into this process (a
            # child inherits its parent's peak RSS: Linux keeps ru_maxrss across exec)
            copy = tmp / "copy.db"
            shutil.copyfile(db, copy)
            samples.append(json.loads(_child(CHILD, [str(copy), str(cfg), str(n)], tmp,
                                             copy, tree)))
            copy.unlink()
        rows.append((label, samples))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", default="100000", help="comma-separated Jira issue counts")
    ap.add_argument("--src", default=None, help="another dihub checkout to run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    cells = []
    for n in (int(x) for x in args.issues.split(",")):
        with tempfile.TemporaryDirectory(prefix="dihub-bench-") as tmp:
            rows = measure(n, args.src, args.runs, Path(tmp))
        cells += link_cells(f"{n:,} + {n // 5:,} + {n // 5:,} + {n // 5:,}", rows)
    lines = [f"Embedded SQLite store holding N Jira issues, N/5 GitHub issues, N/5 pull "
             f"requests and N/5 workflow runs; 50 new commits naming a Jira key and a "
             f"`#number` each and 10 deploy notifications naming a run, linked in one child "
             f"process per tree, medians of {args.runs}. Machine: {machine()}. Measured "
             f"{time.strftime('%Y-%m-%d')} with `python benchmarks/bench_hub_refs.py "
             f"--issues {args.issues}{' --src TREE' if args.src else ''}`.", ""]
    lines += table(["issues + GitHub issues + pull requests + runs", "dihub",
                    "CPU of the linking", "peak RSS, child", "links found"], cells, "llrrr")
    publish(lines, "hub-refs", "## hub: linking records that name issues, pull requests "
                               "and runs", args.write)


if __name__ == "__main__":
    main()
