"""A sync keeps the objects its imports made out of the garbage collector's walks, once
per process (dihub/collector.py)."""

from __future__ import annotations

import subprocess
import sys


def test_freeze_once_freezes_what_exists_at_the_first_call_only():
    code = (
        "import gc\n"
        "from dihub.collector import freeze_once\n"
        "assert gc.get_freeze_count() == 0\n"
        "freeze_once()\n"
        "first = gc.get_freeze_count()\n"
        "made_later = [{'n': i} for i in range(5000)]\n"
        "freeze_once()\n"
        "print(first, gc.get_freeze_count())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    first, second = map(int, out)
    assert first > 1000                    # the interpreter's and dihub's own objects
    assert second == first                 # what later syncs make is collected as before


def test_a_sync_freezes_once_its_connector_is_loaded(tmp_path, monkeypatch):
    from tests.unit.test_sync_session import _pages, _sync

    calls = []
    monkeypatch.setattr("dihub.engine.sync.freeze_once", lambda: calls.append(1))
    report, _ = _sync(tmp_path, monkeypatch, _pages)
    assert report.exit_code == 0 and calls == [1]
