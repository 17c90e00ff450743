"""The Slack source config, the client's ok:false / paging / 429 handling over the
shared HTTP layer (httpx.MockTransport, no network), and the per-method pacing."""

from __future__ import annotations

import httpx
import pytest

from dihub.config import HttpSettings, RateLimitSettings, RetrySettings, parse_config
from dihub.connectors.slack import SlackConfig
from dihub.connectors.slack.client import BearerAuth, SlackClient, method_intervals
from dihub.connectors.slack.errors import ChannelSkipped, MissingScope
from dihub.errors import AuthError, ConfigError
from dihub.http import Governor, HttpClient

TOKEN = "xoxb-1111-2222-UnitTestTokenValue"


def make_client(handler, sleeps: list[float] | None = None) -> SlackClient:
    """A client on a mock transport whose sleeps only move a fake clock."""
    now = [1_800_000_000.0]

    def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        now[0] += seconds

    settings = HttpSettings(retry=RetrySettings(attempts=3, backoff_s=[0.5], jitter=0))
    http = HttpClient("https://slack.test/api", source="slack", settings=settings,
                      auth=BearerAuth(TOKEN), rate_limit_style="slack",
                      min_interval=method_intervals({"*": 0}),
                      transport=httpx.MockTransport(handler), sleep=sleep,
                      clock=lambda: now[0])
    return SlackClient(http, "slack")


# -- config --------------------------------------------------------------------------------

def test_defaults_and_comma_strings():
    cfg = SlackConfig.model_validate({"connector": "slack", "channel_types": "public_channel",
                                      "channels": "#general, C0123456789"})
    assert cfg.base_url == "https://slack.com/api"
    assert cfg.channel_types == ["public_channel"]
    assert cfg.channels == ["#general", "C0123456789"]
    assert cfg.store_text is False and cfg.lookback_days == 7 and cfg.page_size == 999
    assert cfg.classifier.rules == ()


def test_config_errors_name_the_line():
    text = ("sources:\n  slack:\n    connector: slack\n    classify:\n"
            "      - {tag: deploy, pattern: '(unclosed'}\n")
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert ":4: sources.slack.classify" in str(err.value) and "rule 0" in str(err.value)
    with pytest.raises(ConfigError, match="unknown channel type"):
        parse_config("sources:\n  slack:\n    connector: slack\n    channel_types: [dm]\n")
    with pytest.raises(ConfigError, match="page_size"):
        parse_config("sources:\n  slack:\n    connector: slack\n    page_size: 1000\n")
    cfg = parse_config("sources:\n  slack:\n    connector: slack\n    start_date: 2024-05-01\n")
    assert cfg.source("slack").start_date == "2024-05-01T00:00:00Z"


def test_classifier_rules_come_from_the_config():
    cfg = SlackConfig.model_validate({"connector": "slack", "classify": [
        {"tag": "deploy_notification", "bot_id": "B0DEPLOY1"},
        {"tag": "incident", "pattern": "(?i)sev[12]"}]})
    assert cfg.classifier.classify({"bot_id": "B0DEPLOY1", "text": "SEV1 deploy"}) == [
        "deploy_notification", "incident"]


# -- pacing --------------------------------------------------------------------------------

def test_methods_are_paced_by_slack_tier_unless_overridden():
    assert method_intervals(None)["conversations.history"] == 1.2       # tier 3: 50/min
    assert method_intervals(None)["conversations.list"] == 3.0          # tier 2: 20/min
    custom = method_intervals({"*": 0, "conversations.history": 60})    # tier 1 apps
    assert custom["conversations.history"] == 60 and custom["users.list"] == 0
    now = [1000.0]
    gov = Governor(RateLimitSettings(), style="slack", clock=lambda: now[0],
                   min_interval=method_intervals(None))
    assert gov.decide("/api/conversations.history").wait_s == 0
    assert gov.decide("/api/conversations.history").wait_s == pytest.approx(1.2)
    assert gov.decide("/api/users.list").wait_s == 0                    # per method


# -- the client ----------------------------------------------------------------------------

def test_pages_follow_next_cursor_and_send_the_bearer_token():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        cursor = request.url.params.get("cursor")
        body = {"ok": True, "members": [{"id": cursor or "U1"}]}
        if cursor is None:
            body["response_metadata"] = {"next_cursor": "dXNlcjpVMg=="}
        elif cursor == "dXNlcjpVMg==":
            body["response_metadata"] = {"next_cursor": ""}
        return httpx.Response(200, json=body)

    pages = list(make_client(handler).pages("users.list", {"limit": 200}))
    assert len(pages) == 2
    assert seen[0].url.path == "/api/users.list" and seen[0].url.params["limit"] == "200"
    assert seen[1].url.params["cursor"] == "dXNlcjpVMg=="
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seen)


@pytest.mark.parametrize("body,cls,text", [
    ({"ok": False, "error": "not_in_channel"}, ChannelSkipped, "not in #general"),
    ({"ok": False, "error": "missing_scope", "needed": "groups:history",
      "provided": "channels:history"}, MissingScope, "groups:history"),
    ({"ok": False, "error": "invalid_auth"}, AuthError, "invalid_auth"),
    ({"ok": False, "error": "channel_not_found"}, ChannelSkipped, "not found"),
])
def test_ok_false_becomes_a_clear_error(body, cls, text):
    client = make_client(lambda r: httpx.Response(200, json=body))
    with pytest.raises(cls) as err:
        client.call("conversations.history", {"channel": "C1"}, channel="#general")
    assert text in str(err.value)
    assert TOKEN not in str(err.value) and TOKEN not in (err.value.hint or "")


def test_429_waits_exactly_retry_after_then_succeeds():
    answers = iter([httpx.Response(429, headers={"retry-after": "7"},
                                   json={"ok": False, "error": "ratelimited"}),
                    httpx.Response(200, json={"ok": True, "messages": []})])
    sleeps: list[float] = []
    resp = make_client(lambda r: next(answers), sleeps).call("conversations.history")
    assert resp.data["ok"] is True
    assert sleeps == [7.0]
