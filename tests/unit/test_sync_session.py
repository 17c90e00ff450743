"""The run's connector session (and its HTTP client) is closed when a sync ends: after a
clean run, a failed stream, Ctrl-C / SIGTERM in the middle of a page, and a sync
started by `dihub serve`."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest

from dihub.config import Config, Settings
from dihub.connectors.base import Connector, SourceConfig
from dihub.connectors.session import Session
from dihub.connectors.stream import Page, Stream
from dihub.engine.sync import run_sync
from dihub.errors import FatalError
from dihub.models import User
from dihub.store.sqlite import SQLiteStore


class Recorder:
    def __init__(self):
        self.sessions: list[ClosingSession] = []


def make_session(recorder: Recorder) -> type[Session]:
    class RecordedSession(ClosingSession):
        def __init__(self, run):
            super().__init__(run)
            recorder.sessions.append(self)
    return RecordedSession


class ClosingSession(Session):
    """A session whose HTTP client is the real one, built on first use."""

    def __init__(self, run):
        super().__init__(run)
        self.closed = 0

    def open_http(self):
        return self.build_http("http://127.0.0.1:9")     # no request is ever sent

    def close(self) -> None:
        self.closed += 1
        super().close()

    @property
    def client(self):
        return self._client.peek()


def _norm(raw, s, partition):
    return User(source=s.source, source_id=str(raw["id"]), user_id=str(raw["id"]),
                source_user_id=str(raw["id"]), login=f"u{raw['id']}")


def _connector(recorder: Recorder, fetch) -> Connector:
    def people(s, partition, state):
        assert s.http is not None           # the run's client is built
        yield from fetch(s, partition, state)

    return Connector(name="closing", description="", config_model=SourceConfig,
                     streams={"people": Stream(name="people", entity="users", fetch=people,
                                               normalize=_norm),
                              "more": Stream(name="more", entity="users", fetch=people,
                                             normalize=_norm)},
                     session=make_session(recorder))


def _sync(tmp_path, monkeypatch, fetch, streams=("people",)):
    recorder = Recorder()
    connector = _connector(recorder, fetch)
    monkeypatch.setattr("dihub.connectors.registry.load_connector",
                        lambda name, context=None: connector)
    config = Config(Settings(), {"src": SourceConfig(connector="closing")}, None, {})
    store = OrderedStore(tmp_path / "s.db", recorder)
    report = run_sync(config, "src", list(streams), store=store)
    # closed by the sync itself, before its store (not later by the garbage collector)
    assert store.sessions_closed_first == [True]
    return report, recorder


class OrderedStore(SQLiteStore):
    def __init__(self, path, recorder: Recorder):
        super().__init__(path)
        self.recorder = recorder
        self.sessions_closed_first: list[bool] = []

    def close(self) -> None:
        self.sessions_closed_first.append(
            all(s.closed and s.client._http.is_closed for s in self.recorder.sessions))
        super().close()


def _closed(recorder: Recorder) -> None:
    assert len(recorder.sessions) == 1                 # one session for every stream
    session = recorder.sessions[0]
    assert session.closed >= 1
    assert session.client is not None and session.client._http.is_closed


def _pages(s, partition, state):
    yield Page([{"id": 1}, {"id": 2}], cursor=1)
    yield Page([{"id": 3}], cursor=2)


def test_a_sync_closes_its_session_and_http_client(tmp_path, monkeypatch):
    report, recorder = _sync(tmp_path, monkeypatch, _pages, streams=("people", "more"))
    assert report.exit_code == 0 and sum(r.records for r in report.results) == 6
    _closed(recorder)


def test_a_failed_stream_closes_the_session(tmp_path, monkeypatch):
    def failing(s, partition, state):
        yield Page([{"id": 1}], cursor=1)
        raise FatalError("upstream broke")

    report, recorder = _sync(tmp_path, monkeypatch, failing)
    assert report.exit_code == 1
    _closed(recorder)


@pytest.mark.parametrize("streams", [("people",), ("people", "more")])   # one; together
@pytest.mark.parametrize("sig,name,code", [(signal.SIGINT, "SIGINT", 130),
                                           (signal.SIGTERM, "SIGTERM", 143)])
def test_an_interrupted_sync_closes_the_session(tmp_path, monkeypatch, sig, name, code,
                                                streams):
    killed = threading.Lock()
    # the signal comes once every stream is running (a stream the stop finds not started
    # does not start: the README's exit codes speak of the running partitions)
    running = threading.Barrier(len(streams), timeout=10)

    def interrupted(s, partition, state):
        yield Page([{"id": 1}], cursor=1)
        running.wait()
        if killed.acquire(blocking=False):
            os.kill(os.getpid(), sig)      # the signals_stop handler stops the run here
        time.sleep(1)
        yield Page([{"id": 2}], cursor=2)

    report, recorder = _sync(tmp_path, monkeypatch, interrupted, streams=streams)
    assert (report.stopped_by, report.exit_code) == (name, code)
    # every stream stopped at its next page: the page that came before the signal is
    # written, no page after it
    assert [r.stream for r in report.results] == list(streams)
    assert all(r.records <= 1 for r in report.results)
    assert sum(r.records for r in report.results) >= 1
    _closed(recorder)


def test_a_value_each_stream_asks_for_at_once_is_looked_up_once():
    from dihub.connectors.session import OnceEach

    cache: OnceEach[str, int] = OnceEach()
    calls: list[str] = []
    start = threading.Barrier(8, timeout=10)

    def look_up(key):
        calls.append(key)
        time.sleep(0.05)                    # a request: the others ask meanwhile
        return len(calls)

    def stream():
        start.wait()
        assert cache.get("o/r", lambda: look_up("o/r")) == 1

    threads = [threading.Thread(target=stream) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert calls == ["o/r"] and cache["o/r"] == 1 and "o/r" in cache
    with pytest.raises(ValueError):         # a lookup that failed is not kept
        cache.get("gone", lambda: (_ for _ in ()).throw(ValueError("404")))
    assert "gone" not in cache


def test_a_sync_started_by_serve_closes_its_session(tmp_path, monkeypatch):
    from dihub.serve.syncs import start_sync

    def failing(s, partition, state):
        yield Page([{"id": 1}], cursor=1)
        raise KeyboardInterrupt            # even a BaseException in the worker thread

    for fetch in (_pages, failing):
        recorder = Recorder()
        connector = _connector(recorder, fetch)
        monkeypatch.setattr("dihub.connectors.registry.load_connector",
                            lambda name, context=None, c=connector: c)
        store = SQLiteStore(tmp_path / f"{fetch.__name__}.db")
        server = SimpleNamespace(
            cfg=Config(Settings(), {"src": SourceConfig(connector="closing")}, None, {}),
            store=store, syncs={}, syncs_lock=threading.Lock())
        assert start_sync(server, "src", "people")["started"]
        thread, runner = server.syncs[("src", "people")]   # held: no finalizer closes it
        thread.join(10)
        assert not thread.is_alive()
        _closed(recorder)
        assert runner.results and recorder.sessions[0].ctx.run_id == runner.run_id
        store.close()
