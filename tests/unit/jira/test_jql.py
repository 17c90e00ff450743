"""The search JQL: the user's query AND the cursor bound, in the account's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from dihub.connectors.jira.jql import jql_date, lower_bound, quote, search_jql, split_order_by

NY = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.mark.parametrize("jql, where, order", [
    ("project = X ORDER BY created DESC", "project = X", "ORDER BY created DESC"),
    ("project = X order   by key", "project = X", "order   by key"),
    ('summary ~ "order by" AND x = 1', 'summary ~ "order by" AND x = 1', ""),
    ("summary ~ 'sort order by date' ORDER BY rank", "summary ~ 'sort order by date'",
     "ORDER BY rank"),
    ("ORDER BY updated", "", "ORDER BY updated"),
    ("", "", ""),
])
def test_split_order_by_ignores_quoted_text(jql, where, order):
    assert split_order_by(jql) == (where, order)


def test_quote_escapes():
    assert quote('a "b" \\c') == '"a \\"b\\" \\\\c"'


def test_dates_are_in_the_account_zone_rounded_down_to_the_minute():
    moment = datetime(2026, 1, 15, 3, 4, 59, tzinfo=UTC)
    assert jql_date(moment, NY) == "2026/01/14 22:04"          # EST, UTC-5
    assert jql_date(moment, SYDNEY) == "2026/01/15 14:04"      # AEDT, UTC+11
    assert jql_date(moment, ZoneInfo("UTC")) == "2026/01/15 03:04"


def test_the_repeated_hour_is_read_an_hour_earlier():
    # 2025-11-02 01:30 happens twice in New York; either instant must not be skipped.
    first = datetime(2025, 11, 2, 5, 30, tzinfo=UTC)      # 01:30 EDT
    second = datetime(2025, 11, 2, 6, 30, tzinfo=UTC)     # 01:30 EST
    assert jql_date(first, NY) == "2025/11/02 00:30"
    assert jql_date(second, NY) == "2025/11/02 01:30"     # read as EDT: an hour early, safe
    assert jql_date(datetime(2025, 11, 2, 8, 0, tzinfo=UTC), NY) == "2025/11/02 03:00"


def test_search_jql_parenthesizes_the_user_query_and_orders_by_updated():
    since = datetime(2026, 1, 2, 10, 5, 33, tzinfo=UTC)
    assert search_jql("project = X OR labels = y ORDER BY created DESC", ["A", 'B"'], since,
                      ZoneInfo("UTC")) == (
        '(project = X OR labels = y) AND project in ("A", "B\\"") AND '
        'updated >= "2026/01/02 10:05" ORDER BY updated ASC, key ASC')


def test_search_jql_is_always_bounded():
    assert search_jql(None, None, None, SYDNEY) == \
        'updated >= "1970/01/02 10:00" ORDER BY updated ASC, key ASC'
    assert search_jql("ORDER BY rank", [], None, ZoneInfo("UTC")).startswith(
        'updated >= "1970/01/02 00:00"')


def test_lower_bound_cursor_overlap_start_date():
    assert lower_bound("2026-01-02T10:30:00Z", "2020-01-01", 10) == \
        datetime(2026, 1, 2, 10, 20, tzinfo=UTC)
    assert lower_bound(None, "2025-06-01", 10) == datetime(2025, 6, 1, tzinfo=UTC)
    assert lower_bound(None, None, 10) is None
