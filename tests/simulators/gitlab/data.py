"""The GitLab simulator's mutable data: groups, projects with commits, merge requests,
issues and pipelines.

`Dataset.generate(...)` builds it deterministically from a seed; the mutation helpers
(`add_commits`, `update_mr`, `add_mrs`, `update_issue`, `add_issues`, `retry_pipeline`,
`add_pipelines`) change it between or during client runs. Each takes the dataset lock
and advances the dataset's own clock by one minute per change, so every change is
"newer" than everything before it. The server reads under the same lock.

Timestamps: commits carry the committer's UTC offset ("2024-03-01T10:00:00.000+05:30"),
as GitLab returns them; everything else is UTC with milliseconds ("...T10:00:00.000Z").
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

WEB = "https://gitlab.example.com"       # web URLs in bodies; the server swaps in its base
API = f"{WEB}/api/v4"
DEFAULT_START = "2019-01-07T09:00:00Z"
DEFAULT_END = "2026-11-16T18:00:00Z"
OFFSETS = (120, -420, 330, 0, 60, -300, 540, -180)   # minutes: +02:00 -07:00 +05:30 +00:00 ...
LABELS = ("bug", "feature", "backend", "frontend", "documentation", "security",
          "performance", "tech-debt", "ci", "needs-review")
_ID_BASES = {"project": 41_000_001, "group": 9_100_001, "mr": 210_000_001,
             "issue": 150_000_001, "pipeline": 1_100_000_001, "milestone": 4_200_001}
FIRST_NAMES = ("Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances",
               "Edsger", "Radia", "Guido", "Hedy", "Donald", "Sophie", "Tim", "Katherine",
               "Alan", "Joan", "Bjarne", "Anita", "Yukihiro", "Priya", "Mateo", "Ingrid",
               "Kwame", "Mei", "Olusegun", "Sanna", "Rahul", "Leila")
LAST_NAMES = ("Lovelace", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
              "Allen", "Dijkstra", "Perlman", "van Rossum", "Lamarr", "Knuth", "Wilson",
              "Berners-Lee", "Johnson", "Turing", "Clarke", "Stroustrup", "Borg", "Matsumoto",
              "Raman", "Garcia", "Larsen", "Mensah", "Chen", "Adeyemi", "Virtanen", "Gupta",
              "Haddad")
ZERO_SHA = "0" * 40


# -- timestamps -------------------------------------------------------------------------
def parse_ts(value: str) -> datetime:
    """ISO 8601 (Z, an offset, fractions, or a bare date = midnight UTC) → aware UTC.

    Raises ValueError on anything else."""
    text = value.strip().replace(" ", "+")      # an unencoded "+" arrives as a space
    if len(text) == 10:
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso_z(dt: datetime) -> str:
    """GitLab's UTC form: 2024-01-31T12:00:00.123Z."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def iso_offset(epoch: float, offset_min: int) -> str:
    """A commit date in the committer's zone: 2012-09-20T09:06:12.000+03:00."""
    local = datetime.fromtimestamp(epoch, UTC) + timedelta(minutes=offset_min)
    sign = "+" if offset_min >= 0 else "-"
    hours, minutes = divmod(abs(offset_min), 60)
    return local.strftime("%Y-%m-%dT%H:%M:%S.000") + f"{sign}{hours:02d}:{minutes:02d}"


def canon(value: str) -> str:
    """A client timestamp in the stored UTC string form (string order = time order)."""
    return iso_z(parse_ts(value))


