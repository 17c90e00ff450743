"""Generate git repositories of any size quickly with `git fast-import`.

Shape: a linear `main`, a side branch every `branch_every` commits (a few
commits each, some merged back into main with a merge commit), a tag every
`tag_every` commits, and a pool of authors, so "all refs" and merges matter.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

AUTHORS = [(f"Dev {i}", f"dev{i}@example.com") for i in range(25)]
# Each author's UTC offset, as a team spread over time zones writes them (half-hour and
# quarter-hour zones included); the instants do not depend on it.
OFFSETS = ["+0000", "+0100", "-0500", "+0530", "-0800", "+0900", "+0545", "-0330",
           "+0200", "-0700", "+1000", "-0300", "+1245"]
EPOCH = 1_700_000_000   # 2023-11-14


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def generate(path: Path, commits: int, *, branch_every: int = 1000, tag_every: int = 5000,
             start: int = EPOCH, step_s: int = 600) -> Path:
    """Create a non-bare repository at `path` with exactly `commits` commits."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    proc = subprocess.Popen(["git", "-C", str(path), "fast-import", "--quiet"],
                            stdin=subprocess.PIPE)
    assert proc.stdin
    w = proc.stdin.write
    mark = 0
    made = 0
    main_tip = 0
    t = start
    pending_merge: int | None = None

    def commit(ref: str, parent: int, merge: int | None, msg: str) -> int:
        nonlocal mark, made, t
        mark += 1
        made += 1
        t += step_s
        a, c = made % len(AUTHORS), (made * 7) % len(AUTHORS)
        (name, email), (cname, cemail) = AUTHORS[a], AUTHORS[c]
        w(f"commit {ref}\nmark :{mark}\n".encode())
        w(f"author {name} <{email}> {t - 60} {OFFSETS[a % len(OFFSETS)]}\n".encode())
        w(f"committer {cname} <{cemail}> {t} {OFFSETS[c % len(OFFSETS)]}\n".encode())
        w(_data(msg))
        if parent:
            w(f"from :{parent}\n".encode())
        if merge:
            w(f"merge :{merge}\n".encode())
        w(f"M 644 inline file{made % 10}.txt\n".encode())
        w(_data(f"change {made}\n"))
        w(b"\n")
        return mark

    while made < commits:
        if made and made % branch_every == 0 and commits - made > 4:
            branch = f"refs/heads/feature/{made}"
            tip = main_tip
            for j in range(3):
                tip = commit(branch, tip, None, f"feature {made} step {j}\n\nDetails {j}.")
            if (made // branch_every) % 2 == 0:
                pending_merge = tip
        if made < commits:
            merge, pending_merge = pending_merge, None
            main_tip = commit("refs/heads/main", main_tip, merge,
                              "Merge feature\n" if merge else f"commit {made}: work\n\nBody.")
            if made % tag_every == 0:
                w(f"reset refs/tags/v{made}\nfrom :{main_tip}\n\n".encode())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    subprocess.run(["git", "-C", str(path), "reset", "-q", "--hard", "main"], check=True)
    return path


def rev_count(path: Path, *args: str) -> int:
    out = subprocess.run(["git", "-C", str(path), "rev-list", "--count", *args],
                         capture_output=True, text=True, check=True).stdout
    return int(out)
