"""Secrets never reach exceptions, logs or audit entries."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest

from dihub.config import HttpSettings, RetrySettings
from dihub.errors import DihubError
from dihub.http import RedactingFilter, redact, register_secret, safe_path
from dihub.redact import forget_secrets, register_authorization

OPAQUE = "opaque-credential-8f3a2c91"       # no recognisable shape: only registration masks it


@pytest.fixture(autouse=True)
def _clean_registry():
    forget_secrets()
    yield
    forget_secrets()


@pytest.mark.parametrize("text, secret", [
    ("token ghp_16C7e42F292c6912E7710c838347Ae178B4a here", "ghp_16C7e42F292c6912E7710c838"),
    ("gho_16C7e42F292c6912E7710c838347Ae178B4a", "gho_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11ABCDEFG0123456789"),
    ("slack xoxb-1234-5678-abcdefghij said", "xoxb-1234-5678-abcdefghij"),
    ("xoxp-0000-1111-abcdef", "xoxp-0000-1111-abcdef"),
    ("Authorization: Bearer abc.def.ghi-123", "abc.def.ghi-123"),
    ("{'authorization': 'token 0123456789abcdef'}", "0123456789abcdef"),
    ("Bearer 9f8e7d6c5b4a39281716", "9f8e7d6c5b4a39281716"),
    ("https://bot:hunter2pass@jira.example.com/rest", "hunter2pass"),
    ("GET /oauth?client_secret=s3cr3t&code=abc123", "s3cr3t"),
    ("user@example.com:ATATT3xFfGF0abcdefghijklmnop", "ATATT3xFfGF0abcdefghijklmnop"),
])
def test_token_shapes_are_masked(text, secret):
    out = redact(text)
    assert secret not in out and "****" in out


def test_prose_is_left_alone():
    text = "Bearer tokens expire; see the token documentation for GET /repos/o/r"
    assert redact(text) == text


def test_registered_secret_is_masked_anywhere():
    register_secret(OPAQUE)
    assert redact(f"x{OPAQUE}y") == "x****y"
    register_secret("abc")                    # too short to mask safely: ignored
    assert redact("abc") == "abc"


def test_basic_auth_header_registers_the_password():
    header = "Basic " + base64.b64encode(f"me@example.com:{OPAQUE}".encode()).decode()
    register_authorization(header)
    assert OPAQUE not in redact(f"password was {OPAQUE}")


def test_safe_path_drops_query_and_credentials():
    assert safe_path("https://u:p@api.github.com/repos/o/r?access_token=x&page=2") == "/repos/o/r"


def test_logging_filter_masks_message_args_and_traceback(caplog):
    register_secret(OPAQUE)
    logger = logging.getLogger("dihub.test.redact")
    handler_filter = RedactingFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        try:
            raise ValueError(f"boom {OPAQUE}")
        except ValueError:
            logger.exception("calling with %s and ghp_16C7e42F292c6912E7710c838347Ae178B4a",
                             OPAQUE)
    finally:
        caplog.handler.removeFilter(handler_filter)
    assert OPAQUE not in caplog.text and "ghp_16C7" not in caplog.text
    assert "****" in caplog.text


class TokenAuth(httpx.Auth):
    def __init__(self, token: str):
        self.token = token

    def auth_flow(self, request):
        request.headers["Authorization"] = f"token {self.token}"
        yield request


def _all_text(err: BaseException, rig) -> str:
    audit = " ".join(a.model_dump_json() for a in rig.audits)
    return " ".join([str(err), repr(err), str(getattr(err, "hint", "")), audit])


@pytest.mark.parametrize("status", [401, 422])
def test_token_echoed_in_error_body_never_reaches_errors_or_audit(make_rig, status):
    body = {"message": f"credential {OPAQUE} is not valid; Authorization: token {OPAQUE}"}
    rig = make_rig(httpx.Response(status, json=body), auth=TokenAuth(OPAQUE))
    with pytest.raises(DihubError) as err:
        rig.client.get("/user", params={"access_token": OPAQUE})
    assert rig.script.requests[0].headers["authorization"] == f"token {OPAQUE}"
    text = _all_text(err.value, rig)
    assert OPAQUE not in text and "****" in text and rig.audits


def test_token_in_retried_5xx_bodies_never_reaches_errors_or_audit(make_rig):
    settings = HttpSettings(retry=RetrySettings(attempts=3))
    echo = httpx.Response(502, text=f"proxy error for {OPAQUE} (Authorization: token {OPAQUE})")
    rig = make_rig(echo, echo, echo, settings=settings, auth=TokenAuth(OPAQUE))
    with pytest.raises(DihubError) as err:
        rig.client.get("/repos/o/r")
    text = _all_text(err.value, rig)
    assert len(rig.audits) == 3 and OPAQUE not in text


def test_header_sent_by_default_headers_is_learned_too(make_rig):
    rig = make_rig(httpx.Response(400, json={"message": f"bad {OPAQUE}"}),
                   headers={"Authorization": f"Bearer {OPAQUE}"})
    with pytest.raises(DihubError) as err:
        rig.client.get("/x")
    assert OPAQUE not in _all_text(err.value, rig)