def sha_of(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


# -- people -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    id: int
    username: str
    name: str
    email: str            # the commit email (a work address or a GitLab noreply address)
    offset: int           # preferred UTC offset of their commits, minutes

    def user(self) -> dict[str, Any]:
        """The user object as in the merge request fixture (author/assignee)."""
        return {"id": self.id, "name": self.name, "username": self.username,
                "state": "active",
                "avatar_url": f"https://secure.gravatar.com/avatar/{sha_of(self.id)[:32]}"
                              "?s=80&d=identicon",
                "web_url": f"{WEB}/{self.username}"}


def make_people(seed: int, count: int = 40) -> list[Person]:
    rng = random.Random(f"people:{seed}")
    people, seen = [], set()
    for i in range(count):
        first, last = FIRST_NAMES[i % len(FIRST_NAMES)], rng.choice(LAST_NAMES)
        username = f"{first}.{last}".lower().replace(" ", "")
        if username in seen:
            username = f"{username}{i}"
        seen.add(username)
        uid = 1_000_000 + rng.randrange(9_000_000)
        if i % 3 == 1:        # hides their address: GitLab's noreply form
            email = f"{uid}-{username}@users.noreply.gitlab.com"
        else:
            email = f"{username}@example.com"
        people.append(Person(uid, username, f"{first} {last}", email, OFFSETS[i % len(OFFSETS)]))
    return people


# -- the data ---------------------------------------------------------------------------
@dataclass
class ProjectData:
    """One project. Lists are in creation order (commits oldest first, MRs and issues by
    iid, pipelines by id); the server sorts per request."""

    id: int
    path_with_namespace: str
    default_branch: str
    info: dict[str, Any]                     # GET /projects/:id
    group_path: str
    archived: bool = False
    commits: list[dict[str, Any]] = field(default_factory=list)
    commit_index: dict[str, dict[str, Any]] = field(default_factory=dict)
    commit_epoch: dict[str, float] = field(default_factory=dict)   # committed, UTC seconds
    branches: dict[str, str] = field(default_factory=dict)         # name -> head sha
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)  # detail objects
    milestones: list[dict[str, Any]] = field(default_factory=list)
    _reach: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @property
    def path(self) -> str:
        return self.path_with_namespace

    def commit(self, sha: str) -> dict[str, Any]:
        return self.commit_index[sha]

    def mr(self, iid: int) -> dict[str, Any]:
        return _by_iid(self.merge_requests, iid, f"{self.path} has no merge request !{iid}")

    def issue(self, iid: int) -> dict[str, Any]:
        return _by_iid(self.issues, iid, f"{self.path} has no issue #{iid}")

    def pipeline(self, pipeline_id: int) -> dict[str, Any]:
        for p in self.pipelines:
            if p["id"] == pipeline_id:
                return p
        raise KeyError(f"{self.path} has no pipeline {pipeline_id}")

    def resolve(self, ref: str | None) -> str | None:
        """A branch name or a (short) commit SHA → head SHA; None when unknown."""
        ref = ref or self.default_branch
        if ref in self.branches:
            return self.branches[ref]
        if ref in self.commit_index:
            return ref
        if len(ref) >= 7:
            for sha in self.commit_index:
                if sha.startswith(ref):
                    return sha
        return None

    def reachable(self, head: str) -> list[str]:
        """SHAs reachable from `head`, newest committed first (git log's default order;
        ties keep the younger commit first)."""
        hit = self._reach.get(head)
        if hit is not None:
            return hit
        seen, stack = set(), [head]
        while stack:
            sha = stack.pop()
            if sha in seen or sha not in self.commit_index:
                continue
            seen.add(sha)
            stack.extend(self.commit_index[sha]["parent_ids"])
        order = {sha: i for i, sha in enumerate(c["id"] for c in self.commits)}
        result = sorted(seen, key=lambda s: (self.commit_epoch[s], order[s]), reverse=True)
        self._reach[head] = result
        return result

    def topo(self, head: str) -> list[str]:
        """`git log --topo-order`: a merge, then its merged branch, then the mainline."""
        reach = set(self.reachable(head))
        children: dict[str, int] = {s: 0 for s in reach}
        for s in reach:
            for p in self.commit_index[s]["parent_ids"]:
                if p in reach:
                    children[p] += 1
        out, stack = [], [head]
        while stack:
            sha = stack.pop()
            out.append(sha)
            for p in self.commit_index[sha]["parent_ids"]:
                if p in children:
                    children[p] -= 1
            ready = [p for p in self.commit_index[sha]["parent_ids"]
                     if p in children and children[p] == 0]
            stack.extend(ready)     # the last parent (the merged branch) is popped first
        return out

    def invalidate(self) -> None:
        self._reach.clear()


