"""GitHub App authentication against the simulator, in process: the JWT's claims, the
installations, token refresh before expiry and once on a 401, per-installation quotas,
and the errors of a wrong key or a missing installation."""

from __future__ import annotations

import time

import jwt
import pytest

from dihub.connectors.github.app import JWT_BACKDATE_S, AppJWT, GitHubApp, signing_key
from dihub.connectors.github.config import GitHubConfig
from dihub.errors import AuthError, ConfigError
from dihub.http import HttpAuthError, HttpClient
from dihub.http.governor import Governor
from dihub.settings import HttpSettings, RateLimitSettings
from tests.simulators.github import App, Dataset, GitHubSimulator, TokenAuth, generate_keys

REPOS = ("octo-org/repo-a", "acme-corp/api")
INSTALLS = {"octo-org": 101, "acme-corp": 202}


@pytest.fixture(scope="module")
def keys():
    return generate_keys()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _config(base_url: str, pem: str, monkeypatch, **app) -> GitHubConfig:
    monkeypatch.setenv("DIHUB_TEST_APP_KEY", pem)
    return GitHubConfig(connector="github", base_url=base_url, repos=list(REPOS),
                        app={"app_id": 12345, "private_key_env": "DIHUB_TEST_APP_KEY", **app})


def _rig(sim, config, clock=time.time, audit=None):
    settings = HttpSettings(retry={"attempts": 2, "backoff_s": [0], "jitter": 0})
    http = HttpClient(config.base_url, source="github", settings=settings,
                      sleep=lambda s: None)
    return http, GitHubApp("github", config, http, audit=audit, clock=clock)


def test_jwt_claims_are_rs256_iat_60s_back_exp_within_10_minutes(keys):
    private, public = keys
    clock = Clock()
    make = AppJWT("12345", signing_key(private, "github", None), clock)
    token = make()
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, public, algorithms=["RS256"],
                        options={"verify_exp": False, "verify_iat": False})
    assert header["alg"] == "RS256"
    assert claims["iss"] == "12345"
    assert claims["iat"] == int(clock.now) - JWT_BACKDATE_S
    assert 0 < claims["exp"] - int(clock.now) <= 600
    assert claims["exp"] - claims["iat"] <= 600
    clock.now += 60
    assert make() == token                        # reused while it has minutes left
    clock.now += 480
    assert make() != token                        # a fresh one before it runs out


def test_each_owner_gets_its_installation_token_and_quota(keys, monkeypatch):
    private, public = keys
    app = App(public, INSTALLS)
    with GitHubSimulator(Dataset.generate(REPOS, commits_per_repo=5, seed=2),
                         auth=TokenAuth({}), app=app) as sim:
        config = _config(sim.api_url, private, monkeypatch)
        http, gh = _rig(sim, config)
        octo, acme = gh.client_for(http, "octo-org"), gh.client_for(http, "ACME-corp")
        assert octo.get("/repos/octo-org/repo-a").data["full_name"] == "octo-org/repo-a"
        assert acme.get("/repos/acme-corp/api").status == 200
        assert [i for i, _ in app.minted] == [101, 202]
        assert app.quota(101).spent_total == 1 and app.quota(202).spent_total == 1
        # the governor keeps one bucket per installation
        assert http.governor.state("/repos/x/y", quota="installation 101")["remaining"] == 4999
        assert http.governor.state("/repos/x/y", quota="installation 202")["remaining"] == 4999
        assert http.governor.state("/repos/x/y")["remaining"] is None
        # an installation token reaches its own account only
        with pytest.raises(Exception, match="404"):
            octo.get("/repos/acme-corp/api")
        used = {r.headers["authorization"] for r in sim.stats.requests_to("/repos/")}
        assert len(used) == 2 and not any(t.count(".") == 2 for t in used)   # never the JWT
        claims = app.jwts[0]
        assert claims["iss"] == "12345" and claims["exp"] - claims["iat"] <= 600


def test_token_is_replaced_within_the_refresh_margin_not_before(keys, monkeypatch):
    private, public = keys
    clock = Clock()
    app = App(public, INSTALLS, token_lifetime_s=3600, clock=clock)
    audited = []
    with GitHubSimulator(Dataset.generate(REPOS, commits_per_repo=5, seed=2),
                         auth=TokenAuth({}), app=app) as sim:
        config = _config(sim.api_url, private, monkeypatch, refresh_margin_s=300)
        http, gh = _rig(sim, config, clock, audit=lambda **kw: audited.append(kw))
        octo = gh.client_for(http, "octo-org")
        octo.get("/repos/octo-org/repo-a")
        clock.now += 3600 - 300 - 5                  # 5 s before the margin: kept
        octo.get("/repos/octo-org/repo-a")
        assert len(app.minted) == 1
        clock.now += 10                              # inside the margin: a new token
        octo.get("/repos/octo-org/repo-a")
        assert len(app.minted) == 2 and gh.refreshes == 1
        tokens = [r.headers["authorization"] for r in sim.stats.requests_to("/repos/")]
        assert tokens[0] == tokens[1] != tokens[2]
    assert [a["detail"]["reason"] for a in audited] == ["first", "expiring"]
    assert all(a["action"] == "token" for a in audited)


