"""Run a command as a child process and measure its wall time and peak RSS (os.wait4);
serve a simulator from a process of its own; read what a run stored."""

from __future__ import annotations

import multiprocessing
import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
    # -P: the working directory is not put first on sys.path, so the tree PYTHONPATH names
    # is the one measured wherever the benchmark runs from (from a checkout, `-c` would
    # import that checkout's dihub instead)
    return [python, "-P", "-c", _WRAPPER, *args]


# The same report for a peer tool run in its own venv: `peer_program(body)` is a
# `python -c` program that registers it, then runs `body` (which starts the tool).
PEER_RSS = "peer-rss-kib"
_PEER_PRELUDE = _WRAPPER.split("sys.argv = ")[0].replace("dihub-rss-kib", PEER_RSS)


def peer_program(body: str) -> str:
    return _PEER_PRELUDE + body


@dataclass
class Sample:
    """One run of a tool against a peer: CPU = user + system of its process tree, wall
    time, the peak RSS of its own process (VmHWM) and the records it produced."""
    cpu_s: float
    wall_s: float
    rss_mb: float
    records: int


def median_of(samples: list[Any], attr: str) -> float:
    """The median of one figure (`cpu_s`, `rss_mb`, ...) over runs."""
    return statistics.median(getattr(s, attr) for s in samples)


def pair_ratio(a: list[Any], b: list[Any], attr: str) -> float:
    """The median of a/b taken pair by pair (run i of one tool against run i of the other,
    interleaved), which keeps the ratio steady when the machine's speed drifts."""
    return statistics.median(getattr(x, attr) / getattr(y, attr) for x, y in zip(a, b,
                                                                                 strict=True))


def served(sim: SimulatorProcess) -> tuple[int, dict[str, int]]:
    """The requests a simulator answered since its last "reset", and by route; every
    answer must have been a 200 (a run that met an error is not a clean run)."""
    stats = sim.ask("stats")
    bad = {k: v for k, v in stats["by_status"].items() if k != "200"}
    assert not bad, f"the simulator answered {bad}"
    return stats["requests"], stats["by_route"]


def peer_rows(ours: list[Any], peer: list[Any]) -> list[list[str]]:
    """The rows every peer table starts with: CPU, peak RSS and wall time, each tool's
    median and the pair-by-pair ratio (the CPU ratio in bold)."""
    return [
        ["CPU (user + sys)", f"{median_of(ours, 'cpu_s'):.1f} s",
         f"{median_of(peer, 'cpu_s'):.1f} s", f"**{pair_ratio(ours, peer, 'cpu_s'):.2f}x**"],
        ["peak RSS", f"{median_of(ours, 'rss_mb'):.0f} MB", f"{median_of(peer, 'rss_mb'):.0f} MB",
         f"{pair_ratio(ours, peer, 'rss_mb'):.2f}x"],
        ["wall time", f"{median_of(ours, 'wall_s'):.1f} s", f"{median_of(peer, 'wall_s'):.1f} s",
         f"{pair_ratio(ours, peer, 'wall_s'):.2f}x"],
    ]


def installed_version(python: str, package: str) -> str:
    """The version of `package` in the venv of `python` ("?" when it is not there)."""
    out = subprocess.run([python, "-m", "pip", "show", package], capture_output=True,
                         text=True).stdout
    return (re.search(r"^Version: (\S+)", out, re.M) or [None, "?"])[1]


def measure_tree(argv: list[str], env: Mapping[str, str] | None, marker: str,
                 stdout: Any = subprocess.DEVNULL) -> tuple[float, float, float, str]:
    """Run `argv` to its exit (which must be 0): CPU seconds of its process tree
    (os.wait4), wall seconds, the peak RSS in MB it reported on stderr as `marker`
    (dihub_argv and peer_program report it), and its stderr."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    assert code == 0, f"{argv[:3]} exited {code}: {err[-3000:]}"
    m = re.search(rf"^{marker} (\d+)$", err, re.M)
    assert m, err[-2000:]
    return usage.ru_utime + usage.ru_stime, wall, int(m.group(1)) / 1024, err


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


_COMPILED: set[str] = set()


def compiled(tree: str | Path) -> None:
    """Write the bytecode of the dihub package under `tree` (once per process): an editable
    checkout run with PYTHONDONTWRITEBYTECODE set (or whose sources changed since its last
    run) would otherwise compile every stale module in every measured run, ~0.2 s of CPU
    that an installed dihub, like the peers installed from PyPI, never spends."""
    import compileall

    package = Path(tree) / "dihub"
    if str(package) not in _COMPILED and package.is_dir():
        compileall.compile_dir(str(package), quiet=1)
        _COMPILED.add(str(package))


def dihub_env(store: Path, home: Path, extra: Mapping[str, str] | None = None, *,
              base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment of a `dihub` run: `base` with the embedded SQLite store at
    `store`, HOME at `home` and the `extra` variables (a token, say). The tree it runs
    (this checkout, or PYTHONPATH's) is compiled first (`compiled`)."""
    env = {**base, "DIHUB_STORE_URI": f"sqlite:///{store}", "HOME": str(home),
           **(extra or {})}
    compiled(Path(__file__).resolve().parents[1])
    for tree in env.get("PYTHONPATH", "").split(os.pathsep):
        if tree:
            compiled(tree)
    return env


def stored(db: Path, source: str, *entities: str) -> int:
    """How many records of `entities` from `source` the SQLite store at `db` holds."""
    # imported here, not at the top: a benchmark process stays small until it asks
    from dihub.store.sqlite import SQLiteStore

    store = SQLiteStore(db)
    try:
        return sum(store.count(e, source) for e in entities)
    finally:
        store.close()


class SimulatorProcess:
    """A simulator served from a process of its own, so this one stays small: on Linux a
    child's peak RSS (ru_maxrss) starts from its parent's, and a parent holding the
    dataset would inflate what `run` measures.

    `serve(conn, *args)` runs in the child: it sends one dict with at least "api_url"
    once it serves, then answers commands with `obey`. `ask(cmd)` sends one and
    returns the answer; `close()` stops the child.
    """

    def __init__(self, serve: Callable[..., None], *args: Any, start_method: str = "spawn",
                 join_s: float = 30):
        ctx = multiprocessing.get_context(start_method)
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=serve, args=(child, *args), daemon=True)
        self.proc.start()
        self.join_s = join_s
        self.info: dict[str, Any] = self.conn.recv()
        self.api_url: str = self.info["api_url"]

    def ask(self, cmd: str) -> Any:
        self.conn.send(cmd)
        return self.conn.recv()

    def close(self) -> None:
        self.ask("stop")
        self.proc.join(self.join_s)


def obey(conn, commands: Mapping[str, Callable[..., Any]]) -> None:
    """The child's side of SimulatorProcess: answer each command with what
    `commands[cmd]()` returns (a tuple `(cmd, *args)`: `commands[cmd](*args)`), until
    "stop" (answered with None)."""
    while (cmd := conn.recv()) != "stop":
        name, *args = cmd if isinstance(cmd, tuple) else (cmd,)
        conn.send(commands[name](*args))
    conn.send(None)


# The connector benchmarks measure the sync itself: the hub's refresh after a sync
# (people and links, on by default) is measured by bench_git.py's default-config step.
SYNC_ONLY = "hub:\n  refresh_after_sync: false\n"
