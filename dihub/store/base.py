"""The Store protocol every backend implements, checked by tests/contract.

Records are plain dicts as the engine builds them: `_id` (deterministic),
`source`, `entity`, `source_id`, `raw_signature`, `ingested_at`, `updated_at`
plus the entity's fields. Timestamps are ISO 8601 UTC strings (dihub.timeutil).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:       # annotations only: a store that reads records imports no pydantic
    from dihub.models.lease import Lease
    from dihub.models.state import AuditEntry, RunMetrics, SyncState


@dataclass
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass
class QueryPage:
    records: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None   # opaque; None when there is nothing more


# Header names never stored with a webhook delivery (lower case, substrings): the
# signatures (X-Hub-Signature[-256], X-Slack-Signature), Authorization, cookies, and
# anything naming a token, secret or credential.
_SECRET_HEADER_PARTS = ("signature", "authorization", "cookie", "token", "secret",
                        "credential", "api-key", "apikey")


def inbox_headers(headers: dict[str, Any] | None) -> dict[str, str]:
    """The headers of a webhook delivery that the inbox may keep (see _SECRET_HEADER_PARTS)."""
    return {str(k): str(v) for k, v in (headers or {}).items()
            if not any(part in str(k).lower() for part in _SECRET_HEADER_PARTS)}


@runtime_checkable
class Store(Protocol):
    """What the engine and the CLI need from a backend.

    Records
      upsert_many(records) -> UpsertResult. Idempotent. A record whose `_id`
        exists with the same `raw_signature`, or with a newer `updated_at`, is
        `unchanged` and not written (newest wins). Counts are exact under
        concurrent writers: an id is `inserted` by exactly one of them.
        On update `ingested_at` is the time of this write.
      query(entity, source=None, since=None, until=None, filters=None,
            cursor=None, limit=1000) -> QueryPage
        Ordered by (updated_at, _id); `since` inclusive, `until` exclusive, both
        on `updated_at`; filters are equality on top-level fields. Keyset
        pagination: `cursor` is the previous page's `next_cursor`, and the cost
        of a page does not grow with its depth.
      iter_records(...) -> Iterator[dict]: same arguments without cursor/limit,
        pages internally so memory stays flat.
      count(entity, source=None) -> int
      find_by(entity, field, values) -> list[dict]: the records whose `field` equals
        one of `values` (strings; integers for keyset.KEYED_INTEGERS), in no
        particular order; find_by_prefix(entity, field, prefix, limit) -> list[dict]:
        at most `limit` records whose text `field` starts with `prefix`. Only for
        keyset.KEYED_FIELDS (a commit's `commit_id`, an issue's `issue_id`, a pull
        request's `number`, a build's `run_id`), each read through an index, so a
        lookup costs the same at any store size.
      iter_ingested_since(entity, since=None, source=None) -> Iterator[dict]: the
        records written (inserted or updated) at or after `since`, an ISO time
        compared with `ingested_at` (None: every record), ordered by
        (ingested_at, _id) and paged like iter_records; indexed, so a `since` past
        every write reads no record. (`ingested_at` is the writer's stamp, set once
        per batch: a pass still running may commit records stamped before `since`;
        dihub.hub.dataset.closed_mark is the bound that accounts for that.)

    Sync state and leases (timed by the store's clock: the MongoDB server's, or the
    SQLite file's host; never by the caller's)
      get_state(source, stream, partition) -> SyncState | None
      put_state(state, lease=None) -> None   atomic replace (lease fields kept).
        With `lease` (a dihub.models.state.Lease), fenced: refused with
        dihub.store.errors.LeaseLost (exit 75) once that owner and generation no
        longer hold the lease. Without one: refused with LeaseHeld while anyone
        holds a live lease.
      list_states(source=None) -> list[SyncState]
      acquire_lease(source, stream, partition, owner, ttl_s) -> Lease
        raises dihub.errors.LeaseHeld naming the holder when another owner's
        lease has not expired; re-acquiring one's own lease renews it. A new
        owner gets the next `generation` (the fencing token).
      renew_lease(lease, ttl_s) -> Lease     LeaseLost if it has passed on
      release_lease(source, stream, partition, owner) -> None

    Audit, metrics, settings
      append_audit(entry) (a raw payload over keyset.RAW_PAYLOAD_LIMIT is truncated,
        marked, and detail["raw_payload_truncated"] says so)
      query_audit(source=None, entity=None, outcome=None, since=None,
        limit=100) -> list[AuditEntry] (newest first)
      record_metrics(metrics) ; query_metrics(source=None, stream=None,
        limit=100) -> list[RunMetrics] (newest first)
      get_meta(key) -> dict | None ; put_meta(key, value: dict)
        small JSON documents, e.g. the persisted circuit-breaker state.

    Webhook inbox (used by `dihub serve`; optional for other backends)
      existing_ids(entity, ids) -> set[str]  which ids are stored
      inbox_put(delivery) -> bool  durable once it returns; False for a duplicate
        (same source and delivery_id). A delivery is {kind, source, delivery_id,
        event, received_ts (epoch s), headers, body (bytes)}. Headers that carry a
        signature, token, secret, credential or cookie are dropped (inbox_headers),
        whatever the caller passes.
      inbox_put_many(deliveries) -> list[bool]  the same for several, one answer each
        (SQLite: in one transaction, the server's group commit)
      inbox_claim(now_ts, limit, claim_s, owner) -> list[dict]  due pending ones,
        oldest first; a claim not finished within claim_s is taken again
      inbox_finish(outcomes) ; inbox_list(status=None, limit=100, failed=False)
      inbox_get(id) ; inbox_replay(id, now_ts) -> bool ; inbox_stats(now_ts)
      inbox_purge(before_ts) -> int  deletes processed deliveries (their TTL)

    Maintenance
      purge(now_iso, audit_retention_days, raw_retention_days) -> dict[str, int]
        deletes audit entries and raw payloads older than their retention.
      close()
    """

    def upsert_many(self, records: Iterable[dict[str, Any]]) -> UpsertResult: ...

    def query(self, entity: str, source: str | None = None, since: str | None = None,
              until: str | None = None, filters: dict[str, Any] | None = None,
              cursor: str | None = None, limit: int = 1000) -> QueryPage: ...

    def iter_records(self, entity: str, source: str | None = None, since: str | None = None,
                     until: str | None = None,
                     filters: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]: ...

    def count(self, entity: str, source: str | None = None) -> int: ...

    def find_by(self, entity: str, field: str, values: Iterable[Any]) -> list[dict[str, Any]]: ...

    def find_by_prefix(self, entity: str, field: str, prefix: str,
                       limit: int) -> list[dict[str, Any]]: ...

    def iter_ingested_since(self, entity: str, since: str | None = None,
                            source: str | None = None) -> Iterator[dict[str, Any]]: ...

    def get_state(self, source: str, stream: str, partition: str) -> SyncState | None: ...

    def put_state(self, state: SyncState, *, lease: Lease | None = None) -> None: ...

    def list_states(self, source: str | None = None) -> list[SyncState]: ...

    def acquire_lease(self, source: str, stream: str, partition: str, owner: str,
                      ttl_s: float) -> Lease: ...

    def renew_lease(self, lease: Lease, ttl_s: float) -> Lease: ...

    def release_lease(self, source: str, stream: str, partition: str, owner: str) -> None: ...

    def append_audit(self, entry: AuditEntry) -> None: ...

    def query_audit(self, source: str | None = None, entity: str | None = None,
                    outcome: str | None = None, since: str | None = None,
                    limit: int = 100) -> list[AuditEntry]: ...

    def record_metrics(self, metrics: RunMetrics) -> None: ...

    def query_metrics(self, source: str | None = None, stream: str | None = None,
                      limit: int = 100) -> list[RunMetrics]: ...

    def get_meta(self, key: str) -> dict[str, Any] | None: ...

    def put_meta(self, key: str, value: dict[str, Any]) -> None: ...

    def purge(self, now_iso: str, audit_retention_days: int,
              raw_retention_days: int) -> dict[str, int]: ...

    def close(self) -> None: ...
