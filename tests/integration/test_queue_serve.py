"""`dihub serve`'s inbox in queue mode: the server claims due deliveries and hands them
to the queue; a `dihub worker` writes their records exactly as the server would have."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dihub.config import load_config
from dihub.inbox.batch import Stats
from dihub.queue.broker import make_broker, queued
from dihub.queue.worker import run_worker
from dihub.serve.worker import InboxWorker
from dihub.store.sqlite import SQLiteStore
from tests.support.redisserver import running

DATA = Path(__file__).resolve().parents[1] / "data" / "webhooks"


@pytest.fixture
def redis_server(tmp_path):
    yield from running(tmp_path)


def delivery(n: int, event: str, name: str) -> dict:
    return {"kind": "github", "source": "gh", "delivery_id": f"d-{n}", "event": event,
            "received_ts": time.time(), "headers": {"X-GitHub-Event": event},
            "body": (DATA / name).read_bytes()}


def test_the_inbox_hands_deliveries_to_the_queue_and_a_worker_processes_them(
        redis_server, tmp_path):
    config = tmp_path / "dihub.yaml"
    config.write_text(f"store:\n  uri: sqlite:///{tmp_path / 'store.db'}\n"
                      f"queue:\n  url: {redis_server.url}\n  threads: 1\n"
                      "sources:\n  gh:\n    connector: github\n    repos: [octo/x]\n"
                      "    token_env: GH_TOKEN\n")
    cfg = load_config(str(config))
    store = SQLiteStore(tmp_path / "store.db")
    try:
        store.inbox_put_many([delivery(1, "issues", "issues.opened.json"),
                              delivery(2, "pull_request", "pull_request.opened.json")])
        server_side = InboxWorker(cfg, store, Stats())
        assert server_side.process_once() == 2            # handed over, not processed
        assert store.count("issues") == 0 and store.count("pull_requests") == 0
        assert [d["status"] for d in store.inbox_list()] == ["pending", "pending"]
        assert server_side.process_once() == 0            # claimed: not handed twice
        assert queued(make_broker(cfg.settings)) == 1      # one job for the batch

        assert run_worker(cfg, burst=True, store=store) == 1
        assert [d["status"] for d in store.inbox_list()] == ["done", "done"]
        issue = json.loads((DATA / "issues.opened.json").read_text())["issue"]
        [stored] = list(store.iter_records("issues", "gh"))
        assert stored["summary"] == issue["title"]
        assert store.count("pull_requests") == 1
    finally:
        store.close()
