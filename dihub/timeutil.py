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
    if type(value) is str:
        # Fast path: already in the stored format (GitHub, Slack, our own stamps).
        # fromisoformat validates the fields; the text is then exactly what
        # strftime(FORMAT) would give back.
        if (len(value) == 20 and value[19] == "Z" and value[10] == "T"
                and value[4] == "-" and value[7] == "-" and value[13] == ":"
                and value[16] == ":" and value[:4].isdigit() and value[0] != "0"):
            datetime.fromisoformat(value[:19])
            return value
        value = parse(value)
    elif isinstance(value, str):
        value = parse(value)
    elif isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    elif not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.utcoffset():
        value = value.astimezone(UTC)
    if value.year < 1000:       # strftime does not pad the year; keep its output
        return value.astimezone(UTC).strftime(FORMAT)
    # isoformat() starts with YYYY-MM-DDTHH:MM:SS for years 1000-9999, and is much
    # cheaper than strftime.
    return value.isoformat()[:19] + "Z"


def parse(text: str) -> datetime:
    """Parse ISO 8601 (with Z, offsets like +0000 or +00:00, or a bare date)."""
    try:        # the common shapes (git's %aI, GitHub's Z, Jira's +0100) in one C call
        dt = datetime.fromisoformat(text)
    except ValueError:
        dt = _parse_slow(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def _parse_slow(text: str) -> datetime:
    s = text.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    # Jira writes offsets without a colon: 2026-01-02T10:00:00.000+0100
    if len(s) > 5 and s[-5] in "+-" and s[-4:].isdigit() and "T" in s:
        s = s[:-2] + ":" + s[-2:]
    return datetime.fromisoformat(s)
