"""Load the copied Jira fixtures (tests/data/jira), unwrapping {request, status, body}."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "data" / "jira"


def load(name: str) -> Any:
    payload = json.loads((DATA / name).read_text(encoding="utf-8"))
    if isinstance(payload, dict) and "request" in payload and "body" in payload:
        return payload["body"]
    return payload
