"""Flow metrics from Jira (and GitHub) issues, sprints and pull requests.

Definitions (each input is configurable under `metrics:`):

- a status *starts work* when it is in Jira's "In Progress" category and *ends work*
  when it is in the "Done" category (learned from the stored issues' current status and
  category; `metrics.statuses.in_progress` / `done` name them instead);
- *cycle time*: the first transition into an in-progress status to the last transition
  into a done status, for issues whose current status is done (a reopened issue counts
  to its final Done); *lead time*: created to that Done;
- *throughput*: issues reaching their final Done per ISO week; *WIP*: issues in an
  in-progress status at the end of each ISO week (weeks in `metrics.time_zone`);
- *sprint commitment*: story points of the issues in the sprint when it started (from the
  Sprint field's history); *completion*: points of those issues done at the sprint's
  end; issues added after the start are reported separately;
- *PR time to merge*: created to merged; *review wait*: created to the first submitted
  review by someone other than the author (from the stored `reviews`).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from dihub.hub.facts import Facts, IssueF, median, p75, week_of, weeks_between

IN_PROGRESS_CATEGORIES = {"indeterminate", "in progress", "in_progress"}
DONE_CATEGORIES = {"done"}
HOUR = 3600.0
DAY = 86400.0


@dataclass
class Scope:
    """What a computation covers: [since, until) in epoch seconds, the week zone, and the
    --source / --project / --team filters (team: lower-cased ids, logins, emails)."""
    since: float
    until: float
    zone: Any
    source: str | None = None
    project: str | None = None
    team: set[str] | None = None
    notes: list[str] = field(default_factory=list)


class Statuses:
    """Which status names start work and which end it."""

    def __init__(self, settings: Any, issues: list[IssueF]):
        configured_ip = {s.lower() for s in settings.statuses.in_progress}
        configured_done = {s.lower() for s in settings.statuses.done}
        learned_ip: set[str] = set()
        learned_done: set[str] = set()
        for issue in issues:
            if not issue.status or not issue.category:
                continue
            category = issue.category.lower()
            if category in IN_PROGRESS_CATEGORIES:
                learned_ip.add(issue.status.lower())
            elif category in DONE_CATEGORIES:
                learned_done.add(issue.status.lower())
        self.in_progress = configured_ip or learned_ip
        self.done = configured_done or learned_done

    def is_done(self, status: str | None) -> bool:
        return status is not None and status.lower() in self.done

    def is_in_progress(self, status: str | None) -> bool:
        return status is not None and status.lower() in self.in_progress


def issue_is_done(issue: IssueF, statuses: Statuses) -> bool:
    if issue.status is not None and (statuses.is_done(issue.status)
                                     or statuses.is_in_progress(issue.status)):
        return statuses.is_done(issue.status)
    return (issue.category or "").lower() in DONE_CATEGORIES


def done_time(issue: IssueF, statuses: Statuses) -> float | None:
    """When the issue reached its final Done: the last transition into a done status, else
    its resolution time; None while it is not done."""
    if not issue_is_done(issue, statuses):
        return None
    for t, _frm, to in reversed(issue.transitions):
        if statuses.is_done(to):
            return t
    return issue.resolved


def start_time(issue: IssueF, statuses: Statuses) -> float | None:
    for t, _frm, to in issue.transitions:
        if statuses.is_in_progress(to):
            return t
    return None


def status_at(issue: IssueF, t: float, *, inclusive: bool = True) -> str | None:
    """The issue's status at `t` (after the transitions at or, with inclusive=False, before
    it); None before the issue was created."""
    if issue.created is not None and issue.created > t:
        return None
    if not issue.transitions:
        return issue.status
    status = issue.transitions[0][1]
    for when, _frm, to in issue.transitions:
        if when < t or (inclusive and when == t):
            status = to
        else:
            break
    return status


def in_sprint_at(issue: IssueF, sprint_id: str, t: float) -> bool:
    """Whether the issue was in the sprint at `t`, replaying the Sprint field's history."""
    if issue.created is not None and issue.created > t:
        return False
    if not issue.sprint_changes:
        return sprint_id in issue.sprints
    state = issue.sprint_changes[0][1]
    for when, _frm, to in issue.sprint_changes:
        if when <= t:
            state = to
        else:
            break
    return sprint_id in state


def _in_team(issue: IssueF, team: set[str] | None) -> bool:
    return team is None or (issue.assignee or "").lower() in team


def select_issues(facts: Facts, scope: Scope) -> list[IssueF]:
    return [i for i in facts.issues()
            if (scope.source is None or i.source == scope.source)
            and (scope.project is None or i.project == scope.project)
            and _in_team(i, scope.team)]


