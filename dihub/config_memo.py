"""Configs that passed a full check, remembered by digest, with what reading the store
needs of them.

A command that only reads the store (`dihub fetch`) needs two things from the config:
the store settings and each source's connector name. Reading the YAML and checking it
with the pydantic settings models costs more than the read itself (about 0.2 s of
start-up), so a config that passed that check before, unchanged since, is not read again
(docs/architecture.md, "Start-up").

`remember` writes a small file in the user cache dir (mode 0600), named by the SHA-256 of
everything the check's outcome depends on: dihub's version and its two modules that hold
the rules (size and mtime), the values of the environment overrides, and the file's text.
It holds the checked values a read needs: the store's URI and audit retention, and each
source's connector name. The config module writes one only for the embedded store (no
URI, or a `sqlite:` path): a MongoDB URI can carry credentials, and a MongoDB read
imports pymongo anyway. Any change (an edit, another `$DIHUB_STORE_URI`, an upgrade)
gives another digest, and the next load checks the file in full again. A cache dir that
cannot be read or written only makes that happen every time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from dihub import __version__

KEEP = 64           # digests kept; the oldest go first
_RULES = (Path(__file__).with_name("settings.py"), Path(__file__).with_name("config.py"))


def digest(text: str, env: dict[str, str]) -> str:
    h = hashlib.sha256(f"dihub {__version__}\0".encode())
    for rules in _RULES:
        try:
            st = os.stat(rules)
            h.update(f"{st.st_size}:{st.st_mtime_ns}\0".encode())
        except OSError:
            h.update(b"-\0")
    for name in sorted(env):
        h.update(f"{name}={env[name]}\0".encode("utf-8", "surrogatepass"))
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def memo_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("dihub", appauthor=False)) / "configs-checked"


def recall(text: str, env: dict[str, str]) -> dict[str, Any] | None:
    """The values `remember` kept for this text under this environment, or None."""
    try:
        values = json.loads((memo_dir() / digest(text, env)).read_bytes())
    except (OSError, ValueError):       # none, unreadable, or not what remember writes
        return None
    return values if isinstance(values, dict) else None


def remember(text: str, env: dict[str, str], values: dict[str, Any]) -> None:
    """Keep `values` (JSON; no secret) for this text, which passed a full check under
    this environment."""
    folder = memo_dir()
    mark = folder / digest(text, env)
    body = json.dumps(values, sort_keys=True).encode()
    try:
        if mark.is_file() and mark.read_bytes() == body:
            os.utime(mark)          # recently used: kept longest
            return
        if not folder.parent.parent.parent.is_dir():
            # the cache root's own folder is missing (a cron user's HOME=/nonexistent):
            # create nothing there, as the store does not
            return
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{mark.name}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        os.replace(tmp, mark)       # a reader sees the whole file or none
        _prune(folder)
    except OSError:
        pass


def _prune(folder: Path) -> None:
    marks = []
    for entry in os.scandir(folder):
        try:
            marks.append((entry.stat().st_mtime_ns, entry.path))
        except OSError:
            continue
    for _, path in sorted(marks)[:max(0, len(marks) - KEEP)]:
        try:
            os.unlink(path)
        except OSError:
            pass
