"""HttpClient follows redirects itself: credentials only ever go to the base URL's origin
(issue 8). Two real HTTP servers on 127.0.0.1, different ports = different origins."""

from __future__ import annotations

import httpx
import pytest

from dihub.config import HttpSettings, RetrySettings
from dihub.errors import FatalError
from dihub.http import BearerAuth, HttpClient, HttpFatalError
from tests.support.recorder import Recorder

TOKEN = "env-token-never-elsewhere-0123"
SETTINGS = HttpSettings(timeout_s=5, retry=RetrySettings(attempts=1, backoff_s=[0], jitter=0))


def client(base_url: str, auth: httpx.Auth | None = None) -> HttpClient:
    return HttpClient(base_url, source="gh", settings=SETTINGS, auth=auth)


@pytest.fixture
def keep_authorization_on_redirects(monkeypatch):
    """Make httpx forward every header on a redirect, as older versions did for some
    redirects: dihub's guarantee must not depend on httpx stripping Authorization."""
    monkeypatch.setattr(httpx.Client, "_redirect_headers",
                        lambda self, request, url, method: request.headers.copy(),
                        raising=True)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_refused_and_nothing_reaches_it(
        keep_authorization_on_redirects, status):
    with Recorder() as other, Recorder(redirect_to=other.url, status=status) as api:
        http = client(api.url, BearerAuth(TOKEN))
        with pytest.raises(HttpFatalError) as err:
            http.get("/user")
        http.close()
    assert api.authorizations == [f"Bearer {TOKEN}"]          # the configured host: yes
    assert other.requests == []                                # the other host: nothing
    message = str(err.value)
    assert api.url in message and other.url in message and "not followed" in message
    assert "dihub auth gh" in err.value.hint
    assert isinstance(err.value, FatalError) and err.value.exit_code == 1
    assert err.value.status == status
    assert TOKEN not in f"{message} {err.value.hint}"


def test_caller_authorization_headers_are_not_sent_off_origin(keep_authorization_on_redirects):
    """No client auth, but headers the caller set: a cross-origin hop drops them. A POST
    answered 303 continues as a GET without its body."""
    with Recorder() as other, Recorder(redirect_to=other.url, status=303) as api:
        http = client(api.url)
        resp = http.post("/x", data={"a": "1"}, headers={
            "Authorization": f"Bearer {TOKEN}", "Cookie": "s=1", "Accept": "application/json"})
        http.close()
    assert resp.status == 200 and resp.url == f"{other.url}/x"
    (method, _, headers), = other.requests
    assert method == "GET" and "content-length" not in headers
    assert "authorization" not in headers and "cookie" not in headers
    assert headers["accept"] == "application/json"


def test_same_origin_hops_keep_the_credentials_until_one_leaves(
        keep_authorization_on_redirects):
    """A renamed repository (GitHub answers 301 to /repositories/<id>/...) keeps working;
    a later hop to another host is still refused."""
    with Recorder(body={"ok": True}) as other:
        with Recorder(redirects={"/repos/o/r": "/repositories/1", "/repos/o/gone":
                                 "/repositories/2", "/repositories/2": other.url + "/r"},
                      status=301, body={"ok": True}) as api:
            http = client(api.url, BearerAuth(TOKEN))
            resp = http.get("/repos/o/r")
            with pytest.raises(HttpFatalError, match="not followed"):
                http.get("/repos/o/gone")
            http.close()
    assert resp.status == 200 and resp.data == {"ok": True}
    assert [p for _, p, _ in api.requests] == ["/repos/o/r", "/repositories/1",
                                               "/repos/o/gone", "/repositories/2"]
    assert api.authorizations == [f"Bearer {TOKEN}"] * 4
    assert other.requests == []


def test_a_redirect_loop_stops():
    with Recorder(redirects={"/loop": "/loop"}) as api:
        http = client(api.url, BearerAuth(TOKEN))
        with pytest.raises(HttpFatalError, match="more than 10 redirects"):
            http.get("/loop")
        http.close()
    assert len(api.requests) == 11