def compute_flow(facts: Facts, settings: Any, scope: Scope) -> dict[str, Any]:
    """The flow metrics over the scope: a summary, weekly series and one row per sprint."""
    every = facts.issues()
    statuses = Statuses(settings, every)
    issues = select_issues(facts, scope)
    weeks = weeks_between(scope.since, scope.until, scope.zone)
    ends = [end for _label, _start, end in weeks]
    weekly = {label: {"week": label, "throughput": 0, "wip": 0, "cycle_times": []}
              for label, _s, _e in weeks}
    cycle, lead = [], []
    for issue in issues:
        done = done_time(issue, statuses)
        if done is not None and scope.since <= done < scope.until:
            row = weekly.get(week_of(done, scope.zone))
            start = start_time(issue, statuses)
            if row is not None:
                row["throughput"] += 1
            if start is not None and done - start > 0:
                cycle.append(done - start)
                if row is not None:
                    row["cycle_times"].append(done - start)
            if issue.created is not None and done - issue.created > 0:
                lead.append(done - issue.created)
        _count_wip(issue, statuses, weeks, ends, weekly)

    series = []
    for label, _s, _e in weeks:
        row = weekly[label]
        times = row.pop("cycle_times")
        row["cycle_time_median_days"] = _days(median(times))
        series.append(row)
    sprints = sprint_commitment(facts, statuses, scope)
    pulls = _pulls(facts, scope)
    n_weeks = len(weeks) or 1
    summary = {
        "issues_done": len([1 for i in issues
                            if (d := done_time(i, statuses)) is not None
                            and scope.since <= d < scope.until]),
        "cycle_time_median_days": _days(median(cycle)),
        "cycle_time_p75_days": _days(p75(cycle)),
        "lead_time_median_days": _days(median(lead)),
        "lead_time_p75_days": _days(p75(lead)),
        "throughput_per_week": round(sum(r["throughput"] for r in series) / n_weeks, 2),
        "wip_last_week": series[-1]["wip"] if series else None,
        "sprints": len(sprints),
        "committed_points": sum(s["committed_points"] for s in sprints),
        "completed_points": sum(s["completed_points"] for s in sprints),
        "added_points": sum(s["added_points"] for s in sprints),
        **pulls,
    }
    return {"summary": summary, "weekly": series, "sprints": sprints,
            "statuses": {"in_progress": sorted(statuses.in_progress),
                         "done": sorted(statuses.done)}}


def _count_wip(issue: IssueF, statuses: Statuses, weeks: list, ends: list[float],
               weekly: dict[str, dict[str, Any]]) -> None:
    """+1 WIP for each week whose end finds the issue in an in-progress status (the status
    set by the transitions strictly before the end instant)."""
    if not weeks:
        return
    born = issue.created if issue.created is not None else float("-inf")
    segments: list[tuple[float, float, str | None]] = []    # (after, up to, status)
    if issue.transitions:
        previous, status = born, issue.transitions[0][1]
        for when, _frm, to in issue.transitions:
            segments.append((previous, when, status))
            previous, status = when, to
        segments.append((previous, float("inf"), status))
    else:
        segments.append((born, float("inf"), issue.status))
    for after, upto, status in segments:
        if not statuses.is_in_progress(status):
            continue
        # week ends e with after < e <= upto: a transition at e itself is not yet applied
        i = bisect_right(ends, after)
        while i < len(ends) and ends[i] <= upto:
            weekly[weeks[i][0]]["wip"] += 1
            i += 1


def sprint_commitment(facts: Facts, statuses: Statuses, scope: Scope) -> list[dict[str, Any]]:
    """One row per sprint started in the scope: committed (in the sprint at its start) and
    completed (of those, done at its end) issues and points; issues added after the start
    separately. Missing story points count as 0 and are counted in `unestimated`."""
    members: dict[str, list[IssueF]] = {}
    for issue in select_issues(facts, scope):
        ids = set(issue.sprints)
        for _t, frm, to in issue.sprint_changes:
            ids.update(frm)
            ids.update(to)
        for sid in ids:
            members.setdefault(sid, []).append(issue)
    rows = []
    sprints = sorted((s for s in facts.sprints()
                      if s.start is not None and scope.since <= s.start < scope.until
                      and (scope.source is None or s.source == scope.source)),
                     key=lambda s: (s.start, s.sprint_id))
    for sprint in sprints:
        start = sprint.start
        end = sprint.end if sprint.end is not None else scope.until
        row = {"sprint": sprint.name or sprint.sprint_id, "sprint_id": sprint.sprint_id,
               "start": _iso(start), "end": _iso(end), "committed_issues": 0,
               "committed_points": 0.0,
               "completed_issues": 0, "completed_points": 0.0, "added_issues": 0,
               "added_points": 0.0, "added_completed_points": 0.0, "unestimated": 0}
        for issue in members.get(sprint.sprint_id, []):
            points = issue.points or 0.0
            done_at_end = statuses.is_done(status_at(issue, end))
            if in_sprint_at(issue, sprint.sprint_id, start):
                row["committed_issues"] += 1
                row["committed_points"] += points
                row["unestimated"] += issue.points is None
                if done_at_end:
                    row["completed_issues"] += 1
                    row["completed_points"] += points
                continue
            checkpoints = [t for t, _f, _to in issue.sprint_changes if start < t <= end]
            if issue.created is not None and start < issue.created <= end:
                checkpoints.append(issue.created)
            checkpoints.append(end)
            if any(in_sprint_at(issue, sprint.sprint_id, t) for t in checkpoints):
                row["added_issues"] += 1
                row["added_points"] += points
                row["unestimated"] += issue.points is None
                if done_at_end:
                    row["added_completed_points"] += points
        rows.append(row)
    return rows


