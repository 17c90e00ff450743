from __future__ import annotations

import pytest

from dihub import errors as dihub_errors
from dihub.connectors.slack.errors import (
    ChannelSkipped,
    MissingScope,
    ThreadSkipped,
    error_from_response,
    slack_error,
)
from dihub.errors import (
    EXIT_TEMPFAIL,
    AuthError,
    DihubError,
    FatalError,
    RateLimited,
    RetriableError,
    SkippableRecord,
)

from ._fixtures import load

ERRORS = load("web-api/errors.openapi-example.json")


def from_fixture(method, **kw):
    recorded = ERRORS[method]
    return error_from_response(method, recorded["body"], status=recorded["status"],
                               headers=recorded["headers"], **kw)


def test_recorded_invalid_auth_is_an_auth_error():
    err = from_fixture("conversations.list", source="slack-eng")
    assert type(err) is AuthError
    assert "conversations.list" in str(err) and "invalid_auth" in str(err)
    assert "dihub auth slack-eng" in err.hint


def test_recorded_channel_not_found_skips_the_channel():
    err = from_fixture("conversations.history", channel="C012AB3CD")
    assert isinstance(err, ChannelSkipped) and isinstance(err, DihubError)
    assert err.channel == "C012AB3CD" and "C012AB3CD" in str(err)
    if hasattr(dihub_errors, "PartitionSkipped"):
        assert isinstance(err, dihub_errors.PartitionSkipped)


def test_recorded_thread_not_found_skips_the_thread():
    err = from_fixture("conversations.replies", channel="C012AB3CD")
    assert isinstance(err, ThreadSkipped) and isinstance(err, SkippableRecord)


def test_recorded_invalid_cursor_is_fatal_and_quotes_the_code():
    err = from_fixture("users.list")
    assert type(err) is FatalError and "'invalid_cursor'" in str(err)


def test_recorded_429_is_rate_limited_with_reset_time():
    recorded = load("web-api/ratelimited-429.json")
    err = error_from_response("conversations.history", recorded["body"],
                              status=recorded["status"], headers=recorded["headers"],
                              now=1_700_000_000.0)
    assert isinstance(err, RateLimited) and err.exit_code == EXIT_TEMPFAIL
    assert err.reset_at == 1_700_000_001.0
    assert "wait 1s" in str(err)


def test_429_without_body_is_rate_limited():
    err = error_from_response("users.list", None, status=429, headers={"Retry-After": "30"})
    assert isinstance(err, RateLimited) and err.reset_at is None and "wait 30s" in str(err)


def test_ok_response_is_no_error():
    body = load("web-api/conversations.list.last-page.python-slack-sdk.json")
    assert error_from_response("conversations.list", body) is None


def test_not_in_channel_says_how_to_invite():
    err = slack_error("conversations.history", "not_in_channel", channel="deploys",
                      needed=None, provided=None)
    assert isinstance(err, ChannelSkipped)
    assert "the bot is not in #deploys; invite it with /invite @" in str(err)
    by_id = slack_error("conversations.history", "not_in_channel", channel="C061EG9T2",
                        needed=None, provided=None)
    assert "not in C061EG9T2" in str(by_id)


def test_missing_scope_names_the_scope_and_the_fix():
    err = slack_error("conversations.history", "missing_scope", channel="C1",
                      needed="channels:history", provided="channels:read,users:read",
                      source="slack")
    assert isinstance(err, MissingScope) and isinstance(err, AuthError)
    assert err.needed == "channels:history"
    assert "channels:history" in str(err) and "channels:read,users:read" in str(err)
    assert "OAuth & Permissions" in err.hint and "reinstall" in err.hint
    assert "dihub auth slack" in err.hint


@pytest.mark.parametrize("code", ["invalid_auth", "not_authed", "token_revoked",
                                  "account_inactive"])
def test_auth_codes(code):
    err = slack_error("users.list", code, channel=None, needed=None, provided=None,
                      source="slack")
    assert type(err) is AuthError and code in str(err)
    assert "`dihub auth slack`" in err.hint
    assert err.slack_error == code


def test_transient_and_unknown_codes():
    assert isinstance(slack_error("users.list", "internal_error"), RetriableError)
    err = slack_error("conversations.list", "team_added_to_org")
    assert type(err) is FatalError and "'team_added_to_org'" in str(err)


def test_no_token_in_any_message():
    token = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
    for code in ("invalid_auth", f"weird_{token}", "missing_scope", "not_in_channel"):
        err = slack_error("users.list", code, channel=token, needed=token, provided=token)
        assert token not in str(err) and token not in (err.hint or "")
