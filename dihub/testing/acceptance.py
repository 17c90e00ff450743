"""The acceptance kit every connector passes, built-in or third-party.

A connector's test module subclasses `AcceptanceTests` and provides a `scenario`
fixture: a config that points the connector at its simulator, the dataset a full
sync must give (records per entity), the secrets that must never be printed, and,
when the simulator can, a way to inject faults and to kill the client at its n-th
request:

    class TestBookshelfAcceptance(AcceptanceTests):
        @pytest.fixture
        def scenario(self):
            with BookshelfSimulator() as sim:
                yield Scenario(source="shelf", config=..., expected={"books": 45},
                               secrets=[sim.token], faults=sim.set_faults,
                               kill_at=sim.kill_at, requests=5)

Every check runs the real `dihub` command in a subprocess with its own home and
embedded store, as cron would:

- a full sync stores the expected records;
- a re-sync with no upstream change writes nothing (0 inserted, 0 updated);
- the stored signatures are the same in two independent stores;
- a sync killed (SIGKILL) at a random request, then run again, gives the same dataset;
- with 5% of requests failing, a sync (run again while it exits 75) gives the same dataset;
- no secret appears in any output (stdout, stderr at -vv, fetch, audit, status).

The kill and fault checks are marked `slow`. See docs/writing-a-connector.md.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import dihub

TEMPFAIL = 75


@dataclass
class Scenario:
    source: str                             # the source's name in `config`
    config: str                             # the whole YAML config (store comes from env)
    expected: dict[str, int]                # entity -> records after a full sync
    streams: list[str] = field(default_factory=list)   # empty: the source's default streams
    secrets: list[str] = field(default_factory=list)   # strings no output may contain
    env: dict[str, str] = field(default_factory=dict)  # tokens; PYTHONPATH for a plugin
    faults: Callable[[float], None] | None = None      # set the simulator's fault rate
    kill_at: Callable[[int, int], None] | None = None  # (n, pid): kill pid at request n
    requests: int = 3                       # about how many requests a full sync makes
    fault_rate: float = 0.05
    timeout_s: float = 120


class Run:
    """The `dihub` command in a subprocess, with an isolated home and SQLite store."""

    def __init__(self, scenario: Scenario, workdir: Path):
        self.scenario = scenario
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "dihub.yaml"
        self.config.write_text(scenario.config)
        home = self.dir / "home"
        home.mkdir(exist_ok=True)
        root = str(Path(dihub.__file__).resolve().parents[1])
        path = [scenario.env.get("PYTHONPATH", ""), root, os.environ.get("PYTHONPATH", "")]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DIHUB_")},
            **scenario.env,
            "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local/share"),
            "DIHUB_STORE_URI": f"sqlite:///{self.dir / 'store.db'}",
            "PYTHONPATH": os.pathsep.join(p for p in path if p), "COLUMNS": "200",
        }
        self.outputs: list[str] = []        # every stdout and stderr, for the secret scan

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "dihub", "--config", str(self.config), *args]

    def run(self, *args: str, codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.argv(*args), env=self.env, cwd=self.dir, text=True,
                              capture_output=True, timeout=self.scenario.timeout_s)
        self.outputs += [proc.stdout, proc.stderr]
        assert proc.returncode in codes, (
            f"dihub {' '.join(args)}: exit {proc.returncode}, wanted {codes}\n"
            f"stdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-2000:]}")
        return proc

    def sync(self, *extra: str, codes: tuple[int, ...] = (0,)) -> dict:
        """One sync; returns the closing JSON summary (records, inserted, updated, ...)."""
        proc = self.run("sync", self.scenario.source, *self.scenario.streams, *extra,
                        "--log-format", "json", codes=codes)
        return summary(proc.stderr)

    def sync_until_done(self, tries: int = 8) -> None:
        """Sync again while the run exits 75 (temporary), as cron would."""
        for _ in range(tries):
            proc = self.run("sync", self.scenario.source, *self.scenario.streams,
                            codes=(0, TEMPFAIL))
            if proc.returncode == 0:
                return
        raise AssertionError(f"still exit 75 after {tries} runs")

    def dataset(self) -> dict[str, dict[str, str]]:
        """{entity: {_id: raw_signature}} of every expected entity, read with `dihub fetch`."""
        out: dict[str, dict[str, str]] = {}
        for entity in self.scenario.expected:
            proc = self.run("fetch", self.scenario.source, entity, "--format", "jsonl",
                            "--limit", "100000")
            docs = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
            out[entity] = {d["_id"]: d["raw_signature"] for d in docs}
        return out


def summary(stderr: str) -> dict:
    for line in reversed(stderr.splitlines()):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if obj.get("event") == "summary":
            return obj
    raise AssertionError(f"no JSON summary in:\n{stderr[-2000:]}")


class AcceptanceTests:
    """Subclass as `Test<Name>Acceptance` and define a `scenario` fixture."""

    @pytest.fixture
    def scenario(self) -> Scenario:     # pragma: no cover - the subclass defines it
        raise NotImplementedError("define a `scenario` fixture returning a Scenario")

    @pytest.fixture
    def reference(self, scenario: Scenario, tmp_path: Path) -> dict:
        """The dataset of one clean full sync."""
        run = Run(scenario, tmp_path / "reference")
        run.sync()
        return run.dataset()

    def test_full_sync_stores_the_expected_records(self, scenario: Scenario, tmp_path: Path):
        run = Run(scenario, tmp_path / "full")
        run.sync()
        got = {entity: len(ids) for entity, ids in run.dataset().items()}
        assert got == scenario.expected

    def test_a_resync_without_changes_writes_nothing(self, scenario: Scenario, tmp_path: Path):
        run = Run(scenario, tmp_path / "again")
        run.sync()
        for extra in ((), ("--full-refresh",)):
            again = run.sync(*extra)
            assert (again["inserted"], again["updated"]) == (0, 0), (extra, again)

    def test_signatures_are_stable_across_runs(self, scenario: Scenario, tmp_path: Path,
                                               reference: dict):
        run = Run(scenario, tmp_path / "second")
        run.sync()
        assert run.dataset() == reference

    @pytest.mark.slow
    def test_killed_at_a_random_request_then_rerun_gives_the_same_dataset(
            self, scenario: Scenario, tmp_path: Path, reference: dict):
        if scenario.kill_at is None:
            pytest.skip("the scenario cannot kill at a request")
        seed = int(os.environ.get("DIHUB_ACCEPTANCE_SEED", random.randrange(10**6)))
        n = random.Random(seed).randint(1, max(1, scenario.requests))
        run = Run(scenario, tmp_path / "killed")
        proc = subprocess.Popen(run.argv("sync", scenario.source, *scenario.streams),
                                env=run.env, cwd=run.dir, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        scenario.kill_at(n, proc.pid)
        out, err = proc.communicate(timeout=scenario.timeout_s)
        run.outputs += [out, err]
        run.sync_until_done()
        assert run.dataset() == reference, f"killed at request {n} (seed {seed})"

    @pytest.mark.slow
    def test_faults_give_the_same_dataset(self, scenario: Scenario, tmp_path: Path,
                                          reference: dict):
        if scenario.faults is None:
            pytest.skip("the scenario cannot inject faults")
        run = Run(scenario, tmp_path / "faults")
        scenario.faults(scenario.fault_rate)
        try:
            run.sync_until_done()
        finally:
            scenario.faults(0)
        assert run.dataset() == reference

    def test_no_secret_in_any_output(self, scenario: Scenario, tmp_path: Path):
        run = Run(scenario, tmp_path / "secrets")
        run.sync("-vv")
        run.sync()
        run.dataset()
        run.run("audit", "--limit", "200")
        run.run("status")
        run.run("config", "show")
        for secret in filter(None, scenario.secrets):
            leaks = [o for o in run.outputs if secret in o]
            assert not leaks, f"a secret was printed: {leaks[0][:500]}"
