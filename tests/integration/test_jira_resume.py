"""A Jira sync stopped at any page continues from that page on the next run: a
partition that needs 3 quota windows finishes in 3 runs, and a run SIGKILLed at 20
random requests (or stopped by SIGTERM or Ctrl-C), then rerun, stores exactly what an
uninterrupted run stores, with at most 5% more requests in all."""

from __future__ import annotations

import math
import random
import signal
from datetime import timedelta
from urllib.parse import parse_qs

import pytest

from tests.integration.conftest import Dihub, summary_counts
from tests.simulators.jira import Dataset, JiraSimulator, RateLimit
from tests.simulators.jira.testing import TOKEN, TOKEN_ENV, config, credentials

PAGE = "page_size: {}"


def _dihub(root, name: str, sim: JiraSimulator, page_size: int,
           checkpoint_s: float | None = None) -> Dihub:
    d = Dihub(root / name)
    d.env[TOKEN_ENV] = TOKEN
    top = "" if checkpoint_s is None else f"store:\n  checkpoint_s: {checkpoint_s}"
    d.write_config(config(sim, extra=PAGE.format(page_size), top=top))
    return d


def _snapshot(store, entities=("issues", "users")) -> set[tuple[str, str]]:
    return {(d["_id"], d["raw_signature"]) for e in entities
            for d in store.iter_records(e, "jira")}


def _issue_ids(ds: Dataset) -> set[str]:
    return {f"jira:issues:{i.id}" for i in ds.issues}


def _page_requests(sim: JiraSimulator) -> list[tuple[str, str, str]]:
    """(path, jql, position) of every answered search: a page read twice shows twice."""
    out = []
    for r in sim.stats.log:
        if r.status == 200 and r.path.endswith(("/search/jql", "/search")):
            q = parse_qs(r.query)
            out.append((r.path, q["jql"][0],
                        (q.get("nextPageToken") or q.get("startAt") or [""])[0]))
    return out


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_a_partition_needing_three_quota_windows_finishes_in_three_runs(tmp_path, deployment):
    # 150 issues, 25 edited in one minute, some changelogs longer than a search embeds
    ds = Dataset.generate(150, sprints=3, seed=31, bulk_edit=25, long_changelogs=0.06,
                          deployment=deployment)
    cloud = deployment == "cloud"
    with JiraSimulator(ds, credentials=credentials(cloud)) as sim:
        clean = _dihub(tmp_path, "clean", sim, 5)
        clean.run("sync", "jira", "issues", check_code=0)
        needed = sim.stats.requests
        want = _snapshot(clean.store())

    # one window holds a little over a third of the sync; it lasts an hour, longer than
    # http.rate_limit.max_wait_s, so each run checkpoints and exits 75 when it is spent
    limit = math.ceil(needed / 3) + 2
    assert 2 * limit < needed
    with JiraSimulator(ds, credentials=credentials(cloud),
                       rate_limit=RateLimit(limit, window_s=3600)) as sim:
        d = _dihub(tmp_path, "limited", sim, 5)
        runs = []
        for _ in range(4):
            runs.append(d.run("sync", "jira", "issues"))
            if runs[-1].returncode != 75:
                break
            assert "rate limited" in runs[-1].stderr, runs[-1].stderr[-2000:]
            sim.rate_limit.next_window()
        assert [r.returncode for r in runs] == [75, 75, 0], runs[-1].stderr[-2000:]
        served = [r for r in sim.stats.log if r.status != 429]
        refused = [r for r in sim.stats.log if r.status == 429]
        pages = _page_requests(sim)

    store = d.store()
    assert store.count("issues", "jira") == len(ds.issues)
    assert _snapshot(store) == want                       # the exact dataset
    assert {i for i, _ in _snapshot(store, ("issues",))} == _issue_ids(ds)
    counts = [summary_counts(r.stderr) for r in runs]
    assert sum(c["updated"] for c in counts) == 0
    assert sum(c["inserted"] for c in counts) == len(_snapshot(store))
    # each page read once, except a page whose changelogs the quota cut short (their
    # requests go out a few at a time: several may be refused in one run)
    cut = sum(1 for r in refused if "changelog" in r.route or r.route.endswith("{id}"))
    assert len(pages) - len(set(pages)) <= min(cut, 2)
    assert len(refused) >= 2
    # the second and third runs did not ask for /myself or /field again
    assert [r.route.rsplit("/", 1)[-1] for r in served].count("myself") == 1
    assert len(served) <= needed + cut * 3
    print(f"\n{deployment}: clean {needed} requests; 3 runs of {limit}: served "
          f"{len(served)}, refused {len(refused)}")


