"""One `dihub sync` per connector end to end (the real CLI in a subprocess) with
`store.uri` on a real MongoDB-protocol server: exact counts, then a second run that
writes nothing. Runs when DIHUB_TEST_MONGODB_URI is set (`.ci/run` starts FerretDB for
it: tests/support/ferretdb.py); each test has its own database, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.integration.conftest import Dihub, git_config, summary_counts
from tests.simulators.github import Dataset as GitHubData
from tests.simulators.github import GitHubSimulator
from tests.simulators.jira import Dataset as JiraData
from tests.simulators.jira import JiraSimulator
from tests.simulators.jira.testing import config as jira_config
from tests.simulators.jira.testing import credentials as jira_credentials
from tests.simulators.jira.testing import issue_mismatches
from tests.simulators.slack import SlackSimulator, Workspace
from tests.simulators.slack.testing import mismatches as slack_mismatches
from tests.support.github import REPOS, expected, github_config, with_token
from tests.support.gitrepo import generate, rev_count

URI_ENV = "DIHUB_TEST_MONGODB_URI"

pytestmark = pytest.mark.skipif(not os.environ.get(URI_ENV),
                                reason=f"set {URI_ENV} to sync into a real MongoDB server")


def _with_database(uri: str, database: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


@pytest.fixture
def mongo_uri() -> Iterator[str]:
    """A URI of a database of its own on the real server, dropped afterwards."""
    import pymongo

    base = os.environ[URI_ENV]
    database = f"dihub_sync_{uuid.uuid4().hex[:16]}"
    yield _with_database(base, database)
    client = pymongo.MongoClient(base, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(database)
    finally:
        client.close()


@pytest.fixture
def store(mongo_uri: str) -> Iterator:
    from dihub.store.mongo import MongoStore

    opened = MongoStore(mongo_uri)
    yield opened
    opened.close()


def _on_server(dihub: Dihub, config: str, uri: str) -> None:
    """Write `config` with `store.uri: uri` (the file's, not DIHUB_STORE_URI's)."""
    dihub.env.pop("DIHUB_STORE_URI", None)
    line = f"  uri: {uri}\n"
    if config.startswith("store:\n"):
        config = "store:\n" + line + config[len("store:\n"):]
    else:
        config = "store:\n" + line + config
    dihub.write_config(config)


def _twice(dihub: Dihub, *args: str) -> tuple[dict[str, int], dict[str, int]]:
    first = summary_counts(dihub.run("sync", *args, check_code=0).stderr)
    again = summary_counts(dihub.run("sync", *args, check_code=0).stderr)
    return first, again


def test_git(dihub, tmp_path, mongo_uri, store):
    repo = generate(tmp_path / "repo", 300, branch_every=100, tag_every=150)
    commits = rev_count(repo, "--branches", "--tags")
    _on_server(dihub, git_config(repo, batch_size=100), mongo_uri)
    first, again = _twice(dihub, "git", "commits")
    users = store.count("users", "git")
    assert store.count("commits", "git") == commits == 300
    assert users >= 1
    assert first["inserted"] == commits + users
    assert (again["inserted"], again["updated"]) == (0, 0)
    # a full refresh reads everything again and finds nothing to write (a user is
    # counted once per batch it appears in, so `unchanged` exceeds commits + users)
    full = summary_counts(dihub.run("sync", "git", "commits", "--full-refresh",
                                    check_code=0).stderr)
    assert (full["records"], full["inserted"], full["updated"]) == (commits, 0, 0)
    assert full["unchanged"] >= commits + users
    assert store.count("commits", "git") == commits


def test_github(tmp_path, mongo_uri, store):
    data = GitHubData.generate(REPOS, commits_per_repo=120, prs_per_repo=30,
                               issues_per_repo=30, runs_per_repo=15, seed=5)
    want = expected(data)["counts"]
    dihub = with_token(Dihub(tmp_path))
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        _on_server(dihub, github_config(sim.api_url, batch_size=100), mongo_uri)
        first, again = _twice(dihub, "github", "--all")
    got = {entity: store.count(entity, "github") for entity in want}
    assert got == want
    assert first["inserted"] == sum(want.values())
    assert (again["inserted"], again["updated"]) == (0, 0)
    assert {entity: store.count(entity, "github") for entity in want} == want


def test_jira(dihub, mongo_uri, store):
    ds = JiraData.generate(250, sprints=6, boards=2, seed=3)
    from tests.simulators.jira.testing import TOKEN, TOKEN_ENV

    dihub.env[TOKEN_ENV] = TOKEN
    with JiraSimulator(ds, credentials=jira_credentials()) as sim:
        _on_server(dihub, jira_config(sim), mongo_uri)
        first, again = _twice(dihub, "jira", "--all")
    assert store.count("issues", "jira") == 250
    assert store.count("sprints", "jira") == len(ds.sprints) == 6
    assert store.count("users", "jira") == len(ds.users)
    assert issue_mismatches(store, ds) == []
    assert first["inserted"] == 250 + 6 + len(ds.users)
    assert (again["inserted"], again["updated"]) == (0, 0)


def test_slack(dihub, mongo_uri, store):
    from tests.simulators.slack.testing import TOKEN, TOKEN_ENV, config_yaml

    # small: FerretDB's SQLite backend scans a collection for every `_id $in` lookup,
    # and a Slack pass writes once per thread
    ws = Workspace.generate(channels=3, messages=100, thread_ratio=0.10, max_replies=10,
                            seed=4)
    want = ws.counts()
    dihub.env[TOKEN_ENV] = TOKEN
    with SlackSimulator(ws) as sim:
        _on_server(dihub, config_yaml(sim.api_url, batch_size=100), mongo_uri)
        first, again = _twice(dihub, "slack", "--all")
    assert store.count("slack_events", "slack") == want["events"]
    assert store.count("channels", "slack") == 3
    assert store.count("users", "slack") == len(ws.users)
    assert slack_mismatches(store, ws) == []
    assert first["inserted"] == want["events"] + 3 + len(ws.users)
    assert (again["inserted"], again["updated"]) == (0, 0)