def _by_iid(rows: list[dict[str, Any]], iid: int, message: str) -> dict[str, Any]:
    if 0 < iid <= len(rows) and rows[iid - 1]["iid"] == iid:
        return rows[iid - 1]
    for row in rows:
        if row["iid"] == iid:
            return row
    raise KeyError(message)


class Dataset:
    """Groups, projects and people. `projects` maps path_with_namespace → ProjectData."""

    def __init__(self, people: list[Person], clock: datetime, seed: int = 0):
        self.people = people
        self.projects: dict[str, ProjectData] = {}
        self.groups: dict[str, dict[str, Any]] = {}        # full_path -> group object
        self.lock = threading.RLock()
        self.clock = clock
        self.seed = seed
        self._ids = {k: v for k, v in _ID_BASES.items()}
        self._rng = random.Random(f"mutations:{seed}")

    # -- lookups --------------------------------------------------------------------
    def project(self, ident: str | int) -> ProjectData:
        """By numeric id or path (case-insensitive, as GitLab matches paths)."""
        text = str(ident)
        if text.isdigit():
            for p in self.projects.values():
                if p.id == int(text):
                    return p
            raise KeyError(f"no project {ident}")
        for path, p in self.projects.items():
            if path.lower() == text.lower():
                return p
        raise KeyError(f"no project {ident}")

    def group(self, ident: str | int) -> dict[str, Any]:
        text = str(ident)
        for g in self.groups.values():
            if (text.isdigit() and g["id"] == int(text)) or g["full_path"].lower() == text.lower():
                return g
        raise KeyError(f"no group {ident}")

    def person(self, username: str) -> Person:
        for p in self.people:
            if p.username == username:
                return p
        raise KeyError(username)

    def counts(self) -> dict[str, dict[str, int]]:
        return {path: {"commits": len(p.reachable(p.branches[p.default_branch]))
                       if p.commits else 0,
                       "all_commits": len(p.commits), "merge_requests": len(p.merge_requests),
                       "issues": len(p.issues), "pipelines": len(p.pipelines)}
                for path, p in self.projects.items()}

    def next_id(self, kind: str) -> int:
        value = self._ids[kind]
        self._ids[kind] += 1
        return value

    def tick(self, minutes: float = 1) -> datetime:
        """Advance the dataset clock; returns the new 'now'."""
        with self.lock:
            self.clock += timedelta(minutes=minutes)
            return self.clock

    @property
    def now(self) -> str:
        return iso_z(self.clock)

    # -- generation -----------------------------------------------------------------
    @classmethod
    def generate(cls, projects: Iterable[str], *, commits_per_project: int = 200,
                 mrs_per_project: int = 50, issues_per_project: int = 50,
                 pipelines_per_project: int = 30, seed: int = 7, branches: int = 2,
                 archived: Iterable[str] = (), start: str = DEFAULT_START,
                 end: str = DEFAULT_END) -> Dataset:
        """A deterministic workspace. `commits_per_project` commits are reachable from the
        default branch (`main`); each of the `branches` extra branches adds 2-6 commits of
        its own. `archived` names extra projects (small, archived) created in their groups."""
        from .generate import build_project
        people = make_people(seed)
        t0, t1 = parse_ts(start), parse_ts(end)
        data = cls(people, t1 + timedelta(minutes=1), seed)   # changes come after all
        paths = list(projects)
        extra = [p for p in archived if p not in paths]
        for path in paths + extra:
            data._add_groups(path)
        specs = [(path, False, commits_per_project, mrs_per_project, issues_per_project,
                  pipelines_per_project, branches) for path in paths]
        specs += [(path, True, min(commits_per_project, 40), min(mrs_per_project, 5),
                   min(issues_per_project, 5), min(pipelines_per_project, 5), 0)
                  for path in extra]
        built = []
        for n, (path, is_archived, nc, nm, ni, npl, nb) in enumerate(specs):
            built.append(build_project(data, path, n, is_archived, nc, nm, ni, npl, nb,
                                       seed, t0, t1))
        _assign_global_ids(data, built)
        return data

    def _add_groups(self, path: str) -> None:
        parts = path.split("/")[:-1]
        parent = None
        for i in range(len(parts)):
            full = "/".join(parts[: i + 1])
            if full not in self.groups:
                gid = self.next_id("group")
                self.groups[full] = {
                    "id": gid, "web_url": f"{WEB}/groups/{full}", "name": parts[i].title(),
                    "path": parts[i], "description": "", "visibility": "private",
                    "full_name": " / ".join(p.title() for p in parts[: i + 1]),
                    "full_path": full, "parent_id": parent,
                    "created_at": "2018-11-05T10:00:00.000Z"}
            parent = self.groups[full]["id"]

    # -- mutations ------------------------------------------------------------------
    def add_commits(self, path: str, n: int = 1, branch: str | None = None, *,
                    author: str | None = None, message: str | None = None
                    ) -> list[dict[str, Any]]:
        """Push `n` commits onto `branch` (default: the default branch); a new branch name
        forks from the default branch's head. Returns the new commits, oldest first."""
        from .generate import make_commit
        with self.lock:
            p = self.projects[path]
            branch = branch or p.default_branch
            head = p.branches.get(branch) or p.branches[p.default_branch]
            out = []
            for _ in range(n):
                now = self.tick()
                who = self.person(author) if author else self._rng.choice(self.people)
                c = make_commit(p, who, who, now.timestamp(), now.timestamp(), [head],
                                message or f"Update {branch} ({len(p.commits) + 1})")
                head = c["id"]
                out.append(c)
            p.branches[branch] = head
            p.invalidate()
            return out

    def update_mr(self, path: str, iid: int, **changes: Any) -> dict[str, Any]:
        """Change a merge request and bump `updated_at`. `state="merged"` sets merged_at /
        merged_by (and `merge_commit_sha` when given); `state="closed"` sets closed_at /
        closed_by; a `title` starting "Draft:" sets draft. Other keys are set as given."""
        with self.lock:
            mr = self.projects[path].mr(iid)
            now = self.now
            self.tick()
            by = self._rng.choice(self.people).user()
            state = changes.pop("state", None)
            if state == "merged":
                mr.update(state="merged", merged_at=now, merged_by=by, merge_user=by,
                          closed_at=None, closed_by=None, draft=False,
                          work_in_progress=False, detailed_merge_status="not_open")
            elif state == "closed":
                mr.update(state="closed", closed_at=now, closed_by=by,
                          detailed_merge_status="not_open")
            elif state in ("opened", "reopened"):
                mr.update(state="opened", closed_at=None, closed_by=None,
                          detailed_merge_status="mergeable")
            elif state is not None:
                mr["state"] = state
            if "title" in changes:
                draft = str(changes["title"]).lower().startswith(("draft:", "[draft]", "wip:"))
                mr.update(draft=draft, work_in_progress=draft)
            if "labels" in changes:
                changes["labels"] = sorted(changes["labels"])
            mr.update(changes)
            mr["updated_at"] = now
            return mr

    def add_mrs(self, path: str, n: int = 1) -> list[dict[str, Any]]:
        """Open `n` merge requests (the next iids)."""
        from .generate import make_mr
        return self._add_numbered(path, n, "merge_requests", "mr", make_mr)

    def _add_numbered(self, path: str, n: int, key: str, kind: str,
                      make: Any) -> list[dict[str, Any]]:
        with self.lock:
            p = self.projects[path]
            rows, out = getattr(p, key), []
            for _ in range(n):
                now = self.now
                self.tick()
                row = make(p, self, self._rng, len(rows) + 1, now, "opened")
                row["id"] = self.next_id(kind)
                rows.append(row)
                out.append(row)
            return out

    def update_issue(self, path: str, iid: int, **changes: Any) -> dict[str, Any]:
        """Change an issue and bump `updated_at`. `state="closed"` sets closed_at /
        closed_by; `state="opened"` (or "reopened") clears them."""
        with self.lock:
            issue = self.projects[path].issue(iid)
            now = self.now
            self.tick()
            state = changes.pop("state", None)
            if state == "closed":
                issue.update(state="closed", closed_at=now,
                             closed_by=self._rng.choice(self.people).user())
            elif state in ("opened", "reopened"):
                issue.update(state="opened", closed_at=None, closed_by=None)
            if "assignees" in changes:
                people = [self.person(u).user() if isinstance(u, str) else u
                          for u in changes.pop("assignees")]
                issue.update(assignees=people, assignee=people[0] if people else None)
            issue.update(changes)
            issue["updated_at"] = now
            return issue

    def add_issues(self, path: str, n: int = 1) -> list[dict[str, Any]]:
        """Open `n` issues (the next iids)."""
        from .generate import make_issue
        return self._add_numbered(path, n, "issues", "issue", make_issue)

    def retry_pipeline(self, path: str, pipeline_id: int, status: str = "success"
                       ) -> dict[str, Any]:
        """Retry a pipeline: same `id`, `iid` and `created_at`; `status`, `finished_at`,
        `duration` and `updated_at` move (pass status="running" for one still going)."""
        with self.lock:
            pl = self.projects[path].pipeline(pipeline_id)
            start = self.clock
            end = self.tick(3)
            pl["status"] = status
            if status in ("running", "pending"):
                pl.update(finished_at=None, duration=None)
            else:
                pl.update(finished_at=iso_z(end), duration=int((end - start).total_seconds()))
            pl["detailed_status"] = _detailed(status, pl["detailed_status"]["details_path"])
            pl["updated_at"] = iso_z(end)
            return pl

    def add_pipelines(self, path: str, n: int = 1, source: str = "push",
                      status: str = "success") -> list[dict[str, Any]]:
        from .generate import make_pipeline
        with self.lock:
            p = self.projects[path]
            out = []
            for _ in range(n):
                created = self.tick()
                pl = make_pipeline(p, self, self._rng, len(p.pipelines) + 1, created, source,
                                   status, finished=self.tick(2))
                pl["id"] = self.next_id("pipeline")
                _fix_pipeline_urls(p, pl)
                p.pipelines.append(pl)
                out.append(pl)
            return out


