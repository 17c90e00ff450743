"""Exact resume of the GitHub streams `commits`, `pull_requests` and `workflow_runs`.

A run stopped at any page (quota reserve reached → exit 75, or SIGKILL) goes on from
that page on the next run: the store ends exactly as after an uninterrupted run, and
the requests over all runs stay within 5% of an uninterrupted sync's.
"""

from __future__ import annotations

import math
import random
import signal

import pytest

from tests.integration.conftest import Dihub
from tests.simulators.github import Dataset, GitHubSimulator
from tests.support.github import github_config, with_token

REPO = "octo-org/repo-a"
RESERVE = 3
HTTP = (f"  retry: {{attempts: 5, backoff_s: [0, 0, 0, 0], jitter: 0}}\n"
        f"  rate_limit: {{reserve: {RESERVE}, max_wait_s: 300}}\n")
ENTITIES = {"commits": ("commits", "users"), "pull_requests": ("pull_requests", "users"),
            "workflow_runs": ("builds", "users")}


def signatures(dihub: Dihub, entities) -> dict[str, dict[str, str]]:
    store = dihub.store()
    try:
        return {e: {d["_id"]: d["raw_signature"] for d in store.iter_records(e, "github")}
                for e in entities}
    finally:
        store.close()


def sync(dihub: Dihub, *streams: str, code: int = 0):
    return dihub.run("sync", "github", *streams, check_code=code)


# -- three quota windows -----------------------------------------------------------------------
SIZES = {"commits": dict(commits_per_repo=1400, prs_per_repo=0, runs_per_repo=0),
         "pull_requests": dict(commits_per_repo=5, prs_per_repo=1000, runs_per_repo=0),
         "workflow_runs": dict(commits_per_repo=5, prs_per_repo=0, runs_per_repo=400)}


@pytest.mark.parametrize("stream", list(SIZES))
def test_a_partition_needing_three_quota_windows_completes_in_three_runs(stream, tmp_path):
    data = Dataset.generate([REPO], issues_per_repo=0, seed=31, **SIZES[stream])
    entities = ENTITIES[stream]
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        clean = with_token(Dihub(tmp_path / "clean"))
        clean.write_config(github_config(sim.api_url, [REPO], http=HTTP))
        sync(clean, stream)
        want = signatures(clean, entities)
        spent = sim.stats.quota_spent
        requests = sim.stats.requests

    # a window lets a run spend `window - RESERVE`: the pass needs three of them
    usable = math.ceil(spent / 3) + 1
    assert 2 * usable < spent <= 3 * usable
    with GitHubSimulator(data, rate_limit=usable + RESERVE) as sim:
        dihub = with_token(Dihub(tmp_path / "windows"))
        dihub.write_config(github_config(sim.api_url, [REPO], http=HTTP))
        codes, counts = [], []
        for _ in range(5):
            res = sync(dihub, stream, code=None)
            codes.append(res.returncode)
            counts.append(len(signatures(dihub, entities[:1])[entities[0]]))
            if res.returncode != 75:
                break
            assert "rate limited" in res.stderr, res.stderr[-2000:]
            sim.quota.reset()                        # the next window
        assert codes == [75, 75, 0], (codes, res.stderr[-2000:])
        assert counts[0] < counts[1] < counts[2]     # each run went on where the last stopped
        assert signatures(dihub, entities) == want
        assert sim.stats.quota_spent == spent                # nothing read twice
        assert sim.stats.requests <= requests + 2            # + a free 304 repo lookup a run
        state = dihub.store().get_state("github", stream, REPO)
        assert "backfill" not in state.cursor


# -- SIGKILL at random pages ---------------------------------------------------------------------
AT_ONCE = 4             # http.concurrency's default: requests of one pass read at once
IN_FLIGHT = 2 * AT_ONCE + 1     # commits and workflow_runs at once, pull_requests one by one


