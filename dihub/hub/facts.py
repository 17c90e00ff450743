"""The facts the DORA and flow metrics need, read from the store once and then kept.

Each stored record becomes one small tuple (a commit: sha, parents, committer time...),
keyed by the record's `_id`. The facts are pickled to a cache file, with, per entity, the
mark it has consumed up to: a later `refresh` reads only the records written at or after
it (Store.iter_ingested_since; the mark is dihub.hub.dataset.closed_mark, which accounts
for clock skew and for passes that commit records after stamping them), so recomputing
after an incremental sync costs the changed records, not the whole store. A count check
per entity catches anything a mark could miss (a record written with a clock far
behind): that entity is read again in full. Facts hold no configuration: which runs are
deployments, which statuses start work and so on are applied when the metrics are
computed.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

FACTS_VERSION = 1
ENTITIES = ("commits", "builds", "issues", "sprints", "pull_requests", "reviews", "users")
ISSUE_REF = re.compile(r"\b[A-Z][A-Z0-9_]+-\d+\b|(?<![\w&])#\d+\b")


def ts(value: Any) -> float | None:
    """A stored ISO 8601 timestamp → epoch seconds (None when absent or unreadable)."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class CommitF(NamedTuple):
    source: str
    repo: str
    sha: str
    parents: tuple[str, ...]
    time: float | None          # committer time
    authors: tuple[str, ...]    # author id, email, name (lower-cased) for --team
    linked: bool                # the message names an issue (ABC-12 or #12)


class BuildF(NamedTuple):
    source: str
    repo: str
    build_id: str
    run_id: str
    attempt: int
    workflow: tuple[str, ...]   # name, id, path
    branch: str | None
    head_sha: str | None
    conclusion: str | None
    completed: float | None


class IssueF(NamedTuple):
    source: str
    key: str
    project: str | None
    type: str | None
    labels: tuple[str, ...]
    status: str | None
    category: str | None
    created: float | None
    resolved: float | None
    transitions: tuple[tuple[float, str | None, str | None], ...]   # (time, from, to)
    points: float | None
    sprints: tuple[str, ...]
    sprint_changes: tuple[tuple[float, tuple[str, ...], tuple[str, ...]], ...]
    assignee: str | None


class SprintF(NamedTuple):
    source: str
    sprint_id: str
    name: str
    state: str | None
    start: float | None
    end: float | None            # complete date, else the planned end


class PullF(NamedTuple):
    source: str
    repo: str
    number: int
    author: str | None
    created: float | None
    merged: float | None


class ReviewF(NamedTuple):
    source: str
    pull_request_id: str        # the reviewed pull request's record `_id`
    reviewer: str | None
    state: str | None
    submitted: float | None


class UserF(NamedTuple):
    source: str
    user_id: str
    login: str | None
    email: str | None
    name: str | None


def _commit(d: dict[str, Any]) -> CommitF:
    authors = tuple(str(v).lower() for v in (d.get("author_id"), d.get("author_email"),
                                             d.get("author_name")) if v)
    return CommitF(d["source"], d.get("repo") or "", d.get("commit_id") or d["source_id"],
                   tuple(d.get("parents") or ()), ts(d.get("timestamp")), authors,
                   bool(ISSUE_REF.search(d.get("message") or "")))


def _build(d: dict[str, Any]) -> BuildF:
    workflow = tuple(str(v) for v in (d.get("workflow_name"), d.get("workflow_id"),
                                      d.get("workflow_path") or d.get("path")) if v)
    return BuildF(d["source"], d.get("repo") or "", d.get("build_id") or d["source_id"],
                  str(d.get("run_id") or d["source_id"]), int(d.get("run_attempt") or 1),
                  workflow, d.get("branch"), d.get("head_sha"), d.get("conclusion"),
                  ts(d.get("completed_at")))


