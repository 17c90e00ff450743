"""Shared helpers for the GitLab connector's unit tests: fixtures, and a session whose HTTP
client answers from an httpx.MockTransport (no network, no simulator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from dihub.connectors.gitlab.client import GitLabSession
from dihub.connectors.gitlab.config import GitLabConfig
from dihub.connectors.gitlab.limits import POLICY
from dihub.connectors.stream import Context
from dihub.settings import HttpSettings

DATA = Path(__file__).resolve().parents[2] / "data" / "gitlab"
REST = DATA / "rest"
CASSETTES = DATA / "cassettes"


def body(name: str) -> Any:
    """A fixture's payload: the file, or its `body` when it is a recorded response."""
    data = json.loads((REST / name).read_text(encoding="utf-8"))
    if isinstance(data, dict) and "body" in data and "status" in data:
        return data["body"]
    return data


def config(**kw: Any) -> GitLabConfig:
    return GitLabConfig(**{"connector": "gitlab", "base_url": "https://gitlab.example.com",
                           "projects": ["group/sub/proj"], **kw})


class MockSession(GitLabSession):
    """A GitLab session over `handler` (an httpx.MockTransport handler); no sleeping."""

    handler: Any = None

    def open_http(self):
        settings = HttpSettings(retry={"attempts": 4, "backoff_s": [0], "jitter": 0})
        return self.build_http(self.config.api_url, transport=httpx.MockTransport(self.handler),
                               limits=POLICY, settings=settings, sleep=lambda s: None,
                               auth_hint=self.auth_hint())


def session(handler, **kw: Any) -> MockSession:
    s = MockSession(Context(source="gl", config=config(**kw), run_id="r1"))
    s.handler = handler
    return s
