"""Slack's stored bot token is bound to the API host (slack.com unless base_url says
otherwise): a base_url pointing elsewhere never gets it (issue 8)."""

from __future__ import annotations

import pytest

from dihub import secrets
from dihub.connectors.slack import SlackConfig
from dihub.connectors.slack.auth import SlackAuth, api_host
from dihub.connectors.slack.client import token_for
from tests.support.keyrings import fake_redactor, use_memory_keyring

BOT = "xoxb-1111111111-2222222222-BoundToSlackCom"


@pytest.fixture(autouse=True)
def ring(monkeypatch):
    fake_redactor(monkeypatch)
    monkeypatch.delenv("SLACK_TEST_TOKEN", raising=False)
    return use_memory_keyring()


def test_the_token_stored_for_slack_com_is_not_used_for_another_base_url(ring, monkeypatch):
    official = SlackConfig(connector="slack")
    assert api_host(official) == "slack.com"
    secrets.set_secret("slack", "token", BOT, host=api_host(official))
    assert token_for("slack", official) == BOT

    moved = SlackConfig(connector="slack", base_url="https://slack.evil.example/api")
    with pytest.raises(secrets.HostMismatch) as err:
        token_for("slack", moved)
    assert "slack.com" in str(err.value) and "slack.evil.example" in str(err.value)
    assert "`dihub auth slack`" in str(err.value) and BOT not in str(err.value)

    status = SlackAuth().status("slack", moved)      # refused before any request is made
    assert status["logged_in"] is False and status["host"] == "slack.evil.example"
    assert "slack.com" in status["error"] and BOT not in repr(status)

    # token_env is not bound: CI names the token for the host it configured
    monkeypatch.setenv("SLACK_TEST_TOKEN", "xoxb-from-the-environment-1")
    env = SlackConfig(connector="slack", base_url="https://slack.evil.example/api",
                      token_env="SLACK_TEST_TOKEN")
    assert token_for("slack", env) == "xoxb-from-the-environment-1"

    assert SlackAuth().logout("slack") is True and ring.store == {}