@pytest.mark.slow
def test_sigkill_at_20_random_requests_then_rerun_equals_an_uninterrupted_run(tmp_path):
    # 80 issues, one a page (20 of them edited in the same minute), 4 with changelogs
    # longer than a search embeds (completed by a bulk changelog read, part of its page)
    ds = Dataset.generate(80, sprints=3, seed=23, bulk_edit=20, long_changelogs=0.05)
    assert sum(len(i.histories) > 40 for i in ds.issues) >= 3
    with JiraSimulator(ds, credentials=credentials()) as sim:
        clean = _dihub(tmp_path, "clean", sim, 1, checkpoint_s=0)
        clean.run("sync", "jira", "issues", check_code=0)
        total = sim.stats.requests
        want = _snapshot(clean.store())
        assert {i for i, _ in _snapshot(clean.store(), ("issues",))} == _issue_ids(ds)

        rng = random.Random(8)                # one point in each 20th of the requests
        points = [rng.randint(1 + total * k // 20, total * (k + 1) // 20) for k in range(20)]
        # and, in its 20th, the first bulk changelog read: a kill while one is under way
        bulk = [n for n, r in enumerate(sim.stats.log, 1) if r.route.endswith("/bulkfetch")]
        assert bulk
        points = [bulk[0] if 1 + total * k // 20 <= bulk[0] <= total * (k + 1) // 20 else p
                  for k, p in enumerate(points)]
        results = []
        for n in points:
            sim.stats.reset()
            d = _dihub(tmp_path, f"kill-{n}", sim, 1, checkpoint_s=0)
            proc = d.popen("sync", "jira", "issues")
            sim.kill_at(n, proc.pid)
            proc.communicate(timeout=120)
            killed = [r.route.rsplit("/", 1)[-1] for r in sim.stats.log if r.fault == "killed"]
            rerun = d.run("sync", "jira", "issues")
            results.append((n, killed, proc.returncode, rerun.returncode, sim.stats.requests,
                            _snapshot(d.store()) == want))

    table = "\n".join(f"kill at {n} ({'/'.join(k)}): exit {rc}; rerun exit {rc2}; {req} "
                      f"requests ({100 * (req - total) / total:+.1f}%), same store: {same}"
                      for n, k, rc, rc2, req, same in results)
    print(f"\nclean: {total} requests\n{table}")
    assert len(set(points)) == 20 and total >= 80
    assert all(rc == -9 and len(k) == 1 for _, k, rc, *_ in results), table
    assert any(k == ["bulkfetch"] for _, k, *_ in results), table     # during a bulk read
    assert all(rc2 == 0 and same for *_, rc2, _, same in results), table
    assert all(req <= total * 1.05 for *_, req, _ in results), table


def test_sigterm_and_ctrl_c_at_a_page_resume_there(tmp_path):
    # as above, smaller: SIGTERM in the minute 15 issues share, Ctrl-C while a bulk
    # changelog read is under way (its pages are redone, nothing else)
    ds = Dataset.generate(40, sprints=3, seed=29, bulk_edit=15, long_changelogs=0.1)
    with JiraSimulator(ds, credentials=credentials()) as sim:
        clean = _dihub(tmp_path, "clean", sim, 1)
        clean.run("sync", "jira", "issues", check_code=0)
        total = sim.stats.requests
        want = _snapshot(clean.store())
        routes = [r.route.rsplit("/", 1)[-1] for r in sim.stats.log]
        searches = [n for n, route in enumerate(routes, 1) if route == "jql"]
        bulk_at = ds.end - timedelta(days=2)              # see Dataset._bulk_edit
        assert sum(i.updated == bulk_at for i in ds.issues) == 15
        bulk = searches[sum(i.updated < bulk_at for i in ds.issues) + 7]   # its 8th page
        changelog = routes.index("bulkfetch") + 2        # the second bulk changelog request
        for n, sig, code in ((bulk, signal.SIGTERM, 143),
                             (changelog, signal.SIGINT, 130)):
            sim.stats.reset()
            d = _dihub(tmp_path, f"{sig.name}-{n}", sim, 1)
            proc = d.popen("sync", "jira", "issues")
            sim.kill_at(n, proc.pid, sig=sig)
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == code, err[-2000:]
            assert "the next run continues" in err
            state = d.store().get_state("jira", "issues", "*")
            assert state.lease_owner is None and state.cursor["resume"]
            d.run("sync", "jira", "issues", check_code=0)
            assert _snapshot(d.store()) == want
            assert sim.stats.requests <= total + 4, (sig, n, sim.stats.requests, total)
