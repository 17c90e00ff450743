"""GitHub device flow and token login, scripted with the documented OAuth bodies.

httpx.MockTransport answers with the fixture bodies in tests/data/github/fixtures/oauth;
sleep and clock are fakes, so nothing waits and no assertion depends on timing.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import parse_qs

import httpx
import keyring
import pytest
from keyring.backends import fail

from dihub import secrets
from dihub.connectors.github.auth import GitHubAuth, device_flow, web_base_for
from dihub.errors import AuthError, TemporaryError

from .conftest import load

TOKEN = load("oauth/access-token.success.docs.json")["body"]["access_token"]
DEVICE = load("oauth/device-code.response.docs.json")["body"]


def body(name: str) -> dict:
    return load(f"oauth/{name}")["body"]


PENDING = body("access-token.authorization_pending.json")
SLOW_DOWN = body("access-token.slow_down.json")
SUCCESS = body("access-token.success.docs.json")
EXPIRED = body("access-token.expired_token.json")
DENIED = body("access-token.access_denied.json")
USER = {"login": "octocat", "id": 1}
GH = "api.github.com"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


class GitHubStub:
    """Plays github.com: device code, a scripted sequence of token answers, GET /user."""

    def __init__(self, token_answers: list[dict], *, web: str = "https://github.com",
                 api: str = "https://api.github.com", user_status: int = 200,
                 scopes: str | None = "repo, gist"):
        self.answers = list(token_answers)
        self.web, self.api = web, api
        self.user_status, self.scopes = user_status, scopes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url)
        if url == f"{self.web}/login/device/code":
            return httpx.Response(200, json=DEVICE)
        if url == f"{self.web}/login/oauth/access_token":
            return httpx.Response(200, json=self.answers.pop(0) if self.answers else PENDING)
        if url == f"{self.api}/user":
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return httpx.Response(401, json={"message": "Bad credentials"})
            if self.user_status != 200:
                return httpx.Response(self.user_status, json={"message": "Bad credentials"})
            headers = {"X-OAuth-Scopes": self.scopes} if self.scopes is not None else {}
            return httpx.Response(200, json=USER, headers=headers)
        return httpx.Response(404, text="<html>not found</html>")

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def form(self, i: int) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.requests[i].content.decode()).items()}

    @property
    def polls(self) -> int:
        return sum(r.url.path == "/login/oauth/access_token" for r in self.requests)


def run_flow(stub: GitHubStub, fake: FakeTime, codes: list | None = None) -> str:
    shown = codes if codes is not None else []
    return device_flow(stub.client(), "https://github.com", "Iv1.abc", "repo read:org",
                       on_code=lambda code, uri: shown.append((code, uri)),
                       sleep=fake.sleep, clock=fake.clock, source="github")


def config(**kw) -> SimpleNamespace:
    base = {"base_url": "https://api.github.com", "client_id": "Iv1.abc", "token_env": None}
    return SimpleNamespace(**{**base, **kw})


def assert_no_token(exc: BaseException) -> None:
    texts = [str(exc), repr(exc), str(getattr(exc, "hint", "")), repr(exc.args)]
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        texts += [str(cause), repr(cause)]
        cause = cause.__cause__ or cause.__context__
    assert not any(TOKEN in t for t in texts)


# ---------------------------------------------------------------- device flow


def test_pending_then_slow_down_then_success():
    stub, fake, codes = GitHubStub([PENDING, SLOW_DOWN, SUCCESS]), FakeTime(), []
    assert run_flow(stub, fake, codes) == TOKEN
    assert codes == [("WDJB-MJHT", "https://github.com/login/device")]
    # interval 5 from the device-code answer, then slow_down's interval (5 + 5)
    assert fake.sleeps == [5, 5, 10]
    assert stub.form(0) == {"client_id": "Iv1.abc", "scope": "repo read:org"}
    assert stub.form(1) == {"client_id": "Iv1.abc", "device_code": DEVICE["device_code"],
                            "grant_type": "urn:ietf:params:oauth:grant-type:device_code"}
    assert all(r.headers["Accept"] == "application/json" for r in stub.requests)
    assert all(r.method == "POST" for r in stub.requests)


def test_slow_down_without_interval_adds_five_seconds_each_time():
    bare = {k: v for k, v in SLOW_DOWN.items() if k != "interval"}
    stub, fake = GitHubStub([bare, bare, PENDING, SUCCESS]), FakeTime()
    assert run_flow(stub, fake) == TOKEN
    assert fake.sleeps == [5, 10, 15, 15]


def test_slow_down_interval_from_github_wins():
    stub, fake = GitHubStub([dict(SLOW_DOWN, interval=17), SUCCESS]), FakeTime()
    assert run_flow(stub, fake) == TOKEN
    assert fake.sleeps == [5, 17]


def test_expired_token():
    stub, fake = GitHubStub([PENDING, EXPIRED]), FakeTime()
    with pytest.raises(AuthError, match="code expired") as err:
        run_flow(stub, fake)
    assert "dihub auth github" in err.value.hint
    assert stub.polls == 2


def test_access_denied():
    stub, fake = GitHubStub([DENIED]), FakeTime()
    with pytest.raises(AuthError, match="authorization was denied"):
        run_flow(stub, fake)


def test_gives_up_when_expires_in_passes_without_asking_again():
    stub, fake = GitHubStub([]), FakeTime()       # pending forever
    with pytest.raises(AuthError, match="code expired"):
        run_flow(stub, fake)
    assert fake.now - 1000.0 == DEVICE["expires_in"]       # 900 s of 5 s sleeps
    assert stub.polls == DEVICE["expires_in"] // DEVICE["interval"] - 1


@pytest.mark.parametrize("answer, text", [
    (load("oauth/access-token-errors.web-flow.docs.json")[0]["body"],
     "The client_id and/or client_secret passed are incorrect."),
    ({"error": "device_flow_disabled"}, "device flow is not enabled"),
    ({"error": "unsupported_grant_type"}, "grant type must be"),
    ({"error": "incorrect_device_code", "error_description": "bad code"}, "bad code"),
])
def test_other_errors_carry_githubs_description(answer, text):
    with pytest.raises(AuthError, match="GitHub device flow failed") as err:
        run_flow(GitHubStub([answer]), FakeTime())
    assert text in str(err.value) and answer["error"] in str(err.value)


def test_unreachable_host_is_temporary():
    def boom(request):
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(TemporaryError, match="could not reach https://github.com/login"):
        device_flow(httpx.Client(transport=httpx.MockTransport(boom)), "https://github.com",
                    "Iv1.abc", "repo", on_code=lambda *a: None, sleep=lambda s: None)


def test_html_answer_is_a_clear_error():
    stub = GitHubStub([], web="https://elsewhere.example")    # everything 404 HTML
    with pytest.raises(AuthError, match=r"unexpected answer .* \(HTTP 404\)"):
        run_flow(stub, FakeTime())


@pytest.mark.parametrize("api, web", [
    ("https://api.github.com", "https://github.com"),
    ("https://api.github.com/", "https://github.com"),
    ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
    ("https://ghe.example.com/api/v3/", "https://ghe.example.com"),
    ("https://ghe.example.com:8443/api/v3", "https://ghe.example.com:8443"),
    ("https://api.octocorp.ghe.com", "https://octocorp.ghe.com"),
    (None, "https://github.com"),
])
def test_web_base_for(api, web):
    assert web_base_for(api) == web


# ---------------------------------------------------------------- GitHubAuth


def test_device_flow_login_stores_token_and_status_reports_it(memory_keyring, registered):
    stub, fake = GitHubStub([PENDING, SUCCESS]), FakeTime()
    auth = GitHubAuth(sleep=fake.sleep, clock=fake.clock)
    who = auth.login("github", config(), on_code=lambda c, u: None, http=stub.client())
    assert who == "octocat"
    assert registered and set(registered) == {TOKEN}      # known to the log redactor
    assert memory_keyring.store == {("dihub", "github:token@api.github.com"): TOKEN,
                                    ("dihub", "github:token:hosts"): '["api.github.com"]'}

    sent = len(stub.requests)
    status = auth.status("github", config(), http=stub.client())     # asks no one
    assert len(stub.requests) == sent
    assert status["state"] == "present" and status["via"] == "keyring"
    status = auth.status("github", config(), http=stub.client(), check=True)
    assert len(stub.requests) == sent + 1
    assert status == {"source": "github", "api": "https://api.github.com",
                      "host": "api.github.com", "logged_in": True, "via": "keyring",
                      "user": "octocat", "scopes": ["repo", "gist"], "error": None,
                      "state": "ok"}
    assert TOKEN not in repr(status)
    assert auth.token("github", config()) == TOKEN
    assert auth.logout("github") is True
    assert memory_keyring.store == {}
    assert auth.logout("github") is False


def test_login_on_ghes_uses_the_web_host_and_api_path(memory_keyring):
    stub = GitHubStub([SUCCESS], web="https://ghe.example.com",
                      api="https://ghe.example.com/api/v3")
    auth = GitHubAuth(sleep=lambda s: None)
    cfg = config(base_url="https://ghe.example.com/api/v3/")
    assert auth.login("ghe", cfg, on_code=lambda c, u: None, http=stub.client()) == "octocat"
    assert [str(r.url) for r in stub.requests] == [
        "https://ghe.example.com/login/device/code",
        "https://ghe.example.com/login/oauth/access_token",
        "https://ghe.example.com/api/v3/user",
    ]
    assert ("dihub", "ghe:token@ghe.example.com") in memory_keyring.store


def test_with_token_skips_the_device_flow(memory_keyring):
    stub = GitHubStub([])
    who = GitHubAuth().login("github", config(client_id=None), with_token=f"  {TOKEN}\n",
                             http=stub.client())
    assert who == "octocat"
    assert [r.url.path for r in stub.requests] == ["/user"]
    assert memory_keyring.store[("dihub", "github:token@api.github.com")] == TOKEN


def test_rejected_token_is_not_stored_and_never_shown(memory_keyring, registered):
    stub = GitHubStub([], user_status=401)
    with pytest.raises(AuthError, match="rejected the token") as err:
        GitHubAuth().login("github", config(), with_token=TOKEN, http=stub.client())
    assert_no_token(err.value)
    assert memory_keyring.store == {}
    assert registered == [TOKEN]          # registered before it was ever sent


def test_status_with_rejected_token(memory_keyring):
    secrets.set_secret("github", "token", TOKEN, host=GH)
    status = GitHubAuth().status("github", config(), http=GitHubStub([], user_status=401)
                                 .client(), check=True)
    assert status["logged_in"] is False and status["via"] == "keyring"
    assert status["state"] == "rejected" and status["http_status"] == 401
    assert "rejected" in status["error"]
    assert TOKEN not in json.dumps(status)


def test_status_without_token(memory_keyring):
    status = GitHubAuth().status("github", config(), http=GitHubStub([]).client())
    assert status["logged_in"] is False and status["via"] is None


def test_fine_grained_token_has_no_scopes_header(memory_keyring):
    secrets.set_secret("github", "token", TOKEN, host=GH)
    status = GitHubAuth().status("github", config(), http=GitHubStub([], scopes=None).client(),
                                 check=True)
    assert status["logged_in"] is True and status["scopes"] is None


def test_missing_client_id_is_explained():
    with pytest.raises(AuthError, match="client ID") as err:
        GitHubAuth().login("github", config(client_id=None), http=GitHubStub([]).client())
    assert "client_id" in err.value.hint and "--with-token" in err.value.hint


def test_headless_login_fails_before_anyone_authorizes():
    keyring.set_keyring(fail.Keyring())
    stub = GitHubStub([SUCCESS])
    with pytest.raises(AuthError, match="no usable keyring") as err:
        GitHubAuth(sleep=lambda s: None).login("github", config(), on_code=lambda c, u: None,
                                               http=stub.client())
    assert "--insecure-store-file" in err.value.hint
    assert stub.requests == []


def test_headless_login_with_opt_in_file(tmp_path):
    keyring.set_keyring(fail.Keyring())
    GitHubAuth().login("github", config(), with_token=TOKEN, allow_file=True,
                       http=GitHubStub([]).client())
    assert secrets.get_secret("github", host=GH) == (TOKEN, "file")


def test_token_lookup_prefers_env_and_explains_absence(memory_keyring, monkeypatch):
    auth = GitHubAuth()
    with pytest.raises(AuthError, match="no GitHub token for source 'github'") as err:
        auth.token("github", config(token_env="GITHUB_TOKEN"))
    assert err.value.hint == "run `dihub auth github` or set GITHUB_TOKEN"
    with pytest.raises(AuthError) as err:
        auth.token("github", config())
    assert "token_env" in err.value.hint
    secrets.set_secret("github", "token", "from-keyring-123", host=GH)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    assert auth.token("github", config(token_env="GITHUB_TOKEN")) == TOKEN
    assert auth.token("github", config()) == "from-keyring-123"


def test_no_exception_anywhere_contains_the_token(memory_keyring):
    """Every failure after GitHub handed out the token: the token is in none of them."""
    failures: list[BaseException] = []
    for status in (401, 403, 500):
        stub = GitHubStub([SUCCESS], user_status=status)
        try:
            GitHubAuth(sleep=lambda s: None).login("github", config(), on_code=lambda c, u: None,
                                                   http=stub.client())
        except AuthError as exc:
            failures.append(exc)

    def down(request):
        if request.url.path == "/user":
            raise httpx.ReadTimeout("timed out", request=request)
        return GitHubStub([SUCCESS])(request)

    try:
        GitHubAuth(sleep=lambda s: None).login(
            "github", config(), on_code=lambda c, u: None,
            http=httpx.Client(transport=httpx.MockTransport(down)))
    except TemporaryError as exc:
        failures.append(exc)
    assert len(failures) == 4
    for exc in failures:
        assert_no_token(exc)
    assert memory_keyring.store == {}


def test_a_token_stored_for_github_com_is_not_used_for_another_base_url(memory_keyring):
    """Issue 8: changing base_url (a config edit, or a malicious config) never sends the
    stored token to the new host; token_env is not bound."""
    auth = GitHubAuth()
    auth.login("github", config(), with_token=TOKEN, http=GitHubStub([]).client())
    moved = config(base_url="https://ghe.example.com/api/v3")
    with pytest.raises(secrets.HostMismatch) as err:
        auth.token("github", moved)
    assert "api.github.com" in str(err.value) and "ghe.example.com" in str(err.value)
    assert "`dihub auth github`" in str(err.value)
    assert_no_token(err.value)

    stub = GitHubStub([], api="https://ghe.example.com/api/v3")
    status = auth.status("github", moved, http=stub.client())
    assert status["logged_in"] is False and status["host"] == "ghe.example.com"
    assert "api.github.com" in status["error"] and stub.requests == []   # nothing was sent
    assert TOKEN not in json.dumps(status)

    # logging in to the new host keeps the first login (one per host, like gh)
    auth.login("github", moved, with_token=TOKEN, http=stub.client())
    assert auth.token("github", moved) == auth.token("github", config()) == TOKEN
    assert auth.logout("github") is True and memory_keyring.store == {}
