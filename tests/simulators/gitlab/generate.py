"""Building one generated project: its commit graph, merge requests, issues and pipelines.

Every item is built in the key order of its recorded fixture (tests/data/gitlab/rest/),
with identity, people, text and timestamps generated; see tests/simulators/README.md for
what is added to the recorded shapes.
"""

from __future__ import annotations

import bisect
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import fixtures
from .data import (
    API,
    LABELS,
    WEB,
    ZERO_SHA,
    Person,
    ProjectData,
    _detailed,
    iso_offset,
    iso_z,
    sha_of,
)

if TYPE_CHECKING:
    from .data import Dataset

VERBS = ("Fix", "Add", "Refactor", "Update", "Remove", "Improve", "Document", "Speed up",
         "Handle", "Test")
NOUNS = ("login flow", "pipeline cache", "API client", "rate limiter", "user settings",
         "search index", "webhook retries", "export job", "dashboard", "migrations",
         "error pages", "token refresh", "pagination", "audit log", "CI config")
MR_STATES = (("merged", 0.60), ("closed", 0.14), ("opened", 0.24), ("locked", 0.02))
SOURCES = (("push", 0.55), ("merge_request_event", 0.30), ("schedule", 0.10), ("web", 0.05))
STATUSES = (("success", 0.72), ("failed", 0.15), ("canceled", 0.06), ("skipped", 0.04),
            ("manual", 0.03))
_COMMIT_KEYS = fixtures.keys(fixtures.COMMITS_LIST)
_MR_KEYS = fixtures.keys(fixtures.MRS_LIST)
_ISSUE_KEYS = fixtures.keys(fixtures.ISSUES_LIST)
_PIPELINE_KEYS = list(fixtures.body(fixtures.PIPELINE_GET).keys())


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    x, acc = rng.random(), 0.0
    for value, weight in table:
        acc += weight
        if x < acc:
            return value
    return table[-1][0]


def _phrase(rng: random.Random) -> str:
    return f"{rng.choice(VERBS)} {rng.choice(NOUNS)}"


def _ms(rng: random.Random, dt: datetime) -> datetime:
    return dt.replace(microsecond=rng.randrange(1000) * 1000)


# -- commits ----------------------------------------------------------------------------
def make_commit(p: ProjectData, author: Person, committer: Person, authored: float,
                committed: float, parents: list[str], message: str) -> dict[str, Any]:
    """A commit in the list fixture's shape; registered in the project."""
    sha = sha_of(p.id, len(p.commits), committed, *parents)
    values = {
        "id": sha, "short_id": sha[:11], "title": message.split("\n", 1)[0],
        "author_name": author.name, "author_email": author.email,
        "authored_date": iso_offset(authored, author.offset),
        "committer_name": committer.name, "committer_email": committer.email,
        "committed_date": iso_offset(committed, committer.offset),
        "created_at": iso_offset(committed, committer.offset),
        "message": message, "parent_ids": list(parents)}
    commit = {k: values[k] for k in _COMMIT_KEYS}
    p.commits.append(commit)
    p.commit_index[sha] = commit
    p.commit_epoch[sha] = committed
    return commit


def _timeline(rng: random.Random, n: int, t0: float, t1: float) -> list[float]:
    """n increasing commit times between t0 and t1 (about 2% equal to the previous one,
    to exercise inclusive `since` cursors)."""
    times = sorted(t0 + rng.random() * (t1 - t0) for _ in range(n))
    for i in range(1, n):
        if rng.random() < 0.02:
            times[i] = times[i - 1]
        times[i] = float(int(times[i]))
        if times[i] < times[i - 1]:
            times[i] = times[i - 1]
    return times


