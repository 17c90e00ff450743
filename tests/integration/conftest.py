"""End-to-end helpers: run the real `dihub` CLI in a subprocess with an isolated
home, config dir and embedded store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Dihub:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.db = tmp / "store.db"
        self.config = tmp / "dihub.yaml"
        home = tmp / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DIHUB_")},
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local/share"),
            "DIHUB_STORE_URI": f"sqlite:///{self.db}",
            "PYTHONPATH": str(ROOT),
            "COLUMNS": "200",
        }

    def write_config(self, text: str) -> Path:
        self.config.write_text(text)
        return self.config

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "dihub", "--config", str(self.config), *args]

    def run(self, *args: str, input: str | None = None, timeout: float = 300,
            check_code: int | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.argv(*args), env=self.env, cwd=self.tmp, input=input,
                              capture_output=True, text=True, timeout=timeout)
        if check_code is not None:
            assert proc.returncode == check_code, (
                f"exit {proc.returncode}, wanted {check_code}\nstdout:\n{proc.stdout[-3000:]}"
                f"\nstderr:\n{proc.stderr[-3000:]}")
        return proc

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), env=self.env, cwd=self.tmp,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def store(self):
        from dihub.store.sqlite import SQLiteStore

        return SQLiteStore(self.db)


@pytest.fixture
def dihub(tmp_path: Path) -> Dihub:
    return Dihub(tmp_path)


def git_config(repo: Path, batch_size: int = 1000, extra: str = "") -> str:
    return (f"store:\n  batch_size: {batch_size}\n{extra}"
            f"sources:\n  git:\n    connector: git\n    repo: {repo}\n")


def summary_counts(stderr: str) -> dict[str, int]:
    """Parse the closing line, 'run X: synced N commits[, M users] in P partition(s) (...);
    commits: a inserted, b updated, c unchanged[; users: ...]', into totals over entities."""
    import re

    line = [ln for ln in stderr.splitlines() if re.search(r"run \S+: (would )?sync", ln)][-1]
    m = re.search(r"sync(?:ed)? (.+?) in \d+ partition", line)
    assert m, line
    records = sum(int(n) for n in re.findall(r"(\d+) \w+", m.group(1)))
    counts = {word: sum(int(n) for n in re.findall(rf"(\d+) {word}", line))
              for word in ("inserted", "updated", "unchanged")}
    return {"records": records, **counts}
