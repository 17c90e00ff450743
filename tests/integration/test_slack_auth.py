"""`dihub auth slack`: store a bot token, show team and bot user, forget it."""

from __future__ import annotations

from tests.simulators.slack import SlackSimulator, Workspace
from tests.simulators.slack.testing import TOKEN, TOKEN_ENV, config_yaml


def _setup(dihub, sim: SlackSimulator) -> None:
    dihub.write_config(config_yaml(sim.api_url))
    dihub.env.pop(TOKEN_ENV, None)


def test_login_status_sync_logout_with_a_stored_token(dihub):
    ws = Workspace.generate(channels=1, messages=20, seed=1)
    with SlackSimulator(ws, tokens=[TOKEN]) as sim:
        _setup(dihub, sim)
        login = dihub.run("auth", "slack", "--with-token", "--insecure-store-file",
                          input=TOKEN + "\n", check_code=0)
        assert "logged in as dihub in dihub-sim" in login.stdout
        status = dihub.run("auth", "status", "slack", "--check", check_code=0).stdout
        assert "slack: ok as dihub (U0BOT0001)" in status
        assert "team: dihub-sim (T0SIM0001)" in status
        assert "bot_user: dihub (U0BOT0001)" in status and "via: file" in status

        dihub.run("sync", "slack", "messages", check_code=0)     # the stored token works
        assert dihub.store().count("slack_events", "slack") == ws.counts()["events"]

        out = dihub.run("auth", "logout", "slack", check_code=0).stdout
        assert "logged out" in out
        out = dihub.run("auth", "status", "slack").stdout
        assert "not logged in" in out and "no token stored" in out
        for proc_text in (login.stdout, login.stderr, status):
            assert TOKEN not in proc_text


def test_prompted_token_is_not_echoed(dihub):
    with SlackSimulator(Workspace.generate(channels=1, messages=5), tokens=[TOKEN]) as sim:
        _setup(dihub, sim)
        proc = dihub.run("auth", "slack", "--insecure-store-file", input=TOKEN + "\n",
                         check_code=0)
    assert "logged in as dihub" in proc.stdout
    assert TOKEN not in proc.stdout + proc.stderr


def test_only_a_valid_bot_token_is_stored(dihub):
    with SlackSimulator(Workspace.generate(channels=1, messages=5), tokens=[TOKEN]) as sim:
        _setup(dihub, sim)
        user_token = "xoxp-1111111111-2222222222-UserTokenValue"
        proc = dihub.run("auth", "slack", "--with-token", "--insecure-store-file",
                         input=user_token + "\n", check_code=1)
        assert "expected a Slack bot token (xoxb-...)" in proc.stderr
        assert "UserTokenValue" not in proc.stderr

        wrong = "xoxb-1111111111-2222222222-RevokedTokenValue"
        proc = dihub.run("auth", "slack", "--with-token", "--insecure-store-file",
                         input=wrong + "\n", check_code=1)
        assert "invalid_auth" in proc.stderr and "RevokedTokenValue" not in proc.stderr
        assert "no token stored" in dihub.run("auth", "status", "slack").stdout


def test_without_a_keyring_the_file_needs_opting_in(dihub):
    with SlackSimulator(Workspace.generate(channels=1, messages=5), tokens=[TOKEN]) as sim:
        _setup(dihub, sim)
        proc = dihub.run("auth", "slack", "--with-token", input=TOKEN + "\n")
    if proc.returncode == 0:        # this machine has a usable keyring: nothing to check
        dihub.run("auth", "logout", "slack", check_code=0)
        return
    assert proc.returncode == 1
    assert "--insecure-store-file" in proc.stderr and "token_env" in proc.stderr
