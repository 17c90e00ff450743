"""Run a command with a pseudo-terminal as its stdout and stderr, as a person at a
terminal would (rich draws its live display only there)."""

from __future__ import annotations

import os
import pty
import subprocess


def run_on_tty(argv: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Exit code and everything the command wrote to its terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:          # the terminal closed: the command has ended
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(), out