def _issue(d: dict[str, Any]) -> IssueF:
    transitions = tuple(sorted(
        (t, tr.get("from_status"), tr.get("to_status"))
        for tr in d.get("transitions") or [] if (t := ts(tr.get("timestamp"))) is not None))
    changes = tuple(sorted(
        (t, tuple(c.get("from_sprint_ids") or ()), tuple(c.get("to_sprint_ids") or ()))
        for c in d.get("sprint_changes") or [] if (t := ts(c.get("timestamp"))) is not None))
    points = d.get("story_points")
    return IssueF(d["source"], d.get("issue_id") or d["source_id"], d.get("project_key"),
                  d.get("type"), tuple(str(x) for x in d.get("labels") or ()), d.get("status"),
                  d.get("status_category"), ts(d.get("created_at")), ts(d.get("resolved_at")),
                  transitions, float(points) if isinstance(points, int | float) else None,
                  tuple(str(s) for s in d.get("sprint_ids") or ()), changes,
                  d.get("assignee_id"))


def _sprint(d: dict[str, Any]) -> SprintF:
    return SprintF(d["source"], d.get("sprint_id") or d["source_id"], d.get("name") or "",
                   d.get("state"), ts(d.get("start_date")),
                   ts(d.get("complete_date")) or ts(d.get("end_date")))


def _pull(d: dict[str, Any]) -> PullF:
    return PullF(d["source"], d.get("repo") or "", int(d.get("number") or 0),
                 d.get("author_id"), ts(d.get("created_at")), ts(d.get("merged_at")))


def _review(d: dict[str, Any]) -> ReviewF:
    return ReviewF(d["source"], d.get("pull_request_id") or "", d.get("reviewer_id"),
                   d.get("state"), ts(d.get("submitted_at")))


def _user(d: dict[str, Any]) -> UserF:
    return UserF(d["source"], d.get("user_id") or d["source_id"], d.get("login"),
                 (d.get("email") or "").lower() or None, d.get("display_name"))


EXTRACT = {"commits": _commit, "builds": _build, "issues": _issue, "sprints": _sprint,
           "pull_requests": _pull, "reviews": _review, "users": _user}


def _record_id(d: dict[str, Any]) -> str:
    return d.get("_id") or f"{d['source']}:{d.get('entity')}:{d['source_id']}"


# ----------------------------------------------------------------- reading changes


def changed_records(store: Any, entity: str, since: str | None) -> Iterator[dict[str, Any]]:
    """Records of `entity` written (ingested_at) at or after `since`; every record when
    `since` is None (Store.iter_ingested_since, an indexed read on every backend)."""
    return store.iter_ingested_since(entity, since)


class Facts:
    """Facts per entity (record id → tuple) and what was read, for incremental refresh."""

    def __init__(self) -> None:
        self.version = FACTS_VERSION
        self.by_entity: dict[str, dict[str, tuple]] = {e: {} for e in ENTITIES}
        self.watermark: dict[str, str | None] = dict.fromkeys(ENTITIES)
        self.derived: dict[str, Any] = {}       # caches of the metric modules (dora walks)
        self.last_read: dict[str, int] = {}     # records read by the last refresh
        self.changed: dict[str, int] = {}       # facts added or replaced by it
        self.generation: dict[str, int] = dict.fromkeys(ENTITIES, 0)   # +1 per change
        self.path: Path | None = None           # the cache file, when there is one

    def save(self) -> None:
        if self.path is not None:
            save_facts(self, self.path)

    def refresh(self, store: Any) -> Facts:
        """Bring the facts up to date with the store; reads only what changed."""
        from dihub.hub.dataset import closed_mark

        self.last_read, self.changed = {}, {}
        closed = closed_mark(store)         # taken before reading
        for entity in ENTITIES:
            self._refresh_entity(store, entity, closed)
            if len(self.by_entity[entity]) != store.count(entity):     # a write we missed
                self.by_entity[entity], self.watermark[entity] = {}, None
                self._refresh_entity(store, entity, closed, again=True)
        return self

    def _refresh_entity(self, store: Any, entity: str, closed: str,
                        again: bool = False) -> None:
        facts, extract = self.by_entity[entity], EXTRACT[entity]
        since = self.watermark[entity]
        read, changed = 0, 0
        for doc in changed_records(store, entity, since):
            read += 1
            fact = extract(doc)
            rid = _record_id(doc)
            if facts.get(rid) != fact:
                facts[rid] = fact
                changed += 1
        self.watermark[entity] = max(since or "", closed)
        self.last_read[entity] = self.last_read.get(entity, 0) + read
        self.changed[entity] = changed if not again else len(facts)
        if self.changed[entity]:
            self.generation[entity] += 1

    # -- views

    def commits(self) -> list[CommitF]:
        return list(self.by_entity["commits"].values())

    def builds(self) -> list[BuildF]:
        return list(self.by_entity["builds"].values())

    def issues(self) -> list[IssueF]:
        return list(self.by_entity["issues"].values())

    def sprints(self) -> list[SprintF]:
        return list(self.by_entity["sprints"].values())

    def pulls(self) -> list[PullF]:
        return list(self.by_entity["pull_requests"].values())

    def reviews(self) -> list[ReviewF]:
        return list(self.by_entity["reviews"].values())

    def users(self) -> list[UserF]:
        return list(self.by_entity["users"].values())


