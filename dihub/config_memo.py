"""Configs that passed a full check, remembered by digest.

A command that only reads the store (`dihub fetch`) needs two things from the config:
the store settings and each source's connector name. Checking the whole file with the
pydantic settings models costs more than the read itself (importing pydantic and building
the models: about 0.15 s), so a config that passed that check before, unchanged since, is
read without it (docs/architecture.md, "Start-up").

`remember` leaves an empty file in the user cache dir, named by the SHA-256 of everything
the check's outcome depends on: dihub's version and its two modules that hold the rules
(size and mtime), the values of the environment overrides, and the file's text. Nothing
else is written: no value of the config, so no secret, reaches the cache dir. Any change
(an edit, another `$DIHUB_STORE_URI`, an upgrade) gives another digest, and the next load
checks the file in full again. A cache dir that cannot be read or written only makes that
happen every time.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

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


def known(text: str, env: dict[str, str]) -> bool:
    """Whether this text, under this environment, passed a full check before."""
    try:
        return (memo_dir() / digest(text, env)).is_file()
    except OSError:
        return False


def remember(text: str, env: dict[str, str]) -> None:
    """Note that this text, under this environment, passed a full check."""
    folder = memo_dir()
    mark = folder / digest(text, env)
    try:
        if mark.is_file():
            os.utime(mark)          # recently used: kept longest
            return
        if not folder.parent.parent.parent.is_dir():
            # the cache root's own folder is missing (a cron user's HOME=/nonexistent):
            # create nothing there, as the store does not
            return
        folder.mkdir(parents=True, exist_ok=True)
        mark.touch(mode=0o600)
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
