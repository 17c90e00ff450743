"""Run a command as a child process and measure its wall time and peak RSS (os.wait4)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    wall_s: float
    peak_rss_mb: float          # the whole process tree (dihub and e.g. the git it runs)
    returncode: int
    stderr: str
    self_rss_mb: float | None = None      # the dihub process alone (dihub_argv runs only)


# Runs the dihub CLI and, at exit, reports the peak RSS of the dihub process itself
# apart from its children (git log holds the commit graph in its own memory). VmHWM
# belongs to the process's own memory map, so unlike ru_maxrss it does not start
# from the parent's high-water mark after fork.
_WRAPPER = (
    "import atexit, re, sys\n"
    "def _hwm():\n"
    "    text = open('/proc/self/status').read()\n"
    "    print('dihub-rss-kib', re.search(r'VmHWM:\\s+(\\d+)', text).group(1), "
    "file=sys.stderr)\n"
    "atexit.register(_hwm)\n"
    "sys.argv = ['dihub', *sys.argv[1:]]\n"
    "from dihub.cli.app import main\n"
    "main()\n"
)


def dihub_argv(python: str, *args: str) -> list[str]:
    return [python, "-c", _WRAPPER, *args]


def run(argv: list[str], *, env: dict | None = None, stdout=subprocess.DEVNULL,
        cwd: str | None = None) -> Run:
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd,
                            text=True)
    err_chunks = []
    assert proc.stderr
    for line in proc.stderr:
        err_chunks.append(line)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = "".join(err_chunks)
    m = re.search(r"^dihub-rss-kib (\d+)$", stderr, re.M)
    # ru_maxrss is in KiB on Linux
    return Run(wall, usage.ru_maxrss / 1024, proc.returncode, stderr,
               int(m.group(1)) / 1024 if m else None)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"model name\s*:\s*(.+)", text)
        cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def update_section(path: Path, name: str, body: str) -> None:
    """Replace the block between <!-- name:start --> and <!-- name:end --> in BENCHMARKS.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
