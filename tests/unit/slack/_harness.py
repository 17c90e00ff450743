"""Run the `messages` stream in-process against a simulator Workspace, without HTTP:
a fake SlackClient answers from tests.simulators.slack.api, and a tiny engine
applies pages to a dict store and keeps the cursor the way dihub.engine does
(records first, then the cursor of the last page that carries one)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import PropertyMock, patch

from dihub.connectors.slack import SlackConfig
from dihub.connectors.slack.client import SlackClient, SlackSession
from dihub.connectors.slack.errors import error_from_response
from dihub.connectors.slack.streams import channel_partitions, messages
from dihub.connectors.stream import Context
from dihub.models import SyncState
from dihub.models.documents import as_records, to_document
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

    def call(self, method: str, params=None, *, channel: str | None = None) -> FakeResponse:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("simulated crash")
        params = {k: str(v) for k, v in (params or {}).items()}
        self.calls.append((method, params))
        with self.ws.lock:
            body = sim_api.dispatch(sim_api.Call(self.ws, method, params, self.scopes))
        err = error_from_response(method, body, channel=channel, source="slack")
        if err is not None:
            raise err
        return FakeResponse(body, size=100)

    pages = SlackClient.pages     # the real cursor paging, over the scripted call()

    def count(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)


def answered_by(client: FakeClient):
    """Every session's Slack client is `client` while this is active."""
    return patch.object(SlackSession, "slack", new_callable=PropertyMock, return_value=client)


class Harness:
    def __init__(self, ws: Workspace, **config: Any):
        self.ws = ws
        self.config = SlackConfig.model_validate({"connector": "slack", **config})
        self.docs: dict[str, dict[str, Any]] = {}
        self.states: dict[str, SyncState] = {}
        self.client = FakeClient(ws)
        self.last: dict[str, int] = {}

    def ctx(self) -> SlackSession:
        """A run's session (the streams get the session the engine opens)."""
        return SlackSession(Context(source="slack", config=self.config, run_id="test",
                                    log=logging.getLogger("dihub.test")))

    def sync(self, *, full_refresh: bool = False) -> dict[str, int]:
        """One `messages` pass over every channel; returns inserted/updated/unchanged."""
        with answered_by(self.client):
            return self._sync(full_refresh)

    def _sync(self, full_refresh: bool) -> dict[str, int]:
        ctx = self.ctx()
        counts = {"inserted": 0, "updated": 0, "unchanged": 0, "records": 0}
        for cid in channel_partitions(ctx):
            state = self.states.get(cid) or SyncState(source="slack", stream="messages",
                                                      partition=cid)
            fetch_state = state.model_copy(deep=True)
            if full_refresh:
                fetch_state.cursor = None
            try:
                for page in messages.fetch(ctx, cid, fetch_state):
                    for raw in page.items:
                        counts["records"] += 1
                        for model in as_records(messages.normalize(raw, ctx, cid)):
                            self._upsert(to_document(model, "now"), counts)
                    if page.moves_cursor:       # records first, then the cursor
                        state.cursor = page.cursor
            finally:                            # a crash keeps what was checkpointed
                self.states[cid] = state
        self.last = counts
        return counts

    def _upsert(self, doc: dict[str, Any], counts: dict[str, int]) -> None:
        old = self.docs.get(doc["_id"])
        if old is None:
            counts["inserted"] += 1
        elif old["raw_signature"] == doc["raw_signature"]:
            counts["unchanged"] += 1
            return
        else:
            counts["updated"] += 1
        self.docs[doc["_id"]] = doc

    def events(self) -> dict[str, dict[str, Any]]:
        return {d["event_id"]: d for d in self.docs.values() if d["entity"] == "slack_events"}

    def live(self) -> set[str]:
        return {k for k, d in self.events().items() if not d["deleted"]}
