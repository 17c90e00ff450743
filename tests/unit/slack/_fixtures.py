"""Load the recorded Slack payloads copied into tests/data/slack (see its README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "data" / "slack"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def body(name: str) -> Any:
    """The response body, whether the file is a wrapped response or a bare payload."""
    data = load(name)
    return data["body"] if "body" in data and "status" in data else data