def kill_dataset() -> Dataset:
    """Requests of each stream for 6 or 7 kill points: many re-run workflow runs (one
    cheap request per earlier attempt) keep each run short."""
    data = Dataset.generate([REPO], commits_per_repo=1200, prs_per_repo=600,
                            issues_per_repo=0, runs_per_repo=200, seed=41)
    for attempts in data.repo(REPO).runs[::3]:
        data.rerun(REPO, attempts[-1]["id"])
    return data


def stream_of(path: str) -> str:
    return ("commits" if "/commits" in path or "/compare/" in path else
            "pull_requests" if "/pulls" in path else
            "workflow_runs" if "/actions/" in path else "repository")


@pytest.mark.slow
def test_sigkill_at_twenty_random_requests_ends_with_the_uninterrupted_store(tmp_path):
    """One loop over the three streams synced by one command (together, as a run of
    several streams goes): 20 kill points drawn with a fixed seed, 6 or 7 among the
    requests of each stream. Each killed run is followed by one that must finish with the
    uninterrupted run's store, and the two together make no more requests than the
    uninterrupted run and those a kill can lose. Every page is checkpointed at once
    (store.checkpoint_s: 0), so a kill re-reads at most the requests in flight: one for
    pull_requests, and up to AT_ONCE each for the commit listing (its pages after the
    first) and the runs' earlier attempts (both read http.concurrency at a time), with
    the repository's look-up again (a free 304)."""
    streams = ("commits", "pull_requests", "workflow_runs")
    entities = ("commits", "pull_requests", "builds", "users")
    data = kill_dataset()
    with GitHubSimulator(data, rate_limit=1_000_000) as sim:
        clean = with_token(Dihub(tmp_path / "clean"))
        clean.write_config(github_config(sim.api_url, [REPO], checkpoint_s=0))
        sync(clean, *streams)
        want = signatures(clean, entities)
        clean_requests = sim.stats.requests
        order = [stream_of(r.path) for r in sim.stats.log]
        assert len(order) == clean_requests

        rng = random.Random(8)
        kills = []
        for stream, how_many in zip(streams, (7, 6, 7), strict=True):
            at = [n for n, s in enumerate(order, start=1) if s == stream]
            assert len(at) >= how_many, (stream, len(at))
            kills += rng.sample(at, how_many)
        totals = []
        for n, k in enumerate(sorted(kills)):
            dihub = with_token(Dihub(tmp_path / f"kill-{n}"))
            dihub.write_config(github_config(sim.api_url, [REPO], checkpoint_s=0))
            before = sim.stats.requests
            proc = dihub.popen("sync", "github", *streams)
            sim.kill_at(k, proc.pid)
            proc.communicate(timeout=300)
            assert proc.returncode == -signal.SIGKILL, (k, proc.returncode)
            # the other streams' requests in flight when the k-th arrived count, or not,
            # as their answers were written before the kill landed
            assert abs(sim.stats.requests - before - k) <= IN_FLIGHT, k
            sync(dihub, *streams)
            total = sim.stats.requests - before
            totals.append(total)
            assert signatures(dihub, entities) == want, k
            assert total <= clean_requests + IN_FLIGHT + 1, (k, total, clean_requests)
        print(f"clean {clean_requests} requests; kill points {sorted(kills)}; "
              f"killed + resumed {totals}")