def build_commits(p: ProjectData, people: list[Person], rng: random.Random, n: int,
                  n_branches: int, t0: float, t1: float) -> tuple[list[tuple], list[str]]:
    """The default branch's history: mostly linear, with merge commits (2 parents) of
    short feature branches. Returns (merges: [(merge sha, side tip, branch, merger)],
    linear shas) and sets p.branches."""
    times = _timeline(rng, n, t0, t1)
    merges, linear = [], []
    head: str | None = None
    i = 0
    while i < n:
        left = n - i
        if head is not None and left >= 3 and rng.random() < 0.12:
            k = min(rng.randint(1, 3), left - 1)
            dev = rng.choice(people)
            branch = f"{dev.username.split('.')[0]}/{_phrase(rng).lower().replace(' ', '-')}-{i}"
            tip = head
            for _ in range(k):
                at = times[i]
                tip = make_commit(p, dev, dev, at - rng.randrange(0, 7200), at, [tip],
                                  f"{_phrase(rng)}\n\nPart of {branch}.")["id"]
                i += 1
            merger = rng.choice(people)
            msg = (f"Merge branch '{branch}' into 'main'\n\n{_phrase(rng)}\n\n"
                   f"See merge request {p.path}!{{iid}}")
            head = make_commit(p, merger, merger, times[i], times[i], [head, tip], msg)["id"]
            merges.append((head, tip, branch, merger))
            i += 1
            continue
        who = rng.choice(people)
        committer = who if rng.random() < 0.9 else rng.choice(people)   # rebased by others
        at = times[i]
        authored = at - (rng.randrange(60, 86_400) if committer is not who else 0)
        parents = [head] if head else []
        head = make_commit(p, who, committer, authored, at, parents, _phrase(rng))["id"]
        linear.append(head)
        i += 1
    p.branches = {p.default_branch: head} if head else {}
    main_list = [c["id"] for c in p.commits]
    for b in range(n_branches):
        if not main_list:
            break
        fork = main_list[int(len(main_list) * (0.7 + 0.3 * rng.random())) - 1]
        dev = rng.choice(people)
        tip, at = fork, p.commit_epoch[fork]
        for _ in range(rng.randint(2, 6)):
            at = min(at + rng.randrange(600, 5 * 86_400), t1)
            tip = make_commit(p, dev, dev, at, at, [tip], _phrase(rng))["id"]
        p.branches[f"feature/{_phrase(rng).lower().replace(' ', '-')}-{b + 1}"] = tip
    return merges, linear


# -- merge requests ---------------------------------------------------------------------
def make_mr(p: ProjectData, data: Dataset, rng: random.Random, iid: int, created: str,
            state: str, *, updated: str | None = None, merged_at: str | None = None,
            closed_at: str | None = None, sha: str | None = None,
            merge_commit_sha: str | None = None, source_branch: str | None = None,
            author: Person | None = None, merger: Person | None = None) -> dict[str, Any]:
    """A merge request in the go-gitlab list fixture's key order (plus `draft`,
    `merge_user` and `squash_commit_sha`, which the current API returns)."""
    people = data.people
    author = author or rng.choice(people)
    assignees = [author.user()] if rng.random() < 0.7 else []
    if rng.random() < 0.15:
        assignees.append(rng.choice(people).user())
    reviewers = [u.user() for u in rng.sample(people, rng.choice((0, 1, 1, 2)))]
    draft = state == "opened" and rng.random() < 0.25
    title = ("Draft: " if draft else "") + _phrase(rng)
    merged_by = (merger or rng.choice(people)).user() if state == "merged" else None
    closed_by = rng.choice(people).user() if state in ("closed", "locked") else None
    milestone = rng.choice(p.milestones) if p.milestones and rng.random() < 0.4 else None
    tasks = rng.choice((0, 0, 3, 5, 8))
    values = {
        "id": 0, "iid": iid, "project_id": p.id, "title": title,
        "description": f"## What does this MR do?\n\n{_phrase(rng)}.",
        "state": state, "created_at": created, "updated_at": updated or created,
        "merged_by": merged_by, "merge_user": merged_by, "merged_at": merged_at,
        "closed_by": closed_by, "closed_at": closed_at,
        "target_branch": p.default_branch,
        "source_branch": source_branch or f"{author.username.split('.')[0]}/mr-{iid}",
        "user_notes_count": rng.randrange(0, 12), "upvotes": rng.choice((0, 0, 0, 1, 2)),
        "downvotes": 0, "assignee": assignees[0] if assignees else None,
        "author": author.user(), "assignees": assignees, "reviewers": reviewers,
        "source_project_id": p.id, "target_project_id": p.id,
        "labels": sorted(rng.sample(LABELS, rng.choice((0, 1, 1, 2, 3)))),
        "draft": draft, "work_in_progress": draft, "milestone": milestone,
        "merge_when_pipeline_succeeds": False,
        "detailed_merge_status": "mergeable" if state == "opened" else "not_open",
        "sha": sha or sha_of(p.id, "mr", iid, created),
        "merge_commit_sha": merge_commit_sha, "squash_commit_sha": None,
        "discussion_locked": True if state == "locked" else None,
        "should_remove_source_branch": None,
        "force_remove_source_branch": rng.random() < 0.6,
        "reference": f"!{iid}", "web_url": f"{WEB}/{p.path}/-/merge_requests/{iid}",
        "time_stats": {"time_estimate": 0, "total_time_spent": 0,
                       "human_time_estimate": None, "human_total_time_spent": None},
        "squash": rng.random() < 0.3,
        "task_completion_status": {"count": tasks, "completed_count": rng.randint(0, tasks)},
        "approvals_before_merge": None}
    keys = list(_MR_KEYS)
    for new, after in (("merge_user", "merged_by"), ("draft", "labels"),
                       ("squash_commit_sha", "merge_commit_sha")):
        keys.insert(keys.index(after) + 1, new)
    return {k: values[k] for k in keys}


