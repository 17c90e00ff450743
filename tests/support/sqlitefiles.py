"""Damaged and read-only SQLite files for the store's error tests."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def corrupt_middle_page(path: Path, table: str = "records") -> int:
    """Overwrite the header of the middle leaf page of `table` with 0xFF bytes, as a bad
    disk block would; returns the page number. The WAL is folded into the file first."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = [n for (n,) in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
            (table,))]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    assert len(pages) >= 3, f"{table} has {len(pages)} leaf pages: too few to damage the middle"
    page = pages[len(pages) // 2]
    with open(path, "r+b") as f:
        f.seek((page - 1) * page_size)
        f.write(b"\xff" * 64)
    return page


def _writable(path: Path) -> bool:
    try:
        os.close(os.open(path, os.O_WRONLY))
    except OSError:
        return False
    return True


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` unwritable for this process: mode 0444, and for root (whom modes do
    not stop) the immutable attribute. Skips the test when neither works here."""
    mode = path.stat().st_mode
    os.chmod(path, 0o444)
    immutable = False
    try:
        if _writable(path):
            try:
                immutable = subprocess.run(["chattr", "+i", str(path)],
                                           capture_output=True).returncode == 0
            except FileNotFoundError:
                pass
        if _writable(path):
            pytest.skip("cannot make a file read-only here (root without chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        os.chmod(path, mode)


def index_names(path: Path) -> set[str]:
    """The names of the indexes in the SQLite file at `path`."""
    raw = sqlite3.connect(path)
    try:
        return {n for (n,) in raw.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        raw.close()
