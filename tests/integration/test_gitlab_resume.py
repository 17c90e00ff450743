"""Exact resume of the GitLab streams after a stop mid-pass.

A run stopped at any page (the quota reserve reached -> exit 75, or SIGKILL) goes on from
that page on the next run: the store ends exactly as after an uninterrupted run. The
request overhead is stated and bounded: a quota stop sends nothing it will send again
(the deferred request is never sent), but for pipelines the list page whose details were
being read; a kill loses the request in flight, and the next run repeats one request per
stream already finished (answered 304 where its URL repeats).
"""

from __future__ import annotations

import math
import random
import signal
from collections import Counter

import pytest

from tests.integration.conftest import Dihub
from tests.simulators.gitlab import Dataset, GitLabSimulator
from tests.support.gitlab import gitlab_config, with_token

PROJECT = "group-a/sub/project-a"
RESERVE = 3
HTTP = (f"  retry: {{attempts: 5, backoff_s: [0, 0, 0, 0], jitter: 0}}\n"
        f"  rate_limit: {{reserve: {RESERVE}, max_wait_s: 300}}\n")
ENTITIES = {"commits": ("commits", "users"), "merge_requests": ("pull_requests", "users"),
            "issues": ("issues", "users"), "pipelines": ("builds", "users")}


def signatures(dihub: Dihub, entities) -> dict[str, dict[str, str]]:
    store = dihub.store()
    try:
        return {e: {d["_id"]: d["raw_signature"] for d in store.iter_records(e, "gitlab")}
                for e in entities}
    finally:
        store.close()


def sync(dihub: Dihub, *streams: str, code: int | None = 0):
    return dihub.run("sync", "gitlab", *streams, check_code=code)


SIZES = {"commits": dict(commits_per_project=3000, mrs_per_project=0, pipelines_per_project=0),
         "merge_requests": dict(commits_per_project=5, mrs_per_project=2500,
                                pipelines_per_project=0),
         "pipelines": dict(commits_per_project=5, mrs_per_project=0, pipelines_per_project=120)}


@pytest.mark.parametrize("stream", list(SIZES))
def test_a_pass_needing_three_quota_windows_completes_in_three_runs(stream, tmp_path):
    data = Dataset.generate([PROJECT], issues_per_project=0, seed=31, **SIZES[stream])
    entities = ENTITIES[stream]
    with GitLabSimulator(data, rate_limit=100_000) as sim:
        clean = with_token(Dihub(tmp_path / "clean"))
        clean.write_config(gitlab_config(sim.base_url, [PROJECT], http=HTTP))
        sync(clean, stream)
        want = signatures(clean, entities)
        requests = sim.stats.requests

    # a window lets a run spend `window - RESERVE`: the pass needs three of them (GitLab
    # counts every request, 304s too: each later run spends its overhead on them)
    usable = math.ceil(requests / 3) + 2
    assert 2 * usable < requests <= 3 * usable
    with GitLabSimulator(data, rate_limit=usable + RESERVE, rate_window_s=3600) as sim:
        dihub = with_token(Dihub(tmp_path / "windows"))
        dihub.write_config(gitlab_config(sim.base_url, [PROJECT], http=HTTP))
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
        # overhead per later run: none (the project is kept in store meta), but for
        # pipelines the list page whose details were under way (none of those details is
        # asked again)
        per_run = 1 if stream == "pipelines" else 0
        assert sim.stats.requests == requests + 2 * per_run
        assert sim.stats.snapshot()["by_status"].get("429") is None
        state = dihub.store().get_state("gitlab", stream, PROJECT)
        assert "backfill" not in state.cursor and "page" not in state.cursor


def kill_dataset() -> Dataset:
    return Dataset.generate([PROJECT], commits_per_project=900, mrs_per_project=400,
                            issues_per_project=300, pipelines_per_project=80, seed=41)


def stream_of(path: str) -> str:
    return ("commits" if "/repository/" in path else
            "merge_requests" if "/merge_requests" in path else
            "issues" if "/issues" in path else
            "pipelines" if "/pipelines" in path else "project")


DETAILS_AT_ONCE = 4             # http.concurrency's default


@pytest.mark.slow
def test_sigkill_at_eight_seeded_requests_ends_with_the_uninterrupted_store(tmp_path):
    """Eight kill points drawn with a fixed seed, two among the requests of each stream,
    the four streams synced together by one command, a batch written every page
    (batch_size 100, store.checkpoint_s 0). Each killed run is followed by one that must
    finish with the uninterrupted run's store. Besides the pipelines' detail requests,
    the two together make at most 5 requests more than the uninterrupted run: those lost
    in flight (one a stream), the project lookup, one per stream the killed run had
    finished (by default, the pages read in the last 2 s, up to 1,000 records, since the
    last batch was written are read again). The pipelines' details are read
    `http.concurrency` at once, the next one sent as one is handed over to be written:
    at most that many more, and the one being written."""
    streams = ("commits", "merge_requests", "issues", "pipelines")
    entities = ("commits", "pull_requests", "issues", "builds", "users")
    data = kill_dataset()
    with GitLabSimulator(data, rate_limit=1_000_000) as sim:
        clean = with_token(Dihub(tmp_path / "clean"))
        clean.write_config(gitlab_config(sim.base_url, [PROJECT], batch_size=100, checkpoint_s=0))
        sync(clean, *streams)
        want = signatures(clean, entities)
        clean_requests = sim.stats.requests
        order = [stream_of(r.path) for r in sim.stats.log]
        assert len(order) == clean_requests
        clean_order = Counter(order)

        rng = random.Random(8)
        kills = []
        for stream in streams:
            at = [n for n, s in enumerate(order, start=1) if s == stream]
            kills += rng.sample(at, 2)
        totals = []
        for n, k in enumerate(sorted(kills)):
            dihub = with_token(Dihub(tmp_path / f"kill-{n}"))
            dihub.write_config(gitlab_config(sim.base_url, [PROJECT], batch_size=100,
                                             checkpoint_s=0))
            before = sim.stats.requests
            proc = dihub.popen("sync", "gitlab", *streams)
            sim.kill_at(k, proc.pid)
            proc.communicate(timeout=300)
            assert proc.returncode == -signal.SIGKILL, (k, proc.returncode)
            # the requests in flight when the k-th arrived count, or not, as their
            # answers were written before the kill landed
            assert abs(sim.stats.requests - before - k) < len(streams) + DETAILS_AT_ONCE, k
            sync(dihub, *streams)
            total = sim.stats.requests - before
            totals.append(total - clean_requests)
            assert signatures(dihub, entities) == want, k
            made = Counter(stream_of(r.path) for r in list(sim.stats.log)[-total:])
            details = made["pipelines"] - clean_order["pipelines"]
            assert details <= 1 + DETAILS_AT_ONCE + 1, (k, made, clean_order)
            assert total - made["pipelines"] <= clean_requests - clean_order["pipelines"] + 5, \
                (k, made, clean_order)
        print(f"clean {clean_requests} requests; kill points {sorted(kills)}; "
              f"overhead of killed + resumed {totals}")
