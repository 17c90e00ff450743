"""How the hub reads stored records: every configured source, from the store only.

    ds = Dataset(store, settings)
    for commit in ds.records("commits"):            # every source, oldest update first
        ...
    ds.sources("github")                            # ["github", "ghe"]: sources of a connector
    ds.get("commits", "git:commits:4b825dc6...")    # one record by `_id`, or None
    ds.commits_by_sha("4b825dc6...")                # the commit records of a sha, any source
    ds.commits_by_shas(["4b82...", "9fce..."])      # {sha: its commit records}, one lookup
    ds.issue_by_key("ENG-12")                       # a Jira issue by key
    ds.project_keys()                               # Jira project keys known from issues

Records are plain dicts as stored (`_id`, `source`, `entity`, `source_id`, `updated_at`,
`ingested_at`, ... and the entity's fields); the lookups give only their LOOKUP_KEYS
(`get` gives the whole record). `changed(entity, since)` yields the records
written at or after a mark (Store.iter_ingested_since, an indexed read), and
`closed_mark(store)` is the next safe mark: the hub's refresh and the metrics' facts
consume only what changed. Lookups ask the store's index on the field (Store.find_by:
a commit's sha, an issue's key or number, a pull request's number, a build's run id) and
keep what they found (up to LOOKUP_CACHE records a field) for the Dataset's life: make
one Dataset per refresh or report, not one per question. Hub output (people, links)
lives under the source `hub`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from dihub.timeutil import parse, to_iso, utcnow

HUB_SOURCE = "hub"
# A writer's `ingested_at` is its own clock's, taken before the write commits: a writer on
# another host (a MongoDB store shared by several machines) or one that stamps without a
# lease (`dihub serve`) may commit a record stamped up to this long before now.
CLOSE_MARGIN = timedelta(minutes=2)
# What a lookup (commits_by_sha, issue_by_key, repo_item, builds_by_run) gives of a record:
# what a link to it is made of (`_id`, `entity`), its source and repository, and the
# commit graph (parents, commit time): what a walk keeps of the commits it passes.
LOOKUP_KEYS = ("_id", "entity", "source", "repo", "project_key", "commit_id", "parents",
               "timestamp")


def closed_mark(store, now: datetime | None = None) -> str:
    """The latest time T such that every record stamped (`ingested_at`) before T is
    already committed: read `changed(entity, since=old mark)` after taking T, then keep
    max(old mark, T) as the next mark, and nothing is missed, also while syncs run.

    The engine stamps each batch of a pass when the previous one is written (the first
    when the pass starts, after taking its lease and recording `last_sync_at`), and
    commits them batch by batch until it releases the lease: every stamp of a running
    pass is at or after its `last_sync_at`. So T is now minus CLOSE_MARGIN, and no
    later than the `last_sync_at` of any partition whose lease is live; a live lease
    that does not say when its pass began closes nothing (""). A record stamped at or
    after T is read again by the next refresh; the hub's writes are idempotent."""
    now = now or utcnow()
    bound = now - CLOSE_MARGIN
    for state in store.list_states():
        if not state.lease_owner:
            continue
        until = parse(state.lease_until) if state.lease_until else None
        if until is not None and until < now - CLOSE_MARGIN:
            continue            # an expired lease: its owner writes nothing more
        began = parse(state.last_sync_at) if state.last_sync_at else None
        if began is None:
            return ""
        bound = min(bound, began)
    return to_iso(bound) or ""

Doc = dict[str, Any]
# Lookup entries kept per field (each a few hundred bytes): about what a refresh's pull
# requests walk, never every stored commit.
LOOKUP_CACHE = 50_000
# Records read for a sha prefix: a prefix of two shas, each with a copy per source, is
# ambiguous whatever more there is.
PREFIX_MATCHES = 64


def _lookup_entry(doc: Doc) -> Doc:
    return {k: doc[k] for k in LOOKUP_KEYS if k in doc}


