"""Run Slack streams through the real engine (dihub.engine.Runner) into a SQLiteStore,
with every Web API call answered in-process by the simulator's method functions
(tests.simulators.slack.api) instead of HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import PropertyMock, patch

from dihub.config import Settings
from dihub.connectors.slack import SlackConfig
from dihub.connectors.slack import connector as slack_connector
from dihub.connectors.slack.client import SlackClient, SlackSession
from dihub.connectors.slack.errors import error_from_response
from dihub.connectors.slack.streams import messages
from dihub.engine.runner import PassOptions, Runner
from dihub.jsoncodec import decode_json, reading
from dihub.models import SyncState
from dihub.store.sqlite import SQLiteStore
from tests.simulators.slack import DEFAULT_SCOPES, Workspace
from tests.simulators.slack import api as sim_api


@dataclass
class FakeResponse:
    data: dict[str, Any]
    size: int = 0
    text: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class FakeClient:
    """SlackClient's interface, answered by the simulator's method functions."""

    def __init__(self, ws: Workspace, scopes=DEFAULT_SCOPES, fail_after: int | None = None):
        self.ws = ws
        self.scopes = frozenset(scopes)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_after = fail_after        # raise after this many calls (a crash)

    def call(self, method: str, params=None, *, channel: str | None = None,
             shape: Any = None) -> FakeResponse:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("simulated crash")
        params = {k: str(v) for k, v in (params or {}).items()}
        self.calls.append((method, params))
        with self.ws.lock:
            body = sim_api.dispatch(sim_api.Call(self.ws, method, params, self.scopes))
        if shape is not None:           # read as the HTTP client reads a body into a shape
            with reading(shape):
                body = decode_json(json.dumps(body))
        err = error_from_response(method, body, channel=channel, source="slack")
        if err is not None:
            raise err
        return FakeResponse(body, size=100)

    pages = SlackClient.pages     # the real cursor paging, over the scripted call()
    first_page = SlackClient.first_page

    def count(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)


def answered_by(client: FakeClient):
    """Every session's Slack client is `client` while this is active."""
    return patch.object(SlackSession, "slack", new_callable=PropertyMock, return_value=client)


class SlackSource:
    """A `slack` source whose `messages` stream the engine syncs into a SQLiteStore at
    `db`; what it wrote is read back from the store."""

    def __init__(self, ws: Workspace, db: Path | str, **config: Any):
        self.ws = ws
        self.config = SlackConfig.model_validate({"connector": "slack", **config})
        self.store = SQLiteStore(db)
        self.client = FakeClient(ws)
        self.entities = {messages.entity}
        self.last: dict[str, int] = {}

    def sync(self, *, full_refresh: bool = False) -> dict[str, int]:
        """One engine pass of `messages` over every channel; returns inserted/updated/
        unchanged/records. A stop (KeyboardInterrupt) propagates; a failed partition
        raises its error."""
        runner = Runner(self.store, "slack", self.config, Settings(),
                        options=PassOptions(concurrency=1, full_refresh=full_refresh),
                        connector=slack_connector)
        with answered_by(self.client):
            results = runner.run([messages])
        for r in results:
            if r.outcome != "ok":
                raise AssertionError(f"{r.label}: {r.outcome}: {r.error}")
            self.entities |= set(r.by_entity)
        self.last = {"inserted": sum(r.written.inserted for r in results),
                     "updated": sum(r.written.updated for r in results),
                     "unchanged": sum(r.written.unchanged for r in results),
                     "records": sum(r.records for r in results)}
        return self.last

    @property
    def states(self) -> dict[str, SyncState]:
        """The stored `messages` state of each channel, by channel id."""
        return {s.partition: s for s in self.store.list_states("slack")
                if s.stream == messages.name}

    def put_state(self, state: SyncState) -> None:
        """Save an edited state (between passes: no lease is held)."""
        self.store.put_state(state)

    @property
    def docs(self) -> dict[str, dict[str, Any]]:
        """Every stored record by id, without `ingested_at` (the time of the write)."""
        return {d["_id"]: {k: v for k, v in d.items() if k != "ingested_at"}
                for entity in sorted(self.entities)
                for d in self.store.iter_records(entity, source="slack")}

    def events(self) -> dict[str, dict[str, Any]]:
        return {d["event_id"]: d for d in self.docs.values() if d["entity"] == "slack_events"}

    def live(self) -> set[str]:
        return {k for k, d in self.events().items() if not d["deleted"]}
