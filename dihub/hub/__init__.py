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

from dataclasses import dataclass, field
from typing import Any

from dihub.hub.dataset import HUB_SOURCE, Dataset, closed_mark
from dihub.hub.identities import Identities, IdentityRules, Resolver
from dihub.hub.links import Linker, entity_of, target_refs

__all__ = ["HUB_SOURCE", "Dataset", "Identities", "RefreshResult", "refresh"]

STATE_KEY = "hub.state"
PENDING_KEY = "hub.pending"
MAX_PENDING = 100_000           # unresolved references remembered (the oldest are dropped)
# what the links are found in, and what can answer a pending reference
LINK_SOURCES = ("commits", "pull_requests", "builds", "slack_events")
TARGETS = ("issues", "pull_requests", "commits", "builds")
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
    or by a pass that started before it, is read next time (writes are idempotent)."""
    from dihub.store.base import UpsertResult
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
    changed: dict[str, list[dict[str, Any]]] = {}
    for entity in ("users", "slack_events", *LINK_SOURCES, *TARGETS):
        if entity not in changed:
            since = (marks.get(entity) or {}).get("at")
            changed[entity] = list(ds.changed(entity, since))
            result.read[entity] = len(changed[entity])
            marks[entity] = {"at": max(since or "", closed)}
    state_doc = {"version": VERSION, "rules": rules.fingerprint(), "marks": marks,
                 "refreshed_at": started}
    if not any(changed.values()):       # nothing new: no people or links to read
        result.people, result.links = _counts(UpsertResult()), _counts(UpsertResult())
        store.put_meta(STATE_KEY, state_doc)
        return result

    # -- people (only when what they are built from changed) -------------------
    if full or any(changed[e] for e in ("users", "slack_events", "commits")):
        result.people = _refresh_people(store, ds, rules, changed, full, started)
    else:
        result.people = _counts(UpsertResult())

    # -- links --------------------------------------------------------------
    result.links, result.linked_records = _refresh_links(store, ds, settings, changed,
                                                          full, started)
    store.put_meta(STATE_KEY, state_doc)
    return result


def _refresh_people(store: Any, ds: Dataset, rules: IdentityRules,
                    changed: dict[str, list[dict[str, Any]]], full: bool,
                    started: str) -> dict[str, int]:
    from dihub.models.documents import to_document
    from dihub.store.base import UpsertResult

    stored_people = {d["person_id"]: d for d in store.iter_records("people",
                                                                  source=HUB_SOURCE)}
    resolver = Resolver(ds, rules)
    if not full:
        resolver.seed(stored_people.values())
    for doc in changed["slack_events"]:
        resolver.add_slack_event(doc)
    for doc in changed["users"]:
        resolver.add_user(doc)
    for doc in changed["commits"]:
        resolver.add_commit(doc)
    people = resolver.people()
    holder = {(a.source, a.user_id): p.person_id for p in people for a in p.accounts}
    fresh = {p.person_id for p in people}
    out = [to_document(p, started) for p in people]
    for pid, old in stored_people.items():
        if pid in fresh or old.get("merged_into"):
            continue
        into = next((holder[(a["source"], a["user_id"])] for a in old.get("accounts") or []
                     if (a["source"], a["user_id"]) in holder), None)
        if into is None:
            continue
        from dihub.models.records import Person

        gone = Person(source=HUB_SOURCE, source_id=pid, person_id=pid,
                      display_name=old.get("display_name"), merged_into=into,
                      is_bot=bool(old.get("is_bot")), updated_at=old.get("updated_at"))
        out.append(to_document(gone, started))
    written = store.upsert_many(out) if out else UpsertResult()
    return _counts(written)


def _refresh_links(store: Any, ds: Dataset, settings: Any,
                   changed: dict[str, list[dict[str, Any]]], full: bool,
                   started: str) -> tuple[dict[str, int], int]:
    from dihub.models.documents import to_document
    from dihub.store.base import UpsertResult

    pending_doc = {} if full else (store.get_meta(PENDING_KEY) or {})
    pending: dict[str, list[str]] = dict(pending_doc.get("by_record") or {})
    waiting: dict[str, set[str]] = {}
    for rid, refs in pending.items():
        for ref in refs:
            waiting.setdefault(ref, set()).add(rid)
    todo: dict[str, dict[str, Any]] = {}
    for entity in LINK_SOURCES:
        for doc in changed[entity]:
            todo[doc["_id"]] = doc
    woken: set[str] = set()
    prefixes = [r for r in waiting if r.startswith("prefix:")]
    for entity in TARGETS:
        for doc in changed[entity]:
            for ref in target_refs(doc, ds):
                woken |= waiting.get(ref, set())
            if entity == "commits":
                sha = str(doc.get("commit_id") or "")
                for ref in prefixes:
                    if sha.startswith(ref[len("prefix:"):]):
                        woken |= waiting[ref]
    for rid in sorted(woken - set(todo)):
        doc = ds.get(entity_of(rid), rid)
        if doc is not None:
            todo[rid] = doc
    previous: dict[str, list[dict[str, Any]]] = {}
    if todo:
        for link in store.iter_records("links", source=HUB_SOURCE):
            if link["from_id"] in todo:
                previous.setdefault(link["from_id"], []).append(link)
    linker = Linker(ds, settings)
    batch: list[dict[str, Any]] = []
    total = UpsertResult()
    for rid, doc in todo.items():
        found = linker.links_of(doc)
        for link in found.links.values():
            batch.append(to_document(link, started))
        for old in previous.get(rid, []):
            if old["link_id"] not in found.links and old.get("active", True):
                stale = {k: v for k, v in old.items()
                         if k not in ("_id", "raw_signature", "ingested_at", "entity")}
                from dihub.models.records import Link

                link = Link.model_validate({**stale, "active": False,
                                            "updated_at": max(filter(None, (
                                                old.get("updated_at"),
                                                doc.get("updated_at"))), default=None)})
                batch.append(to_document(link, started))
        if found.pending:
            pending[rid] = sorted(found.pending)
        else:
            pending.pop(rid, None)
        if len(batch) >= 1000:
            total += store.upsert_many(batch)
            batch = []
    if batch:
        total += store.upsert_many(batch)
    if len(pending) > MAX_PENDING:
        pending = dict(list(pending.items())[-MAX_PENDING:])
    store.put_meta(PENDING_KEY, {"by_record": pending})
    return _counts(total), len(todo)


def _counts(r: Any) -> dict[str, int]:
    return {"inserted": r.inserted, "updated": r.updated, "unchanged": r.unchanged}