# ----------------------------------------------------------------------- the cache


def cache_path(store: Any) -> Path:
    """Where the facts of this store are kept: the user cache dir, one file per store."""
    from platformdirs import user_cache_dir

    describe = getattr(store, "describe", None)
    name = describe() if callable(describe) else repr(store)
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return Path(user_cache_dir("dihub", appauthor=False)) / "hub" / f"facts-{digest}.pickle"


def load_facts(store: Any, path: Path | None = None, *, use_cache: bool = True) -> Facts:
    """The facts of `store`, from the cache file when there is a usable one, refreshed
    with what changed since. Call `facts.save()` once the metrics are computed (they keep
    their own caches in `facts.derived`)."""
    facts = None
    if use_cache:
        path = path or cache_path(store)
        try:
            with open(path, "rb") as fh:
                loaded = pickle.load(fh)    # our own file, in the user's cache dir
            if isinstance(loaded, Facts) and loaded.version == FACTS_VERSION:
                facts = loaded
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError,
                TypeError, ValueError):
            facts = None
    facts = (facts or Facts()).refresh(store)
    facts.path = path if use_cache else None
    return facts


def save_facts(facts: Facts, path: Path) -> None:
    """Write atomically; a cache that cannot be written is only slower next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".facts-")
        path_was, facts.path = facts.path, None     # the file does not name itself
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(facts, fh, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            facts.path = path_was
        os.replace(tmp, path)
    except OSError:
        pass


# ------------------------------------------------------- weeks and statistics


def week_of(epoch: float, zone: Any) -> str:
    """The ISO week (`2026-W03`) of an instant, in the zone `zone` (a tzinfo)."""
    year, week, _ = datetime.fromtimestamp(epoch, zone).isocalendar()
    return f"{year}-W{week:02d}"


def week_start(epoch: float, zone: Any) -> float:
    """Monday 00:00, in `zone`, of the ISO week holding `epoch`."""
    local = datetime.fromtimestamp(epoch, zone)
    monday = (local - timedelta(days=local.weekday())).date()
    return datetime(monday.year, monday.month, monday.day, tzinfo=zone).timestamp()


def weeks_between(since: float, until: float, zone: Any) -> list[tuple[str, float, float]]:
    """The ISO weeks meeting [since, until): (label, start, end) each; the end is the next
    Monday 00:00 in `zone` (a day that is not 24 hours long is handled by the zone)."""
    out: list[tuple[str, float, float]] = []
    start = week_start(since, zone)
    while start < until:
        local = datetime.fromtimestamp(start, zone)
        nxt = (local + timedelta(days=7)).date()
        end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).timestamp()
        out.append((week_of(start, zone), start, end))
        start = end
    return out


def median(values: list[float]) -> float | None:
    """The median (mean of the two middle values for an even count); None for none."""
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def p75(values: list[float]) -> float | None:
    """The 75th percentile, linear between closest ranks: rank 0.75 * (n - 1) of the
    sorted values (what spreadsheets' PERCENTILE.INC and numpy's default give)."""
    if not values:
        return None
    s = sorted(values)
    rank = 0.75 * (len(s) - 1)
    low = int(rank)
    high = min(low + 1, len(s) - 1)
    return s[low] + (s[high] - s[low]) * (rank - low)