def test_a_401_gets_one_new_token_and_the_request_succeeds(keys, monkeypatch):
    private, public = keys
    app = App(public, INSTALLS, expire_after_uses=2)
    with GitHubSimulator(Dataset.generate(REPOS, commits_per_repo=5, seed=2),
                         auth=TokenAuth({}), app=app) as sim:
        config = _config(sim.api_url, private, monkeypatch)
        http, gh = _rig(sim, config)
        octo = gh.client_for(http, "octo-org")
        statuses = [octo.get("/repos/octo-org/repo-a").status for _ in range(5)]
        assert statuses == [200] * 5
        assert sim.stats.snapshot()["by_status"].get("401") == 2   # absorbed, retried once
        assert len(app.minted) == 3 and gh.refreshes == 2


def test_a_token_rejected_twice_is_an_auth_error_naming_the_installation(keys, monkeypatch):
    private, public = keys
    app = App(public, INSTALLS, expire_after_uses=0)       # every token refused at once
    with GitHubSimulator(Dataset.generate(REPOS, commits_per_repo=5, seed=2),
                         auth=TokenAuth({}), app=app) as sim:
        config = _config(sim.api_url, private, monkeypatch)
        http, gh = _rig(sim, config)
        with pytest.raises(HttpAuthError) as info:
            gh.client_for(http, "octo-org").get("/repos/octo-org/repo-a")
        assert "octo-org" in info.value.hint and len(app.minted) == 2


def test_a_key_github_does_not_know_is_refused_once_with_the_command_to_fix(keys, monkeypatch):
    private, _ = keys
    _, other_public = generate_keys()
    app = App(other_public, INSTALLS)
    with GitHubSimulator(Dataset.generate(REPOS, commits_per_repo=5, seed=2),
                         auth=TokenAuth({}), app=app) as sim:
        config = _config(sim.api_url, private, monkeypatch)
        http, gh = _rig(sim, config)
        for _ in range(3):
            with pytest.raises(HttpAuthError) as info:
                gh.client_for(http, "octo-org")
        assert app.refused_jwts == 1                  # remembered: GitHub asked once
    err = info.value
    assert "JSON web token could not be decoded" in str(err) and err.status == 401
    assert "dihub auth github --app-id 12345 --private-key-file" in err.hint
    assert private.splitlines()[1] not in str(err) + err.hint


def test_an_owner_without_installation_is_a_config_error_naming_it(keys, monkeypatch):
    private, public = keys
    app = App(public, {"octo-org": 101})
    with GitHubSimulator(Dataset.generate(REPOS, commits_per_repo=5, seed=2),
                         auth=TokenAuth({}), app=app) as sim:
        config = _config(sim.api_url, private, monkeypatch)
        http, gh = _rig(sim, config)
        with pytest.raises(ConfigError) as info:
            gh.client_for(http, "acme-corp", needed_for="acme-corp/api")
    text = str(info.value)
    assert "not installed on 'acme-corp'" in text and "acme-corp/api" in text
    assert "octo-org" in text and "Install the app on acme-corp" in info.value.hint


def test_a_key_that_is_not_pem_rsa_is_an_auth_error_without_its_content(monkeypatch):
    monkeypatch.setenv("DIHUB_TEST_APP_KEY", "not-a-key-but-a-secret-9f8e7d6c5b4a")
    config = GitHubConfig(connector="github", repos=["o/r"],
                          app={"app_id": 7, "private_key_env": "DIHUB_TEST_APP_KEY"})
    http = HttpClient(config.base_url, source="github")
    with pytest.raises(AuthError) as info:
        GitHubApp("github", config, http)
    assert "not an unencrypted PEM RSA private key" in str(info.value)
    assert "9f8e7d6c" not in str(info.value) + (info.value.hint or "")


def test_quota_scopes_keep_separate_buckets():
    now = [1000.0]
    gov = Governor(RateLimitSettings(), clock=lambda: now[0])
    exhausted = {"x-ratelimit-remaining": "0", "x-ratelimit-limit": "5000",
                 "x-ratelimit-reset": str(int(now[0] + 120))}
    gov.observe("/repos/a/b", 200, exhausted, quota="installation 1")
    waiting = gov.decide("/repos/a/b", "installation 1")
    free = gov.decide("/repos/c/d", "installation 2")
    assert waiting.wait_s > 100 and waiting.detail["bucket"] == "installation 1/default"
    assert free.wait_s == 0 and free.detail["bucket"] == "installation 2/default"
