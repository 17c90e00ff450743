"""HttpClient: responses, retries with backoff, error classes, accounting."""

from __future__ import annotations

import httpx
import pytest

from dihub import __version__
from dihub.config import HttpSettings, RetrySettings
from dihub.errors import AuthError, FatalError, RetriableError
from dihub.http import (
    USER_AGENT,
    HttpAuthError,
    HttpFatalError,
    HttpRetriableError,
    NotFound,
    make_httpx_client,
)
from dihub.http.transport import StdlibTransport

from .conftest import fixture_response, ok


def test_factory_sets_timeout_user_agent_and_pool():
    settings = HttpSettings(timeout_s=12, concurrency=3)
    with make_httpx_client(settings) as http:
        assert http.timeout == httpx.Timeout(12)
        assert http.headers["user-agent"] == f"dihub/{__version__}" == USER_AGENT
        assert http.follow_redirects is True
        transport = http._transport    # the default transport: http.client's connections
        assert isinstance(transport, StdlibTransport) and transport._max_keepalive == 3


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "HTTP_PROXY"])
def test_a_proxy_in_the_environment_keeps_httpx_transport(monkeypatch, name):
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "internal.example")
    with make_httpx_client(HttpSettings()) as http:
        assert isinstance(http._transport, StdlibTransport)    # NO_PROXY alone: no proxy
    monkeypatch.setenv(name, "http://proxy.example:3128")
    with make_httpx_client(HttpSettings()) as http:
        assert isinstance(http._transport, httpx.HTTPTransport)
        proxies = [t for t in http._mounts.values() if t is not None]
        assert proxies and all(isinstance(t, httpx.HTTPTransport) for t in proxies)


def test_get_returns_status_json_etag_and_next_link(make_rig):
    page = ok([{"sha": "a"}], ETag='W/"abc"',
              Link='<https://api.github.com/repos/o/r/commits?page=2>; rel="next"')
    rig = make_rig(page)
    resp = rig.client.get("/repos/o/r/commits", params={"per_page": 100})
    assert resp.status == 200 and resp.data == [{"sha": "a"}] and resp.json() == resp.data
    assert resp.etag == 'W/"abc"' and not resp.not_modified
    assert resp.next_url == "https://api.github.com/repos/o/r/commits?page=2"
    assert resp.size == len(b'[{"sha":"a"}]')
    sent = rig.script.requests[0]
    assert sent.url == "https://api.github.com/repos/o/r/commits?per_page=100"
    assert sent.headers["user-agent"] == USER_AGENT
    assert rig.counters.requests == 1 and rig.counters.retries == 0
    assert rig.audits == []          # successful requests are counted, not audited
    assert rig.clock.sleeps == []


def test_base_url_with_path_prefix_joins_relative_paths(make_rig):
    rig = make_rig(ok(), base_url="https://ghe.example.com/api/v3/")
    rig.client.get("repos/o/r")
    assert str(rig.script.requests[0].url) == "https://ghe.example.com/api/v3/repos/o/r"


def test_304_is_not_modified_without_body(make_rig):
    rig = make_rig(httpx.Response(304, headers={"ETag": '"v1"'}))
    resp = rig.client.get("/repos/o/r/commits", etag='"v1"')
    assert rig.script.requests[0].headers["if-none-match"] == '"v1"'
    assert resp.not_modified and resp.status == 304 and resp.data is None
    assert resp.etag == '"v1"'
    assert rig.counters.not_modified == 1 and rig.counters.failures == 0


def test_backoff_sequence_then_retries_exhausted(make_rig):
    rig = make_rig(*[httpx.Response(503, text="busy")] * 5)
    with pytest.raises(RetriableError) as err:
        rig.client.get("/repos/o/r/commits", params={"since": "2024-01-01"})
    assert isinstance(err.value, HttpRetriableError) and err.value.exit_code == 75
    assert rig.clock.sleeps == [0.1, 1, 4, 16]            # 5 attempts: 4 waits, fast first
    assert len(rig.script.requests) == 5
    msg = str(err.value)
    assert msg.startswith("github: GET /repos/o/r/commits failed (5 attempts): 503")
    assert "2024-01-01" not in msg and "since" not in msg
    assert rig.counters.retries == 4 and rig.counters.failures == 1
    assert rig.counters.rate_limit_waits == 0             # backoff is not a rate-limit wait
    assert rig.actions() == [("retry", "retried")] * 4 + [("request", "failed")]
    assert [a.detail["wait_s"] for a in rig.audits[:4]] == [0.1, 1, 4, 16]


def test_backoff_repeats_last_value_and_applies_jitter(make_rig):
    settings = HttpSettings(retry=RetrySettings(attempts=4, backoff_s=[2, 10], jitter=0.5))
    rig = make_rig(*[httpx.Response(502)] * 3, ok(), settings=settings, rand=lambda: 1.0)
    assert rig.client.get("/x").status == 200
    assert rig.clock.sleeps == [1.0, 5.0, 5.0]            # up to half of each delay removed


def test_truncated_json_is_retried_then_succeeds(make_rig):
    truncated = httpx.Response(200, content=b'[{"sha": "a"}, {"sha"',
                               headers={"Content-Type": "application/json"})
    rig = make_rig(truncated, ok([{"sha": "a"}]))
    assert rig.client.get("/repos/o/r/commits").data == [{"sha": "a"}]
    assert rig.clock.sleeps == [0.1]
    assert rig.audits[0].detail["reason"] == "malformed JSON"