def test_reviews_needing_three_quota_windows_read_no_pull_request_twice(tmp_path):
    """The reviews of 150 pull requests, read four at a time, over three quota windows:
    the pull requests in flight when the reserve is reached are written and named in the
    cursor, so no window reads one again and the store ends as after one run."""
    data = Dataset.generate([REPO], commits_per_repo=5, prs_per_repo=150, issues_per_repo=0,
                            runs_per_repo=0, seed=31, reviews_per_pull=2)
    extra = "streams: [pull_requests, reviews]"
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        clean = with_token(Dihub(tmp_path / "clean"))
        clean.write_config(github_config(sim.api_url, [REPO], http=HTTP, extra=extra))
        sync(clean, "pull_requests")
        before = sim.stats.quota_spent
        sync(clean, "reviews")
        want = signatures(clean, ("reviews", "users"))
        spent = sim.stats.quota_spent - before

    usable = math.ceil(spent / 3) + 1
    assert 2 * usable < spent <= 3 * usable
    with GitHubSimulator(data, rate_limit=100_000) as sim:
        dihub = with_token(Dihub(tmp_path / "windows"))
        dihub.write_config(github_config(sim.api_url, [REPO], http=HTTP, extra=extra))
        sync(dihub, "pull_requests")
        sim.quota.limit = usable + RESERVE
        sim.quota.reset()
        codes, counts = [], []
        for _ in range(5):
            res = sync(dihub, "reviews", code=None)
            codes.append(res.returncode)
            counts.append(len(signatures(dihub, ("reviews",))["reviews"]))
            if res.returncode != 75:
                break
            assert "rate limited" in res.stderr, res.stderr[-2000:]
            sim.quota.reset()
        assert codes == [75, 75, 0], (codes, res.stderr[-2000:])
        assert counts[0] < counts[1] < counts[2]
        assert signatures(dihub, ("reviews", "users")) == want
        route = "GET /repos/{owner}/{repo}/pulls/{number}/reviews"
        assert sim.stats.snapshot()["by_route"][route] == 150 + 1     # each once
        state = dihub.store().get_state("github", "reviews", REPO)
        assert "done" not in state.cursor


@pytest.mark.slow
def test_sigkill_while_reviews_are_read_ends_with_the_uninterrupted_store(tmp_path):
    """`pull_requests` then `reviews` (200 pull requests, read four at a time), killed at 8
    requests drawn with a fixed seed among the reviews', each run followed by one that
    must finish with the uninterrupted run's store. Every page is checkpointed at once
    (store.checkpoint_s: 0) and names the pull requests read beyond its `updated`, so the
    two runs together re-read at most the requests in flight at the kill (AT_ONCE) and the
    one handed over and not yet written, besides the repository's look-up and the
    finished `pull_requests` stream's one request (both answered 304)."""
    streams = ("pull_requests", "reviews")
    entities = ("reviews", "users")
    data = Dataset.generate([REPO], commits_per_repo=5, prs_per_repo=200, issues_per_repo=0,
                            runs_per_repo=0, seed=43, reviews_per_pull=2)
    extra = "streams: [pull_requests, reviews]"
    with GitHubSimulator(data, rate_limit=1_000_000) as sim:
        clean = with_token(Dihub(tmp_path / "clean"))
        clean.write_config(github_config(sim.api_url, [REPO], checkpoint_s=0, extra=extra))
        sync(clean, *streams)
        want = signatures(clean, entities)
        clean_requests = sim.stats.requests
        at = [n for n, r in enumerate(sim.stats.log, start=1) if r.path.endswith("/reviews")]
        kills = random.Random(9).sample(at, 8)
        totals = []
        for n, k in enumerate(sorted(kills)):
            dihub = with_token(Dihub(tmp_path / f"kill-{n}"))
            dihub.write_config(github_config(sim.api_url, [REPO], checkpoint_s=0, extra=extra))
            before = sim.stats.requests
            proc = dihub.popen("sync", "github", *streams)
            sim.kill_at(k, proc.pid)
            proc.communicate(timeout=300)
            assert proc.returncode == -signal.SIGKILL, (k, proc.returncode)
            sync(dihub, *streams)
            total = sim.stats.requests - before
            totals.append(total - clean_requests)
            assert signatures(dihub, entities) == want, k
            assert total <= clean_requests + AT_ONCE + 1 + 2, (k, total, clean_requests)
        print(f"clean {clean_requests} requests; kill points {sorted(kills)}; "
              f"extra requests of killed + resumed {totals}")
