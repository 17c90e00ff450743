"""`dihub auth gitlab` against the simulator: the device flow end to end (pending,
slow_down, expired, denied), --with-token with the read_api check, status with user and
host, the refresh of an expiring OAuth token; and a sync with a token lacking read_api or
expired: exit 1 with the command to run, never an empty sync with exit 0."""

from __future__ import annotations

import logging

import keyring
import pytest
from keyring.backends import fail
from typer.testing import CliRunner

from tests.integration.conftest import Dihub
from tests.simulators.gitlab import Dataset, DeviceFlow, GitLabSimulator, TokenAuth
from tests.support.gitlab import TOKEN, gitlab_config, with_token

CLIENT_ID = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
DEVICE_TOKEN = "simulated-device-flow-token-0123456789"
LOGIN = f"client_id: {CLIENT_ID}"
PROJECT = ("group-a/sub/project-a",)
READ_USER_ONLY = "sekrit-read-user-only-0a1b2c3d"


def small() -> Dataset:
    return Dataset.generate(PROJECT, commits_per_project=40, mrs_per_project=5,
                            issues_per_project=5, pipelines_per_project=3, seed=4)


def _sim(outcomes, **flow) -> GitLabSimulator:
    device = DeviceFlow(outcomes, interval=1, client_id=CLIENT_ID, access_token=DEVICE_TOKEN,
                        **flow)
    auth = TokenAuth({TOKEN: "read_api", READ_USER_ONLY: "read_user"})
    return GitLabSimulator(small(), auth=auth, device_flow=device)


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """The real `dihub` app in this process, so the device flow's sleeps are recorded
    instead of waited; credentials in a file under tmp_path (a headless machine)."""
    from dihub.cli.state import state
    from dihub.connectors.gitlab import connector

    config_dir = tmp_path / "home" / ".config" / "dihub"
    monkeypatch.setenv("DIHUB_CONFIG_DIR", str(config_dir))
    sleeps: list[float] = []
    monkeypatch.setattr(connector.auth, "_sleep", sleeps.append)
    logger = logging.getLogger("dihub")
    saved = logger.handlers[:], logger.level, logger.propagate
    keyring.set_keyring(fail.Keyring())

    def invoke(config, *args: str, input: str | None = None):
        from dihub.cli.app import app
        state._config = None
        result = CliRunner().invoke(app, ["--config", str(config), *args], input=input)
        logger.handlers[:], logger.level, logger.propagate = saved
        return result
    invoke.sleeps = sleeps
    invoke.credentials = config_dir / "credentials.json"
    yield invoke
    state._config = None


def test_device_flow_pending_slow_down_success_then_sync_status_logout(cli, tmp_path):
    with _sim(["authorization_pending", "slow_down", "success"]) as sim:
        dihub = Dihub(tmp_path)
        config = dihub.write_config(gitlab_config(sim.base_url, PROJECT, token_env=None,
                                                  extra=LOGIN))
        res = cli(config, "auth", "gitlab", "--insecure-store-file")
        assert res.exit_code == 0, res.output
        assert "0A44L90H" in res.output and f"{sim.base_url}/oauth/device" in res.output
        assert "logged in as" in res.output and DEVICE_TOKEN not in res.output
        assert cli.sleeps == [1, 1, 6]            # interval 1, then slow_down's 1 + 5
        asked = [r for r in sim.device_flow.requests if r["endpoint"] == "authorize_device"]
        assert asked[0]["scope"] == "read_api" and asked[0]["client_id"] == CLIENT_ID
        polls = [r for r in sim.device_flow.requests if r["endpoint"] == "token"]
        assert len(polls) == 3
        assert DEVICE_TOKEN in cli.credentials.read_text()

        # a cron run uses the stored token, bound to the simulator's host
        dihub.run("sync", "gitlab", "commits", check_code=0)
        assert dihub.store().count("commits", "gitlab") == 40
        status = dihub.run("auth", "status", "gitlab", "--check", check_code=0)
        host = sim.base_url.split("://", 1)[1]
        assert "gitlab: ok as " in status.stdout and f"host: {host}" in status.stdout
        assert "via: file" in status.stdout and DEVICE_TOKEN not in status.stdout
        out = dihub.run("auth", "logout", "gitlab", check_code=0)
        assert "logged out" in out.stdout
        gone = dihub.run("sync", "gitlab", "commits", check_code=1)
        assert "no GitLab token" in gone.stderr and "dihub auth gitlab" in gone.stderr


