"""SIGTERM and Ctrl-C stop a sync at the next page: what was read is written and
checkpointed, the lease is released, and the audit log counts exactly what was written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dihub.store.sqlite import SQLiteStore
from tests.integration.conftest import Dihub

ROOT = Path(__file__).resolve().parents[2]

# A connector from a separate package: `pages` partitions, one record and one cursor per
# page, a short sleep per page so that a signal finds the pass in the middle.
TICKER = textwrap.dedent("""
    import time
    from dihub.connectors.base import Connector, SourceConfig
    from dihub.connectors.stream import Page, Stream
    from dihub.models import User

    class TickerConfig(SourceConfig):
        pages: int = 400
        partitions: list[str] = ["a"]

    def pages(ctx, partition, state):
        for i in range(state.cursor or 0, ctx.config.pages):
            time.sleep(0.01)
            yield Page([{"id": f"{partition}-{i}"}], cursor=i + 1)

    def norm(raw, ctx, partition):
        return User(source=ctx.source, source_id=raw["id"], user_id=raw["id"],
                    source_user_id=raw["id"])

    connector = Connector(name="ticker", description="test ticker", config_model=TickerConfig,
        streams={"people": Stream(name="people", entity="users", fetch=pages, normalize=norm,
                                  partitions=lambda ctx: ctx.config.partitions)})
""")


def _install_ticker(d: Dihub, site: Path) -> None:
    pkg = site / "ticker_dihub"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(TICKER)
    dist = site / "ticker_dihub-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ticker-dihub\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[dihub.connectors]\nticker = ticker_dihub:connector\n")
    d.env["PYTHONPATH"] = os.pathsep.join([str(site), d.env["PYTHONPATH"]])


def _wait_for(d: Dihub, proc: subprocess.Popen, written: int) -> SQLiteStore:
    deadline = time.monotonic() + 60
    store = None
    while time.monotonic() < deadline and proc.poll() is None:
        if d.db.exists():
            store = store or d.store()
            if store.count("users", "src") >= written:
                return store
        time.sleep(0.02)
    raise AssertionError("the sync ended before it could be signalled")


@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                             (signal.SIGINT, 130, "interrupted")])
@pytest.mark.parametrize("partitions", [["a"], ["a", "b", "c"]])
def test_a_signal_stops_at_the_next_page_and_releases_the_lease(tmp_path, sig, code, word,
                                                                 partitions):
    d = Dihub(tmp_path)
    _install_ticker(d, tmp_path / "site")
    d.write_config(f"sources:\n  src:\n    connector: ticker\n"
                   f"    partitions: {json.dumps(partitions)}\n")
    proc = d.popen("sync", "src", "people")
    store = _wait_for(d, proc, 30)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert word in err and "the next run continues" in err
    written = store.count("users", "src")
    assert 30 <= written < 400 * len(partitions)
    for part in partitions:
        state = store.get_state("src", "people", part)
        mine = sum(1 for doc in store.iter_records("users", "src")
                   if doc["source_id"].startswith(f"{part}-"))
        assert state.cursor == mine                 # checkpointed exactly what was written
        assert state.lease_owner is None            # the lease is released, not left running
        assert state.status == "failed"
    audit = [a for a in store.query_audit(source="src") if a.action == "sync"]
    assert sum(a.inserted for a in audit) == written
    assert "run " in err and f"{written} inserted" in err   # the summary counts it too
    # the next run continues where this one stopped and finishes
    d.run("sync", "src", "people", check_code=0)
    assert store.count("users", "src") == 400 * len(partitions)


# A store whose write is followed at once by a signal (delivered before upsert_many has
# returned): the written rows must still be counted in the audit log and the metrics.
SIGNAL_IN_WRITE = textwrap.dedent("""
    import os, signal, sys
    from dihub.engine.sync import signals_stop as _signals_stop
    from dihub.config import Settings
    from dihub.engine.runner import PassOptions, Runner
    from dihub.connectors.stream import Page, Stream
    from dihub.models import User
    from dihub.store.sqlite import SQLiteStore

    class SignalledStore(SQLiteStore):
        writes = 0
        def upsert_many(self, docs):
            result = super().upsert_many(docs)
            SignalledStore.writes += 1
            if SignalledStore.writes == 3:
                os.kill(os.getpid(), signal.SIG{sig})
            return result

    def fetch(ctx, partition, state):
        for i in range(state.cursor or 0, 50):
            yield Page([{{"id": f"p-{{i}}-{{j}}"}} for j in range(10)], cursor=i + 1)

    def norm(raw, ctx, partition):
        return User(source=ctx.source, source_id=raw["id"], user_id=raw["id"],
                    source_user_id=raw["id"])

    store = SignalledStore(sys.argv[1])
    # every page written at once (checkpoint_s 0), so the third page's write is the third
    runner = Runner(store, "src", None, Settings(),
                    options=PassOptions(concurrency=1, checkpoint_s=0))
    try:
        with _signals_stop(runner):
            runner.run_stream(Stream(name="people", entity="users", fetch=fetch,
                                     normalize=norm))
    except KeyboardInterrupt:
        sys.exit(130)
""")


@pytest.mark.parametrize("sig", ["TERM", "INT"])
def test_a_signal_during_a_write_is_taken_after_it_and_counted(tmp_path, sig):
    db = tmp_path / "s.db"
    proc = subprocess.run([sys.executable, "-c", SIGNAL_IN_WRITE.format(sig=sig), str(db)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130, proc.stderr
    store = SQLiteStore(db)
    assert store.count("users", "src") == 30
    state = store.get_state("src", "people", "*")
    assert state.cursor == 3 and state.lease_owner is None
    sync = [a for a in store.query_audit(source="src") if a.action == "sync"]
    assert [a.inserted for a in sync] == [30]
    [metrics] = store.query_metrics(source="src")
    assert metrics.inserted == 30
