"""What GitHub streams read several at a time (dihub/http/paging.py, `pages_at_once`):
the commits listing's pages after the first (dihub/connectors/github/commits.py,
`_Branch.listing`) and the earlier attempts of re-run workflow runs (runs.py,
`read_pending`). A request that sits out a Retry-After holds only itself, each page is
written as it arrives, and its checkpoint says what is read."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from dihub.connectors.github import connector
from tests.simulators.github import Dataset, GitHubSimulator
from tests.unit.github.test_streams import ENV, REPO, context, fresh, run_pass


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv(ENV, "unit-test-token-123456")


@pytest.fixture
def sim():
    data = Dataset.generate([REPO], commits_per_repo=950, prs_per_repo=0, issues_per_repo=0,
                            runs_per_repo=0, seed=5)
    with GitHubSimulator(data, retry_after=1) as sim:
        yield sim


def _listing(sim, start: int = 0) -> list[tuple[int, int | None]]:
    """(page, status) of the commit listing requests served from log entry `start` on."""
    out = []
    for r in list(sim.stats.log)[start:]:
        q = {k: v[-1] for k, v in parse_qs(r.query).items()}
        if r.path.endswith("/commits") and q.get("per_page") == "100":
            out.append((int(q.get("page", 1)), r.status))
    return out


def test_a_page_that_sits_out_a_retry_after_holds_only_itself(sim):
    sim.script(r"/commits\?.*&page=2$", ["429"])
    positions = []
    for page in connector.streams["commits"].fetch(context(sim), REPO, fresh("commits")):
        if page.moves_cursor and "backfill" in page.cursor:
            positions.append(page.cursor["backfill"])
    served = _listing(sim)
    assert served[:2] == [(1, 200), (2, 429)]
    answered = [n for n, status in served if status == 200]
    assert sorted(answered) == list(range(1, 11))          # every page once
    assert answered.index(2) > answered.index(6)           # the pages after it went on
    # the first position is the head's (`sha=main&per_page=1`); then one per page
    listed = [p for p in positions if "last" in p]
    assert len(listed) == 10 and all(p["last"] == 10 for p in listed)
    # while page 2 waits, the pages after it are written, page 2 still to read
    waiting = [p for p in listed if p["page"] == 2 and p.get("done")]
    assert waiting and max(len(p["done"]) for p in waiting) >= 3
    assert listed[-1]["page"] is None and listed[-1]["done"] == []


def test_a_listing_without_a_last_page_is_read_page_by_page(sim, monkeypatch):
    from tests.simulators.github import query

    real = query.link_header

    def without_last(*args, **kwargs):
        links = real(*args, **kwargs)
        kept = [rel for rel in (links or "").split(", ") if 'rel="last"' not in rel]
        return ", ".join(kept) or None

    monkeypatch.setattr(query, "link_header", without_last)
    sim.script(r"/commits\?.*&page=2$", ["429"])
    items, state = run_pass("commits", context(sim), fresh("commits"))
    assert len({c["sha"] for c in items}) == 950
    assert [n for n, status in _listing(sim) if status == 200] == list(range(1, 11))
    assert "backfill" not in state.cursor


def test_a_last_page_said_too_far_costs_no_more_than_the_pages_in_flight(sim, monkeypatch):
    """A `rel="last"` further than the listing goes (a count before a filter): the first
    short page ends it, and only the pages already asked for are spent."""
    from tests.simulators.github import query

    real = query.link_header

    def too_far(params, base_url, path, page, last):
        return real(params, base_url, path, page, last + 40)

    monkeypatch.setattr(query, "link_header", too_far)
    items, state = run_pass("commits", context(sim), fresh("commits"))
    assert len({c["sha"] for c in items}) == 950
    served = sorted(n for n, _ in _listing(sim))
    assert served[:10] == list(range(1, 11))       # 10 pages hold the 950 commits
    assert len(served) <= 10 + 4                   # and at most http.concurrency more
    assert "backfill" not in state.cursor


def test_a_pass_resumed_reads_only_the_pages_not_read(sim):
    base = run_pass("commits", context(sim), fresh("commits"))[1]
    position = {"branch": "main", "mode": "list", "head": base.cursor["heads"]["main"],
                "since": None, "page": 3, "last": 10, "done": [5, 6, 9],
                "newest": None, "etag": None}
    state = fresh("commits")
    state.cursor = {"branches": {}, "heads": {}, "backfill": position}
    start = len(sim.stats.log)
    items, after = run_pass("commits", context(sim), state)
    assert sorted(n for n, _ in _listing(sim, start)) == [3, 4, 7, 8, 10]
    assert len(items) == 4 * 100 + 50                    # page 10 holds the last 50
    assert after.cursor["heads"] == base.cursor["heads"]
    assert "backfill" not in after.cursor


def test_the_earlier_attempts_of_re_runs_are_read_several_at_a_time():
    data = Dataset.generate([REPO], commits_per_repo=5, prs_per_repo=0, issues_per_repo=0,
                            runs_per_repo=60, seed=5)
    reruns = [attempts[-1]["id"] for attempts in data.repo(REPO).runs[::6]]
    for rid in reruns:
        data.rerun(REPO, rid)
    with GitHubSimulator(data, retry_after=1) as sim:
        clean_ids = {(b["id"], b.get("run_attempt")) for b in
                     run_pass("workflow_runs", context(sim), fresh("workflow_runs"))[0]}
        clean = [r.path for r in sim.stats.log if "/attempts/" in r.path]
        assert len(clean) >= len(reruns)
        sim.stats.reset()
        sim.script(clean[0].replace("/", r"\/") + "$", ["429"])   # the first one asked
        items, state = run_pass("workflow_runs", context(sim), fresh("workflow_runs"))
        assert {(b["id"], b.get("run_attempt")) for b in items} == clean_ids
        attempts = [(r.path, r.status) for r in sim.stats.log if "/attempts/" in r.path]
        assert attempts[0] == (clean[0], 429)
        answered = [path for path, status in attempts if status == 200]
        assert sorted(answered) == sorted(clean)                  # each once
        assert answered[-1] == clean[0]             # the others went on meanwhile
        assert "backfill" not in state.cursor
