"""Rate limits: Retry-After, reset headers, GitHub primary/secondary, Jira, Slack, pacing."""

from __future__ import annotations

import email.utils
import threading

import httpx
import pytest

from dihub.config import HttpSettings, RateLimitSettings
from dihub.connectors.github.limits import POLICY as GITHUB_LIMITS
from dihub.errors import RateLimited
from dihub.http import Governor, HttpRateLimited, ratelimit
from dihub.timeutil import to_iso

from .conftest import T0, fixture_response, ok

GH_SECONDARY = "rate-limit-403-secondary.docs.json"
GH_PRIMARY = "rate-limit-403-primary.docs.json"


def quota_headers(remaining: int, reset_in: float, **extra: str) -> dict[str, str]:
    return {"x-ratelimit-remaining": str(remaining), "x-ratelimit-limit": "5000",
            "x-ratelimit-reset": str(int(T0 + reset_in)), **extra}


# -- header parsing ---------------------------------------------------------------------------

def test_retry_after_seconds_and_http_date():
    assert ratelimit.retry_after({"retry-after": "7"}, T0) == 7
    date = email.utils.formatdate(T0 + 30, usegmt=True)
    assert ratelimit.retry_after({"retry-after": date}, T0) == 30
    assert ratelimit.retry_after({"retry-after": "soon"}, T0) is None
    assert ratelimit.retry_after({}, T0) is None


def test_reset_epoch_iso_and_delay():
    assert ratelimit.reset_at({"x-ratelimit-reset": str(int(T0) + 90)}, T0) == T0 + 90
    iso = to_iso(T0 + 120)
    assert ratelimit.reset_at({"X-RateLimit-Reset": iso}, T0) == T0 + 120     # Jira
    assert ratelimit.reset_at({"RateLimit-Reset": "45"}, T0) == T0 + 45        # delay form


def test_server_date_corrects_local_clock_skew():
    # the server's clock is 100 s behind ours: its reset epoch is 100 s "early"
    headers = {"date": email.utils.formatdate(T0 - 100, usegmt=True),
               "x-ratelimit-reset": str(int(T0 - 100 + 60))}
    assert ratelimit.reset_at(headers, T0) == T0 + 60


# -- GitHub ----------------------------------------------------------------------------------

def test_secondary_403_waits_as_retry_after_says(make_rig):
    rig = make_rig(fixture_response(GH_SECONDARY, **{"Retry-After": "7"}), ok({"id": 1}))
    assert rig.client.get("/repos/o/r/issues").data == {"id": 1}
    assert rig.clock.sleeps == [7]
    assert rig.counters.retries == 1
    assert rig.counters.rate_limit_waits == 1 and rig.counters.rate_limit_wait_s == 7
    [entry] = rig.audits
    assert (entry.action, entry.outcome) == ("retry", "retried")
    assert entry.detail["reason"] == "secondary rate limit" and entry.detail["wait_s"] == 7
    assert entry.detail["status"] == 403


def test_secondary_403_without_retry_after_waits_at_least_a_minute(make_rig):
    rig = make_rig(fixture_response(GH_SECONDARY), ok())
    rig.client.get("/repos/o/r/issues")
    assert rig.clock.sleeps == [60]


def test_secondary_limit_holds_other_requests_of_the_client(make_rig):
    rig = make_rig(fixture_response(GH_SECONDARY, **{"Retry-After": "20"}))
    rig.client.governor.block("/repos", T0 + 20, "secondary rate limit")
    state = rig.client.governor.state("/repos/o/r")
    assert state["blocked_until"] == T0 + 20
    decision = rig.client.governor.decide("/repos/o/r/pulls")
    assert decision.wait_s == 20 and not decision.defer


def test_primary_exhausted_far_reset_raises_without_sleeping(make_rig):
    rig = make_rig(fixture_response(GH_PRIMARY))        # reset 3025 s after the Date header
    with pytest.raises(RateLimited) as err:
        rig.client.get("/repos/o/r/commits", params={"page": 3})
    assert isinstance(err.value, HttpRateLimited) and err.value.exit_code == 75
    assert rig.clock.sleeps == [] and len(rig.script.requests) == 1
    assert err.value.reset_at == pytest.approx(T0 + 3025 + ratelimit.RESET_MARGIN_S, abs=1)
    assert "github: GET /repos/o/r/commits: rate limited (quota exhausted)" in str(err.value)
    assert "page" not in str(err.value)
    assert rig.actions() == [("wait", "warning")]
    assert rig.counters.failures == 0 and rig.counters.quota_remaining == 0
    # the next call is deferred by the governor without touching the upstream
    with pytest.raises(RateLimited):
        rig.client.get("/repos/o/r/pulls")
    assert len(rig.script.requests) == 1 and rig.clock.sleeps == []