def build_mrs(p: ProjectData, data: Dataset, rng: random.Random, n: int,
              merges: list[tuple], linear: list[str], t0: datetime, t1: datetime) -> None:
    states = [_pick(rng, MR_STATES) for _ in range(n)]
    if n >= 10:                    # every state shows up, even in a small project
        for k, (state, _) in enumerate(MR_STATES):
            if state not in states:
                states[k] = state
    merged = [i for i, s in enumerate(states) if s == "merged"]
    ff_count = max(len(merged) - len(merges), round(len(merged) * 0.15))
    ff_pool = rng.sample(linear, min(ff_count, len(linear)))
    via_merge = list(merges)
    rng.shuffle(via_merge)
    specs = []
    span = (t1 - t0).total_seconds()
    for state in states:
        kw: dict[str, Any] = {}
        if state == "merged" and (via_merge or ff_pool):
            if ff_pool and (not via_merge or len(ff_pool) * 5 > len(via_merge)):
                sha = ff_pool.pop()
                at = datetime.fromtimestamp(p.commit_epoch[sha], UTC)
                kw.update(sha=sha, merge_commit_sha=None)            # fast-forward merge
            else:
                msha, tip, branch, merger = via_merge.pop()
                at = datetime.fromtimestamp(p.commit_epoch[msha], UTC)
                kw.update(sha=tip, merge_commit_sha=msha, source_branch=branch, merger=merger)
            created = max(t0, at - timedelta(seconds=rng.randrange(3600, 10 * 86_400)))
            kw.update(merged_at=iso_z(_ms(rng, at)),
                      updated=iso_z(min(t1, _ms(rng, at + timedelta(
                          seconds=rng.randrange(1, 7200))))))
        else:
            state = "closed" if state == "merged" else state
            if state == "opened":
                created = t1 - timedelta(seconds=min(span, rng.expovariate(1 / (120 * 86_400))))
            else:
                created = t0 + timedelta(seconds=rng.random() * span * 0.98)
            created = max(t0, created)
            end = created + timedelta(seconds=rng.randrange(600, 40 * 86_400))
            end = min(end, t1)
            if state in ("closed", "locked"):
                kw.update(closed_at=iso_z(_ms(rng, end)), updated=iso_z(_ms(rng, end)))
            else:
                kw.update(updated=iso_z(_ms(rng, end)))
        specs.append((_ms(rng, created), state, kw))
    specs.sort(key=lambda s: s[0])
    for iid, (created, state, kw) in enumerate(specs, 1):
        created_s = iso_z(created)
        if kw.get("updated") and kw["updated"] < created_s:
            kw["updated"] = created_s
        mr = make_mr(p, data, rng, iid, created_s, state, **kw)
        if mr["merge_commit_sha"]:
            c = p.commit_index[mr["merge_commit_sha"]]
            c["message"] = c["message"].replace("{iid}", str(iid))
        p.merge_requests.append(mr)
    for c in p.commits:                      # merge commits no MR took
        if "{iid}" in c["message"]:
            c["message"] = c["message"].rsplit("\n\nSee merge request", 1)[0]


