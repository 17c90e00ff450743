"""The queue's guarantee, checked against a real redis-server: a job whose worker is
killed -9 mid-job is delivered again to another worker once `queue.redelivery_s`
passed (acknowledge late), and only then; a job that ended is never delivered again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from dihub.errors import ConfigError
from dihub.queue import SYNC_ACTOR
from dihub.queue.broker import declare, make_broker, queued, redis_url
from dihub.settings import Settings

ROOT = Path(__file__).resolve().parents[3]

CHILD = textwrap.dedent("""
    import sys, time
    from dramatiq import Worker
    from dihub.queue.broker import declare, make_broker
    from dihub.settings import Settings

    settings = Settings.model_validate({"queue": {"url": sys.argv[1], "redelivery_s": 1}})
    broker = make_broker(settings)

    def sync(source, stream, partition, full_refresh=False):
        with open(sys.argv[2], "a") as f:
            f.write(partition + "\\n")
        time.sleep(600)

    declare(broker, sync)
    worker = Worker(broker, worker_threads=1, worker_timeout=200)
    worker.start()
    time.sleep(600)
""")


def settings(url: str, **queue) -> Settings:
    return Settings.model_validate({"queue": {"url": url, "redelivery_s": 1, **queue}})


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_job_of_a_worker_killed_mid_job_is_delivered_again_to_another(redis_server,
                                                                        tmp_path):
    started = tmp_path / "started"
    child = subprocess.Popen([sys.executable, "-c", CHILD, redis_server.url, str(started)],
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        producer = make_broker(settings(redis_server.url))
        declare(producer)[SYNC_ACTOR].send("github", "commits", "octo-org/a")
        assert wait_for(lambda: started.exists() and started.read_text()), "never started"
        from dramatiq import Worker

        broker = make_broker(settings(redis_server.url))
        ran: list[tuple[str, float]] = []
        done = threading.Event()
        killed_at = [0.0]

        def sync(source, stream, partition, full_refresh=False):
            ran.append((partition, time.monotonic() - killed_at[0]))
            done.set()

        declare(broker, sync)
        worker = Worker(broker, worker_threads=1, worker_timeout=200)
        worker.start()
        try:
            # a live worker's job is not taken from it, however long it runs
            time.sleep(3)                     # 3 x redelivery_s
            assert ran == [] and queued(broker) == 1
            child.send_signal(signal.SIGKILL)
            child.wait(30)
            killed_at[0] = time.monotonic()
            assert done.wait(30), "the job was not delivered again"
            assert wait_for(lambda: queued(broker) == 0)
        finally:
            worker.stop()
        [(partition, after)] = ran
        assert partition == "octo-org/a"
        print(f"redelivered {after:.2f} s after the kill (redelivery_s 1)")
        assert started.read_text() == "octo-org/a\n"     # the first worker ran it once
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_finished_job_is_acknowledged_and_never_delivered_again(redis_server):
    from dramatiq import Worker

    broker = make_broker(settings(redis_server.url))
    ran = []
    declare(broker, lambda source, stream, partition, full_refresh=False: ran.append(partition))
    for p in ("a", "b", "c"):
        broker.get_actor(SYNC_ACTOR).send("s", "st", p)
    worker = Worker(broker, worker_threads=2, worker_timeout=200)
    worker.start()
    try:
        assert wait_for(lambda: queued(broker) == 0)
        time.sleep(1.5)                        # past redelivery_s: nothing comes back
    finally:
        worker.stop()
    assert sorted(ran) == ["a", "b", "c"]


def test_queue_settings_and_the_redis_url():
    assert Settings().queue.url is None       # no queue: passes run in-process
    with pytest.raises(ConfigError):
        redis_url(Settings())
    with pytest.raises(ConfigError):
        redis_url(Settings.model_validate({"queue": {"url": "http://x"}}))
    s = Settings.model_validate({"queue": {"url": "redis://user@h:6379/2",
                                           "password_env": "DIHUB_TEST_REDIS_PW"}})
    with pytest.raises(ConfigError, match="DIHUB_TEST_REDIS_PW"):
        redis_url(s)
    os.environ["DIHUB_TEST_REDIS_PW"] = "pw"
    try:
        assert redis_url(s) == "redis://:pw@h:6379/2"
    finally:
        del os.environ["DIHUB_TEST_REDIS_PW"]