def test_primary_exhausted_near_reset_waits_then_retries(make_rig):
    exhausted = httpx.Response(403, json={"message": "API rate limit exceeded"},
                               headers=quota_headers(0, 30))
    rig = make_rig(exhausted, ok())
    assert rig.client.get("/repos/o/r").status == 200
    assert rig.clock.sleeps == [30 + ratelimit.RESET_MARGIN_S]
    assert rig.counters.rate_limit_waits == 1


def test_429_beyond_max_wait_raises_rate_limited(make_rig):
    rig = make_rig(httpx.Response(429, headers={"Retry-After": "301"}))
    with pytest.raises(RateLimited) as err:
        rig.client.get("/x")
    assert err.value.reset_at == T0 + 301 and rig.clock.sleeps == []


def test_governor_paces_below_reserve(make_rig):
    settings = HttpSettings(rate_limit=RateLimitSettings(reserve=5, max_wait_s=300))
    h = quota_headers(3, 60)
    rig = make_rig(ok(**h), ok(**h), ok(**h), ok(**h), settings=settings)
    for _ in range(4):
        rig.client.get("/repos/o/r/commits")
    # learned: 3 left, reset in 60 s -> one request every 20 s; the first paced one goes now
    assert rig.clock.sleeps == [20, 20]
    waits = [a for a in rig.audits if a.action == "wait"]
    assert len(waits) == 2 and "below reserve" in waits[0].detail["reason"]
    assert rig.counters.quota_remaining is not None


def test_below_reserve_with_far_reset_defers_instead_of_sleeping(make_rig):
    settings = HttpSettings(rate_limit=RateLimitSettings(reserve=50, max_wait_s=300))
    rig = make_rig(ok(**quota_headers(40, 3000)), settings=settings)
    rig.client.get("/repos/o/r")
    with pytest.raises(RateLimited, match="below reserve"):
        rig.client.get("/repos/o/r/commits")
    assert rig.clock.sleeps == [] and len(rig.script.requests) == 1


def test_a_304_is_not_counted_as_quota_spent(make_rig):
    rig = make_rig(ok(**quota_headers(100, 600)), httpx.Response(304))
    rig.client.get("/a")
    assert rig.client.governor.state("/a")["remaining"] == 100
    rig.client.get("/a", etag='"x"')
    assert rig.client.governor.state("/a")["remaining"] == 100
    assert rig.counters.quota_remaining == 100


def test_search_has_its_own_quota(make_rig):
    rig = make_rig(ok(**quota_headers(0, 3000)))
    rig.client.get("/search/issues", params={"q": "x"})
    assert rig.client.governor.state("/search/issues")["remaining"] == 0
    assert rig.client.governor.state("/repos/o/r")["remaining"] is None
    assert not rig.client.governor.decide("/repos/o/r").defer
    assert rig.client.governor.decide("/search/issues").defer


