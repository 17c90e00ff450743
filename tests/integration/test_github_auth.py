"""`dihub auth github` against the simulator (device flow, --with-token, status, logout,
headless machines), and what a rejected token does to a sync."""

from __future__ import annotations

import logging
import os
import stat

import keyring
import pytest
from keyring.backends import fail
from typer.testing import CliRunner

from tests.integration.conftest import Dihub
from tests.simulators.github import Dataset, DeviceFlow, GitHubSimulator, TokenAuth
from tests.support.github import REPOS, TOKEN, cursors, github_config, with_token

CLIENT_ID = "Iv1.dihubtest00000001"
DEVICE_TOKEN = "gho_simulatedDeviceFlowToken0123456789"
LOGIN_CONFIG = f"client_id: {CLIENT_ID}\nscopes: [repo, read:org]"


def small() -> Dataset:
    return Dataset.generate(REPOS, commits_per_repo=150, prs_per_repo=30, issues_per_repo=30,
                            runs_per_repo=10, seed=4)


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Run the real `dihub` app in this process (so the device flow's sleeps can be
    recorded instead of waited), with the credentials file under tmp_path."""
    from dihub.cli.state import state
    from dihub.connectors.github import connector

    config_dir = tmp_path / "home" / ".config" / "dihub"
    monkeypatch.setenv("DIHUB_CONFIG_DIR", str(config_dir))
    sleeps: list[float] = []
    monkeypatch.setattr(connector.auth, "_sleep", sleeps.append)
    logger = logging.getLogger("dihub")
    saved = logger.handlers[:], logger.level, logger.propagate
    keyring.set_keyring(fail.Keyring())       # a headless machine, whatever ran before

    def invoke(config, *args: str, input: str | None = None):
        state._config = None
        result = CliRunner().invoke(_app(), ["--config", str(config), *args], input=input)
        logger.handlers[:], logger.level, logger.propagate = saved
        return result

    invoke.sleeps = sleeps
    invoke.credentials = config_dir / "credentials.json"
    yield invoke
    state._config = None


def _app():
    from dihub.cli.app import app

    return app


def _sim(outcomes, api_prefix: str = "") -> GitHubSimulator:
    flow = DeviceFlow(outcomes, interval=1, client_id=CLIENT_ID, access_token=DEVICE_TOKEN)
    return GitHubSimulator(small(), auth=TokenAuth({TOKEN: "octo-ci"}), device_flow=flow,
                           api_prefix=api_prefix)


def test_device_flow_pending_slow_down_success_then_sync_status_logout(cli, tmp_path):
    """On an Enterprise Server layout: the API under /api/v3, the login on the web root."""
    with _sim(["authorization_pending", "slow_down", "success"], "/api/v3") as sim:
        dihub = Dihub(tmp_path)
        config = dihub.write_config(github_config(sim.api_url, token_env=None,
                                                  extra=LOGIN_CONFIG))
        res = cli(config, "auth", "github", "--insecure-store-file")
        assert res.exit_code == 0, res.output
        assert "WDJB-MJHT" in res.output and "https://github.com/login/device" in res.output
        assert "logged in" in res.output and DEVICE_TOKEN not in res.output
        assert cli.sleeps == [1, 1, 6]            # interval 1, then slow_down's 1 + 5
        polls = [r for r in sim.device_flow.requests if r["endpoint"] == "access_token"]
        assert len(polls) == 3 and polls[0]["client_id"] == CLIENT_ID
        assert stat.S_IMODE(os.stat(cli.credentials).st_mode) == 0o600
        assert DEVICE_TOKEN in cli.credentials.read_text()

        # a cron run picks the stored token up (no token_env in the config)
        dihub.run("sync", "github", "commits", check_code=0)
        assert dihub.store().count("commits", "github") == 300
        used = {r.headers.get("authorization") for r in sim.stats.requests_to("/commits")}
        assert used == {f"Bearer {DEVICE_TOKEN}"}

        status = dihub.run("auth", "status", "github", "--check", check_code=0)
        assert "github: ok as " in status.stdout and "via: file" in status.stdout
        assert DEVICE_TOKEN not in status.stdout + status.stderr
        out = dihub.run("auth", "logout", "github", check_code=0)
        assert "logged out" in out.stdout and not cli.credentials.exists()
        assert "not logged in" in dihub.run("auth", "status", "github", check_code=0).stdout
        gone = dihub.run("sync", "github", "commits", check_code=1)
        assert "no GitHub token" in gone.stderr and "dihub auth github" in gone.stderr


@pytest.mark.parametrize("outcomes, says", [
    (["authorization_pending", "expired_token"], "expired"),
    (["access_denied"], "denied"),
])
def test_device_flow_expired_or_denied_stores_nothing(cli, tmp_path, outcomes, says):
    with _sim(outcomes) as sim:
        config = Dihub(tmp_path).write_config(github_config(sim.api_url, token_env=None,
                                                            extra=LOGIN_CONFIG))
        res = cli(config, "auth", "github", "--insecure-store-file")
    assert res.exit_code == 1, res.output
    assert says in res.output and "dihub auth github" in res.output
    assert "Traceback" not in res.output
    assert not cli.credentials.exists()


def test_headless_login_explains_the_opt_in_and_asks_github_nothing(cli, tmp_path):
    with _sim(["success"]) as sim:
        config = Dihub(tmp_path).write_config(github_config(sim.api_url, token_env=None,
                                                            extra=LOGIN_CONFIG))
        res = cli(config, "auth", "github")
        assert res.exit_code == 1, res.output
        assert "no usable keyring" in res.output and "--insecure-store-file" in res.output
        assert sim.device_flow.requests == [] and sim.stats.requests == 0
    assert not cli.credentials.exists()


def test_with_token_from_stdin_like_gh(tmp_path):
    with _sim(["success"]) as sim:
        dihub = Dihub(tmp_path)
        dihub.write_config(github_config(sim.api_url, token_env=None))
        res = dihub.run("auth", "github", "--with-token", "--insecure-store-file",
                        input=TOKEN + "\n", check_code=0)
        assert "logged in as octo-ci" in res.stdout
        creds = tmp_path / "home" / ".config" / "dihub" / "credentials.json"
        assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
        dihub.run("sync", "github", "pull_requests", check_code=0)
        assert dihub.store().count("pull_requests", "github") == 60
        bad = dihub.run("auth", "github", "--with-token", "--insecure-store-file",
                        input="not-a-valid-token-123\n", check_code=1)
        assert "rejected the token" in bad.stderr and "not-a-valid-token-123" not in bad.stderr


def test_revoked_token_stops_the_source_with_a_login_hint_and_keeps_cursors(tmp_path):
    with _sim(["success"]) as sim:
        dihub = with_token(Dihub(tmp_path))
        dihub.write_config(github_config(sim.api_url))
        dihub.run("sync", "github", "--all", check_code=0)
        store = dihub.store()
        before = cursors(store)
        sim.dataset.add_commit(REPOS[0])
        sim.dataset.add_issue(REPOS[1])
        sim.auth.revoke(TOKEN)
        requests = sim.stats.requests
        res = dihub.run("sync", "github", "--all", check_code=1)
        assert "401" in res.stderr and "Bad credentials" in res.stderr
        assert "run `dihub auth github` to log in again" in res.stderr
        assert "DIHUB_TEST_GH_TOKEN" in res.stderr
        assert res.stderr.count("error:") == 1          # one message, not one per stream
        # the first stream's repositories may both have asked; nothing after that
        assert 1 <= sim.stats.requests - requests <= 2
        assert cursors(store) == before
        status = {(s.stream, s.status) for s in store.list_states("github")}
        # the streams after the first never called GitHub, but their state says the run failed
        assert status == {("commits", "failed"), ("pull_requests", "failed"),
                          ("issues", "failed"), ("workflow_runs", "failed")}
        assert "Traceback" not in res.stderr
