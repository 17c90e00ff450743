"""The simulated Jira site: users, boards, sprints and issues with changelogs.

`Dataset.generate(...)` is deterministic for its arguments. Objects are rendered
once in the deployment's shape (Cloud: accountId users, sprint objects; Data
Center: key/name users, `Sprint@...[...]` strings) from the fixture shapes.
Timestamps are rendered in the searching account's time zone, as Jira does.
Change data with `change(...)` (adds a changelog entry, moves `updated`).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import fixtures as fx

SP_FIELD = "customfield_10016"      # "Story point estimate" (Jira Software, team-managed)
SP_LEGACY = "customfield_10028"     # "Story Points" (number field, company-managed)
JPO_FIELD = "customfield_10111"     # "Original story points" (fixture): never the estimate
SPRINT_FIELD = "customfield_10020"
STATUSES = {"To Do": ("10000", "new", 2, "To Do"),
            "In Progress": ("3", "indeterminate", 4, "In Progress"),
            "In Review": ("10001", "indeterminate", 4, "In Progress"),
            "Done": ("10002", "done", 3, "Done")}
FLOW = {"To Do": ["In Progress"], "In Progress": ["In Review", "In Review", "To Do"],
        "In Review": ["Done", "Done", "In Progress"], "Done": ["To Do"]}
NAMES = ["Mia Krystof", "Ada Lovelace", "Alan Turing", "Grace Hopper", "Linus Torvalds",
         "Ken Thompson", "Barbara Liskov", "Edsger Dijkstra", "Margaret Hamilton",
         "Donald Knuth", "Frances Allen", "John Backus", "Radia Perlman", "Dennis Ritchie"]
ZONES = ["Australia/Sydney", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"]


_SPRINT = fx.sprint_template()


def jira_time(dt: datetime, zone: ZoneInfo) -> str:
    """2025-06-01T10:00:00.000-0400 (REST API style, milliseconds, offset without colon)."""
    local = dt.astimezone(zone)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + \
        local.strftime("%z")


def agile_time(dt: datetime, zone: ZoneInfo) -> str:
    """2025-06-01T10:00:00.000-04:00 (Agile API style, offset with colon)."""
    text = jira_time(dt, zone)
    return text[:-2] + ":" + text[-2:]


@dataclass
class SimSprint:
    id: int
    board_id: int
    name: str
    state: str
    start: datetime | None
    end: datetime | None
    complete: datetime | None = None
    goal: str = ""
    listed_on: set[int] = field(default_factory=set)

    def render(self, zone: ZoneInfo) -> dict[str, Any]:
        out = dict(_SPRINT)
        out.update(id=self.id, self=f"{fx.SITE}/rest/agile/1.0/sprint/{self.id}",
                   state=self.state, name=self.name, originBoardId=self.board_id,
                   goal=self.goal)
        for key, value in (("startDate", self.start), ("endDate", self.end),
                           ("completeDate", self.complete)):
            out.pop(key, None)
            if value is not None:
                out[key] = agile_time(value, zone)
        return out

    def field_value(self, cloud: bool, zone: ZoneInfo) -> Any:
        if cloud:
            out = {"id": self.id, "name": self.name, "state": self.state,
                   "boardId": self.board_id, "goal": self.goal}
            for key, value in (("startDate", self.start), ("endDate", self.end),
                               ("completeDate", self.complete)):
                if value is not None:
                    out[key] = agile_time(value, UTC)
            return out
        dates = ",".join(f"{k}={agile_time(v, zone) if v else '<null>'}" for k, v in
                         (("startDate", self.start), ("endDate", self.end),
                          ("completeDate", self.complete)))
        return (f"com.atlassian.greenhopper.service.sprint.Sprint@{self.id * 7919:x}"
                f"[id={self.id},rapidViewId={self.board_id},state={self.state.upper()},"
                f"name={self.name},{dates},sequence={self.id},goal={self.goal}]")


@dataclass
class SimIssue:
    id: int
    key: str
    project: str
    board: int
    created: datetime
    updated: datetime
    status: str
    fields: dict[str, Any]
    histories: list[dict[str, Any]]
    sprint_ids: list[int]
    history_times: list[datetime]

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])


class Dataset:
    def __init__(self, *, cloud: bool, zone: str, start: datetime, end: datetime):
        self.cloud = cloud
        self.zone = ZoneInfo(zone)
        self.zone_name = zone
        self.start, self.end = start, end
        self.now = end + timedelta(hours=1)
        self.lock = threading.RLock()
        self.users: list[dict[str, Any]] = []          # humans and apps, rendered
        self.projects: dict[str, dict[str, Any]] = {}
        self.boards: list[dict[str, Any]] = []
        self.sprints: dict[int, SimSprint] = {}
        self.issues: list[SimIssue] = []
        self.by_key: dict[str, SimIssue] = {}
        self._history_id = 20000
        self._statuses: dict[str, dict[str, Any]] = {}
        self._numbers: dict[str, int] = {}
        self._issue_fields = fx.issue_template()["fields"]     # shared, never mutated

    # -- generation ---------------------------------------------------------------------
    @classmethod
    def generate(cls, issues: int = 200, *, sprints: int = 12, boards: int = 3,
                 users: int = 30, seed: int = 7, long_changelogs: float = 0.04,
                 bulk_edit: int = 0, deployment: str = "cloud", zone: str = "America/New_York",
                 start: str = "2025-06-01T00:00:00Z", days: int = 180) -> Dataset:
        t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
        ds = cls(cloud=deployment == "cloud", zone=zone, start=t0, end=t0 + timedelta(days))
        rng = random.Random(seed)
        ds._make_users(users, rng)
        ds._make_projects()
        ds._make_boards(boards, sprints, rng)
        for n in range(issues):
            ds._make_issue(n, rng, long_changelogs)
        if bulk_edit:
            ds._bulk_edit(bulk_edit, rng)
        return ds

    def _make_users(self, count: int, rng: random.Random) -> None:
        for n in range(count):
            first, last = NAMES[n % len(NAMES)].split()
            display = f"{first} {last}" + (f" {n // len(NAMES) + 1}" if n >= len(NAMES) else "")
            login = display.lower().replace(" ", ".")
            email = None if n % 5 == 4 else f"{login}@example.com"    # hidden by privacy
            self.users.append(self._user(n, display, login, email, ZONES[n % len(ZONES)],
                                         active=n != count - 1, kind="atlassian"))
        self.users.append(self._user(900, "Automation for Jira", "automation", None, "UTC",
                                     active=True, kind="app"))

    def _user(self, n: int, display: str, login: str, email: str | None, tz: str, *,
              active: bool, kind: str) -> dict[str, Any]:
        if self.cloud:
            u = fx.user_template()
            account = f"5b10a2844c2016570{n:07x}"
            u.update(accountId=account, displayName=display, timeZone=tz, active=active,
                     self=f"{fx.SITE}/rest/api/3/user?accountId={account}",
                     accountType=kind)
        else:
            u = fx.dc_user_template()
            u.update(name=login, key=f"JIRAUSER{10100 + n}", displayName=display,
                     timeZone=tz, active=active,
                     self=f"{fx.SITE}/rest/api/2/user?username={login}")
        u.pop("emailAddress", None)
        if email:
            u["emailAddress"] = email
        return u

    def humans(self) -> list[dict[str, Any]]:
        return [u for u in self.users if u.get("accountType", "atlassian") == "atlassian"
                and u.get("name") != "automation"]

    def _make_projects(self) -> None:
        base = fx.go_jira_fields()
        for pid, (key, name) in enumerate((("DIH", "Data Hub"), ("OPS", "Operations"))):
            p = fx.copy_of(base["project"])
            p.update(id=str(10300 + pid), key=key, name=name,
                     self=f"{fx.SITE}/rest/api/2/project/{10300 + pid}")
            self.projects[key] = p
        for name, (sid, cat, cat_id, cat_name) in STATUSES.items():
            s = fx.copy_of(base["status"])
            s.update(name=name, id=sid, self=f"{fx.SITE}/rest/api/2/status/{sid}")
            s["statusCategory"].update(key=cat, id=cat_id, name=cat_name)
            self._statuses[name] = s
        self._types = {}
        for tid, name in enumerate(("Story", "Bug", "Task")):
            t = fx.copy_of(base["issuetype"])
            t.update(id=str(10 + tid), name=name)
            self._types[name] = t
        self._priorities = {}
        for pid, name in enumerate(("Highest", "High", "Medium", "Low")):
            p = fx.copy_of(base["priority"])
            p.update(id=str(pid + 1), name=name)
            self._priorities[name] = p
        self._resolution = base["resolution"]

    def _make_boards(self, count: int, total_sprints: int, rng: random.Random) -> None:
        keys = list(self.projects)
        span = self.end - self.start
        next_id = 11
        for b in range(1, count + 1):
            board = fx.board_template()
            project = keys[(b - 1) % len(keys)]
            board.update(id=b, name=f"{project} board {b}", type="scrum",
                         self=f"{fx.SITE}/rest/agile/1.0/board/{b}")
            board["location"] = {"projectKey": project, "projectName": project,
                                 "displayName": f"{project} ({project})"}
            self.boards.append(board)
            n = total_sprints // count + (1 if b <= total_sprints % count else 0)
            length = span / max(1, n - 2)
            for k in range(n):
                begin = self.start + k * length
                active = max(0, n - 3)         # then two future sprints, when there are
                state = "closed" if k < active else "active" if k == active else "future"
                if state == "active":
                    begin = self.end - length / 2
                sprint = SimSprint(next_id, b, f"{project} Sprint {k + 1}", state,
                                   begin if state != "future" else None,
                                   begin + length if state != "future" else None,
                                   goal=f"Goal {k + 1}" if k % 3 == 0 else "")
                if state == "closed":
                    sprint.complete = begin + length + timedelta(hours=rng.randint(1, 20))
                sprint.listed_on.add(b)
                self.sprints[next_id] = sprint
                next_id += 1
        kanban = fx.board_template()
        kanban.update(id=count + 1, name="Support kanban", type="kanban",
                      self=f"{fx.SITE}/rest/agile/1.0/board/{count + 1}")
        self.boards.append(kanban)
        if count >= 3:      # board 3 also lists board 1's active sprint (a shared filter)
            shared = next(s for s in self.sprints.values()
                          if s.board_id == 1 and s.state == "active")
            shared.listed_on.add(3)

    def board_sprints(self, board_id: int) -> list[SimSprint]:
        return sorted((s for s in self.sprints.values() if board_id in s.listed_on),
                      key=lambda s: s.id)

    def _board_for(self, project: str, rng: random.Random) -> int:
        boards = [b["id"] for b in self.boards if b["type"] == "scrum"
                  and b["location"]["projectKey"] == project]
        return rng.choice(boards) if boards else 0

    def _make_issue(self, n: int, rng: random.Random, long_share: float) -> None:
        project = "DIH" if rng.random() < 0.7 else "OPS"
        number = self._next_number(project)
        span = (self.end - self.start).total_seconds()
        created = self.start + timedelta(seconds=rng.uniform(0, span * 0.9))
        created = created.replace(microsecond=created.microsecond // 1000 * 1000)
        humans = self.humans()
        reporter = rng.choice(humans)
        assignee = None if rng.random() < 0.15 else rng.choice(humans)
        board = self._board_for(project, rng)
        f = dict(self._issue_fields)
        f.update(summary=f"{rng.choice(['Fix', 'Add', 'Refactor', 'Document'])} "
                         f"{rng.choice(['login', 'export', 'search', 'sync', 'billing'])} #{n}",
                 issuetype=self._types[rng.choice(list(self._types))],
                 priority=self._priorities[rng.choice(list(self._priorities))],
                 project=self.projects[project], reporter=reporter, assignee=assignee,
                 labels=rng.sample(["backend", "ui", "tech-debt", "customer"], rng.randint(0, 2)),
                 created=jira_time(created, self.zone), resolution=None, resolutiondate=None)
        points = rng.choice([1, 2, 3, 5, 8, 13])
        f[SP_FIELD] = points if project == "DIH" and rng.random() < 0.85 else None
        f[SP_LEGACY] = float(points) if project == "OPS" and rng.random() < 0.8 else None
        f[JPO_FIELD] = float(points * 2 + 1) if rng.random() < 0.3 else None
        issue = SimIssue(10000 + n, f"{project}-{number}", project, board, created, created,
                         "To Do", f, [], self._sprints_for(board, created, rng), [])
        self.issues.append(issue)
        self.by_key[issue.key] = issue
        count = rng.randint(41, 260) if rng.random() < long_share else rng.randint(0, 12)
        limit = min(self.end, created + timedelta(days=60 if count < 41 else 150))
        times = sorted(created + timedelta(seconds=rng.uniform(60, max(
            120, (limit - created).total_seconds()))) for _ in range(count))
        for at in times:
            author = self.users[-1] if rng.random() < 0.05 else rng.choice(humans)
            if rng.random() < 0.45:
                self._apply(issue, at, author, status=rng.choice(FLOW[issue.status]))
            else:
                self._apply(issue, at, author, noise=rng)
        bump = issue.updated + timedelta(minutes=rng.randint(1, 900), seconds=rng.random())
        if rng.random() < 0.3 and bump < self.end:   # a comment: `updated` moves, no history
            issue.updated = bump
        self._render_dates(issue)

    def _next_number(self, project: str) -> int:
        self._numbers[project] = self._numbers.get(project, 0) + 1
        return self._numbers[project]

    def _sprints_for(self, board: int, created: datetime, rng: random.Random) -> list[int]:
        own = [s for s in self.sprints.values() if s.board_id == board]
        if not own or rng.random() < 0.2:
            return []
        idx = next((k for k, s in enumerate(own) if s.end and s.end > created), len(own) - 1)
        ids = [own[idx].id]
        while idx + 1 < len(own) and rng.random() < 0.3:
            idx += 1
            ids.append(own[idx].id)
        return ids

    def _bulk_edit(self, count: int, rng: random.Random) -> None:
        at = self.end - timedelta(days=2)
        older = [i for i in self.issues if i.updated < at]
        for issue in rng.sample(older, min(count, len(older))):
            self._apply(issue, at, self.users[0], noise=rng)
            self._render_dates(issue)

    # -- changes --------------------------------------------------------------------------
    def _apply(self, issue: SimIssue, at: datetime, author: dict[str, Any], *,
               status: str | None = None, noise: random.Random | None = None,
               story_points: Any = ..., sprint_ids: list[int] | None = None) -> None:
        items = []
        if status is not None and status != issue.status:
            old, new = self._statuses[issue.status], self._statuses[status]
            items.append(_item("status", "jira", "status", old["id"], issue.status,
                               new["id"], status))
            if status == "Done":
                items.append(_item("resolution", "jira", "resolution", None, None, "10000",
                                   "Done"))
                issue.fields["resolution"] = self._resolution
                issue.fields["resolutiondate"] = jira_time(at, self.zone)
            elif issue.status == "Done":
                items.append(_item("resolution", "jira", "resolution", "10000", "Done", None,
                                   None))
                issue.fields["resolution"] = issue.fields["resolutiondate"] = None
            issue.status = status
        if story_points is not ...:
            items.append(_item("Story point estimate", "custom", SP_FIELD, None,
                               str(issue.fields.get(SP_FIELD) or ""), None, str(story_points)))
            issue.fields[SP_FIELD] = story_points
        if sprint_ids is not None:
            items.append(_item("Sprint", "custom", SPRINT_FIELD, None, "", ",".join(
                map(str, sprint_ids)), ",".join(self.sprints[s].name for s in sprint_ids)))
            issue.sprint_ids = list(sprint_ids)
        if noise is not None and not items:
            kind = noise.random()
            if kind < 0.1:    # a custom field called "Status": not a workflow transition
                items.append(_item("Status", "custom", "customfield_10099", None, "Green",
                                   None, "Amber"))
            else:
                items.append(_item("labels", "jira", "labels", None, "",
                                   None, noise.choice(["backend", "ui", "customer"])))
        if not items:
            return
        self._history_id += 1
        h = {"author": author, "created": jira_time(at, self.zone),
             "id": str(self._history_id), "items": items}
        issue.histories.append(h)
        issue.history_times.append(at)
        issue.updated = max(issue.updated, at)
        issue.fields["status"] = self._statuses[issue.status]

    def _render_dates(self, issue: SimIssue) -> None:
        issue.fields["updated"] = jira_time(issue.updated, self.zone)
        issue.fields["status"] = self._statuses[issue.status]

    def tick(self, minutes: float = 1) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now

    def change(self, key: str, *, at: datetime | None = None, status: str | None = None,
               story_points: Any = ..., sprint_ids: list[int] | None = None,
               summary: str | None = None, author: int = 0) -> SimIssue:
        """Edit an issue as a person would: a changelog entry, `updated` moves to `at`
        (default: the dataset clock, advanced by a minute)."""
        with self.lock:
            at = at or self.tick()
            issue = self.by_key[key]
            if summary is not None:
                issue.fields = {**issue.fields, "summary": summary}
            self._apply(issue, at, self.humans()[author], status=status,
                        story_points=story_points, sprint_ids=sprint_ids)
            issue.updated = at
            self._render_dates(issue)
            return issue

    # -- expectations (what a correct connector stores) ---------------------------------
    def expected(self, issue: SimIssue) -> dict[str, Any]:
        f = issue.fields
        points = next((float(f[k]) for k in (SP_FIELD, SP_LEGACY) if f.get(k) is not None),
                      None)
        transitions = []
        for h, at in zip(issue.histories, issue.history_times, strict=True):
            for item in h["items"]:
                if item["fieldId"] == "status":
                    author = h["author"].get("accountId") or h["author"]["key"]
                    transitions.append((item["fromString"], item["toString"], author,
                                        at.strftime("%Y-%m-%dT%H:%M:%SZ")))
        return {"status": issue.status, "story_points": points,
                "sprint_ids": sorted(str(s) for s in issue.sprint_ids),
                "transitions": transitions,
                "updated_at": issue.updated.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _item(name: str, kind: str, fid: str, old: Any, old_s: Any, new: Any, new_s: Any
          ) -> dict[str, Any]:
    return {"field": name, "fieldtype": kind, "fieldId": fid, "from": old,
            "fromString": old_s, "to": new, "toString": new_s}