# -- issues -----------------------------------------------------------------------------
def make_issue(p: ProjectData, data: Dataset, rng: random.Random, iid: int, created: str,
               state: str, *, updated: str | None = None, closed_at: str | None = None
               ) -> dict[str, Any]:
    """An issue in the documented list response's key order, plus `weight` (documented
    for Premium and Ultimate)."""
    people = data.people
    author = rng.choice(people).user()
    assignees = [u.user() for u in rng.sample(people, rng.choice((0, 1, 1, 1, 2)))]
    tasks = rng.choice((0, 0, 0, 4, 6))
    done = rng.randint(0, tasks)
    values = {
        "state": state, "description": f"{_phrase(rng)} when {rng.choice(NOUNS)} is used.",
        "weight": None if rng.random() < 0.3 else rng.choice((1, 1, 2, 3, 5, 8)),
        "author": author,
        "milestone": rng.choice(p.milestones) if p.milestones and rng.random() < 0.5 else None,
        "project_id": p.id, "assignees": assignees,
        "assignee": assignees[0] if assignees else None,
        "updated_at": updated or created, "closed_at": closed_at,
        "closed_by": rng.choice(people).user() if state == "closed" else None,
        "id": 0, "title": f"{_phrase(rng)} fails on {rng.choice(NOUNS)}",
        "created_at": created, "moved_to_id": None, "iid": iid,
        "labels": sorted(rng.sample(LABELS, rng.choice((0, 1, 1, 2, 3)))),
        "upvotes": rng.choice((0, 0, 1, 3)), "downvotes": 0,
        "merge_requests_count": rng.choice((0, 0, 1)),
        "user_notes_count": rng.randrange(0, 9),
        "due_date": None if rng.random() < 0.8 else created[:10],
        "web_url": f"{WEB}/{p.path}/-/issues/{iid}",
        "references": {"short": f"#{iid}", "relative": f"#{iid}",
                       "full": f"{p.path}#{iid}"},
        "time_stats": {"time_estimate": 0, "total_time_spent": 0,
                       "human_time_estimate": None, "human_total_time_spent": None},
        "has_tasks": tasks > 0,
        "task_status": f"{done} of {tasks} checklist items completed" if tasks else "",
        "confidential": rng.random() < 0.05, "discussion_locked": None,
        "_links": {}, "task_completion_status": {"count": tasks, "completed_count": done}}
    keys = list(_ISSUE_KEYS)
    keys.insert(keys.index("description") + 1, "weight")
    return {k: values[k] for k in keys}


def build_issues(p: ProjectData, data: Dataset, rng: random.Random, n: int, t0: datetime,
                 t1: datetime) -> None:
    span = (t1 - t0).total_seconds()
    specs = []
    for _ in range(n):
        created = _ms(rng, t0 + timedelta(seconds=rng.random() * span * 0.99))
        if rng.random() < 0.65:
            end = min(t1, created + timedelta(seconds=rng.randrange(3600, 120 * 86_400)))
            specs.append((created, "closed", {"closed_at": iso_z(_ms(rng, end)),
                                              "updated": iso_z(_ms(rng, end))}))
        else:
            end = min(t1, created + timedelta(seconds=rng.randrange(0, 60 * 86_400)))
            specs.append((created, "opened", {"updated": iso_z(_ms(rng, end))}))
    specs.sort(key=lambda s: s[0])
    for iid, (created, state, kw) in enumerate(specs, 1):
        created_s = iso_z(created)
        if kw["updated"] < created_s:
            kw["updated"] = created_s
        p.issues.append(make_issue(p, data, rng, iid, created_s, state, **kw))


# -- pipelines --------------------------------------------------------------------------
def make_pipeline(p: ProjectData, data: Dataset, rng: random.Random, iid: int,
                  created: datetime, source: str, status: str, *,
                  finished: datetime | None = None) -> dict[str, Any]:
    """A pipeline in the detail fixture's key order (the list shows a subset)."""
    main = p.reachable(p.branches[p.default_branch]) if p.commits else []
    before = ZERO_SHA
    if source == "merge_request_event" and p.merge_requests:
        mr = rng.choice(p.merge_requests)
        ref, sha = f"refs/merge-requests/{mr['iid']}/head", mr["sha"]
    else:
        ref = p.default_branch
        epochs = [-p.commit_epoch[s] for s in main]      # newest first → ascending negated
        k = bisect.bisect_left(epochs, -created.timestamp())
        sha = main[min(k, len(main) - 1)] if main else sha_of(p.id, "pl", iid)
        parents = p.commit_index[sha]["parent_ids"] if main else []
        before = parents[0] if parents and source == "push" else ZERO_SHA
    queued = rng.randrange(1, 90)
    started = created + timedelta(seconds=queued, milliseconds=rng.randrange(1000))
    running = status in ("running", "pending", "created")
    if finished is None:
        finished = started + timedelta(seconds=rng.randrange(30, 1800),
                                       milliseconds=rng.randrange(1000))
    duration = int((finished - started).total_seconds())
    user = rng.choice(data.people).user()
    values = {
        "id": 0, "iid": iid, "project_id": p.id, "name": "Build pipeline", "sha": sha,
        "ref": ref, "status": status, "source": source, "created_at": iso_z(created),
        "updated_at": iso_z((started if running else finished) + timedelta(milliseconds=10)),
        "web_url": "", "before_sha": before, "tag": False, "yaml_errors": None,
        "user": user, "started_at": None if status == "pending" else iso_z(started),
        "finished_at": None if running else iso_z(finished), "committed_at": None,
        "duration": None if running else duration,
        "queued_duration": queued, "coverage": None,
        "detailed_status": _detailed(status, "")}
    return {k: values[k] for k in _PIPELINE_KEYS}