def _pulls(facts: Facts, scope: Scope) -> dict[str, Any]:
    """PR time to merge (created to merged, PRs merged in the window) and review wait
    (created to the first review by someone other than the author, PRs opened in the
    window that have one; pending reviews do not count)."""
    first_review: dict[str, float] = {}
    pulls = facts.by_entity["pull_requests"]
    for r in facts.reviews():
        pr = pulls.get(r.pull_request_id)
        if r.submitted is None or (r.state or "").upper() == "PENDING" or pr is None \
                or (r.reviewer is not None and r.reviewer == pr.author):
            continue
        seen = first_review.get(r.pull_request_id)
        if seen is None or r.submitted < seen:
            first_review[r.pull_request_id] = r.submitted
    merge, wait = [], []
    for rid, p in pulls.items():
        if p.created is None or not (
                (scope.source is None or p.source == scope.source)
                and (scope.project is None or p.repo == scope.project
                     or p.repo.rsplit("/", 1)[-1] == scope.project)
                and (scope.team is None or (p.author or "").lower() in scope.team)):
            continue
        if p.merged is not None and scope.since <= p.merged < scope.until \
                and p.merged - p.created > 0:
            merge.append(p.merged - p.created)
        reviewed = first_review.get(rid)
        if reviewed is not None and scope.since <= p.created < scope.until \
                and reviewed - p.created > 0:
            wait.append(reviewed - p.created)
    return {"prs_merged": len(merge),
            "pr_time_to_merge_median_hours": _hours(median(merge)),
            "pr_time_to_merge_p75_hours": _hours(p75(merge)),
            "pr_review_wait_median_hours": _hours(median(wait))}


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / DAY, 3)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / HOUR, 3)


def make_scope(settings: Any, since: str, until: str, *, source: str | None = None,
               project: str | None = None, team: str | None = None,
               store: Any = None) -> Scope:
    """A Scope from the CLI's strings. `team` names an entry of `metrics.teams`: its
    account ids, logins and emails, plus every account of the people they resolve to when
    the hub has grouped accounts into people (`people` records in the store)."""
    from zoneinfo import ZoneInfo

    from dihub.errors import UsageError

    zone = ZoneInfo(settings.time_zone)
    start, end = _bound(since, zone), _bound(until, zone)
    if start is None or end is None:
        raise UsageError(f"--since/--until: unreadable time {since!r} / {until!r}",
                         hint="Use a date (2026-03-02) or an ISO time (2026-03-02T09:00Z).")
    if end <= start:
        raise UsageError(f"--until {until} is not after --since {since}")
    members = None
    if team is not None:
        if team not in settings.teams:
            known = ", ".join(sorted(settings.teams)) or "none"
            raise UsageError(f"--team {team!r}: no such team",
                             hint=f"Teams are listed under metrics.teams (configured: {known}).")
        members = {m.lower() for m in settings.teams[team]}
        if store is not None:
            members |= _people_accounts(store, members)
    return Scope(since=start, until=end, zone=zone, source=source, project=project,
                 team=members)


def _bound(text: str, zone: Any) -> float | None:
    """A date (midnight in the metrics zone) or an ISO time (UTC unless it says)."""
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.timestamp()


def _people_accounts(store: Any, members: set[str]) -> set[str]:
    """Every account id, login and email of the people some member names."""
    try:
        from dihub.hub.identities import Identities

        ids = Identities.load(store)
    except Exception:       # no people records (the hub has not grouped accounts yet)
        return set()
    out: set[str] = set()
    for person in ids.people():
        accounts = person.get("accounts") or []
        refs = {str(v).lower() for a in accounts
                for v in (a.get("user_id"), a.get("login"), a.get("email")) if v}
        refs |= {e.lower() for e in person.get("emails") or []}
        refs.add(str(person.get("person_id", "")).lower())
        if refs & members:
            out |= refs
            out |= {f"email:{e}" for e in person.get("emails") or []}
    return out
