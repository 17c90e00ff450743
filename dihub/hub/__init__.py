"""The hub: what joins the sources' records, computed from the store only.

* `dihub.hub.dataset.Dataset`: how the hub (and the metrics built on it) read stored
  records: every source, lookups by id, sha and issue key.
* `dihub.hub.identities`: people (accounts grouped into persons) and
  `Identities.person_id(source, user_id)`.
* `dihub.hub.links`: links between records (commit -> issue, PR -> commits, build ->
  commit, deploy message -> build/commit).
* `refresh(store, settings)`: recompute people and links from what was ingested since the
  last refresh (`full=True`: from everything); writes only what changed. It reads the
  store by `ingested_at` (Store.iter_ingested_since), so a refresh with nothing new reads
  no record: `dihub sync` runs one after every sync that wrote something.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dihub.hub.dataset import HUB_SOURCE, Dataset, closed_mark
from dihub.hub.identities import Identities, IdentityRules, Resolver
from dihub.hub.links import Linker, entity_of, target_refs
from dihub.store.base import UpsertResult

__all__ = ["HUB_SOURCE", "Dataset", "Identities", "RefreshResult", "refresh"]

STATE_KEY = "hub.state"
PENDING_KEY = "hub.pending"
MAX_PENDING = 100_000           # unresolved references remembered (the oldest are dropped)
# what the links are found in, and what can answer a pending reference
LINK_SOURCES = ("commits", "pull_requests", "builds", "slack_events")
TARGETS = ("issues", "pull_requests", "commits", "builds")
PEOPLE_SOURCES = ("slack_events", "users", "commits")   # read in this order
ENTITIES = tuple(dict.fromkeys(("users", "slack_events", *LINK_SOURCES, *TARGETS)))
READ_ORDER = tuple(dict.fromkeys((*PEOPLE_SOURCES, *ENTITIES)))
VERSION = 1


@dataclass
class RefreshResult:
    full: bool = False
    read: dict[str, int] = field(default_factory=dict)     # changed records consumed
    people: dict[str, int] = field(default_factory=dict)   # inserted/updated/unchanged
    links: dict[str, int] = field(default_factory=dict)
    linked_records: int = 0                                 # records whose links were found

    def as_dict(self) -> dict[str, Any]:
        return {"full": self.full, "read": self.read, "people": self.people,
                "links": self.links, "linked_records": self.linked_records}


def refresh(store: Any, settings: Any = None, *, full: bool = False) -> RefreshResult:
    """Recompute people and links from the records ingested since the last refresh (all
    records on the first one, with `full`, or when the identity rules changed), and write
    what changed. Safe to run any time, also concurrently with syncs: the mark kept per
    entity is `closed_mark` (taken before reading), so a record ingested while it runs,
    or by a pass that started before it, is read next time (writes are idempotent).

    The changed records are read once, as a stream (each feeds the people, is linked and
    wakes what waited for it as it comes by), so memory does not grow with how many
    changed: a first refresh after a sync of a million commits holds none of them."""
    from dihub.timeutil import now_iso

    started = now_iso()
    state = store.get_meta(STATE_KEY) or {}
    rules = IdentityRules.from_settings(settings)
    if state.get("version") != VERSION or state.get("rules") != rules.fingerprint():
        full = True
    marks: dict[str, dict[str, Any]] = {} if full else dict(state.get("marks") or {})
    ds = Dataset(store, settings)
    result = RefreshResult(full=full)

    closed = closed_mark(store)
    streams: dict[str, _Peeked] = {}
    for entity in ENTITIES:
        since = (marks.get(entity) or {}).get("at")
        streams[entity] = _Peeked(ds.changed(entity, since))
        result.read[entity] = 0
        marks[entity] = {"at": max(since or "", closed)}
    state_doc = {"version": VERSION, "rules": rules.fingerprint(), "marks": marks,
                 "refreshed_at": started}
    if not any(s.first is not None for s in streams.values()):
        # nothing new: no people or links to read
        result.people, result.links = _counts(UpsertResult()), _counts(UpsertResult())
        store.put_meta(STATE_KEY, state_doc)
        return result

    # people only when what they are built from changed
    people = _People(store, ds, rules, full) if full or any(
        streams[e].first is not None for e in PEOPLE_SOURCES) else None
    links = _Links(store, ds, settings, full, started)
    for entity in READ_ORDER:
        for doc in streams[entity]:
            result.read[entity] += 1
            if people is not None and entity in PEOPLE_SOURCES:
                people.add(entity, doc)
            if entity in LINK_SOURCES:
                links.link(doc)
            if entity in TARGETS:
                links.answered(entity, doc)
    result.links, result.linked_records = links.finish()
    result.people = people.write(started) if people is not None else _counts(UpsertResult())
    store.put_meta(STATE_KEY, state_doc)
    return result


class _Peeked:
    """An iterator whose first item is read ahead (`first`, None when there is none)."""

    def __init__(self, it: Iterator[dict[str, Any]]):
        self._it = it
        self.first = next(it, None)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self.first is not None:
            yield self.first
            yield from self._it


class _People:
    """Accounts grouped into persons, fed the changed users, Slack events and commits."""

    def __init__(self, store: Any, ds: Dataset, rules: IdentityRules, full: bool):
        self.store = store
        self.stored = {d["person_id"]: d for d in store.iter_records("people",
                                                                    source=HUB_SOURCE)}
        self.resolver = Resolver(ds, rules)
        if not full:
            self.resolver.seed(self.stored.values())
        self._add = {"slack_events": self.resolver.add_slack_event,
                     "users": self.resolver.add_user, "commits": self.resolver.add_commit}

    def add(self, entity: str, doc: dict[str, Any]) -> None:
        self._add[entity](doc)

    def write(self, started: str) -> dict[str, int]:
        from dihub.models.documents import to_document

        people = self.resolver.people()
        holder = {(a.source, a.user_id): p.person_id for p in people for a in p.accounts}
        fresh = {p.person_id for p in people}
        out = [to_document(p, started) for p in people]
        for pid, old in self.stored.items():
            if pid in fresh or old.get("merged_into"):
                continue
            into = next((holder[(a["source"], a["user_id"])] for a in
                         old.get("accounts") or [] if (a["source"], a["user_id"]) in holder),
                        None)
            if into is None:
                continue
            from dihub.models.records import Person

            gone = Person(source=HUB_SOURCE, source_id=pid, person_id=pid,
                          display_name=old.get("display_name"), merged_into=into,
                          is_bot=bool(old.get("is_bot")), updated_at=old.get("updated_at"))
            out.append(to_document(gone, started))
        written = self.store.upsert_many(out) if out else UpsertResult()
        return _counts(written)


class _Links:
    """The links of the changed records, written a batch at a time as they are found.

    What is kept per record is only what the end of the refresh needs: the records that
    waited for a target that arrived (`pending`, bounded by MAX_PENDING), and, when the
    store already holds links, the ids of each linked record's links, to mark the links
    it no longer has inactive."""

    def __init__(self, store: Any, ds: Dataset, settings: Any, full: bool, started: str):
        self.store, self.ds, self.started = store, ds, started
        pending_doc = {} if full else (store.get_meta(PENDING_KEY) or {})
        self.pending: dict[str, list[str]] = dict(pending_doc.get("by_record") or {})
        self.waited = set(self.pending)            # records that waited before this run
        self.waiting: dict[str, set[str]] = {}
        for rid, refs in self.pending.items():
            for ref in refs:
                self.waiting.setdefault(ref, set()).add(rid)
        self.prefixes = [r for r in self.waiting if r.startswith("prefix:")]
        self.woken: set[str] = set()
        self.relinked: set[str] = set()            # of `waited`, linked in this run
        # links a record had before and no longer has become inactive: only a store that
        # holds links can have any
        self.found: dict[str, tuple[tuple[str, ...], str | None]] | None = \
            {} if store.count("links", HUB_SOURCE) else None
        self.linker = Linker(ds, settings)
        self.batch: list[dict[str, Any]] = []
        self.total = UpsertResult()
        self.linked = 0

    def link(self, doc: dict[str, Any]) -> None:
        from dihub.models.documents import to_document

        rid = doc["_id"]
        found = self.linker.links_of(doc)
        self.linked += 1
        for link in found.links.values():
            self.batch.append(to_document(link, self.started))
        if self.found is not None:
            self.found[rid] = (tuple(found.links), doc.get("updated_at"))
        if rid in self.waited:
            self.relinked.add(rid)
        if found.pending:
            self.pending[rid] = sorted(found.pending)
        else:
            self.pending.pop(rid, None)
        if len(self.batch) >= 1000:
            self._flush()

    def answered(self, entity: str, doc: dict[str, Any]) -> None:
        """`doc` arrived: the records that waited for it are linked again at the end."""
        if not self.waiting:
            return
        for ref in target_refs(doc, self.ds):
            self.woken |= self.waiting.get(ref, set())
        if entity == "commits":
            sha = str(doc.get("commit_id") or "")
            for ref in self.prefixes:
                if sha.startswith(ref[len("prefix:"):]):
                    self.woken |= self.waiting[ref]

    def finish(self) -> tuple[dict[str, int], int]:
        for rid in sorted(self.woken - self.relinked):
            doc = self.ds.get(entity_of(rid), rid)
            if doc is not None:
                self.link(doc)
        if self.found:
            self.batch.extend(self._stale())
        self._flush()
        pending = self.pending
        if len(pending) > MAX_PENDING:
            pending = dict(list(pending.items())[-MAX_PENDING:])
        self.store.put_meta(PENDING_KEY, {"by_record": pending})
        return _counts(self.total), self.linked

    def _stale(self) -> list[dict[str, Any]]:
        """The stored links of the records linked in this run that they no longer have,
        still active: written again inactive."""
        from dihub.models.documents import to_document
        from dihub.models.records import Link

        assert self.found is not None
        out = []
        for old in self.store.iter_records("links", source=HUB_SOURCE):
            seen = self.found.get(old["from_id"])
            if seen is None or old["link_id"] in seen[0] or not old.get("active", True):
                continue
            stale = {k: v for k, v in old.items()
                     if k not in ("_id", "raw_signature", "ingested_at", "entity")}
            link = Link.model_validate({**stale, "active": False, "updated_at": max(
                filter(None, (old.get("updated_at"), seen[1])), default=None)})
            out.append(to_document(link, self.started))
        return out

    def _flush(self) -> None:
        if self.batch:
            self.total += self.store.upsert_many(self.batch)
            self.batch = []


def _counts(r: Any) -> dict[str, int]:
    return {"inserted": r.inserted, "updated": r.updated, "unchanged": r.unchanged}