def build_pipelines(p: ProjectData, data: Dataset, rng: random.Random, n: int,
                    t0: datetime, t1: datetime) -> None:
    span = (t1 - t0).total_seconds()
    times = sorted(_ms(rng, t1 - timedelta(seconds=rng.random() * min(span, 730 * 86_400)))
                   for _ in range(n))
    for iid, created in enumerate(times, 1):
        status = _pick(rng, STATUSES)
        if iid > n - 2:                          # the newest are still going
            status = "running" if iid == n else "pending"
        p.pipelines.append(make_pipeline(p, data, rng, iid, created, _pick(rng, SOURCES),
                                         status))


# -- a project --------------------------------------------------------------------------
def project_info(data: Dataset, path: str, pid: int, archived: bool,
                 created: datetime) -> dict[str, Any]:
    """GET /projects/:id: the documented fields a client reads (no fixture is recorded)."""
    group_path, name = path.rsplit("/", 1)
    g = data.groups[group_path]
    return {
        "id": pid, "description": f"The {name} service.", "name": name.replace("-", " ").title(),
        "name_with_namespace": f"{g['full_name']} / {name.replace('-', ' ').title()}",
        "path": name, "path_with_namespace": path, "created_at": iso_z(created),
        "default_branch": "main", "tag_list": [], "topics": [],
        "ssh_url_to_repo": f"git@gitlab.example.com:{path}.git",
        "http_url_to_repo": f"{WEB}/{path}.git", "web_url": f"{WEB}/{path}",
        "readme_url": f"{WEB}/{path}/-/blob/main/README.md", "avatar_url": None,
        "forks_count": 0, "star_count": 3, "last_activity_at": iso_z(created),
        "namespace": {"id": g["id"], "name": g["name"], "path": g["path"], "kind": "group",
                      "full_path": g["full_path"], "parent_id": g["parent_id"],
                      "avatar_url": None, "web_url": g["web_url"]},
        "_links": {"self": f"{API}/projects/{pid}",
                   "issues": f"{API}/projects/{pid}/issues",
                   "merge_requests": f"{API}/projects/{pid}/merge_requests",
                   "repo_branches": f"{API}/projects/{pid}/repository/branches"},
        "empty_repo": False, "archived": archived, "visibility": "private",
        "issues_enabled": True, "merge_requests_enabled": True, "jobs_enabled": True,
        "open_issues_count": 0}


def build_project(data: Dataset, path: str, n: int, archived: bool, n_commits: int,
                  n_mrs: int, n_issues: int, n_pipelines: int, n_branches: int, seed: int,
                  t0: datetime, t1: datetime) -> ProjectData:
    rng = random.Random(f"{seed}:{path}")
    pid = data.next_id("project") + n * 17
    group_path = path.rsplit("/", 1)[0]
    p = ProjectData(pid, path, "main", project_info(data, path, pid, archived, t0),
                    group_path, archived)
    root = data.groups[group_path.split("/")[0]]
    for k in range(6):
        start = t0 + (t1 - t0) * k / 6
        p.milestones.append({
            "id": 4_200_001 + root["id"] % 1000 * 10 + k, "iid": k + 1,
            "group_id": root["id"], "title": f"{2019 + k}.{k % 4 + 1}", "description": "",
            "state": "closed" if k < 5 else "active",
            "created_at": iso_z(start), "updated_at": iso_z(start + timedelta(days=3)),
            "due_date": (start + timedelta(days=90)).date().isoformat(),
            "start_date": start.date().isoformat(),
            "web_url": f"{root['web_url']}/-/milestones/{k + 1}"})
    merges, linear = build_commits(p, data.people, rng, n_commits, n_branches,
                                   t0.timestamp(), t1.timestamp())
    build_mrs(p, data, rng, n_mrs, merges, linear, t0, t1)
    build_issues(p, data, rng, n_issues, t0, t1)
    if p.commits:
        build_pipelines(p, data, rng, n_pipelines, t0, t1)
        last = max(p.commit_epoch.values())
        p.info["last_activity_at"] = iso_z(datetime.fromtimestamp(last, UTC))
    p.info["open_issues_count"] = sum(1 for i in p.issues if i["state"] == "opened")
    data.projects[path] = p
    return p