def test_dropped_connection_is_retried(make_rig):
    rig = make_rig(httpx.ConnectError, httpx.ReadTimeout, ok({"id": 1}))
    assert rig.client.get("/x").data == {"id": 1}
    assert rig.clock.sleeps == [0.1, 1]
    assert rig.counters.requests == 3 and rig.counters.retries == 2
    assert "ConnectError" in rig.audits[0].error


def test_401_is_auth_error_without_retry(make_rig):
    rig = make_rig(httpx.Response(401, json={"message": "Requires authentication"}))
    with pytest.raises(AuthError) as err:
        rig.client.get("/user")
    assert isinstance(err.value, HttpAuthError) and err.value.status == 401
    assert len(rig.script.requests) == 1 and rig.clock.sleeps == []
    assert str(err.value) == 'github: GET /user -> 401 Unauthorized: "Requires authentication"'
    assert "dihub auth github" in err.value.hint
    assert rig.actions() == [("request", "failed")]


def test_403_bad_credentials_is_auth_error(make_rig):
    rig = make_rig(httpx.Response(403, json={"message": "Bad credentials"},
                                  headers={"x-ratelimit-remaining": "4000"}))
    with pytest.raises(AuthError):
        rig.client.get("/user")
    assert len(rig.script.requests) == 1


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_other_4xx_are_fatal_without_retry(make_rig, status):
    rig = make_rig(httpx.Response(status, json={"message": "Nope"}))
    with pytest.raises(FatalError) as err:
        rig.client.get("/repos/o/r")
    assert err.value.status == status and len(rig.script.requests) == 1
    assert rig.clock.sleeps == [] and '"Nope"' in str(err.value)
    assert isinstance(err.value, NotFound) == (status == 404)


def test_422_quotes_the_validation_errors(make_rig):
    rig = make_rig(fixture_response("error-422-validation-failed.octokit-fixtures.json"))
    with pytest.raises(HttpFatalError) as err:
        rig.client.post("/repos/o/r/labels", json={"name": "foo", "color": "invalid"})
    assert str(err.value) == ('github: POST /repos/o/r/labels -> 422 Unprocessable Entity: '
                              '"Validation Failed; Label color invalid"')


def test_jira_and_slack_error_shapes_are_quoted(make_rig):
    rig = make_rig(httpx.Response(400, json={"errorMessages": ["JQL is bad"],
                                             "errors": {"jql": "unknown field"}}), style="jira")
    with pytest.raises(FatalError, match='"JQL is bad; jql: unknown field"'):
        rig.client.get("/rest/api/3/search/jql", params={"jql": "x"})


def test_allow_status_returns_the_response(make_rig):
    rig = make_rig(httpx.Response(409, json={"message": "Git Repository is empty."}))
    resp = rig.client.get("/repos/o/r/commits", allow_status=(409,))
    assert resp.status == 409 and resp.data["message"] == "Git Repository is empty."
    assert rig.audits == [] and rig.counters.failures == 0


def test_post_form_for_device_flow_goes_to_another_host_without_auth(make_rig):
    seen = {}

    def device(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers.get("authorization")
        seen["body"] = request.content.decode()
        return ok({"device_code": "d", "user_code": "U", "interval": 5})

    rig = make_rig(device, auth=httpx.BasicAuth("me", "pw-123456"))
    resp = rig.client.post("https://github.com/login/device/code",
                           data={"client_id": "abc", "scope": "repo"},
                           headers={"Accept": "application/json"})
    assert resp.data["user_code"] == "U"
    assert seen == {"auth": None, "body": "client_id=abc&scope=repo"}


def test_auth_is_sent_to_the_base_origin(make_rig):
    rig = make_rig(ok(), auth=httpx.BasicAuth("me", "pw-123456"))
    rig.client.get("/user")
    assert rig.script.requests[0].headers["authorization"].startswith("Basic ")


def test_5xx_with_long_retry_after_gives_up_at_once(make_rig):
    rig = make_rig(httpx.Response(503, headers={"Retry-After": "3600"}))
    with pytest.raises(RetriableError, match="giving up"):
        rig.client.get("/x")
    assert rig.clock.sleeps == [] and len(rig.script.requests) == 1


def test_503_retry_after_is_a_floor_for_backoff(make_rig):
    rig = make_rig(httpx.Response(503, headers={"Retry-After": "5"}), ok())
    rig.client.get("/x")
    assert rig.clock.sleeps == [5]


def test_bind_shares_connections_but_accounts_elsewhere(make_rig):
    from dihub.engine.counters import Counters

    rig = make_rig(ok(), ok())
    other = Counters()
    bound = rig.client.bind(counters=other, audit=None)
    bound.get("/a")
    rig.client.get("/b")
    assert other.requests == 1 and rig.counters.requests == 1
    bound.close()                     # does not close the shared pool
    assert not rig.client._http.is_closed


def test_default_first_retry_is_fast_with_jitter(make_rig):
    rig = make_rig(httpx.Response(502), httpx.ConnectError, ok(), rand=lambda: 0.5)
    assert rig.client.get("/x").status == 200
    assert rig.clock.sleeps == [0.075, 0.75]     # 0.1 then 1, each less a random share
