"""Helpers for the `dihub serve` tests: the real server as a subprocess on loopback,
signed deliveries built from the payloads in tests/data/webhooks (see its README)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from dihub.serve.verify import sign_hub, sign_slack

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "webhooks"
SECRETS = {"GH_HOOK_SECRET": "gh-hook-secret-for-tests",
           "SLACK_SIGNING_SECRET": "slack-signing-secret-for-tests",
           "JIRA_HOOK_SECRET": "jira-hook-secret-for-tests"}
API_TOKEN = "api-token-for-tests"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}

BASE_CONFIG = """\
serve:
  max_sync_age_s: {max_age}
  webhooks:
    gh: {{secret_env: GH_HOOK_SECRET}}
    sl: {{secret_env: SLACK_SIGNING_SECRET}}
    jr: {{secret_env: JIRA_HOOK_SECRET}}
  inbox:
    poll_interval_s: 0.05
    start_delay_s: {delay}
    backoff_s: [0.2]
    max_attempts: 2
sources:
  gh:
    connector: github
    base_url: {github_url}
    repos: [{repos}]
    token_env: GH_TOKEN
  sl:
    connector: slack
    token_env: SLACK_TOKEN
    store_text: {store_text}
    classify:
      - tag: deploy
        pattern: "(?i)deployed|prospect"
  jr:
    connector: jira
    base_url: https://your-domain.atlassian.net
    email: bot@example.com
    token_env: JIRA_TOKEN
    sprint_field: customfield_10020
"""


def config_text(*, delay: float = 0, max_age: float = 86400, store_text: str = "false",
                github_url: str = "https://api.github.com",
                repos: str = "Codertocat/Hello-World, octo-org/octo-repo") -> str:
    return BASE_CONFIG.format(delay=delay, max_age=max_age, store_text=store_text,
                              github_url=github_url, repos=repos)


def fixture(name: str) -> dict[str, Any]:
    doc = json.loads((DATA / name).read_text())
    if isinstance(doc, dict) and "request" in doc and "body" in doc:
        return doc["body"]
    return doc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """`dihub serve` in a subprocess with its own home, store and config."""

    def __init__(self, tmp: Path, config: str, env: dict[str, str] | None = None):
        self.tmp = tmp
        self.db = tmp / "store.db"
        self.config = tmp / "dihub.yaml"
        self.config.write_text(config)
        home = tmp / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("DIHUB_")},
                    "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                    "XDG_DATA_HOME": str(home / ".local/share"),
                    "DIHUB_STORE_URI": f"sqlite:///{self.db}", "PYTHONPATH": str(ROOT),
                    "DIHUB_API_TOKEN": API_TOKEN, "PYTHON_KEYRING_BACKEND":
                    "keyring.backends.null.Keyring", **SECRETS, **(env or {})}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = tmp / "serve.log"
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def cli(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "dihub", "--config", str(self.config),
                               *args], env=self.env, cwd=self.tmp, capture_output=True,
                              text=True, timeout=300)
        if check is not None:
            assert proc.returncode == check, (proc.returncode, proc.stdout[-2000:],
                                              proc.stderr[-2000:])
        return proc

    def start(self, *extra: str) -> Served:
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dihub", "--config", str(self.config), "serve",
             "--port", str(self.port), *extra],
            env=self.env, cwd=self.tmp, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                self.http.get("/openapi.json")
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("dihub serve did not start:\n" + self.log.read_text()[-3000:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.http.close()

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    # -- deliveries -------------------------------------------------------------------

    def github(self, event: str, payload: dict | bytes, *, delivery: str | None = None,
               secret: str | None = SECRETS["GH_HOOK_SECRET"],
               signature: str | None = None) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                   "Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        elif secret is not None:
            headers["X-Hub-Signature-256"] = sign_hub(secret, body)
        return self.http.post("/webhooks/github", content=body, headers=headers)

    def slack(self, payload: dict | bytes, *, ts: int | None = None,
              secret: str | None = SECRETS["SLACK_SIGNING_SECRET"],
              signature: str | None = None, retry: int | None = None) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        stamp = str(int(time.time()) if ts is None else ts)
        headers = {"X-Slack-Request-Timestamp": stamp, "Content-Type": "application/json"}
        if signature is not None:
            headers["X-Slack-Signature"] = signature
        elif secret is not None:
            headers["X-Slack-Signature"] = sign_slack(secret, stamp, body)
        if retry is not None:
            headers["X-Slack-Retry-Num"] = str(retry)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return self.http.post("/webhooks/slack", content=body, headers=headers)

    def jira(self, payload: dict | bytes, *, identifier: str | None = None,
             secret: str | None = SECRETS["JIRA_HOOK_SECRET"],
             signature: str | None = None) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json",
                   "X-Atlassian-Webhook-Identifier": identifier or str(uuid.uuid4())}
        if signature is not None:
            headers["X-Hub-Signature"] = signature
        elif secret is not None:
            headers["X-Hub-Signature"] = sign_hub(secret, body)
        return self.http.post("/webhooks/jira", content=body, headers=headers)

    # -- the store --------------------------------------------------------------------

    def store(self):
        from dihub.store.sqlite import SQLiteStore

        return SQLiteStore(self.db)

    def wait_processed(self, timeout: float = 30) -> dict[str, Any]:
        """Until no delivery is pending; returns the inbox stats."""
        store = self.store()
        try:
            deadline = time.monotonic() + timeout
            while True:
                stats = store.inbox_stats(time.time())
                if stats["pending"] == 0 or time.monotonic() > deadline:
                    return stats
                time.sleep(0.05)
        finally:
            store.close()

    def records(self, entity: str, source: str) -> list[dict[str, Any]]:
        store = self.store()
        try:
            return list(store.iter_records(entity, source=source))
        finally:
            store.close()


def jira_issue_event(event: str = "jira:issue_updated", **fields: Any) -> dict[str, Any]:
    """A Jira Cloud webhook body around the REST issue object of Atlassian's example
    (a webhook's `issue` has the REST shape; see tests/data/webhooks/README.md)."""
    issue = json.loads(json.dumps(fixture("issue-get.openapi-example.json")))
    # the example's dates are placeholders (`1`); a delivery carries real ones
    issue["fields"].update({"updated": "2024-03-01T10:00:00.000+0000",
                            "created": "2024-02-01T10:00:00.000+0000"})
    issue["fields"].update(fields)
    issue["fields"].setdefault("summary", "Example issue")
    issue["fields"].setdefault("status", {"name": "In Progress",
                                          "statusCategory": {"key": "indeterminate"}})
    return {"timestamp": 1709287200000, "webhookEvent": event,
            "issue_event_type_name": "issue_generic",
            "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof"},
            "issue": issue,
            "changelog": {"id": "10100", "items": [
                {"field": "status", "fieldtype": "jira", "fieldId": "status",
                 "from": "10000", "fromString": "To Do", "to": "3",
                 "toString": "In Progress"}]}}