def _detailed(status: str, details_path: str) -> dict[str, Any]:
    """`detailed_status` in the fixture's shape for a status."""
    text = {"success": "passed"}.get(status, status)
    return {"icon": f"status_{status}", "text": text, "label": text, "group": status,
            "tooltip": text, "has_details": False, "details_path": details_path,
            "illustration": None,
            "favicon": f"/assets/ci_favicons/favicon_status_{status}.png"}


def _fix_pipeline_urls(p: ProjectData, pl: dict[str, Any]) -> None:
    pl["web_url"] = f"{WEB}/{p.path}/-/pipelines/{pl['id']}"
    pl["detailed_status"]["details_path"] = f"/{p.path}/-/pipelines/{pl['id']}"


def _assign_global_ids(data: Dataset, projects: list[ProjectData]) -> None:
    """Ids are global and grow with creation time across projects, as on GitLab."""
    for key, kind in (("merge_requests", "mr"), ("issues", "issue"), ("pipelines", "pipeline")):
        rows = [(row["created_at"], p.id, row["iid"], row) for p in projects
                for row in getattr(p, key)]
        rows.sort(key=lambda r: r[:3])
        for *_, row in rows:
            row["id"] = data.next_id(kind)
    for p in projects:
        for pl in p.pipelines:
            _fix_pipeline_urls(p, pl)
        p.pipelines.sort(key=lambda pl: pl["id"])
        for mr in p.merge_requests:
            mr["reference"] = f"!{mr['iid']}"
        for issue in p.issues:
            iid, base = issue["iid"], f"{API}/projects/{p.id}/issues/{issue['id']}"
            issue["_links"] = {"self": base, "notes": f"{base}/notes",
                               "award_emoji": f"{base}/award_emoji",
                               "project": f"{API}/projects/{p.id}"}
            issue["web_url"] = f"{WEB}/{p.path}/-/issues/{iid}"
