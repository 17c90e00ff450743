"""One timestamp format everywhere: ISO 8601 UTC, second precision, ending in Z.

Stored timestamps compare correctly as strings, in SQLite and MongoDB alike.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utcnow() -> datetime:
    return datetime.now(UTC)


def now_iso() -> str:
    return utcnow().strftime(FORMAT)


def to_iso(value: datetime | date | str | int | float | None) -> str | None:
    """Normalize a datetime, date, epoch seconds or ISO string to the stored format."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = parse(value)
    elif isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    elif not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(FORMAT)


def parse(text: str) -> datetime:
    """Parse ISO 8601 (with Z, offsets like +0000 or +00:00, or a bare date)."""
    s = text.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    # Jira writes offsets without a colon: 2026-01-02T10:00:00.000+0100
    if len(s) > 5 and s[-5] in "+-" and s[-4:].isdigit() and "T" in s:
        s = s[:-2] + ":" + s[-2:]
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt
