"""`dihub auth status` is fast and true (issue 9): without --check it says where each
credential comes from and contacts no one; `--check` asks every host once, in parallel,
and tells "ok as <who>", "rejected (401)" and "credential present, host unreachable"
apart, exiting 1 when any check fails."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.simulators.github import Dataset, GitHubSimulator, TokenAuth
from tests.support.github import REPOS, TOKEN

SECRET = "s3cret-value-never-shown-1234"


class Down:
    """Every request is answered 503 (a site in maintenance); each one is counted."""

    def __init__(self):
        self.requests: list[str] = []
        down = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                down.requests.append(f"{self.command} {self.path}")
                body = json.dumps({"message": "maintenance"}).encode()
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


def _three_sources(url: str, github_url: str | None = None) -> str:
    return (
        "sources:\n"
        f"  gh:\n    connector: github\n    base_url: {github_url or url + '/api/v3'}\n"
        f"    repos: [{REPOS[0]}]\n    token_env: GH_TOKEN\n"
        f"  jira:\n    connector: jira\n    base_url: {url}\n    deployment: datacenter\n"
        "    token_env: JIRA_TOKEN\n"
        f"  slack:\n    connector: slack\n    base_url: {url}/api\n    token_env: SLACK_TOKEN\n"
        "  repo:\n    connector: git\n    repo: .\n"
        "http:\n  retry: {attempts: 5, backoff_s: [0, 0, 0, 0], jitter: 0}\n")


@pytest.fixture
def env_tokens(dihub):
    dihub.env.update(GH_TOKEN=SECRET, JIRA_TOKEN=SECRET, SLACK_TOKEN="xoxb-" + SECRET)
    dihub.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return dihub


def test_status_says_where_each_credential_comes_from_and_asks_no_one(env_tokens):
    dihub = env_tokens
    with Down() as host:
        dihub.write_config(_three_sources(host.url))
        res = dihub.run("auth", "status", check_code=0)
        assert host.requests == []
    lines = res.stdout.splitlines()
    assert len(lines) == 3, res.stdout            # the git source needs no login
    for name in ("gh", "jira", "slack"):
        [line] = [ln for ln in lines if ln.startswith(f"{name}: ")]
        assert line.startswith(f"{name}: credential present (via: env, host: 127.0.0.1:")
        assert "not checked, --check asks" in line
    assert SECRET not in res.stdout + res.stderr
    del dihub.env["JIRA_TOKEN"]
    res = dihub.run("auth", "status", "jira", check_code=0)
    assert res.stdout.startswith("jira: not logged in to 127.0.0.1:") and host.requests == []


def test_check_with_the_hosts_down_asks_each_once_and_exits_1(env_tokens):
    """Jira used to make 5 attempts and Slack 3 (and say "not logged in", exit 0)."""
    dihub = env_tokens
    with Down() as host:
        dihub.write_config(_three_sources(host.url))
        res = dihub.run("auth", "status", "--check", "--timeout", "3", check_code=1)
        requests = list(host.requests)
    assert sorted(requests) == ["GET /api/auth.test", "GET /api/v3/user",
                                "GET /rest/api/2/myself"], requests
    for name in ("gh", "jira", "slack"):
        [line] = [ln for ln in res.stdout.splitlines() if ln.startswith(f"{name}: ")]
        assert line.startswith(f"{name}: credential present, host unreachable (via: env"), line
        assert "not logged in" not in line
    assert SECRET not in res.stdout + res.stderr


def test_check_tells_ok_from_rejected(env_tokens):
    dihub = env_tokens
    data = Dataset.generate(REPOS, commits_per_repo=1, prs_per_repo=0, issues_per_repo=0,
                            runs_per_repo=0, seed=9)
    with GitHubSimulator(data, auth=TokenAuth({TOKEN: "octo-ci"})) as sim, Down() as host:
        dihub.write_config(_three_sources(host.url, github_url=sim.api_url))
        dihub.env["GH_TOKEN"] = TOKEN
        ok = dihub.run("auth", "status", "gh", "--check", check_code=0)
        assert ok.stdout.startswith("gh: ok as octo-ci (via: env, host: 127.0.0.1:")
        dihub.env["GH_TOKEN"] = SECRET
        bad = dihub.run("auth", "status", "gh", "--check", check_code=1)
        assert bad.stdout.startswith("gh: rejected (401) by 127.0.0.1:")
        # no --check: no request, whatever the token
        sent = len(sim.stats.log)
        dihub.run("auth", "status", "gh", check_code=0)
        assert len(sim.stats.log) == sent
    assert SECRET not in bad.stdout + bad.stderr and TOKEN not in ok.stdout + ok.stderr


def test_check_without_a_credential_fails(dihub):
    dihub.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    with Down() as host:
        dihub.write_config(_three_sources(host.url))
        res = dihub.run("auth", "status", "slack", "--check", check_code=1)
        assert host.requests == []
    assert res.stdout.startswith("slack: not logged in to 127.0.0.1:")
    err = dihub.run("auth", "logout", "slack", "--check", check_code=2)
    assert "--check" in err.stderr
