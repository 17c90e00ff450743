"""DORA metrics from stored builds, commits and issues.

Definitions (each input is configurable under `metrics:`):

- *deployment*: a successful run (conclusion `success`) of a configured deployment
  workflow (by name, id or path; by default any workflow whose name contains "deploy") on
  a configured branch (default `main`, `master`). A run re-run after success counts once
  (its first successful attempt). Failed runs are not deployments, nor change failures;
- *lead time for changes*: for each non-merge commit first reachable from a deployment's
  head commit (walking stored `parents`) and not from an earlier deployment of the same
  repository, the deployment's completion time minus the commit's committer time;
  non-positive values are dropped; median and p75 over the commits deployed in the window;
- *change failure rate*: deployments followed by an incident (an issue with a configured
  label, default `incident`, or of a configured Jira issue type, default `Incident`)
  opened before the next successful deployment, over all deployments in the window;
- *time to restore*: incident opened to resolved (its final Done, or closed), median
  over the incidents opened in the window that are resolved;
- *deployment frequency*: deployments in the window per week.

The ancestry walks are kept in the facts cache: after an incremental sync only the new
deployments are walked (and those whose walk met a commit not stored yet, once new
commits arrive).
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from dihub.hub.facts import BuildF, Facts, IssueF, median, p75, week_of, weeks_between
from dihub.hub.flow import Scope, Statuses, done_time

DAY = 86400.0
HOUR = 3600.0


@dataclass(frozen=True)
class Deployment:
    source: str
    repo: str
    run_id: str
    head_sha: str | None
    completed: float
    workflow: str

    @property
    def key(self) -> str:
        return f"{self.source}:{self.repo}:{self.run_id}"


def is_deployment_workflow(build: BuildF, workflows: list[str]) -> bool:
    if not workflows:
        return bool(build.workflow) and "deploy" in build.workflow[0].lower()
    wanted = {w.lower() for w in workflows}
    for value in build.workflow:
        v = value.lower()
        if v in wanted or v.rsplit("/", 1)[-1] in wanted:
            return True
    return False


def deployments(facts: Facts, settings: Any) -> list[Deployment]:
    """Every deployment in the store, oldest first (configuration only; no CLI filter)."""
    rules = settings.deployments
    branches = set(rules.branches)
    first: dict[tuple[str, str, str], BuildF] = {}
    for b in facts.builds():
        if (b.conclusion or "").lower() != "success" or b.completed is None:
            continue
        if branches and b.branch not in branches:
            continue
        if not is_deployment_workflow(b, rules.workflows):
            continue
        key = (b.source, b.repo, b.run_id)
        seen = first.get(key)
        if seen is None or (b.completed, b.attempt) < (seen.completed, seen.attempt):
            first[key] = b
    out = [Deployment(b.source, b.repo, b.run_id, b.head_sha, b.completed,
                      b.workflow[0] if b.workflow else "") for b in first.values()]
    return sorted(out, key=lambda d: (d.completed, d.key))


def _graph(facts: Facts) -> dict[str, tuple[tuple[str, ...], float | None, tuple[str, ...]]]:
    """sha → (parents, committer time, author keys), merged over sources (git and GitHub
    may both store a commit)."""
    graph: dict[str, tuple[tuple[str, ...], float | None, tuple[str, ...]]] = {}
    for c in facts.commits():
        seen = graph.get(c.sha)
        if seen is None:
            graph[c.sha] = (c.parents, c.time, c.authors)
        else:
            graph[c.sha] = (seen[0] or c.parents, seen[1] if seen[1] is not None else c.time,
                            tuple(dict.fromkeys(seen[2] + c.authors)))
    return graph


def _walk(head: str | None, graph: dict, deployed: set[str]) -> tuple[list[str], bool]:
    """Commits reachable from `head` and not already deployed; and whether the walk met a
    commit that is not stored (then it is redone when new commits arrive)."""
    if head is None:
        return [], True
    found: list[str] = []
    missing = False
    stack = [head]
    seen: set[str] = set()
    while stack:
        sha = stack.pop()
        if sha in deployed or sha in seen:
            continue
        seen.add(sha)
        node = graph.get(sha)
        if node is None:
            missing = True
            continue
        found.append(sha)
        stack.extend(node[0])
    return found, missing


def _settings_key(settings: Any) -> str:
    body = json.dumps(settings.deployments.model_dump(), sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def deployed_commits(facts: Facts, settings: Any, deploys: list[Deployment],
                     graph: dict) -> dict[str, list[str]]:
    """Deployment key → the commits it deployed first, reusing the cached walks of
    deployments that have not changed."""
    cache = facts.derived.get("dora")
    commits_gen = facts.generation.get("commits", 0)
    if not cache or cache.get("settings") != _settings_key(settings):
        cache = {"settings": _settings_key(settings), "repos": {}}
    old_repos: dict[str, list] = cache["repos"]
    new_repos: dict[str, list] = {}
    by_repo: dict[str, list[Deployment]] = {}
    for d in deploys:
        by_repo.setdefault(f"{d.source}:{d.repo}", []).append(d)
    walked = 0
    for repo, items in by_repo.items():
        old = old_repos.get(repo, [])
        entries: list = []
        deployed: set[str] = set()
        reuse = True
        for i, d in enumerate(items):
            if reuse and i < len(old) and old[i][0] == d.key and old[i][1] == d.head_sha \
                    and not (old[i][3] and old[i][4] != commits_gen):
                entries.append(old[i])
                deployed.update(old[i][2])
                continue
            reuse = False
            found, missing = _walk(d.head_sha, graph, deployed)
            walked += 1
            deployed.update(found)
            entries.append((d.key, d.head_sha, found, missing, commits_gen))
        new_repos[repo] = entries
    cache["repos"] = new_repos
    cache["walked"] = walked
    facts.derived["dora"] = cache
    return {e[0]: e[2] for entries in new_repos.values() for e in entries}


def is_incident(issue: IssueF, settings: Any) -> bool:
    labels = {label.lower() for label in settings.incidents.labels}
    types = {t.lower() for t in settings.incidents.issue_types}
    return bool(labels & {label.lower() for label in issue.labels}) or \
        (issue.type or "").lower() in types


def compute_dora(facts: Facts, settings: Any, scope: Scope) -> dict[str, Any]:
    """The DORA metrics over the scope: a summary and weekly series. --source and --project
    select the deployments (by the builds' source and repository) and --source the
    incidents; --team selects the commits (by author) whose lead times count."""
    graph = _graph(facts)
    every = deployments(facts, settings)
    firsts = deployed_commits(facts, settings, every, graph)
    scoped = [d for d in every
              if (scope.source is None or d.source == scope.source)
              and (scope.project is None or d.repo == scope.project
                   or d.repo.rsplit("/", 1)[-1] == scope.project)]
    statuses = Statuses(settings, facts.issues())
    incidents = sorted(
        (i for i in facts.issues()
         if i.created is not None and is_incident(i, settings)
         and (scope.source is None or i.source == scope.source)),
        key=lambda i: (i.created, i.key))

    # change failures: each incident goes to the latest deployment completed before it
    times = [d.completed for d in scoped]
    failed: set[str] = set()
    for incident in incidents:
        at = bisect_right(times, incident.created) - 1
        if at >= 0:
            failed.add(scoped[at].key)

    weeks = weeks_between(scope.since, scope.until, scope.zone)
    weekly = {label: {"week": label, "deployments": 0, "failed_deployments": 0,
                      "lead_times": [], "restore_times": []} for label, _s, _e in weeks}
    in_window = [d for d in scoped if scope.since <= d.completed < scope.until]
    lead: list[float] = []
    missing_heads = 0
    for d in in_window:
        row = weekly.get(week_of(d.completed, scope.zone))
        if row is not None:
            row["deployments"] += 1
            row["failed_deployments"] += d.key in failed
        if d.head_sha not in graph:
            missing_heads += 1
        for sha in firsts.get(d.key, []):
            parents, committed, authors = graph[sha]
            if len(parents) > 1 or committed is None:
                continue
            if scope.team is not None and not scope.team & set(authors):
                continue
            value = d.completed - committed
            if value > 0:
                lead.append(value)
                if row is not None:
                    row["lead_times"].append(value)
    restore: list[float] = []
    unresolved = 0
    opened = 0
    for incident in incidents:
        if not scope.since <= incident.created < scope.until:
            continue
        opened += 1
        resolved = done_time(incident, statuses)
        if resolved is None or resolved - incident.created <= 0:
            unresolved += resolved is None
            continue
        restore.append(resolved - incident.created)
        row = weekly.get(week_of(incident.created, scope.zone))
        if row is not None:
            row["restore_times"].append(resolved - incident.created)

    series = []
    for label, _s, _e in weeks:
        row = weekly[label]
        lt, rt = row.pop("lead_times"), row.pop("restore_times")
        row["lead_time_median_hours"] = _hours(median(lt))
        row["time_to_restore_median_hours"] = _hours(median(rt))
        row["change_failure_rate"] = (round(row["failed_deployments"] / row["deployments"], 4)
                                      if row["deployments"] else None)
        series.append(row)
    n_failed = sum(1 for d in in_window if d.key in failed)
    weeks_n = (scope.until - scope.since) / (7 * DAY)
    summary = {
        "deployments": len(in_window),
        "deployments_per_week": round(len(in_window) / weeks_n, 3) if weeks_n > 0 else None,
        "commits_deployed": len(lead),
        "lead_time_median_hours": _hours(median(lead)),
        "lead_time_p75_hours": _hours(p75(lead)),
        "failed_deployments": n_failed,
        "change_failure_rate": round(n_failed / len(in_window), 4) if in_window else None,
        "incidents": opened,
        "incidents_unresolved": unresolved,
        "time_to_restore_median_hours": _hours(median(restore)),
        "deployments_with_unknown_head": missing_heads,
    }
    return {"summary": summary, "weekly": series,
            "walked_deployments": facts.derived["dora"].get("walked", 0)}


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / HOUR, 3)