def test_governor_is_thread_safe():
    g = Governor(RateLimitSettings(reserve=0), policy=GITHUB_LIMITS, clock=lambda: T0)
    g.observe("/x", 200, quota_headers(1000, 600))
    threads = [threading.Thread(target=lambda: [g.decide("/x") for _ in range(50)])
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert g.state("/x")["remaining"] == 1000 - 400


# -- Jira ------------------------------------------------------------------------------------

def test_jira_429_retry_after_and_reason_in_audit(make_rig):
    limited = httpx.Response(429, headers={"Retry-After": "5",
                                           "RateLimit-Reason": "jira-burst-based"})
    rig = make_rig(limited, ok({"issues": []}), style="jira",
                   base_url="https://example.atlassian.net")
    assert rig.client.get("/rest/api/3/search/jql").data == {"issues": []}
    assert rig.clock.sleeps == [5]
    assert rig.audits[0].detail["rate_limit_reason"] == "jira-burst-based"
    assert rig.audits[0].detail["reason"] == "jira-burst-based"


def test_jira_iso_reset_beyond_max_wait_names_the_reason(make_rig):
    limited = httpx.Response(429, headers={
        "X-RateLimit-Reset": to_iso(T0 + 3600), "X-RateLimit-Remaining": "0",
        "RateLimit-Reason": "jira-quota-tenant-based"})
    rig = make_rig(limited, style="jira", base_url="https://example.atlassian.net")
    with pytest.raises(RateLimited, match="jira-quota-tenant-based") as err:
        rig.client.get("/rest/api/3/search/jql")
    assert err.value.reset_at == pytest.approx(T0 + 3601)
    assert rig.audits[-1].detail["rate_limit_reason"] == "jira-quota-tenant-based"


# -- Slack -----------------------------------------------------------------------------------

def test_slack_429_honours_retry_after(make_rig):
    rig = make_rig(fixture_response("ratelimited-429.json"), ok({"ok": True}), style="slack",
                   base_url="https://slack.com/api", min_interval={})
    assert rig.client.get("conversations.list").data == {"ok": True}
    assert rig.clock.sleeps == [1]


def test_slack_paces_each_method_at_its_tier(make_rig):
    rig = make_rig(*[ok({"ok": True})] * 4, style="slack", base_url="https://slack.com/api")
    rig.client.get("conversations.history")
    rig.client.get("conversations.history")
    rig.client.get("users.list")
    rig.client.get("conversations.history")
    # history is tier 3 (1.2 s apart); users.list has its own slot
    assert rig.clock.sleeps == [1.2, 1.2]
    assert rig.counters.rate_limit_waits == 2
    assert rig.audits == []              # steady pacing is counted, not audited


def test_slack_custom_interval_map(make_rig):
    rig = make_rig(ok(), ok(), style="slack", base_url="https://slack.com/api",
                   min_interval={"conversations.replies": 60.0})
    rig.client.get("conversations.replies")
    rig.client.get("conversations.replies")
    assert rig.clock.sleeps == [60]


def test_unknown_style_is_rejected():
    with pytest.raises(ValueError):
        Governor(RateLimitSettings(), style="gitlab-ish")


def test_a_plugin_brings_its_own_policy(make_rig):
    from dihub.http import RateLimitPolicy

    policy = RateLimitPolicy(
        name="plugin", bucket=lambda p: "bulk" if p.startswith("/bulk") else "api",
        min_interval={"items.list": 2.0},
        secondary=lambda status, message: "slow down" in message, secondary_min_wait_s=9.0)
    rig = make_rig(httpx.Response(403, json={"message": "Please SLOW DOWN"}), ok(), ok(),
                   style=None, base_url="https://plugin.example", limits=policy)
    rig.client.get("/items.list")          # the secondary limit: at least 9 s
    rig.client.get("/items.list")          # paced 2 s after the call before
    assert rig.clock.sleeps[0] == 9 and rig.clock.sleeps[1] == pytest.approx(2.0)
    assert rig.client.governor.bucket_name("/bulk/x") == "bulk"
    g = Governor(RateLimitSettings(), policy=policy, clock=lambda: T0)
    assert g.state("/other")["bucket"] == "api"


def test_a_429_on_one_slack_method_holds_only_that_method():
    from dihub.connectors.slack.limits import POLICY
    from dihub.http.governor import Governor
    from dihub.settings import RateLimitSettings

    gov = Governor(RateLimitSettings(), policy=POLICY.with_intervals({}), clock=lambda: 100.0)
    gov.block("/api/conversations.replies", 130.0, "rate limited")
    assert gov.decide("/api/conversations.replies").wait_s == 30.0    # exactly Retry-After
    assert gov.decide("/api/conversations.history").wait_s == 0.0


def _slack_429(retry_after: str = "1") -> httpx.Response:
    return httpx.Response(429, json={"ok": False, "error": "ratelimited"},
                          headers={"Retry-After": retry_after})


def test_a_lone_slack_429_holds_only_the_call_that_got_it(make_rig):
    rig = make_rig(_slack_429("3"), ok({"ok": True}), style="slack",
                   base_url="https://slack.com/api", min_interval={})
    assert rig.client.get("conversations.replies").data == {"ok": True}
    assert rig.clock.sleeps == [3]                        # exactly its Retry-After
    # the method was not held: another channel's replies call went on meanwhile
    assert rig.client.governor.state("/api/conversations.replies")["blocked_until"] is None


def test_a_second_slack_429_within_the_first_wait_holds_the_method():
    now = [T0]
    gov = Governor(RateLimitSettings(), style="slack", clock=lambda: now[0],
                   min_interval={})
    gov.block("/api/conversations.replies", T0 + 1, "rate limited", short=True)
    now[0] = T0 + 0.5
    gov.block("/api/conversations.replies", T0 + 2, "rate limited", short=True)
    assert gov.decide("/api/conversations.replies").wait_s == pytest.approx(1.5)
    assert gov.decide("/api/conversations.history").wait_s == 0.0     # its own limit
    # a 429 after the earlier waits ran out is a lone one again
    now[0] = T0 + 10
    gov.block("/api/conversations.replies", T0 + 11, "rate limited", short=True)
    assert gov.decide("/api/conversations.replies").wait_s == 0.0


def test_a_success_between_two_slack_429s_means_the_limit_is_not_reached():
    """Random 429s among successes hold only their own calls; a run of 429s with no
    success sent after the one before holds the method."""
    now = [T0]
    gov = Governor(RateLimitSettings(), style="slack", clock=lambda: now[0],
                   min_interval={})
    path = "/api/conversations.replies"
    gov.block(path, T0 + 1, "rate limited", short=True)
    # a request sent before the 429 arrived and answered after it proves nothing
    now[0] = T0 + 0.1
    gov.observe(path, 200, {}, sent_at=T0 - 0.2)
    now[0] = T0 + 0.2
    gov.block(path, T0 + 1.2, "rate limited", short=True)
    assert gov.decide(path).wait_s == pytest.approx(1.0)      # held: two strikes
    # after that wait, another 429, then a request sent after it succeeds: cleared
    now[0] = T0 + 2
    gov.block(path, T0 + 3, "rate limited", short=True)
    now[0] = T0 + 2.3
    gov.observe(path, 200, {}, sent_at=T0 + 2.1)
    now[0] = T0 + 2.5
    gov.block(path, T0 + 3.5, "rate limited", short=True)
    assert gov.decide(path).wait_s == 0.0                     # a lone 429 again
    # errors other than success do not clear the strikes
    now[0] = T0 + 2.6
    gov.observe(path, 503, {}, sent_at=T0 + 2.55)
    gov.block(path, T0 + 3.6, "rate limited", short=True)
    assert gov.decide(path).wait_s == pytest.approx(1.0)


def test_a_429_to_a_request_sent_before_the_first_one_came_is_no_second_answer():
    """Several partitions send at once: a 429 to a request already in flight when the
    first 429 arrived proves nothing more; one to a request sent after it does."""
    now = [T0]
    gov = Governor(RateLimitSettings(), style="slack", clock=lambda: now[0],
                   min_interval={})
    path = "/api/conversations.replies"
    gov.block(path, T0 + 1, "rate limited", short=True, sent_at=T0 - 0.01)
    now[0] = T0 + 0.01
    gov.block(path, T0 + 1.01, "rate limited", short=True, sent_at=T0 - 0.005)
    assert gov.decide(path).wait_s == 0.0                     # in flight: a lone 429 still
    now[0] = T0 + 0.2
    gov.block(path, T0 + 1.2, "rate limited", short=True, sent_at=T0 + 0.1)
    assert gov.decide(path).wait_s == pytest.approx(1.0)      # sent after it: held


def test_a_slack_429_the_run_defers_on_holds_the_method_at_once(make_rig):
    rig = make_rig(_slack_429("600"), style="slack", base_url="https://slack.com/api",
                   min_interval={})
    with pytest.raises(RateLimited):
        rig.client.get("conversations.replies")
    assert rig.client.governor.decide("/api/conversations.replies").defer


def test_a_lone_github_429_holds_its_call_and_a_second_one_every_call_of_its_bucket(
        make_rig):
    rig = make_rig(httpx.Response(429, headers={"Retry-After": "5"}), ok())
    rig.client.get("/repos/o/r/pulls")
    assert rig.clock.sleeps == [5]                    # exactly its Retry-After
    assert rig.client.governor.state("/repos/o/r/issues")["blocked_until"] is None
    now = [T0]
    gov = Governor(RateLimitSettings(), policy=GITHUB_LIMITS, clock=lambda: now[0])
    gov.block("/repos/o/r/pulls", T0 + 5, "rate limited", short=True)
    assert gov.decide("/repos/o/r/issues").wait_s == 0.0       # the other partitions go on
    now[0] = T0 + 1                  # a second one, no success in between: the token's limit
    gov.block("/repos/o/r/commits", T0 + 6, "rate limited", short=True)
    assert gov.decide("/repos/o/r/issues").wait_s == pytest.approx(5.0)
    assert gov.decide("/search/issues").wait_s == 0.0           # another quota


def test_a_github_answer_with_no_quota_left_holds_every_call_of_its_bucket(make_rig):
    reset = int(T0) + 30
    exhausted = httpx.Response(403, json={"message": "API rate limit exceeded"}, headers={
        "x-ratelimit-remaining": "0", "x-ratelimit-limit": "5000",
        "x-ratelimit-reset": str(reset), "x-ratelimit-resource": "core"})
    rig = make_rig(exhausted, ok())
    rig.client.get("/repos/o/r/pulls")
    assert rig.client.governor.state("/repos/o/r/issues")["blocked_until"] is not None
