"""The recorded Slack payloads the simulator's data is derived from.

They are the recorded payloads kept in `tests/data/slack/` (see its README.md
for provenance and licences). Callers
get deep copies, so a template can be edited freely.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "data" / "slack"

HISTORY = "web-api/conversations.history.openapi-example.json"
REPLIES = "web-api/conversations.replies.openapi-example.json"
CHANNELS = "web-api/conversations.list.python-slack-sdk.json"      # full-field channel objects
USERS = "web-api/users.list.openapi-example.json"
RATELIMITED = "web-api/ratelimited-429.json"


@cache
def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def body(name: str) -> Any:
    """The response body, whether the file is a wrapped response or a bare payload."""
    data = _load(name)
    if isinstance(data, dict) and "status" in data and "body" in data:
        data = data["body"]
    return copy.deepcopy(data)


@cache
def _item(name: str, key: str, index: int) -> Any:
    return body(name)[key][index]


def message() -> dict[str, Any]:
    """A plain channel message: {text, ts, type, user} (flat: a shallow copy is enough)."""
    return dict(_item(HISTORY, "messages", 0))


def thread_parent() -> dict[str, Any]:
    """A thread parent as conversations.replies shows it (reply_count, thread_ts, ...)."""
    return copy.deepcopy(_item(REPLIES, "messages", 0))


def reply() -> dict[str, Any]:
    """A thread reply: {parent_user_id, text, thread_ts, ts, type, user} (flat)."""
    return dict(_item(REPLIES, "messages", 1))


def channel() -> dict[str, Any]:
    return copy.deepcopy(_item(CHANNELS, "channels", 0))


def user() -> dict[str, Any]:
    return copy.deepcopy(_item(USERS, "members", 1))


def ratelimited() -> tuple[dict[str, str], dict[str, Any]]:
    """(headers, body) of Slack's 429 answer."""
    data = _load(RATELIMITED)
    return dict(data["headers"]), copy.deepcopy(data["body"])
