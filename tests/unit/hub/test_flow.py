"""Flow metrics over the hand-built dataset of tests/support/hub_fixture.py: every expected
value is worked out by hand in that module's docstring."""

from __future__ import annotations

import pytest

from dihub.config import MetricsSettings
from dihub.errors import UsageError
from dihub.hub.facts import load_facts
from dihub.hub.flow import compute_flow, make_scope
from dihub.store.sqlite import SQLiteStore
from tests.support import hub_fixture as fx


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "hub.db")
    fx.fill(s)
    yield s
    s.close()


def _flow(store, settings=None, since=fx.SINCE, until=fx.UNTIL, **filters):
    settings = settings or MetricsSettings()
    scope = make_scope(settings, since, until, store=store, **filters)
    return compute_flow(load_facts(store, use_cache=False), settings, scope)


def test_flow_summary_by_hand(store):
    summary = _flow(store, project="SHOP")["summary"]
    assert summary == {
        "issues_done": 3,                       # SHOP-1, SHOP-2 (final Done), SHOP-5
        "cycle_time_median_days": 4.75,         # 2 and 7.5 (SHOP-5 never in progress)
        "cycle_time_p75_days": 6.125,           # rank 0.75 of 2: 2 + 0.75 * 5.5
        "lead_time_median_days": 9.083,         # 7, 9 d 2 h, 9.5
        "lead_time_p75_days": 9.292,            # (9.0833 + 9.5) / 2
        "throughput_per_week": 1.5,             # 1 + 2 over 2 weeks
        "wip_last_week": 3,                     # SHOP-3, SHOP-4 (In Review), SHOP-7
        "sprints": 1,
        "committed_points": 9.0,                # SHOP-1 3, SHOP-2 5, SHOP-5 -, SHOP-6 1
        "completed_points": 8.0,                # SHOP-1, SHOP-2 (SHOP-5 has no points)
        "added_points": 10.0,                   # SHOP-3 2, SHOP-4 8
        "prs_merged": 0,                        # --project is a repository for PRs
        "pr_time_to_merge_median_hours": None,
        "pr_time_to_merge_p75_hours": None,
        "pr_review_wait_median_hours": None,
    }


def test_pull_requests_by_hand(store):
    summary = _flow(store, project="acme/shop")["summary"]
    assert {k: v for k, v in summary.items() if k.startswith("pr")} == {
        "prs_merged": 2,
        "pr_time_to_merge_median_hours": 13.75,  # 3.5 and 24
        "pr_time_to_merge_p75_hours": 18.875,   # 3.5 + 0.75 * 20.5
        "pr_review_wait_median_hours": 4.0,     # 2 (bob; alice is the author) and 6
    }


def test_flow_weekly_series_by_hand(store):
    assert _flow(store, project="SHOP")["weekly"] == [
        # W10 ends 03-09 00:00: SHOP-3, SHOP-4 in progress; SHOP-2 Done until 03-09 09:00
        {"week": "2026-W10", "throughput": 1, "wip": 2, "cycle_time_median_days": 2.0},
        {"week": "2026-W11", "throughput": 2, "wip": 3, "cycle_time_median_days": 7.5},
    ]


def test_sprint_commitment_by_hand(store):
    (sprint,) = _flow(store, project="SHOP")["sprints"]
    assert {k: v for k, v in sprint.items() if k not in ("start", "end")} == {
        "sprint": "Sprint 1", "sprint_id": "1",
        "committed_issues": 4, "committed_points": 9.0,     # SHOP-6 left mid-sprint: counts
        "completed_issues": 3, "completed_points": 8.0,
        "added_issues": 2, "added_points": 10.0, "added_completed_points": 0.0,
        "unestimated": 1,                                   # SHOP-5
    }


def test_whole_store_includes_incidents_and_github(store):
    summary = _flow(store)["summary"]
    # + OPS-1 (3 h cycle, 4 h lead) and GitHub #20 (closed: done, 6 h lead, no cycle)
    assert summary["issues_done"] == 5
    assert summary["cycle_time_median_days"] == 2.0        # 0.125, 2, 7.5


def test_team_and_source_filters(store):
    settings = MetricsSettings(teams={"bob": ["acc-bob", "1002"]})
    summary = _flow(store, settings, team="bob")["summary"]
    assert (summary["issues_done"], summary["cycle_time_median_days"]) == (1, 7.5)
    assert summary["prs_merged"] == 0
    assert _flow(store, source="github")["summary"]["issues_done"] == 1


def test_configured_statuses_replace_the_learned_ones(store):
    settings = MetricsSettings(statuses={"in_progress": ["In Progress"], "done": ["Done"]})
    weekly = _flow(store, settings, project="SHOP")["weekly"]
    assert [w["wip"] for w in weekly] == [2, 2]            # In Review no longer counts


def test_weeks_follow_the_configured_time_zone(store):
    # 03-10 21:00 UTC (SHOP-2 Done) is 03-11 in Tokyo: still W11; the W10/W11 boundary
    # moves 9 h earlier, so 03-08 15:00 UTC and later belong to W11
    settings = MetricsSettings(time_zone="Asia/Tokyo")
    weekly = _flow(store, settings, since="2026-03-02", until="2026-03-16",
                   project="SHOP")["weekly"]
    assert [(w["week"], w["throughput"]) for w in weekly] == [("2026-W10", 1),
                                                              ("2026-W11", 2)]


def test_unknown_team_is_a_usage_error(store):
    with pytest.raises(UsageError):
        _flow(store, team="nope")
