"""Shared fakes: a clock that only moves when something sleeps, a scripted transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from dihub.config import HttpSettings
from dihub.connectors.github.limits import POLICY as GITHUB_LIMITS
from dihub.connectors.jira.limits import POLICY as JIRA_LIMITS
from dihub.connectors.slack.limits import POLICY as SLACK_LIMITS
from dihub.engine.counters import Counters
from dihub.http import HttpClient, MemoryMetaStore

FIXTURES = Path(__file__).resolve().parent / "fixtures"
T0 = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = T0):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


class Script:
    """A MockTransport handler answering requests from a queue of responses.

    An item is an httpx.Response, an exception class/instance to raise (with the
    request attached), or a callable(request) -> Response.
    """

    def __init__(self, *items: Any):
        self.items = list(items)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.items:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        item = self.items.pop(0)
        if isinstance(item, type) and issubclass(item, httpx.TransportError):
            raise item("connection dropped", request=request)
        if isinstance(item, BaseException):
            raise item
        if callable(item) and not isinstance(item, httpx.Response):
            return item(request)
        return item


def fixture_response(relpath: str, **header_overrides: str) -> httpx.Response:
    doc = json.loads((FIXTURES / relpath).read_text())
    skip = {"content-length", "transfer-encoding", "content-encoding"}
    headers = {k: str(v) for k, v in doc.get("headers", {}).items() if k.lower() not in skip}
    headers.update(header_overrides)
    return httpx.Response(doc["status"], headers=headers, json=doc["body"])


def ok(body: Any = None, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {"ok": True},
                          headers=headers)


@dataclass
class Rig:
    client: HttpClient
    script: Script
    clock: FakeClock
    counters: Counters
    audits: list = field(default_factory=list)
    store: MemoryMetaStore | None = None

    def actions(self) -> list[tuple[str, str]]:
        return [(a.action, a.outcome) for a in self.audits]


# the connectors' rate-limit policies, by the name a test asks for (None: the default)
STYLES = {"github": GITHUB_LIMITS, "jira": JIRA_LIMITS, "slack": SLACK_LIMITS, None: None}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_rig(clock: FakeClock) -> Callable[..., Rig]:
    made: list[HttpClient] = []

    def make(*items: Any, style: str | None = "github", settings: HttpSettings | None = None,
             store: MemoryMetaStore | None = None, base_url: str = "https://api.github.com",
             rand: Callable[[], float] = lambda: 0.0, **kwargs: Any) -> Rig:
        script = Script(*items)
        kwargs.setdefault("limits", STYLES[style])
        counters = Counters()
        audits: list = []
        client = HttpClient(
            base_url, source="github", settings=settings or HttpSettings(),
            counters=counters, audit=audits.append, run_id="run-1", store=store,
            transport=httpx.MockTransport(script),
            sleep=clock.sleep, clock=clock, rand=rand, **kwargs)
        made.append(client)
        return Rig(client, script, clock, counters, audits, store)

    yield make
    for c in made:
        c.close()
