"""to_iso: every input shape gives the stored format, the fast paths included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dihub.timeutil import to_iso


@pytest.mark.parametrize("value, expected", [
    ("2026-01-02T10:00:00Z", "2026-01-02T10:00:00Z"),
    ("2026-01-02T10:00:00.123Z", "2026-01-02T10:00:00Z"),
    ("2026-01-02T10:00:00.000+0100", "2026-01-02T09:00:00Z"),     # Jira
    ("2026-01-02T10:00:00+01:00", "2026-01-02T09:00:00Z"),        # git %aI
    ("2026-01-02T23:30:00-0530", "2026-01-03T05:00:00Z"),
    ("2026-01-02", "2026-01-02T00:00:00Z"),
    (" 2026-01-02T10:00:00Z ", "2026-01-02T10:00:00Z"),
    ("2026-01-02T10:00:00", "2026-01-02T10:00:00Z"),
    ("2026-01-02 10:00:00+00:00", "2026-01-02T10:00:00Z"),
    ("0999-01-01T00:00:00Z", "999-01-01T00:00:00Z"),
    (0, "1970-01-01T00:00:00Z"),
    (1700000000, "2023-11-14T22:13:20Z"),
    (1.5, "1970-01-01T00:00:01Z"),
    (date(2026, 1, 2), "2026-01-02T00:00:00Z"),
    (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05Z"),
    (datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "2026-01-02T03:04:05Z"),
    (datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-3))),
     "2026-01-02T06:04:05Z"),
    (datetime(1000, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "999-12-31T23:30:00Z"),
    (None, None), ("", None),
])
def test_to_iso(value, expected):
    assert to_iso(value) == expected


@pytest.mark.parametrize("value", ["2026-02-30T00:00:00Z", "2026-01-02T24:00:00Z", "x",
                                   "2026-1-02T10:00:00Z", "２０２６-01-02T10:00:00Z"])
def test_to_iso_rejects(value):
    with pytest.raises(ValueError):
        to_iso(value)
