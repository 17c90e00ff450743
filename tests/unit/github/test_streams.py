"""The GitHub streams' paging and cursor rules, driven in-process against the simulator."""

from __future__ import annotations

import pytest

from dihub.config import Settings
from dihub.connectors.github import GitHubConfig, connector
from dihub.connectors.github.client import GitHubSession
from dihub.connectors.github.commits import next_since
from dihub.connectors.github.runs import _boundary
from dihub.connectors.github.updated import _earliest
from dihub.connectors.stream import Context
from dihub.engine.counters import Counters
from dihub.errors import AuthError
from dihub.http import BearerAuth
from dihub.models import SyncState
from tests.simulators.github import Dataset, GitHubSimulator

REPO = "octo-org/repo-a"
ENV = "DIHUB_UNIT_GH_TOKEN"


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv(ENV, "unit-test-token-123456")


def context(sim: GitHubSimulator, **config) -> GitHubSession:
    """A run's session, as the engine opens it (streams get the session, not the Context)."""
    cfg = GitHubConfig(connector="github", base_url=sim.api_url, repos=[REPO], token_env=ENV,
                       **config)
    settings = Settings.model_validate({"http": {"retry": {"backoff_s": [0], "jitter": 0}}})
    return connector.open(Context(source="github", config=cfg, run_id="unit",
                                  metrics=Counters(), audit=lambda entry: None,
                                  settings=settings))


def run_pass(stream: str, ctx: GitHubSession, state: SyncState, between_pages=None):
    """Drive one pass like the engine: returns (items, the state after the pass)."""
    items = []
    state = state.model_copy(deep=True)
    for n, page in enumerate(connector.streams[stream].fetch(ctx, REPO, state), start=1):
        items += page.items
        if page.moves_cursor:
            state.cursor = page.cursor
        if page.etags is not None:
            state.etags = page.etags
        if between_pages:
            between_pages(n)
    return items, state


def fresh(stream: str) -> SyncState:
    return SyncState(source="github", stream=stream, partition=REPO)


def test_issue_updated_while_paging_ascending_cannot_hide_another(token):
    data = Dataset.generate([REPO], commits_per_repo=10, prs_per_repo=0, issues_per_repo=250,
                            runs_per_repo=0, seed=3)
    numbers = [i["number"] for i in data.repo(REPO).issues]
    with GitHubSimulator(data) as sim:
        ctx = context(sim)
        _, state = run_pass("issues", ctx, fresh("issues"))
        since = state.cursor["updated"]
        for n in numbers[:150]:             # 150 issues updated after the cursor: 2 pages
            data.edit_issue(REPO, n, title=f"edited {n}")
        first_page = sorted(numbers[:150], key=lambda n: data.repo(REPO).issue(n)
                            ["updated_at"])[:100]

        def edit_one_already_read(page: int) -> None:
            if page == 1:                   # moves to the end; the rest shift up by one
                data.edit_issue(REPO, first_page[0], title="edited again")

        ctx = context(sim)
        seen, after = run_pass("issues", ctx, state, edit_one_already_read)
        missed = set(numbers[:150]) - {i["number"] for i in seen}
        assert len(missed) == 1             # the shift hid one issue from this pass ...
        assert after.cursor["updated"] == since     # ... so the cursor does not pass it
        again, _ = run_pass("issues", context(sim), after)
        assert missed <= {i["number"] for i in again}


def test_pull_request_updated_while_paging_is_caught_next_pass(token):
    data = Dataset.generate([REPO], commits_per_repo=10, prs_per_repo=250, issues_per_repo=0,
                            runs_per_repo=0, seed=3)
    with GitHubSimulator(data) as sim:
        _, state = run_pass("pull_requests", context(sim), fresh("pull_requests"))
        for p in data.repo(REPO).pulls[:150]:
            data.edit_pull(REPO, p["number"], title="edited")
        oldest_edit = min(data.repo(REPO).pulls[:150], key=lambda p: p["updated_at"])

        def bump(page: int) -> None:
            if page == 1:
                data.edit_pull(REPO, oldest_edit["number"], title="edited twice")

        seen, after = run_pass("pull_requests", context(sim), state, bump)
        edited = {p["number"] for p in data.repo(REPO).pulls[:150]}
        assert edited - {p["number"] for p in seen} == {oldest_edit["number"]}   # moved up
        again, _ = run_pass("pull_requests", context(sim), after)
        assert again[0]["number"] == oldest_edit["number"]
        assert again[0]["title"] == "edited twice"
        assert len(again) == 2          # and the newest of the last pass (cursor inclusive)


