"""Jira's 429s through the shared HTTP layer (limits=JIRA_LIMITS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dihub.connectors.jira.limits import POLICY as JIRA_LIMITS
from dihub.errors import RateLimited
from dihub.http import HttpClient

T0 = 1_800_000_000.0


def client(*responses: httpx.Response, sleeps: list[float]) -> HttpClient:
    """A client on a fake clock that moves only when the client sleeps."""
    replies = iter(responses)
    now = [T0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    return HttpClient("https://x.atlassian.net", source="jira", limits=JIRA_LIMITS,
                      transport=httpx.MockTransport(lambda request: next(replies)),
                      sleep=sleep, clock=lambda: now[0], rand=lambda: 0.0)


def iso(seconds: float) -> str:
    return (datetime.fromtimestamp(T0, UTC) + timedelta(seconds=seconds)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def test_a_429_with_only_an_iso_reset_waits_until_the_reset():
    sleeps: list[float] = []
    limited = httpx.Response(429, headers={"X-RateLimit-Reset": iso(30),
                                           "RateLimit-Reason": "jira-burst-based"})
    c = client(limited, httpx.Response(200, json={}), sleeps=sleeps)
    assert c.get("/rest/api/3/myself").status == 200
    assert sleeps == [pytest.approx(31.0)]            # the reset plus a second's margin


def test_a_429_reset_beyond_max_wait_defers_with_the_reason():
    limited = httpx.Response(429, headers={"X-RateLimit-Reset": iso(3600),
                                           "RateLimit-Reason": "jira-quota-tenant-based"})
    with pytest.raises(RateLimited, match="jira-quota-tenant-based"):
        client(limited, sleeps=[]).get("/rest/api/3/search/jql")


def test_retry_after_still_wins_over_the_reset():
    sleeps: list[float] = []
    limited = httpx.Response(429, headers={"Retry-After": "2", "X-RateLimit-Reset": iso(30)})
    client(limited, httpx.Response(200, json={}), sleeps=sleeps).get("/rest/api/3/myself")
    assert sleeps == [2.0]
