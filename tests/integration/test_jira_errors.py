"""What a person sees when a Jira sync cannot work: bad JQL, bad or missing credentials,
removed or unsupported endpoints, unusable boards; and that the token never leaks."""

from __future__ import annotations

import pytest

from tests.simulators.jira import Dataset, JiraSimulator, jira_faults
from tests.simulators.jira.testing import (
    FAST_RETRIES,
    TOKEN,
    TOKEN_ENV,
    config,
    credentials,
    secret_forms,
)


@pytest.fixture(scope="module")
def cloud():
    with JiraSimulator(Dataset.generate(60, sprints=6, seed=3),
                       credentials=credentials()) as sim:
        yield sim


@pytest.mark.parametrize("jql, jira_says", [
    ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
    ("project = DIH AND", "Expecting a field name but got ')'. (line 1, character 19)"),
])
def test_invalid_jql_quotes_jira_and_the_jql_and_exits_2(dihub, cloud, jql, jira_says):
    dihub.env[TOKEN_ENV] = TOKEN
    dihub.write_config(config(cloud, extra=f"jql: '{jql}'"))
    proc = dihub.run("sync", "jira", "issues", check_code=2)
    err = " ".join(proc.stderr.split())
    assert jira_says in err
    assert f"JQL: ({jql}) AND updated >= " in err
    assert "Fix `jql:`" in err and "Traceback" not in proc.stderr


def test_bad_credentials_say_how_to_log_in_again(dihub, cloud):
    dihub.env[TOKEN_ENV] = "not-the-right-token-123"
    dihub.write_config(config(cloud))
    proc = dihub.run("sync", "jira", "issues", check_code=1)
    err = " ".join(proc.stderr.split())
    assert "401" in err and "Log in again with `dihub auth jira`" in err
    assert "API token" in err and f"${TOKEN_ENV}" in err
    assert "not-the-right-token-123" not in proc.stderr + proc.stdout


def test_missing_credentials_say_how_to_log_in(dihub, cloud):
    dihub.write_config(config(cloud))          # token_env names a variable that is unset
    proc = dihub.run("sync", "jira", "issues", check_code=1)
    err = " ".join(proc.stderr.split())
    assert "no Jira credentials for source 'jira'" in err and "dihub auth jira" in err


def test_removed_search_api_410_names_it(dihub):
    """Cloud answers 410 on /rest/api/2/search: a source configured as Data Center
    against a Cloud site must say so, not fail obscurely."""
    ds = Dataset.generate(20, sprints=3, seed=4)
    with JiraSimulator(ds) as sim:                     # any credentials accepted
        dihub.env[TOKEN_ENV] = TOKEN
        dihub.write_config(config(sim, deployment="datacenter"))
        proc = dihub.run("sync", "jira", "issues", check_code=1)
    err = " ".join(proc.stderr.split())
    assert "GET /rest/api/2/search -> 410 Gone: Jira has removed this API" in err
    assert "/rest/api/3/search/jql" in err and "deployment:" in err


def test_cloud_config_against_data_center_names_the_deployment(dihub):
    ds = Dataset.generate(20, sprints=3, seed=4, deployment="datacenter")
    with JiraSimulator(ds) as sim:
        dihub.env[TOKEN_ENV] = TOKEN
        dihub.write_config(config(sim, deployment="cloud"))
        proc = dihub.run("sync", "jira", "issues", check_code=1)
    err = " ".join(proc.stderr.split())
    assert "does not serve REST API 3" in err and "deployment:" in err


def test_unusable_boards_are_skipped_and_the_others_synced(dihub, cloud):
    dihub.env[TOKEN_ENV] = TOKEN
    dihub.write_config(config(cloud, extra="boards: [1, 4, 99]"))   # 4 is kanban
    proc = dihub.run("sync", "jira", "sprints", check_code=0)
    err = " ".join(proc.stderr.split())
    assert "board 4 has no sprints" in err and "The board does not support sprints" in err
    assert "board 99 does not exist" in err
    store = dihub.store()
    assert store.count("sprints", "jira") == len(cloud.dataset.board_sprints(1))


def test_the_token_never_reaches_output_audit_or_store(dihub):
    """Verbose logs, retries, a failed request and raw payloads: none may hold the token
    (which has no recognizable shape, so only registered-secret redaction can hide it)."""
    ds = Dataset.generate(150, sprints=6, seed=9, long_changelogs=0.2)
    with JiraSimulator(ds, credentials=credentials(),
                       faults=jira_faults(0.1, seed=2)) as sim:
        sim.script(r"/rest/agile/1\.0/board\?", [
            {"status": 401, "body": {"errorMessages": [f"bad token {TOKEN}"]}}])
        dihub.env[TOKEN_ENV] = TOKEN
        dihub.write_config(config(sim, top=FAST_RETRIES + "store:\n  raw_payloads:\n"
                                  "    enabled: true\n"))
        sync = dihub.run("-vv", "sync", "jira", "--all")
        assert sync.returncode == 1                       # sprints: the 401
        assert sum(sim.stats.faults.values()) > 0
        seen = [r.headers.get("authorization", "") for r in sim.stats.log]
    assert any(seen)                                      # credentials were sent
    audit = dihub.run("audit", "--format", "json", "--limit", "100000", check_code=0)
    texts = [sync.stdout, sync.stderr, audit.stdout]
    for path in dihub.tmp.glob("store.db*"):
        texts.append(path.read_bytes().decode("latin-1"))
    assert "****" in sync.stderr + audit.stdout           # the echoed token was masked
    for secret in secret_forms():
        for text in texts:
            assert secret not in text


def test_credentials_from_another_source_are_not_used(dihub, cloud):
    """Two sources never share credentials: `other` has none and must say so."""
    dihub.env[TOKEN_ENV] = TOKEN
    dihub.write_config(config(cloud) + config(cloud, source="other", token_env=False)
                       .split("sources:\n", 1)[1])
    proc = dihub.run("sync", "other", "issues", check_code=1)
    assert "no Jira credentials for source 'other'" in proc.stderr