def test_issue_stream_drops_pull_requests_before_normalizing(token):
    data = Dataset.generate([REPO], commits_per_repo=10, prs_per_repo=40, issues_per_repo=30,
                            runs_per_repo=0, seed=3)
    with GitHubSimulator(data) as sim:
        seen, _ = run_pass("issues", context(sim), fresh("issues"))
    assert len(seen) == 30 + 1      # and the last one again: the next run's first page
    assert not any("pull_request" in i for i in seen)


def test_missing_token_says_how_to_log_in(monkeypatch):
    import keyring
    from keyring.backends import fail

    monkeypatch.delenv(ENV, raising=False)
    keyring.set_keyring(fail.Keyring())     # restored by tests/conftest.py
    data = Dataset.generate([REPO], commits_per_repo=5, prs_per_repo=0, issues_per_repo=0,
                            runs_per_repo=0)
    with GitHubSimulator(data) as sim:
        with pytest.raises(AuthError) as err:
            run_pass("commits", context(sim), fresh("commits"))
        assert sim.stats.requests == 0
    assert "dihub auth github" in err.value.hint and ENV in err.value.hint


def test_next_since_overlaps_and_never_moves_back():
    assert next_since(None, None, 5) is None
    assert next_since(None, "2024-03-01T10:00:00Z", 5) == "2024-03-01T09:55:00Z"
    assert next_since("2024-03-01T09:58:00Z", "2024-03-01T10:00:00Z", 5) == \
        "2024-03-01T09:58:00Z"
    assert next_since("2024-03-01T09:00:00Z", None, 5) == "2024-03-01T09:00:00Z"


def test_runs_boundary_and_earliest_cursor():
    assert _boundary(None, 3, None) is None
    assert _boundary(None, 3, "2024-01-01T00:00:00Z") == "2024-01-01T00:00:00Z"
    assert _boundary("2024-01-10T00:00:00Z", 3, None) == "2024-01-07T00:00:00Z"
    assert _boundary("2024-01-10T00:00:00Z", 3, "2024-01-08T00:00:00Z") == \
        "2024-01-08T00:00:00Z"
    assert _earliest(None, "2024-01-01T00:00:00Z") is None
    assert _earliest("2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z") == "2024-01-01T00:00:00Z"


def test_bearer_token_never_shows_in_a_repr():
    assert "secret" not in repr(BearerAuth("secret-value-123"))


@pytest.mark.parametrize("body, problem", [
    ({}, "repos:"),
    ({"repos": ["not-a-repo"]}, "owner/repo"),
    ({"repos": [REPO], "base_url": "api.github.com"}, "http(s) URL"),
    ({"repos": [REPO], "streams": ["commits", "deployments"]}, "deployments"),
    ({"repos": [REPO], "start_date": "someday"}, "date"),
    ({"repos": [REPO], "colour": "blue"}, "colour"),
])
def test_config_errors_name_the_problem(body, problem):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        GitHubConfig.model_validate({"connector": "github", **body})
    assert problem in str(err.value)


def test_config_defaults_and_normalization():
    from datetime import date

    cfg = GitHubConfig.model_validate({"connector": "github", "orgs": ["octo-org"],
                                       "base_url": "https://ghe.example.com/api/v3/",
                                       "start_date": date(2024, 1, 1)})
    assert cfg.base_url == "https://ghe.example.com/api/v3"
    assert cfg.start_date == "2024-01-01T00:00:00Z"
    assert (cfg.commit_overlap_minutes, cfg.runs_lookback_days) == (5, 3)
    # `reviews` is optional: declared here, it reads nothing unless listed in `streams:`
    assert set(connector.streams) == {"commits", "pull_requests", "issues", "workflow_runs",
                                      "reviews"}
    assert connector.streams["workflow_runs"].entity == "builds"
