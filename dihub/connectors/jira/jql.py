"""Build the search JQL: the user's query AND the cursor condition, ordered by `updated`.

Jira compares JQL dates by the minute, in the time zone of the account that runs
the search (its profile setting, GET /myself → timeZone), not in UTC. So the
lower bound is converted to that zone and rounded down to the minute; the
overlap window and the idempotent upserts make the re-read of that minute free.
Pure functions.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

JQL_DATE = "%Y/%m/%d %H:%M"
EPOCH = datetime(1970, 1, 2, tzinfo=UTC)         # a bound every zone can express
ORDER = "ORDER BY updated ASC, key ASC"
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_UNQUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')


def split_order_by(jql: str) -> tuple[str, str]:
    """(`where` part, `ORDER BY ...` part or "") of a JQL string; an ORDER BY inside a
    quoted value is not a clause."""
    masked = _UNQUOTED.sub(lambda m: " " * len(m.group()), jql)
    m = _ORDER_BY.search(masked)
    if m is None:
        return jql.strip(), ""
    return jql[: m.start()].strip(), jql[m.start():].strip()


def quote(value: str) -> str:
    """A JQL string literal."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def jql_date(moment: datetime, zone: ZoneInfo) -> str:
    """`moment` as a JQL date in `zone`, rounded down to the minute.

    In the repeated hour when clocks go back, a wall time is ambiguous and Jira may
    read it as the later instant, so an hour is taken off: re-reading is free, a gap
    is not.
    """
    local = moment.astimezone(zone)
    other = local.replace(fold=1 - local.fold)
    if other.utcoffset() != local.utcoffset():
        local = (moment - timedelta(hours=1)).astimezone(zone)
    return local.replace(second=0, microsecond=0).strftime(JQL_DATE)


def search_jql(user_jql: str | None, projects: list[str] | None, since: datetime | None,
               zone: ZoneInfo) -> str:
    """`(user JQL) AND project in (...) AND updated >= "since" ORDER BY updated ASC, key ASC`.

    The user's own ORDER BY is dropped: the cursor needs ascending `updated`. A lower
    bound is always present (the Cloud search refuses unbounded queries).
    """
    clauses = []
    where = split_order_by(user_jql or "")[0]
    if where:
        clauses.append(f"({where})")
    if projects:
        clauses.append(f"project in ({', '.join(quote(p) for p in projects)})")
    clauses.append(f"updated >= {quote(jql_date(since or EPOCH, zone))}")
    return " AND ".join(clauses) + " " + ORDER


def lower_bound(cursor: str | None, start_date: str | None, overlap_minutes: int,
                extra: timedelta = timedelta()) -> datetime | None:
    """The instant to search from: the cursor minus the overlap (minus `extra`, e.g. when
    the account's zone is unknown), else the configured start date, else None."""
    from dihub.timeutil import parse

    if cursor:
        return parse(cursor) - timedelta(minutes=overlap_minutes) - extra
    if start_date:
        return parse(start_date) - extra
    return None
