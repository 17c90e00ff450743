"""`Reply`: one simulator response before the shared handler renders it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """One response before rendering. `body`: JSON-able, bytes/str sent as-is, or None."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    fault: str | None = None           # the injected fault that produced it, if any
    exhausted: bool = False            # GitHub's primary-limit 403: headers say remaining 0
