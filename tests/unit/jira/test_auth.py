"""Jira login (Cloud email + API token, Data Center PAT), status, logout, credentials,
against the simulator in this process and an in-memory keyring."""

from __future__ import annotations

import httpx
import keyring
import pytest
from keyring.backends import fail

from dihub import secrets
from dihub.connectors.jira import JiraConfig
from dihub.connectors.jira.auth import BearerAuth, JiraAuth, credentials
from dihub.errors import AuthError
from tests.simulators.jira import Dataset, JiraSimulator
from tests.simulators.jira.testing import EMAIL, TOKEN
from tests.simulators.jira.testing import credentials as sim_credentials
from tests.support.keyrings import MemoryKeyring, use_memory_keyring


@pytest.fixture
def ring(monkeypatch) -> MemoryKeyring:
    monkeypatch.delenv("JIRA_TEST_TOKEN", raising=False)
    return use_memory_keyring()


@pytest.fixture(scope="module", params=["cloud", "datacenter"])
def sim(request):
    cloud = request.param == "cloud"
    ds = Dataset.generate(5, sprints=3, seed=1, deployment=request.param)
    with JiraSimulator(ds, credentials=sim_credentials(cloud)) as s:
        yield s


def conf(sim, **kw) -> JiraConfig:
    dep = "cloud" if sim.dataset.cloud else "datacenter"
    return JiraConfig(connector="jira", base_url=sim.base_url, deployment=dep, **kw)


def host(sim) -> str:
    return secrets.host_of(sim.base_url)


class Prompts:
    def __init__(self, *answers: str):
        self.answers, self.asked = list(answers), []

    def __call__(self, text: str, secret: bool = False) -> str:
        self.asked.append((text, secret))
        return self.answers.pop(0)


def test_login_asks_for_what_is_missing_verifies_and_stores(ring, sim):
    if sim.dataset.cloud:
        ask = Prompts(EMAIL, TOKEN)
        who = JiraAuth().login("jira", conf(sim), prompt=ask)
        assert [secret for _, secret in ask.asked] == [False, True]
        assert "account email" in ask.asked[0][0] and "API token" in ask.asked[1][0]
        assert ring.store[("dihub", f"jira:email@{host(sim)}")] == EMAIL
        assert who == f"Mia Krystof <{EMAIL}>"
    else:
        ask = Prompts(TOKEN)
        who = JiraAuth().login("jira", conf(sim), prompt=ask)
        assert ask.asked == [("Personal access token", True)]
        assert ("dihub", f"jira:email@{host(sim)}") not in ring.store
        assert who.startswith("Mia Krystof")
    assert ring.store[("dihub", f"jira:token@{host(sim)}")] == TOKEN
    status = JiraAuth().status("jira", conf(sim), check=True)
    assert status["logged_in"] and status["via"] == "keyring" and status["state"] == "ok"
    assert status["host"] == host(sim) == sim.base_url.split("://")[1].rstrip("/")
    assert TOKEN not in repr(status)
    assert JiraAuth().logout("jira") is True
    assert ring.store == {}


def test_a_rejected_token_is_not_stored_and_says_how_to_retry(ring, sim):
    with pytest.raises(AuthError) as err:
        JiraAuth().login("jira", conf(sim, email=EMAIL), with_token="wrong-token-1234")
    assert "rejected the credentials" in str(err.value)
    assert "dihub auth jira" in err.value.hint
    assert ("API token" if sim.dataset.cloud else "personal access token") in err.value.hint
    assert ring.store == {}


def test_no_terminal_and_no_token_tells_to_pipe_one(ring, sim):
    with pytest.raises(AuthError, match="cannot ask") as err:
        JiraAuth().login("jira", conf(sim, email=EMAIL))
    assert "--with-token" in err.value.hint


def test_without_a_keyring_nothing_is_asked_before_refusing(sim):
    keyring.set_keyring(fail.Keyring())
    ask = Prompts(EMAIL, TOKEN) if sim.dataset.cloud else Prompts(TOKEN)
    with pytest.raises(AuthError, match="no usable keyring"):
        JiraAuth().login("jira", conf(sim), prompt=ask)
    assert ask.asked == []
    assert JiraAuth().login("jira", conf(sim), prompt=ask, allow_file=True)
    assert secrets.get_secret("jira", host=host(sim)).where == "file"


def test_credentials_env_first_basic_on_cloud_bearer_on_datacenter(ring, monkeypatch):
    cloud = JiraConfig(connector="jira", base_url="https://a.atlassian.net",
                       token_env="JIRA_TEST_TOKEN", email="me@a.example")
    with pytest.raises(AuthError, match="no Jira credentials") as err:
        credentials("jira", cloud)
    assert "dihub auth jira" in err.value.hint and "$JIRA_TEST_TOKEN" in err.value.hint
    monkeypatch.setenv("JIRA_TEST_TOKEN", TOKEN)
    auth = credentials("jira", cloud)
    assert isinstance(auth, httpx.BasicAuth)
    request = next(auth.auth_flow(httpx.Request("GET", "https://a.atlassian.net")))
    assert request.headers["authorization"].startswith("Basic ")

    dc = JiraConfig(connector="jira", base_url="https://jira.acme.com",
                    token_env="JIRA_TEST_TOKEN")
    bearer = credentials("jira", dc)
    assert isinstance(bearer, BearerAuth) and TOKEN not in repr(bearer)
    request = next(bearer.auth_flow(httpx.Request("GET", "https://jira.acme.com")))
    assert request.headers["authorization"] == f"Bearer {TOKEN}"

    no_email = JiraConfig(connector="jira", base_url="https://a.atlassian.net",
                          token_env="JIRA_TEST_TOKEN")
    with pytest.raises(AuthError, match="no account email"):
        credentials("jira", no_email)
    ring.store[("dihub", "jira:email@a.atlassian.net")] = "stored@a.example"
    assert credentials("jira", no_email)._auth_header.startswith("Basic ")


def test_stored_credentials_are_bound_to_the_site(ring, sim):
    """Issue 8: the token and email stored for one Jira site are never used for another."""
    JiraAuth().login("jira", conf(sim, email=EMAIL), with_token=TOKEN)
    assert credentials("jira", conf(sim, email=EMAIL))          # the site it was issued for
    other = JiraConfig(connector="jira", base_url="https://evil.example.net",
                       deployment="cloud" if sim.dataset.cloud else "datacenter")
    with pytest.raises(secrets.HostMismatch) as err:
        credentials("jira", other)
    assert host(sim) in str(err.value) and "evil.example.net" in str(err.value)
    assert "dihub auth jira" in str(err.value) and TOKEN not in str(err.value)
    status = JiraAuth().status("jira", other)
    assert not status["logged_in"] and "evil.example.net" in status["error"]
    assert status["host"] == "evil.example.net" and TOKEN not in repr(status)
    JiraAuth().logout("jira")
    assert ring.store == {}
