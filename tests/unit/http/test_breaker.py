"""The circuit breaker: opens after N failed calls, persists, probes after the cooldown."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from dihub.config import BreakerSettings, HttpSettings, RetrySettings
from dihub.errors import FatalError, RateLimited, RetriableError, UpstreamUnavailable
from dihub.http import CircuitBreaker, MemoryMetaStore, breaker_key

from .conftest import T0, ok

KEY = breaker_key("github", "api.github.com")


def settings(failures: int = 2, cooldown_s: float = 900, attempts: int = 2) -> HttpSettings:
    return HttpSettings(retry=RetrySettings(attempts=attempts),
                        breaker=BreakerSettings(failures=failures, cooldown_s=cooldown_s))


def fail_calls(rig, n: int) -> None:
    for _ in range(n):
        with pytest.raises(RetriableError):
            rig.client.get("/repos/o/r/commits")


def test_opens_after_n_failed_calls_and_persists_across_clients(make_rig):
    store = MemoryMetaStore()
    first = make_rig(*[httpx.Response(500)] * 4, settings=settings(), store=store)
    fail_calls(first, 1)
    assert store.get_meta(KEY)["state"] == "closed" and store.get_meta(KEY)["failures"] == 1
    fail_calls(first, 1)
    doc = store.get_meta(KEY)
    assert doc["state"] == "open" and doc["failures"] == 2
    assert doc["opened_at"] == pytest.approx(T0 + 0.2)           # after one fast retry
    assert doc["cooldown"] == 900
    assert ("breaker", "warning") in first.actions()

    # the next cron run: a new client, same store; nothing is sent upstream
    second = make_rig(settings=settings(), store=store)
    with pytest.raises(UpstreamUnavailable) as err:
        second.client.get("/repos/o/r/commits")
    assert err.value.exit_code == 75 and second.script.requests == []
    assert "github (api.github.com) is marked unavailable" in str(err.value)


def test_failures_accumulate_across_processes(make_rig):
    store = MemoryMetaStore()
    fail_calls(make_rig(httpx.Response(502), httpx.Response(502), settings=settings(),
                        store=store), 1)
    fail_calls(make_rig(httpx.Response(502), httpx.Response(502), settings=settings(),
                        store=store), 1)
    assert store.get_meta(KEY)["state"] == "open"


def test_success_resets_the_count(make_rig):
    store = MemoryMetaStore()
    rig = make_rig(httpx.Response(500), httpx.Response(500), ok(), settings=settings(),
                   store=store)
    fail_calls(rig, 1)
    rig.client.get("/x")
    assert store.get_meta(KEY)["failures"] == 0


def test_a_4xx_means_the_upstream_is_up(make_rig):
    store = MemoryMetaStore()
    store.put_meta(KEY, {"state": "closed", "failures": 1})
    rig = make_rig(httpx.Response(404, json={"message": "Not Found"}), settings=settings(),
                   store=store)
    with pytest.raises(FatalError):
        rig.client.get("/repos/o/missing")
    assert store.get_meta(KEY)["failures"] == 0


def test_half_open_probe_success_closes(make_rig, clock):
    store = MemoryMetaStore()
    store.put_meta(KEY, {"state": "open", "failures": 5, "opened_at": T0 - 901,
                         "cooldown": 900})
    rig = make_rig(ok(), ok(), settings=settings(), store=store)
    rig.client.get("/x")                                 # the probe
    assert store.get_meta(KEY)["state"] == "closed"
    rig.client.get("/y")
    assert len(rig.script.requests) == 2
    transitions = [(a.detail["from"], a.detail["to"]) for a in rig.audits
                   if a.action == "breaker"]
    assert transitions == [("open", "half_open"), ("half_open", "closed")]


def test_half_open_probe_failure_reopens_without_retrying(make_rig, clock):
    store = MemoryMetaStore()
    store.put_meta(KEY, {"state": "open", "failures": 5, "opened_at": T0 - 901,
                         "cooldown": 900})
    rig = make_rig(httpx.Response(503), settings=settings(attempts=5), store=store)
    with pytest.raises(RetriableError):
        rig.client.get("/x")
    assert len(rig.script.requests) == 1 and clock.sleeps == []     # one probe, no retries
    doc = store.get_meta(KEY)
    assert doc["state"] == "open" and doc["opened_at"] == T0
    with pytest.raises(UpstreamUnavailable):
        rig.client.get("/x")
    assert len(rig.script.requests) == 1


def test_still_open_within_cooldown(make_rig):
    store = MemoryMetaStore()
    store.put_meta(KEY, {"state": "open", "failures": 5, "opened_at": T0 - 100,
                         "cooldown": 900})
    rig = make_rig(settings=settings(), store=store)
    with pytest.raises(UpstreamUnavailable, match="allowed after"):
        rig.client.get("/x")


def test_rate_limited_probe_leaves_it_half_open(make_rig):
    store = MemoryMetaStore()
    store.put_meta(KEY, {"state": "open", "failures": 5, "opened_at": T0 - 901,
                         "cooldown": 900})
    rig = make_rig(httpx.Response(429, headers={"Retry-After": "3600"}), ok(),
                   settings=settings(), store=store)
    with pytest.raises(RateLimited):
        rig.client.get("/x")
    assert store.get_meta(KEY)["state"] == "half_open"


def test_only_one_probe_while_other_threads_wait():
    clock_now = [T0]
    store = MemoryMetaStore()
    store.put_meta(KEY, {"state": "open", "failures": 5, "opened_at": T0 - 1000,
                         "cooldown": 900})
    breaker = CircuitBreaker(KEY, BreakerSettings(), store=store, clock=lambda: clock_now[0],
                             probe_wait_s=10)
    results: list[bool] = []

    def call() -> None:
        results.append(breaker.check())

    assert breaker.check() is True                      # this thread is the probe
    others = [threading.Thread(target=call) for _ in range(3)]
    for t in others:
        t.start()
    deadline = time.monotonic() + 5
    while len(breaker._cond._waiters) < 3 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert results == []                                 # all held back by the probe
    breaker.success(probe=True)
    for t in others:
        t.join(5)
    assert results == [False, False, False]
    assert store.get_meta(KEY)["state"] == "closed"


def test_unreadable_state_is_treated_as_closed():
    store = MemoryMetaStore()
    store.put_meta(KEY, {"state": "weird", "junk": 1})
    breaker = CircuitBreaker(KEY, BreakerSettings(), store=store)
    assert breaker.check() is False and breaker.state == "closed"
