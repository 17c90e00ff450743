"""Ctrl-C during a concurrent pass: every partition stops at its next page, keeps what it
wrote, and no cursor passes unwritten records."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from dihub.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
PAGES = 3000        # 30 s a partition: long enough that a slow, loaded machine still
                    # signals the pass while it runs

# The child restores Python's Ctrl-C handler itself: a process started from a test
# process that ignores SIGINT (as some test runners' workers do) would inherit SIG_IGN,
# and Python installs its KeyboardInterrupt handler only when SIGINT is not ignored.
# (`dihub` itself installs its own handler in every sync: dihub/engine/sync.py.)
SCRIPT = textwrap.dedent(f"""
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from dihub.config import Settings
    from dihub.engine.runner import PassOptions, Runner
    from dihub.connectors.stream import Page, Stream
    from dihub.models import User
    from dihub.store.sqlite import SQLiteStore

    def fetch(ctx, partition, state):
        for i in range(state.cursor or 0, {PAGES}):
            time.sleep(0.01)
            yield Page([{{"id": f"{{partition}}-{{i}}"}}], cursor=i + 1)

    def norm(raw, ctx, partition):
        return User(source=ctx.source, source_id=raw["id"], user_id=raw["id"],
                    source_user_id=raw["id"])

    stream = Stream(name="people", entity="users", fetch=fetch, normalize=norm,
                    partitions=lambda ctx: ["a", "b", "c"])
    store = SQLiteStore(sys.argv[1])
    runner = Runner(store, "src", None, Settings(),
                    options=PassOptions(batch_size=1, concurrency=3))
    try:
        runner.run_stream(stream)
    except KeyboardInterrupt:
        sys.exit(130)
""")


def test_sigint_stops_every_running_partition(tmp_path):
    db = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(db)], cwd=ROOT)
    store = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            store = store or SQLiteStore(db)
            if store.count("users", "src") >= 30:
                break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    store = store or SQLiteStore(db)
    written = store.count("users", "src")
    assert 30 <= written < 3 * PAGES // 2          # nobody ran on to the end
    for part in ("a", "b", "c"):
        state = store.get_state("src", "people", part)
        mine = sum(1 for d in store.iter_records("users", "src")
                   if d["source_id"].startswith(f"{part}-"))
        assert state.cursor == mine                  # the cursor is exactly what was written
        assert state.lease_owner is None             # and the lease was released