class Dataset:
    def __init__(self, store: Any, settings: Any = None):
        self.store = store
        self.settings = settings
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ sources

    def connectors(self) -> dict[str, str]:
        """{source name: connector name} of the configured sources (empty without
        settings: then every source that stored records counts, connector unknown)."""
        raw = getattr(self.settings, "sources", None) or {}
        out: dict[str, str] = {}
        for name, body in raw.items():
            connector = body.get("connector", name) if isinstance(body, dict) else name
            out[str(name)] = str(connector)
        return out

    def sources(self, connector: str) -> list[str]:
        """The configured sources of one connector, in config order."""
        return [s for s, c in self.connectors().items() if c == connector]

    def connector_of(self, source: str) -> str | None:
        return self.connectors().get(source)

    def source_setting(self, source: str, key: str, default: Any = None) -> Any:
        body = (getattr(self.settings, "sources", None) or {}).get(source)
        return body.get(key, default) if isinstance(body, dict) else default

    # ------------------------------------------------------------------ records

    def records(self, entity: str, sources: Iterable[str] | None = None, *,
                since: str | None = None, until: str | None = None,
                filters: dict[str, Any] | None = None) -> Iterator[Doc]:
        """Every stored record of `entity` (optionally of some sources, updated in
        [since, until)), across sources. Memory stays flat: the store pages."""
        if sources is None:
            yield from self.store.iter_records(entity, since=since, until=until,
                                               filters=filters)
            return
        for source in sources:
            yield from self.store.iter_records(entity, source=source, since=since,
                                               until=until, filters=filters)

    def changed(self, entity: str, since: str | None) -> Iterator[Doc]:
        """The records of `entity` written (inserted or updated) at or after the mark
        `since` (an ISO time from `closed_mark`; None: all of them), by the store's
        `ingested_at` index: a mark past every write reads nothing. Records the hub
        wrote are left out."""
        for doc in self.store.iter_ingested_since(entity, since):
            if doc.get("source") != HUB_SOURCE:
                yield doc

    def get(self, entity: str, record_id: str) -> Doc | None:
        """One record by its `_id`, or None."""
        page = self.store.query(entity, filters={"_id": record_id}, limit=1)
        return page.records[0] if page.records else None

    # ------------------------------------------------------------------ lookups

    def _keyed(self, entity: str, field: str, values: Iterable[Any]) -> dict[Any, list[Doc]]:
        """{value: the entity's records whose `field` is that value} through the store's
        index (Store.find_by; one lookup for the values not asked before), in the order of
        `records` (oldest update first), as their LOOKUP_KEYS; what was found is kept, up
        to LOOKUP_CACHE records per field."""
        known = self._cache.setdefault((entity, field), {})
        wanted = set(values)
        result = {v: known[v] for v in wanted if v in known}
        missing = wanted.difference(result)
        if missing:
            found: dict[Any, list[Doc]] = {v: [] for v in missing}
            for doc in sorted(self.store.find_by(entity, field, missing),
                              key=lambda d: (d.get("updated_at") or "", d["_id"])):
                if doc.get("source") != HUB_SOURCE and doc.get(field) in found:
                    found[doc[field]].append(_lookup_entry(doc))
            result.update(found)
            if len(known) + len(found) > LOOKUP_CACHE:
                known.clear()       # bounded: a long walk must not keep every record
            known.update(found)
        return result

    def commits_by_sha(self, sha: str) -> list[Doc]:
        """Every stored commit record with this full sha (a git and a GitHub copy)."""
        sha = (sha or "").lower()
        return self.commits_by_shas([sha]).get(sha, [])

    def commits_by_shas(self, shas: Iterable[str]) -> dict[str, list[Doc]]:
        """{sha: its commit records} for several shas at once (one store lookup for
        those not asked before; a sha not stored maps to [])."""
        return self._keyed("commits", "commit_id", {s.lower() for s in shas if s})

    def commits_by_prefix(self, prefix: str) -> list[Doc]:
        """Commits whose sha starts with `prefix` (7 hex digits or more); [] when the prefix
        is shorter or matches more than one sha."""
        prefix = (prefix or "").lower()
        if len(prefix) < 7:
            return []
        docs = [d for d in self.store.find_by_prefix("commits", "commit_id", prefix,
                                                     PREFIX_MATCHES)
                if d.get("source") != HUB_SOURCE]
        shas = {d.get("commit_id") for d in docs}
        return self.commits_by_sha(shas.pop()) if len(shas) == 1 else []

    def issue_by_key(self, key: str) -> Doc | None:
        """A Jira issue by its key (`ENG-12`), from any Jira source; None when unknown."""
        docs = [d for d in self._keyed("issues", "issue_id", [key])[key]
                if self.connector_of(d.get("source", "")) in ("jira", None)]
        return docs[0] if docs else None

    def project_keys(self) -> set[str]:
        """Jira project keys of the stored issues (plus `links.project_keys` of the config).
        Reads every stored issue: only for what no lookup by key can answer."""
        if "project_keys" not in self._cache:
            keys = {str(d.get("issue_id")).rsplit("-", 1)[0] for d in self.records("issues")
                    if d.get("source") != HUB_SOURCE and "-" in str(d.get("issue_id"))
                    and self.connector_of(d.get("source", "")) in ("jira", None)}
            links = getattr(self.settings, "links", None)
            keys.update(getattr(links, "project_keys", None) or [])
            self._cache["project_keys"] = keys
        return self._cache["project_keys"]

    def repo_item(self, repo: str, number: int | str) -> Doc | None:
        """The GitHub issue or pull request `number` of repository `owner/name`
        (case-insensitive), or None."""
        repo, number = repo.lower(), str(number)
        for doc in self._keyed("issues", "issue_id", [number])[number]:
            if (str(doc.get("project_key") or "").lower() == repo
                    and self.connector_of(doc.get("source", "")) in ("github", "gitlab")):
                return doc
        if not (number.isascii() and number.isdigit()):
            return None
        for doc in self._keyed("pull_requests", "number", [int(number)])[int(number)]:
            if str(doc.get("repo") or "").lower() == repo:
                return doc
        return None

    def builds_by_run(self, run_id: str) -> list[Doc]:
        run_id = str(run_id)
        return self._keyed("builds", "run_id", [run_id])[run_id]

    def users(self) -> Iterator[Doc]:
        """Every stored account (users of every source)."""
        for doc in self.records("users"):
            if doc.get("source") != HUB_SOURCE:
                yield doc
