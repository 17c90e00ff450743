"""Issue 8, end to end: a credential goes only to the host it was issued for.

The real `dihub` CLI in subprocesses on a machine without a keyring (the opt-in 0600
file holds the login), against the GitHub simulator and tests/support/recorder.py
servers: every server is on 127.0.0.1 with its own port, so each is another host.
"""

from __future__ import annotations

import json
import os

from tests.integration.conftest import Dihub
from tests.simulators.github import Dataset, GitHubSimulator, TokenAuth
from tests.support.github import REPOS, TOKEN, github_config, with_token
from tests.support.recorder import Recorder


def _sim() -> GitHubSimulator:
    data = Dataset.generate(REPOS, commits_per_repo=20, prs_per_repo=2, issues_per_repo=2,
                            runs_per_repo=1, seed=8)
    return GitHubSimulator(data, auth=TokenAuth({TOKEN: "octo-ci"}))


def _headless(dihub: Dihub) -> Dihub:
    dihub.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return dihub


def _credentials(dihub: Dihub):
    return dihub.tmp / "home" / ".config" / "dihub" / "credentials.json"


def _host(url: str) -> str:
    return url.split("://", 1)[1].rstrip("/")


def _token_seen(sim: GitHubSimulator) -> bool:
    return any(TOKEN in (r.headers.get("authorization") or "") for r in sim.stats.log)


def test_changing_base_url_never_sends_the_stored_token_to_the_new_host(tmp_path):
    dihub = _headless(Dihub(tmp_path))
    with _sim() as sim, Recorder(body={}) as other:
        dihub.write_config(github_config(sim.api_url, token_env=None))
        dihub.run("auth", "github", "--with-token", "--insecure-store-file",
                  input=TOKEN + "\n", check_code=0)
        here, there = _host(sim.api_url), _host(other.url)

        dihub.write_config(github_config(other.url, token_env=None))     # the config edit
        res = dihub.run("sync", "github", "commits", check_code=1)
        assert other.requests == []                     # not one request, with or without it
        assert f"issued for {here}, not for {there}" in res.stderr
        assert "run `dihub auth github` to log in to" in res.stderr
        assert TOKEN not in res.stdout + res.stderr and "Traceback" not in res.stderr

        status = dihub.run("auth", "status", "github", check_code=0)
        assert f"github: not logged in to {there}" in status.stdout
        assert here in status.stdout and TOKEN not in status.stdout
        assert other.requests == []

        dihub.write_config(github_config(sim.api_url, token_env=None))   # back: still works
        dihub.run("sync", "github", "commits", check_code=0)
        assert dihub.store().count("commits", "github") == 40
        status = dihub.run("auth", "status", "github", "--check", check_code=0).stdout
        assert "github: ok as " in status and f"host: {here}" in status


def test_a_cross_host_redirect_does_not_carry_the_token_env_token(tmp_path):
    """`token_env` (CI) is not bound to a host, but it still only goes to base_url's host:
    the configured API answers 302 to another server, which must see nothing."""
    dihub = with_token(Dihub(tmp_path))
    with Recorder(body=[]) as other, Recorder(redirect_to=other.url) as api:
        dihub.write_config(github_config(api.url))
        res = dihub.run("sync", "github", "commits")
    assert res.returncode == 1, res.stderr
    assert api.requests and all(a == f"Bearer {TOKEN}" for a in api.authorizations)
    assert other.requests == []
    assert "not followed" in res.stderr and other.url in res.stderr and api.url in res.stderr
    assert TOKEN not in res.stdout + res.stderr


def test_a_token_stored_by_an_older_dihub_is_refused_until_the_next_login(tmp_path):
    """Migration: the old `<source>:token` entry recorded no host, so it is never sent;
    `dihub auth github` binds a new login to the configured host and drops the old one."""
    dihub = _headless(Dihub(tmp_path))
    creds = _credentials(dihub)
    creds.parent.mkdir(parents=True)
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, json.dumps({"version": 1, "secrets": {"github:token": TOKEN}}).encode())
    os.close(fd)
    with _sim() as sim:
        dihub.write_config(github_config(sim.api_url, token_env=None))
        here = _host(sim.api_url)
        res = dihub.run("sync", "github", "commits", check_code=1)
        assert "saved by an older dihub without the host" in res.stderr
        assert f"not sent to {here}" in res.stderr and "`dihub auth github`" in res.stderr
        assert not _token_seen(sim)
        status = dihub.run("auth", "status", "github", check_code=0).stdout
        assert "not logged in" in status and "older dihub" in status
        assert not _token_seen(sim) and TOKEN not in res.stderr + status

        dihub.run("auth", "github", "--with-token", "--insecure-store-file",
                  input=TOKEN + "\n", check_code=0)
        assert set(json.loads(creds.read_text())["secrets"]) == {f"github:token@{here}"}
        dihub.run("sync", "github", "commits", check_code=0)
        assert dihub.store().count("commits", "github") == 40
