"""crontab.example works as written (issue 9): its one-time setup, then every active line
run as cron would (`sh -c`, a fresh HOME with nothing under it, cron's PATH plus the
folder dihub is installed in, no DIHUB_* or XDG_* variables), twice. Each exits 0 and
its log holds only JSON lines."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import ROOT
from tests.support.gitrepo import generate

CRONTAB = ROOT / "crontab.example"
_ENTRY = re.compile(r"^(\S+\s+){5}(?P<command>.+)$")


def _entries() -> list[str]:
    """The command of every active crontab line (environment lines are not commands)."""
    commands = []
    for line in CRONTAB.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assert not re.match(r"^[A-Za-z_]+=", line), f"an active environment line: {line}"
        m = _ENTRY.match(line)
        assert m, f"not a crontab entry: {line}"
        commands.append(m.group("command"))
    return commands


def _setup_steps() -> list[str]:
    """The documented one-time setup: the indented commands of the header comment."""
    text = CRONTAB.read_text()
    block = text.split("One-time setup", 1)[1].split("\n#\n", 2)[1]
    return [re.sub(r"\s+#.*$", "", ln[1:].strip()) for ln in block.splitlines()
            if ln.startswith("#   ")]


def _cron_env(home: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    assert (Path(bin_dir) / "dihub").exists(), "dihub is installed next to the interpreter"
    return {"HOME": str(home), "LOGNAME": "cron", "SHELL": "/bin/sh",
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def _sh(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", command], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def _json_lines(path: Path) -> list[dict]:
    docs = []
    for line in path.read_text().splitlines():
        doc = json.loads(line)            # a line that is not JSON fails here
        assert isinstance(doc, dict) and {"ts", "level", "event", "message"} <= set(doc)
        docs.append(doc)
    return docs


def test_every_line_is_distinct():
    commands = _entries()
    assert len(commands) >= 2
    runs = [re.sub(r">>.*$", "", c).split("&&")[-1].strip() for c in commands]
    assert len(set(runs)) == len(runs), runs
    syncs = [r for r in runs if " sync " in r]
    assert len({r.split(" sync ", 1)[1].split()[0] for r in syncs}) == len(syncs)


def test_crontab_lines_run_as_written_on_a_fresh_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    repo = generate(tmp_path / "repo", 40, branch_every=15)
    env = _cron_env(home)
    steps = _setup_steps()
    assert steps and any(s.startswith("cp config.example.yaml") for s in steps)
    config = home / ".config" / "dihub" / "config.yaml"
    for step in steps:
        if step.startswith("dihub config validate"):
            # "then edit its `sources:`": this machine has one git repository
            config.write_text(config.read_text().split("\nsources:", 1)[0]
                              + f"\nsources:\n  git:\n    connector: git\n    repo: {repo}\n")
        proc = _sh(step, env, ROOT)
        assert proc.returncode == 0, (step, proc.stdout, proc.stderr)
    assert not (home / ".local").exists()        # nothing else was prepared by hand

    for run in (1, 2):
        for command in _entries():
            proc = _sh(command, env, home)
            assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
            assert proc.stdout == "" and proc.stderr == "", command   # all went to the log
        logs = sorted((home / ".local" / "state" / "dihub").glob("*.log"))
        assert {p.name for p in logs} == {"git.log", "metrics.log"}
        docs = {p.name: _json_lines(p) for p in logs}
        summaries = [d for d in docs["git.log"] if d["event"] == "summary"]
        assert len(summaries) == run and all(s["exit_code"] == 0 for s in summaries)
        assert summaries[0]["entities"]["commits"]["inserted"] == 40
    assert summaries[1]["records"] == 0                       # the second run had nothing new
    prom = home / ".local" / "state" / "dihub" / "textfile" / "dihub.prom"
    assert "dihub_" in prom.read_text()
    assert (home / ".local" / "share" / "dihub" / "dihub.db").exists()

