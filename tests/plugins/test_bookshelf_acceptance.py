"""The example plugin (tests/plugins/dihub_bookshelf, installed through its dist-info
folder on PYTHONPATH as a separate package would be) passes the acceptance kit, and
its own entity is stored and shown like a built-in one."""

from __future__ import annotations

from pathlib import Path

import pytest

from dihub.testing.acceptance import AcceptanceTests, Run, Scenario
from tests.plugins.simulator import PAGE_SIZE, BookshelfSimulator

PLUGINS = Path(__file__).resolve().parent
BOOKS = 45


def bookshelf_scenario(sim: BookshelfSimulator) -> Scenario:
    return Scenario(
        source="shelf",
        config=f"sources:\n  shelf:\n    connector: bookshelf\n    base_url: {sim.base_url}\n",
        expected={"books": BOOKS},
        secrets=[sim.token],
        env={"PYTHONPATH": str(PLUGINS), "BOOKSHELF_TOKEN": sim.token},
        faults=sim.set_faults, kill_at=sim.kill_at,
        requests=-(-BOOKS // PAGE_SIZE))


class TestBookshelfAcceptance(AcceptanceTests):
    @pytest.fixture
    def scenario(self):
        with BookshelfSimulator(BOOKS) as sim:
            yield bookshelf_scenario(sim)


def test_the_plugin_entity_has_its_columns_and_key(tmp_path: Path):
    with BookshelfSimulator(BOOKS) as sim:
        run = Run(bookshelf_scenario(sim), tmp_path)
        run.sync()
        table = run.run("fetch", "shelf", "books", "--limit", "3").stdout
        header = next(line for line in table.splitlines() if "book_id" in line)
        assert header.split()[:4] == ["book_id", "title", "author", "year"]
        assert "shelf:books:1" in run.run("fetch", "shelf", "books", "--format", "jsonl").stdout
        connectors = run.run("connectors").stdout
        assert "bookshelf" in connectors and "books" in connectors
