"""When the embedded store's file was last checked (`PRAGMA quick_check`), so that a cron
sync does not read the whole file on every run.

A writer checks the file before its first write: a write into a damaged b-tree can spread
the damage, and a sync that only touches sound pages would otherwise exit 0 while `fetch`
fails. That check reads every page: about a second per GB, on every run, whatever the
run has to write. So a passed check leaves a mark beside the file, `<file>-checked`
(beside SQLite's own `-wal` and `-shm`): the file's inode, size and modification time,
and when the check ran. A process that closes the store after writing updates the file's
part of the mark (its own writes changed the file), never the time of the check. The next
writer skips the check when the file is as the mark says and the check is less than
CHECK_EVERY old: a file replaced, restored, truncated or written by anything but a dihub
that closed cleanly is checked again, and any file at least once a day. Without the mark
(a copied file, a read-only folder) every writer checks, as before. See
docs/architecture.md, "The embedded store".
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

CHECK_EVERY_S = 24 * 3600


def mark_path(path: Path) -> Path:
    return path.with_name(path.name + "-checked")


def _fingerprint(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def checked_at(path: Path, now: float | None = None) -> float | None:
    """When the file, as it is now, last passed a check; None when it must be checked."""
    try:
        mark = json.loads(mark_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(mark, dict) or not isinstance(mark.get("at"), int | float):
        return None
    now = time.time() if now is None else now
    if mark.get("file") != _fingerprint(path) or not 0 <= now - mark["at"] < CHECK_EVERY_S:
        return None
    return float(mark["at"])


def mark(path: Path, at: float) -> None:
    """Record that the file as it is now passed a check made at `at` (best effort: a folder
    dihub cannot write to only means the next writer checks again)."""
    fingerprint = _fingerprint(path)
    if fingerprint is None:
        return
    target = mark_path(path)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"file": fingerprint, "at": at}), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass


def forget(path: Path) -> None:
    """Remove the mark: a check found the file damaged."""
    try:
        mark_path(path).unlink()
    except OSError:
        pass
