"""Small shared helpers: timestamps, ids, node ids, shas, GitHub-style error bodies."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, date, datetime, timedelta

API = "https://api.github.com"      # URLs in generated bodies; the server swaps in its base
WEB = "https://github.com"
DOCS = "https://docs.github.com/rest"

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def iso(dt: datetime) -> str:
    """GitHub's timestamp format: 2024-01-31T12:00:00Z (UTC, second precision)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(value: str) -> datetime:
    """ISO 8601 (`Z`, offsets, or a bare date = midnight UTC) → aware datetime.

    Raises ValueError on anything else (the server answers 422 then).
    """
    text = value.strip()
    if _DATE_ONLY.match(text):
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def canon(value: str) -> str:
    """A client timestamp in the stored string form, so comparisons are string compares."""
    return iso(parse_ts(value))


def plus(ts: str, **delta: float) -> str:
    return iso(parse_ts(ts) + timedelta(**delta))


def node_id(kind: str, ident: object) -> str:
    """Legacy global node id, the shape of the fixtures ("MDQ6VXNlcjE=" = "04:User1")."""
    raw = f"0{len(kind)}:{kind}{ident}".encode()
    return base64.b64encode(raw).decode()


def fake_sha(*parts: object) -> str:
    """A deterministic 40-hex SHA-1 from the given parts."""
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


def error_body(message: str, status: int, doc: str = DOCS) -> dict:
    """The current GitHub REST error shape: message, documentation_url, status (a string)."""
    return {"message": message, "documentation_url": doc, "status": str(status)}


class QueryError(Exception):
    """A request the real API refuses: carries the status and GitHub-shaped body."""

    def __init__(self, status: int, message: str, **extra: object):
        super().__init__(message)
        self.status = status
        self.body = {**error_body(message, status), **extra}
