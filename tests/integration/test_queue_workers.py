"""Queue mode end to end: `dihub sync --enqueue`, then `dihub worker` processes on one
GitHub simulator, one SQLite store and a real redis-server. Each worker process names
its own host (DIHUB_HOSTNAME), so a dead one's lease is taken over only once it expires,
as across machines.

* 4 workers in 2 processes sync 40 repositories: the store holds exactly what an
  in-process sync writes, each partition was passed once (one owner in the audit), and
  no request more was made;
* a worker process killed -9 mid-job: its jobs complete on the other process from their
  checkpoints; the dataset is exact, the requests within 5% of a clean run;
* a worker paused (SIGSTOP) past its lease, whose partition another took over, writes
  neither records nor checkpoint when it wakes up.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.integration.conftest import Dihub
from tests.simulators.github import Dataset, GitHubSimulator
from tests.support.github import github_config, records, with_token
from tests.support.redisserver import running

REPOS = [f"octo-org/repo-{i:02d}" for i in range(40)]
LEASE_TTL_S = 3
REDELIVERY_S = 2


def dataset(repos=REPOS, commits=150) -> Dataset:
    return Dataset.generate(repos, commits_per_repo=commits, prs_per_repo=0,
                            issues_per_repo=0, runs_per_repo=0, seed=15)


def queue_config(sim, url: str, repos=REPOS, checkpoint_s: float | None = None,
                 **queue) -> str:
    q = {"url": url, "threads": 2, "redelivery_s": REDELIVERY_S, **queue}
    return (github_config(sim.api_url, repos, checkpoint_s=checkpoint_s)
            + f"lease_ttl_s: {LEASE_TTL_S}\nqueue:\n"
            + "".join(f"  {k}: {v}\n" for k, v in q.items()))


@pytest.fixture
def redis_server(tmp_path):
    yield from running(tmp_path)


def worker(dihub: Dihub, host: str, *args: str, config: Path | None = None
           ) -> subprocess.Popen:
    log = open(dihub.tmp / f"worker-{host}.log", "a")
    argv = dihub.argv("worker", *args)
    if config is not None:
        argv[argv.index("--config") + 1] = str(config)
    return subprocess.Popen(argv, env={**dihub.env, "DIHUB_HOSTNAME": host}, cwd=dihub.tmp,
                            stdout=log, stderr=subprocess.STDOUT, text=True)


def worker_log(dihub: Dihub, host: str) -> str:
    return (dihub.tmp / f"worker-{host}.log").read_text()[-4000:]


def clean_run(tmp: Path, sim, repos=REPOS) -> tuple[dict, int]:
    clean = with_token(Dihub(tmp / "clean"))
    clean.write_config(github_config(sim.api_url, repos))
    before = sim.stats.requests
    clean.run("sync", "github", "commits", check_code=0)
    store = clean.store()
    try:
        return {e: records(store, e) for e in ("commits", "users")}, sim.stats.requests - before
    finally:
        store.close()


def passes(store) -> dict[str, list]:
    """The `sync` audit entries (one per pass of a partition), by partition."""
    out = defaultdict(list)
    for a in store.query_audit(source="github", limit=100_000):
        if a.action == "sync":
            out[a.partition].append(a)
    return out


def host_of(entry) -> str:
    return entry.detail["owner"].split(" pid ")[0]


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_four_workers_in_two_processes_sync_40_repositories_once_each(redis_server,
                                                                     tmp_path):
    data = dataset()
    with GitHubSimulator(data, rate_limit=1_000_000) as sim:
        want, clean_requests = clean_run(tmp_path, sim)
        dihub = with_token(Dihub(tmp_path / "queue"))
        dihub.write_config(queue_config(sim, redis_server.url))
        before = sim.stats.requests
        res = dihub.run("sync", "github", "commits", "--enqueue", check_code=0)
        assert "queued 40 job(s)" in res.stderr, res.stderr
        listing = sim.stats.requests - before           # none: the repos are configured
        workers = [worker(dihub, host, "--threads", "2", "--burst")
                   for host in ("host-a", "host-b")]
        for host, proc in zip(("host-a", "host-b"), workers, strict=True):
            assert proc.wait(300) == 0, worker_log(dihub, host)
        requests = sim.stats.requests - before
    store = dihub.store()
    try:
        assert {e: records(store, e) for e in ("commits", "users")} == want
        by_partition = passes(store)
        assert sorted(by_partition) == sorted(REPOS)
        hosts = set()
        for partition, entries in by_partition.items():
            assert [e.outcome for e in entries] == ["ok"], (partition, entries)
            hosts.add(host_of(entries[0]))
            batches = {a.run_id for a in store.query_audit(source="github", limit=100_000)
                       if a.action == "batch" and a.partition == partition}
            assert batches == {entries[0].run_id}, partition     # one owner per pass
        assert hosts == {"host-a", "host-b"}
        assert all(s.lease_owner is None and s.status == "ok"
                   for s in store.list_states("github"))
    finally:
        store.close()
    print(f"clean {clean_requests} requests; queued {requests} (listing {listing})")
    assert requests == clean_requests


@pytest.mark.slow
def test_a_worker_killed_mid_job_leaves_its_jobs_to_another_from_the_checkpoint(
        redis_server, tmp_path):
    data = dataset(commits=300)
    with GitHubSimulator(data, rate_limit=1_000_000) as sim:
        want, clean_requests = clean_run(tmp_path, sim)
        dihub = with_token(Dihub(tmp_path / "queue"))
        dihub.write_config(queue_config(sim, redis_server.url))
        before = sim.stats.requests
        dihub.run("sync", "github", "commits", "--enqueue", check_code=0)
        first = worker(dihub, "host-a", "--threads", "2")
        sim.kill_at(clean_requests // 3, first.pid)     # mid-job, on a page
        assert first.wait(300) == -signal.SIGKILL, worker_log(dihub, "host-a")
        store = dihub.store()
        held = {s.partition for s in store.list_states("github") if s.lease_owner}
        store.close()
        assert held, "the killed worker held no lease"
        second = worker(dihub, "host-b", "--threads", "2", "--burst")
        assert second.wait(300) == 0, worker_log(dihub, "host-b")
        requests = sim.stats.requests - before
    store = dihub.store()
    try:
        assert {e: records(store, e) for e in ("commits", "users")} == want
        by_partition = passes(store)
        assert sorted(by_partition) == sorted(REPOS)
        for partition, entries in by_partition.items():
            done = [e for e in entries if e.outcome == "ok"]
            assert len(done) == 1, (partition, entries)
            if partition in held:       # killed mid-pass: finished elsewhere
                assert host_of(done[0]) == "host-b"
        assert all(s.status == "ok" and s.lease_owner is None
                   for s in store.list_states("github"))
    finally:
        store.close()
    print(f"clean {clean_requests} requests; killed + completed elsewhere {requests}; "
          f"held by the killed worker: {sorted(held)}")
    assert requests <= clean_requests * 1.05


@pytest.mark.slow
def test_a_paused_worker_whose_partition_was_taken_over_writes_nothing_when_it_wakes(
        redis_server, tmp_path):
    repos = REPOS[:4]
    data = dataset(repos, commits=300)
    with GitHubSimulator(data, rate_limit=1_000_000) as sim:
        want, _ = clean_run(tmp_path, sim, repos)
        dihub = with_token(Dihub(tmp_path / "queue"))
        # every page written at once (checkpoint_s 0): the stale pass writes its first
        dihub.write_config(queue_config(sim, redis_server.url, repos, checkpoint_s=0))
        stale_config = dihub.tmp / "stale.yaml"      # its failed job is not retried
        stale_config.write_text(queue_config(sim, redis_server.url, repos, checkpoint_s=0,
                                             max_retries=0))
        dihub.run("sync", "github", "commits", "--enqueue", check_code=0)
        stale = worker(dihub, "host-a", "--threads", "1", config=stale_config)
        sim.kill_at(3, stale.pid, signal.SIGSTOP)     # paused on its first pass's 2nd page
        try:
            assert wait_for(lambda: open(f"/proc/{stale.pid}/stat").read()
                            .rsplit(")", 1)[1].split()[0] == "T", 120)
            store = dihub.store()
            [paused] = [s.partition for s in store.list_states("github") if s.lease_owner]
            store.close()
            other = worker(dihub, "host-b", "--threads", "2", "--burst")
            assert other.wait(300) == 0, worker_log(dihub, "host-b")
            store = dihub.store()
            taken = store.get_state("github", "commits", paused)
            assert taken.status == "ok" and taken.lease_owner is None
            assert taken.lease_generation == 2
            stale.send_signal(signal.SIGCONT)

            def stale_pass_ended():
                return any(host_of(e) == "host-a" for e in passes(store)[paused])

            assert wait_for(stale_pass_ended, 120), worker_log(dihub, "host-a")
            [late] = [e for e in passes(store)[paused] if host_of(e) == "host-a"]
            assert late.outcome == "failed" and "lost its lease" in late.error
            after = store.get_state("github", "commits", paused)
            assert (after.cursor, after.status, after.lease_generation) == (
                taken.cursor, "ok", 2)
            assert {e: records(store, e) for e in ("commits", "users")} == want
            late_batches = [a for a in store.query_audit(source="github", limit=100_000)
                            if a.action == "batch" and a.run_id == late.run_id]
            assert len(late_batches) == 1       # page 1, before the pause; none after
            store.close()
        finally:
            if stale.poll() is None:
                stale.send_signal(signal.SIGCONT)
                stale.send_signal(signal.SIGTERM)
                try:
                    stale.wait(60)
                except subprocess.TimeoutExpired:
                    stale.kill()
                    stale.wait()
