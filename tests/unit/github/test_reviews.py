"""The `reviews` stream (dihub/connectors/github/reviews.py): every review of the pull
requests updated since the last pass, read several pull requests at a time, with a
cursor that never passes a pull request whose reviews are not written.

Driven in-process against the simulator, like the engine drives it: a page's items count
as written when the page is yielded, and a page's cursor is the state the next pass
starts from. The pull requests come from a store holding what the `pull_requests` stream
stores of them (number, repository, `updated_at`)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from dihub.config import Settings
from dihub.connectors import each_updated
from dihub.connectors.github import GitHubConfig, connector
from dihub.connectors.github import reviews as reviews_module
from dihub.connectors.github.client import GitHubClient
from dihub.connectors.stream import Context
from dihub.engine.counters import Counters
from dihub.models import SyncState
from tests.simulators.github import Dataset, GitHubSimulator
from tests.unit.github.test_streams import ENV, REPO

AT_ONCE = 4                          # http.concurrency's default


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv(ENV, "unit-test-token-123456")


class _Pulls:
    """The store's `pull_requests` (as iter_records gives them): the dataset's pull
    requests when the store is made."""

    def __init__(self, data: Dataset):
        self.rows = [{"number": p["number"], "repo": REPO, "updated_at": p["updated_at"]}
                     for p in data.repo(REPO).pulls]

    def iter_records(self, entity, source=None, since=None, until=None, filters=None):
        assert entity == "pull_requests" and filters == {"repo": REPO}
        rows = [r for r in self.rows if since is None or r["updated_at"] >= since]
        return iter(sorted(rows, key=lambda r: r["updated_at"]))

    def get_meta(self, key):            # the repository's id, looked up each pass here
        return None

    def put_meta(self, key, value):
        pass


def _context(sim: GitHubSimulator, store: _Pulls, report_total=None):
    cfg = GitHubConfig(connector="github", base_url=sim.api_url, repos=[REPO], token_env=ENV,
                       streams=["pull_requests", "reviews"])
    settings = Settings.model_validate({"http": {"retry": {"backoff_s": [0], "jitter": 0}}})
    return connector.open(Context(source="github", config=cfg, run_id="unit",
                                  store=store, metrics=Counters(),
                                  audit=lambda entry: None, settings=settings,
                                  report_total=report_total))


class Killed(BaseException):
    """The process died: nothing after the last checkpoint survives."""


def _pass(sim, store: _Pulls, state: SyncState, monkeypatch, kill_at: int | None = None
          ) -> tuple[list[dict[str, Any]], list[tuple[Any, set[int]]], SyncState]:
    """One pass: (reviews yielded, [(cursor, the pull requests whose page was yielded by
    then)] for each page that moved the cursor, the state after it). With `kill_at`, the
    kill_at-th request of the pass raises before it is sent."""
    state = state.model_copy(deep=True)
    reviews: list[dict[str, Any]] = []
    cursors: list[tuple[Any, set[int]]] = []
    calls = itertools.count(1)
    real_get = GitHubClient.get
    number_of: dict[int, int] = {}               # id(a pull request's result) -> number
    yielded: set[int] = set()                    # pull requests whose page was yielded

    def get(self, *args, **kwargs):
        if kill_at is not None and next(calls) >= kill_at:
            raise Killed
        return real_get(self, *args, **kwargs)

    def reviews_of(gh, url, number):
        result = real_reviews_of(gh, url, number)
        number_of[id(result)] = number
        return result

    def at_once(*args, **kwargs):
        for i, result in real_at_once(*args, **kwargs):
            yielded.add(number_of[id(result)])
            yield i, result

    real_reviews_of, real_at_once = reviews_module._reviews_of, each_updated.pages_at_once
    monkeypatch.setattr(GitHubClient, "get", get)
    monkeypatch.setattr(reviews_module, "_reviews_of", reviews_of)
    monkeypatch.setattr(each_updated, "pages_at_once", at_once)
    try:
        stream = connector.streams["reviews"]
        for page in stream.fetch(_context(sim, store), REPO, state.model_copy(deep=True)):
            reviews += page.items
            if page.moves_cursor:
                state.cursor = page.cursor
                cursors.append((page.cursor, set(yielded)))
    except Killed:
        pass
    finally:
        monkeypatch.setattr(GitHubClient, "get", real_get)
        monkeypatch.setattr(reviews_module, "_reviews_of", real_reviews_of)
        monkeypatch.setattr(each_updated, "pages_at_once", real_at_once)
    return reviews, cursors, state


def _expected(data: Dataset) -> set[int]:
    return {rv["id"] for rvs in data.repo(REPO).reviews.values() for rv in rvs}


def _fresh() -> SyncState:
    return SyncState(source="github", stream="reviews", partition=REPO)


@pytest.fixture
def data():
    data = Dataset.generate([REPO], commits_per_repo=20, prs_per_repo=40, issues_per_repo=0,
                            runs_per_repo=0, seed=9, reviews_per_pull=2)
    pulls = data.repo(REPO).pulls
    for k in (5, 6, 20, 21, 22):       # updated in the same second as the one before
        pulls[k]["updated_at"] = pulls[k - 1]["updated_at"]
    return data


def _covered(store: _Pulls, cursor: dict[str, Any], written: set[int]) -> None:
    """Every pull request the cursor passes or names as done has had its reviews
    written."""
    upto = cursor.get("updated")
    passed = {r["number"] for r in store.rows if upto is not None and r["updated_at"] <= upto}
    done = {int(k) for k in cursor.get("done", {})}
    assert passed | done <= written, f"the cursor passed pull requests not written: " \
                                     f"{sorted((passed | done) - written)}"


def test_every_review_is_read_once_and_the_cursor_ends_at_the_newest(data, monkeypatch):
    store = _Pulls(data)
    with GitHubSimulator(data) as sim:
        reviews, cursors, state = _pass(sim, store, _fresh(), monkeypatch)
        assert sorted(r["id"] for r in reviews) == sorted(_expected(data))
        assert max(len(v) for v in data.repo(REPO).reviews.values()) > 100   # two pages
        assert sim.stats.requests == 1 + 40 + 1      # the repository, each PR, a 2nd page
        newest = max(p["updated_at"] for p in data.repo(REPO).pulls)
        assert state.cursor == {"updated": newest}
        for cursor, written in cursors:
            _covered(store, cursor, written)
        sim.stats.reset()
        reviews, _, again = _pass(sim, store, state, monkeypatch)
        assert reviews == [] and again.cursor == state.cursor
        assert sim.stats.requests == 1               # the repository; no pull request


def test_a_pull_request_that_waits_holds_only_itself_and_the_cursor(data, monkeypatch):
    """A Retry-After on the oldest pull request's reviews: the next ones are read
    meanwhile, and the cursor stays before it until it is read."""
    first = min(data.repo(REPO).pulls, key=lambda p: (p["updated_at"], p["number"]))
    store = _Pulls(data)
    with GitHubSimulator(data, retry_after=1) as sim:
        sim.script(rf"/pulls/{first['number']}/reviews\?per_page=100$", ["429"])
        reviews, cursors, state = _pass(sim, store, _fresh(), monkeypatch)
        assert sorted(r["id"] for r in reviews) == sorted(_expected(data))
        answered = [int(r.path.split("/")[-2]) for r in sim.stats.log
                    if r.path.endswith("/reviews") and r.status == 200
                    and "page=2" not in r.query]
        assert answered.index(first["number"]) >= AT_ONCE - 1    # the others went on
        for cursor, written in cursors:
            _covered(store, cursor, written)
        moved = [written for cursor, written in cursors if "updated" in cursor]
        assert moved[0] >= {first["number"]}        # `updated` moves once it is read
        assert "done" in cursors[0][0]               # the ones before: named as done


@pytest.mark.parametrize("kill_at", [2, 5, 9, 17, 30, 41])
def test_a_pass_killed_at_any_request_goes_on_from_its_cursor(data, monkeypatch, kill_at):
    """Killed at the kill_at-th request; the next pass reads what the cursor had not
    passed or named as done: together every review, and none read twice (a page that
    was handed over is in its cursor; only the requests in flight are lost)."""
    store = _Pulls(data)
    with GitHubSimulator(data) as sim:
        first, cursors, state = _pass(sim, store, _fresh(), monkeypatch, kill_at=kill_at)
        for cursor, written in cursors:
            _covered(store, cursor, written)
        sim.stats.reset()
        rest, _, after = _pass(sim, store, state, monkeypatch)
        assert {r["id"] for r in first} | {r["id"] for r in rest} == _expected(data)
        again = {r["_dihub_pr_number"] for r in first} & {r["_dihub_pr_number"] for r in rest}
        assert again == set()
        assert after.cursor == {"updated": max(p["updated_at"]
                                               for p in data.repo(REPO).pulls)}


def test_a_pull_request_gone_is_read_as_no_reviews(data, monkeypatch):
    store = _Pulls(data)                             # stored before it was gone
    gone = data.repo(REPO).pulls.pop(3)              # the API answers 404 for it now
    with GitHubSimulator(data) as sim:
        reviews, cursors, state = _pass(sim, store, _fresh(), monkeypatch)
        assert gone["number"] not in {r["_dihub_pr_number"] for r in reviews}
        assert {r["id"] for r in reviews} == _expected(data) - {
            rv["id"] for rv in data.repo(REPO).reviews[gone["number"]]}
        assert any(r.path.endswith(f"/pulls/{gone['number']}/reviews") and r.status == 404
                   for r in sim.stats.log)
        assert state.cursor["updated"] == max(r["updated_at"] for r in store.rows)


def test_no_progress_total_is_given_that_counts_pull_requests_as_reviews(data):
    """The engine counts a pass's raw items (reviews); the number of pull requests to
    read is no total of those, so none is reported (the display shows a spinner)."""
    totals = []
    with GitHubSimulator(data) as sim:
        ctx = _context(sim, _Pulls(data), report_total=lambda p, n: totals.append(n))
        pages = list(connector.streams["reviews"].fetch(ctx, REPO, _fresh()))
    assert sum(len(p.items) for p in pages) == len(_expected(data))
    assert totals == []
