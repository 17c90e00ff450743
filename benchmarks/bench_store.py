"""Benchmark: costs of the embedded store that must grow with the work, not the store.

    python benchmarks/bench_store.py [--sizes 100000,300000] [--part writes,fetch] [--write]

writes: `dihub sync git commits` of a generated repository (tests/support/gitrepo.py) into an
  empty store, then a no-change `sync`; bytes written to disk by the dihub process
  (/proc/self/io write_bytes, read at its exit) against the store's size.
fetch: a store of N generated commit records (written through the store); a full export
  with `--since` (keyset pages of 1,000, as `dihub fetch` reads them), one page at 95%
  depth with `--since`, and a full export with `--where` on a field matching 1 in 25;
  CPU time (user+sys of this process, steady under load) and wall time of each.
  --src runs the reads with another dihub checkout (e.g. the code before a change) on the
  same stores.
upserts: N commit-like documents (hashed ids, about 1 KB of JSON each) written newest first
  through SQLiteStore.upsert_many in batches of --batch records, with one `ingested_at` for
  all (as the engine stamped a pass before) and one per batch (as it does now): bytes
  written (/proc/self/io) against the store's size, CPU of the process. With
  --page-sizes 1024,4096,...: one `ingested_at` per batch, into files made with each SQLite
  page size.

Each scaling exponent k is log(cost ratio) / log(size ratio) between consecutive sizes
(k = 1: proportional to the data). --write puts the tables into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import dihub_env, machine, run  # noqa: E402
from benchmarks.report import table, update_section  # noqa: E402

# The dihub CLI, printing at exit the bytes its process wrote to the storage layer.
_IO_WRAPPER = (
    "import atexit, re, sys\n"
    "def _io():\n"
    "    text = open('/proc/self/io').read()\n"
    "    print('dihub-write-bytes', re.search(r'write_bytes:\\s+(\\d+)', text).group(1), "
    "file=sys.stderr)\n"
    "atexit.register(_io)\n"
    "sys.argv = ['dihub', *sys.argv[1:]]\n"
    "from dihub.cli.app import main\n"
    "main()\n"
)


def _k(sizes: list[int], costs: list[float]) -> list[str]:
    out = ["-"]
    for i in range(1, len(sizes)):
        if costs[i - 1] <= 0 or costs[i] <= 0:
            out.append("-")
        else:
            k = math.log(costs[i] / costs[i - 1]) / math.log(sizes[i] / sizes[i - 1])
            out.append(f"{k:.2f}")
    return out


def _store_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


def _written(stderr: str) -> int:
    for line in stderr.splitlines():
        if line.startswith("dihub-write-bytes "):
            return int(line.split()[1])
    raise AssertionError(stderr[-2000:])


def measure_writes(n: int, workdir: Path) -> dict:
    from tests.support.gitrepo import generate, rev_count

    repo = workdir / f"repo-{n}"
    if not (repo / ".git").exists():
        generate(repo, n)
    commits = rev_count(repo, "--branches", "--remotes", "--tags")
    with tempfile.TemporaryDirectory(prefix="dihub-bench-", dir=workdir) as tmp:
        tmp = Path(tmp)
        cfg = tmp / "dihub.yaml"
        cfg.write_text(f"sources:\n  git:\n    connector: git\n    repo: {repo}\n")
        db = tmp / "store.db"
        env = dihub_env(db, tmp)
        argv = [sys.executable, "-c", _IO_WRAPPER, "-q", "--config", str(cfg)]
        first = run([*argv, "sync", "git", "commits"], env=env)
        assert first.returncode == 0, first.stderr
        size = _store_bytes(db)
        again = run([*argv, "sync", "git", "commits"], env=env)
        assert again.returncode == 0, again.stderr
        return {"n": commits, "wall": first.wall_s, "written": _written(first.stderr),
                "size": size, "again_wall": again.wall_s,
                "again_written": _written(again.stderr)}


def _commit_docs(n: int, start: int):
    from dihub.models.documents import signature
    from dihub.timeutil import to_iso

    for i in range(start, min(start + 1000, n)):
        doc = {
            "source": "git", "entity": "commits", "source_id": f"{i:040x}",
            "sha": f"{i:040x}", "repo": "bench", "author_email": f"dev{i % 25}@example.com",
            "message": f"change {i}: " + "lorem ipsum " * 8,
            "authored_at": to_iso(1_700_000_000 + 600 * i),
            "updated_at": to_iso(1_700_000_000 + 600 * i),
            "parents": [f"{i - 1:040x}"], "additions": i % 97, "deletions": i % 13,
        }
        doc["raw_signature"] = signature(doc)
        doc["_id"] = f"git:commits:{i:040x}"
        yield doc


def measure_upserts(n: int, workdir: Path, stamp: str, batch: int,
                    page_size: int | None = None) -> dict:
    import hashlib
    import re
    import sqlite3

    from dihub.models.documents import signature
    from dihub.store.sqlite import SQLiteStore
    from dihub.timeutil import to_iso

    def written() -> int:
        text = Path("/proc/self/io").read_text()
        return int(re.search(r"write_bytes:\s+(\d+)", text).group(1))

    db = workdir / f"upserts-{n}-{stamp}-{batch}.db"
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    if page_size:       # fixed when the file's first table is made
        conn = sqlite3.connect(db)
        conn.execute(f"PRAGMA page_size = {int(page_size)}")
        conn.execute("CREATE TABLE made (x)")
        conn.execute("DROP TABLE made")
        conn.commit()
        conn.close()
    store = SQLiteStore(db)
    w0, c0 = written(), time.process_time()
    for b, start in enumerate(range(n - 1, -1, -batch)):      # newest first, as git log
        docs = []
        for i in range(start, max(start - batch, -1), -1):
            sha = hashlib.sha1(str(i).encode()).hexdigest()
            doc = {"source": "git", "entity": "commits", "source_id": sha, "sha": sha,
                   "repo": "bench", "author_email": f"dev{i % 25}@example.com",
                   "author_name": f"Dev {i % 25}", "message": "lorem ipsum " * 40,
                   "updated_at": to_iso(1_500_000_000 + 300 * i), "parents": [sha],
                   "ingested_at": to_iso(1_700_000_000 + (b // 4 if stamp == "batch" else 0))}
            doc["raw_signature"] = signature(doc)
            doc["_id"] = f"git:commits:{sha}"
            docs.append(doc)
        store.upsert_many(docs)
    store.close()
    out = {"n": n, "stamp": stamp, "batch": batch, "written": written() - w0,
           "cpu": time.process_time() - c0, "size": _store_bytes(db)}
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    return out


def measure_fetch(n: int, workdir: Path) -> dict:
    from dihub.store.sqlite import SQLiteStore
    from dihub.timeutil import to_iso

    db = workdir / f"fetch-{n}.db"
    if not db.exists():
        store = SQLiteStore(db)
        for start in range(0, n, 1000):
            store.upsert_many(list(_commit_docs(n, start)))
        store.close()
    store = SQLiteStore(db)
    since = to_iso(1_700_000_000 + 600 * (n // 100))      # 99% of the records are after

    def export(**query) -> tuple[float, float, int, str | None]:
        t0, c0 = time.perf_counter(), time.process_time()
        cursor, count, deep = None, 0, None
        while True:
            page = store.query("commits", source="git", cursor=cursor, limit=1000, **query)
            count += len(page.records)
            if deep is None and count >= n * 0.95:
                deep = page.next_cursor
            cursor = page.next_cursor
            if cursor is None:
                return (time.perf_counter() - t0, time.process_time() - c0, count, deep)

    since_s, since_cpu, since_count, deep = export(since=since)
    t0, c0 = time.perf_counter(), time.process_time()
    reps = 20
    for _ in range(reps):
        store.query("commits", source="git", since=since, cursor=deep, limit=1000)
    page_ms = (time.perf_counter() - t0) / reps * 1000
    page_cpu_ms = (time.process_time() - c0) / reps * 1000
    where_s, where_cpu, where_count, _ = export(filters={"author_email": "dev7@example.com"})
    plain_s, plain_cpu, plain_count, _ = export()
    store.close()
    assert plain_count == n and where_count == len(range(7, n, 25)), (plain_count, where_count)
    return {"n": n, "since_s": since_s, "since_cpu": since_cpu, "since_count": since_count,
            "page_ms": page_ms, "page_cpu_ms": page_cpu_ms, "where_s": where_s,
            "where_cpu": where_cpu, "where_count": where_count, "plain_s": plain_s,
            "plain_cpu": plain_cpu}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,300000")
    ap.add_argument("--part", default="writes,fetch")
    ap.add_argument("--workdir", default=None,
                    help="where repositories and stores go (a disk, not tmpfs: the write "
                         "counts come from the block layer); kept between runs")
    ap.add_argument("--batch", type=int, default=1000, help="records per upsert (upserts)")
    ap.add_argument("--page-sizes", default=None,
                    help="upserts: SQLite page sizes to compare (e.g. 1024,2048,4096,8192)")
    ap.add_argument("--src", default=None,
                    help="another dihub checkout for the fetch part (its stores are shared)")
    ap.add_argument("--label", default="")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if args.src:
        sys.path.insert(0, str(Path(args.src).resolve()))
    sizes = [int(x) for x in args.sizes.split(",")]
    parts = args.part.split(",")
    workdir = Path(args.workdir or Path(tempfile.gettempdir()) / "dihub-bench-store")
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start. "
             f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/bench_store.py "
             f"--sizes {args.sizes} --part {args.part}"
             + (f" --page-sizes {args.page_sizes}" if args.page_sizes else "")
             + f"`{args.label}.", ""]
    if "writes" in parts:
        res = [measure_writes(n, workdir) for n in sizes]
        ns = [r["n"] for r in res]
        k_written = _k(ns, [r["written"] for r in res])
        k_wall = _k(ns, [r["wall"] for r in res])
        k_again = _k(ns, [max(r["again_written"], 1) for r in res])
        mb = 1024 * 1024
        lines += ["**Writes of a first `sync git commits`** (generated repository, empty "
                  "store), and of a second `sync` that finds nothing new:", ""]
        lines += table(
            ["commits", "store size", "written to disk", "written / size", "k (written)",
             "wall time", "k (wall)", "no-change sync: written", "k", "its wall time"],
            [[f"{r['n']:,}", f"{r['size'] / mb:.0f} MB", f"{r['written'] / mb:.0f} MB",
              f"{r['written'] / r['size']:.2f}", kw, f"{r['wall']:.1f} s", kt,
              f"{r['again_written'] / 1024:.0f} KB", ka, f"{r['again_wall']:.2f} s"]
             for r, kw, kt, ka in zip(res, k_written, k_wall, k_again, strict=True)],
            "rrrrrrrrrr")
        lines.append("")
    if "upserts" in parts and args.page_sizes:
        mb = 1024 * 1024
        rows = []
        for size in (int(x) for x in args.page_sizes.split(",")):
            res = [measure_upserts(n, workdir, "batch", args.batch, size) for n in sizes]
            k = _k([r["n"] for r in res], [r["written"] for r in res])
            rows += [[f"{size:,}", f"{r['n']:,}", f"{r['written'] / mb:,.0f} MB",
                      f"{r['size'] / mb:,.0f} MB", f"{r['written'] / r['size']:.2f}", kw,
                      f"{r['cpu']:.1f} s"] for r, kw in zip(res, k, strict=True)]
            print(rows[-len(res):], file=sys.stderr, flush=True)
        lines += [f"**Upserts by SQLite page size**, newest first, {args.batch:,} a "
                  "transaction:", ""]
        lines += table(["page size", "records", "written to disk", "store size",
                        "written / size", "k (written)", "CPU"], rows, "rrrrrrr")
        lines.append("")
    elif "upserts" in parts:
        mb = 1024 * 1024
        rows = []
        for n in sizes:
            for stamp in ("pass", "batch"):
                r = measure_upserts(n, workdir, stamp, args.batch)
                rows.append([f"{n:,}", {"pass": "one per pass (before)",
                                        "batch": "one per batch"}[stamp],
                             f"{r['written'] / mb:,.0f} MB", f"{r['size'] / mb:,.0f} MB",
                             f"{r['written'] / r['size']:.2f}", f"{r['cpu']:.1f} s"])
                print(rows[-1], file=sys.stderr, flush=True)
        lines += [f"**Upserts** of commit-like documents, newest first, {args.batch:,} a "
                  "transaction (`upsert_many`):", ""]
        lines += table(["records", "`ingested_at`", "written to disk", "store size",
                        "written / size", "CPU"], rows, "rlrrrr")
        lines.append("")
    if "fetch" in parts:
        res = [measure_fetch(n, workdir) for n in sizes]
        ns = [r["n"] for r in res]
        lines += ["**Reads of `fetch git commits`** over a store of N generated commit "
                  "records (keyset pages of 1,000, in process; CPU / wall, k from CPU):", ""]
        lines += table(
            ["records", "full export", "k", "with --since (99%)", "k",
             "one page at 95% depth, --since", "with --where (1 in 25)", "k"],
            [[f"{r['n']:,}", f"{r['plain_cpu']:.2f} s / {r['plain_s']:.2f} s", kp,
              f"{r['since_cpu']:.2f} s / {r['since_s']:.2f} s", ks,
              f"{r['page_cpu_ms']:.1f} ms / {r['page_ms']:.1f} ms",
              f"{r['where_cpu']:.2f} s / {r['where_s']:.2f} s", kw]
             for r, kp, ks, kw in zip(res, _k(ns, [r["plain_cpu"] for r in res]),
                                      _k(ns, [r["since_cpu"] for r in res]),
                                      _k(ns, [r["where_cpu"] for r in res]), strict=True)],
            "rrrrrrrr")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.write:
        update_section(ROOT / "BENCHMARKS.md", "perf-store",
                       "## store: costs that grow with the work, not the store\n\n" + text)


if __name__ == "__main__":
    main()