@pytest.mark.parametrize("outcomes, says", [
    (["authorization_pending", "expired_token"], "expired"),
    (["authorization_pending", "access_denied"], "denied"),
])
def test_device_flow_expired_or_denied_stores_nothing(cli, tmp_path, outcomes, says):
    with _sim(outcomes) as sim:
        config = Dihub(tmp_path).write_config(gitlab_config(sim.base_url, PROJECT,
                                                            token_env=None, extra=LOGIN))
        res = cli(config, "auth", "gitlab", "--insecure-store-file")
    assert res.exit_code == 1, res.output
    assert says in res.output and "dihub auth gitlab" in res.output
    assert "Traceback" not in res.output and not cli.credentials.exists()


def test_an_expiring_device_flow_token_is_refreshed_before_a_sync(cli, tmp_path):
    with _sim(["success"], token_expires_in=30) as sim:
        dihub = Dihub(tmp_path)
        config = dihub.write_config(gitlab_config(sim.base_url, PROJECT, token_env=None,
                                                  extra=LOGIN))
        assert cli(config, "auth", "gitlab", "--insecure-store-file").exit_code == 0
        dihub.run("sync", "gitlab", "issues", check_code=0)
        refreshes = [r for r in sim.device_flow.requests
                     if r["endpoint"] == "token" and r.get("grant_type") == "refresh_token"]
        assert len(refreshes) == 1 and refreshes[0]["client_id"] == CLIENT_ID
        assert dihub.store().count("issues", "gitlab") == 5
        assert DEVICE_TOKEN not in cli.credentials.read_text()     # replaced by the new one


def test_with_token_needs_read_api_and_says_so(tmp_path):
    with _sim(["success"]) as sim:
        dihub = Dihub(tmp_path)
        dihub.write_config(gitlab_config(sim.base_url, PROJECT, token_env=None))
        bad = dihub.run("auth", "gitlab", "--with-token", "--insecure-store-file",
                        input=READ_USER_ONLY + "\n", check_code=1)
        assert "read_api" in bad.stderr and "dihub auth gitlab" in bad.stderr
        assert READ_USER_ONLY not in bad.stdout + bad.stderr
        ok = dihub.run("auth", "gitlab", "--with-token", "--insecure-store-file",
                       input=TOKEN + "\n", check_code=0)
        assert "logged in as" in ok.stdout
        dihub.run("sync", "gitlab", "merge_requests", check_code=0)
        assert dihub.store().count("pull_requests", "gitlab") == 5


def test_a_sync_without_read_api_or_with_an_expired_token_exits_1_with_the_fix(tmp_path):
    with _sim(["success"]) as sim:
        dihub = with_token(Dihub(tmp_path), READ_USER_ONLY)
        dihub.write_config(gitlab_config(sim.base_url, PROJECT))
        res = dihub.run("sync", "gitlab", check_code=1)
        assert "insufficient_scope" in res.stderr or "higher privileges" in res.stderr
        assert "read_api" in res.stderr and "dihub auth gitlab" in res.stderr
        assert READ_USER_ONLY not in res.stdout + res.stderr
        assert dihub.store().count("commits", "gitlab") == 0

        sim.auth.expire(TOKEN)
        expired = with_token(dihub, TOKEN).run("sync", "gitlab", check_code=1)
        assert "expired" in expired.stderr.lower() and "dihub auth gitlab" in expired.stderr
        assert TOKEN not in expired.stdout + expired.stderr
