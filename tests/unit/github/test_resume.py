"""GitHub streams stopped at any request go on from their last page on the next pass.

Driven in-process against the simulator, like the engine drives them: a page's items
count as written once a page with a cursor follows (or is) them, and that cursor is the
state the next pass starts from. A "kill" makes the k-th request of a pass raise before
it is sent.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from dihub.connectors.github import connector
from dihub.connectors.github.client import GitHubClient
from dihub.models import SyncState
from tests.simulators.github import Dataset, GitHubSimulator
from tests.unit.github.test_streams import ENV, REPO, context, fresh


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv(ENV, "unit-test-token-123456")


class Killed(BaseException):
    """The process died: nothing after the last checkpoint survives."""


@dataclass
class Pass:
    state: SyncState
    written: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    killed: bool = False


def run(sim: GitHubSimulator, stream: str, state: SyncState, kill_at: int | None = None,
        monkeypatch=None, between=None) -> Pass:
    """One pass; with `kill_at`, the kill_at-th request of the pass never happens."""
    state = state.model_copy(deep=True)
    out = Pass(state)
    buffered: list[dict] = []
    calls = itertools.count(1)          # pages read at once count from several threads
    real_get = GitHubClient.get

    def get(self, *args, **kwargs):
        if kill_at is not None and next(calls) >= kill_at:
            raise Killed
        return real_get(self, *args, **kwargs)

    monkeypatch.setattr(GitHubClient, "get", get)
    before = sim.stats.requests
    try:
        for n, page in enumerate(connector.streams[stream].fetch(context(sim), REPO,
                                                                 state.model_copy(deep=True)),
                                 start=1):
            buffered += page.items
            if page.moves_cursor:
                out.written += buffered
                buffered = []
                out.state.cursor = page.cursor
            if page.etags is not None:
                out.state.etags = page.etags
            if between:
                between(n)
        out.written += buffered
    except Killed:
        out.killed = True
    finally:
        monkeypatch.setattr(GitHubClient, "get", real_get)
    out.requests = sim.stats.requests - before
    return out


# The commits listing reads its pages after the first AT_ONCE at a time, and the runs
# stream the earlier attempts of a page's re-runs (http.concurrency, dihub/http/paging.py
# pages_at_once): a kill leaves up to AT_ONCE - 1 of them in flight, which the next pass
# reads again (nothing they hold was written).
AT_ONCE = 4


def key(stream: str, item: dict) -> Any:
    return (item["id"], item.get("run_attempt")) if stream == "workflow_runs" else \
        item.get("sha") or item["number"]


def dataset() -> Dataset:
    data = Dataset.generate([REPO], commits_per_repo=450, prs_per_repo=350, issues_per_repo=0,
                            runs_per_repo=250, seed=13)
    for attempts in data.repo(REPO).runs[::9]:     # re-runs: earlier attempts to read
        data.rerun(REPO, attempts[-1]["id"])
    return data


@pytest.mark.parametrize("stream", ["commits", "pull_requests", "workflow_runs"])
def test_a_pass_killed_at_any_request_goes_on_from_its_last_page(stream, monkeypatch):
    with GitHubSimulator(dataset()) as sim:
        clean = run(sim, stream, fresh(stream), monkeypatch=monkeypatch)
        want = {key(stream, i) for i in clean.written}
        assert "backfill" not in clean.state.cursor
        assert clean.requests >= 5
        checkpointed = 0
        # request 1 is the repository lookup; then every request, or 12 spread over them
        kills = sorted({*range(2, clean.requests + 1, max(1, clean.requests // 12)),
                        3, clean.requests})
        extra = AT_ONCE - 1 if stream in ("commits", "workflow_runs") else 0
        for k in kills:
            first = run(sim, stream, fresh(stream), kill_at=k, monkeypatch=monkeypatch)
            assert first.killed and first.requests <= k - 1 + extra
            assert extra or first.requests == k - 1
            if first.state.cursor is not None:       # a page was read: a position is kept
                assert "backfill" in first.state.cursor, (k, first.state.cursor)
            checkpointed += first.state.cursor is not None
            second = run(sim, stream, first.state, monkeypatch=monkeypatch)
            assert not second.killed
            got = [key(stream, i) for i in first.written + second.written]
            assert set(got) == want, k
            # nothing read twice: only the repository lookup is repeated (and the pages
            # in flight at the kill)
            spent = first.requests + second.requests
            assert clean.requests + 1 <= spent <= clean.requests + 1 + extra, k
            assert len(got) - len(set(got)) <= 1, k  # the head commit, listed twice
            assert second.state.cursor == clean.state.cursor, k
            assert second.state.etags == clean.state.etags, k
        assert checkpointed >= len(kills) // 2


def test_commits_killed_in_a_compare_go_on_from_that_compare_page(monkeypatch):
    data = dataset()
    with GitHubSimulator(data) as sim:
        base = run(sim, "commits", fresh("commits"), monkeypatch=monkeypatch).state
        old_head = base.cursor["heads"]["main"]
        added = [data.add_commit(REPO, message=f"later {i}")["sha"] for i in range(230)]
        clean = run(sim, "commits", base, monkeypatch=monkeypatch)
        assert {c["sha"] for c in clean.written} == set(added)
        assert clean.requests == 1 + 1 + 3          # repository, head, 3 compare pages
        for k in range(3, clean.requests + 1):
            first = run(sim, "commits", base, kill_at=k, monkeypatch=monkeypatch)
            position = first.state.cursor["backfill"]
            assert position["mode"] == "compare" and position["page"] == k - 2
            assert (position["base"], position["head"]) == (old_head, added[-1])
            second = run(sim, "commits", first.state, monkeypatch=monkeypatch)
            assert {c["sha"] for c in first.written + second.written} == set(added)
            assert first.requests + second.requests == clean.requests + 1
            assert second.state.cursor == clean.state.cursor
            assert second.state.etags == clean.state.etags

        # pushed while a pass is stopped: read by the next pass, from the head it had
        first = run(sim, "commits", base, kill_at=4, monkeypatch=monkeypatch)
        late = data.add_commit(REPO, message="pushed while stopped")["sha"]
        second = run(sim, "commits", first.state, monkeypatch=monkeypatch)
        assert late not in {c["sha"] for c in second.written}
        assert second.state.cursor["heads"]["main"] == added[-1]
        third = run(sim, "commits", second.state, monkeypatch=monkeypatch)
        assert [c["sha"] for c in third.written] == [late, late]   # compare, then the head
        assert third.state.cursor["heads"]["main"] == late


def test_a_saved_commit_position_whose_head_is_gone_reads_the_branch_again(monkeypatch):
    data = dataset()
    with GitHubSimulator(data) as sim:
        first = run(sim, "commits", fresh("commits"), kill_at=4, monkeypatch=monkeypatch)
        state = first.state.model_copy(deep=True)
        state.cursor["backfill"]["head"] = "0" * 40        # force-pushed away
        second = run(sim, "commits", state, monkeypatch=monkeypatch)
        assert {c["sha"] for c in second.written} == \
            {c["sha"] for c in data.repo(REPO).commits}
        assert "backfill" not in second.state.cursor


def test_pull_requests_updated_while_a_pass_is_stopped_are_not_lost(monkeypatch):
    data = dataset()
    pulls = data.repo(REPO).pulls
    with GitHubSimulator(data) as sim:
        first = run(sim, "pull_requests", fresh("pull_requests"), kill_at=4,
                    monkeypatch=monkeypatch)
        position = first.state.cursor["backfill"]
        assert position["page"] == 3 and first.state.cursor["updated"] is None
        read = {p["number"] for p in first.written}
        assert len(read) == 200
        # while stopped: PRs not read yet and PRs already read are updated; both move to
        # the top and shift the rest down
        unread = [p["number"] for p in pulls if p["number"] not in read]
        edited = unread[:20] + sorted(read)[:5]
        for n in edited:
            data.edit_pull(REPO, n, title="edited while stopped")
        second = run(sim, "pull_requests", first.state, monkeypatch=monkeypatch)
        assert second.state.cursor == {"updated": position["newest"]}
        third = run(sim, "pull_requests", second.state, monkeypatch=monkeypatch)
        everything = read | {p["number"] for p in second.written + third.written}
        assert everything == {p["number"] for p in pulls}
        again = {p["number"] for p in third.written} - set(edited)   # the cursor is
        assert all(data.repo(REPO).pull(n)["updated_at"] == position["newest"]  # inclusive
                   for n in again)
        assert all(p["title"] == "edited while stopped" for p in third.written
                   if p["number"] in edited)


def test_workflow_runs_killed_between_earlier_attempts_do_not_read_them_again(monkeypatch):
    data = dataset()
    with GitHubSimulator(data) as sim:
        clean = run(sim, "workflow_runs", fresh("workflow_runs"), monkeypatch=monkeypatch)
        attempt_calls = [r for r in sim.stats.log if "/attempts/" in r.path]
        assert len(attempt_calls) >= 10
        sim.stats.reset()
        first_page = json.dumps(clean.state.cursor)
        # killed at the third earlier attempt of page 1: the page and two attempts are kept
        first = run(sim, "workflow_runs", fresh("workflow_runs"), kill_at=5,
                    monkeypatch=monkeypatch)
        assert [r.path for r in sim.stats.log][-1].count("/attempts/") == 1
        position = first.state.cursor["backfill"]
        assert position["page"] == 2 and len(position["pages"]) == 1
        assert len(first.state.cursor["attempts"]) == 2
        assert len(position["pending"]) >= 1
        second = run(sim, "workflow_runs", first.state, monkeypatch=monkeypatch)
        attempts = [r.path for r in sim.stats.log if "/attempts/" in r.path]
        assert len(attempts) == len(set(attempts)) == len(attempt_calls)
        assert json.dumps(second.state.cursor) == first_page
