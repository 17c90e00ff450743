"""Operational documents: sync state, audit entries and run metrics."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from dihub.models.lease import Lease  # noqa: F401 - importable from here too


class SyncState(BaseModel):
    """Where a (source, stream, partition) stands. `cursor` is stream-defined JSON."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    source: str
    stream: str
    partition: str
    cursor: Any = None
    etags: dict[str, str] = {}
    last_sync_at: str | None = None
    last_success_at: str | None = None
    status: str = "never"          # never | running | ok | failed | partial
    error: str | None = None
    lease_owner: str | None = None
    lease_until: str | None = None
    lease_generation: int = 0      # +1 each time the lease passes to a new owner


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    run_id: str
    source: str
    entity: str | None = None
    stream: str | None = None
    partition: str | None = None
    action: str                     # sync | page | request | retry | wait | checkpoint | ...
    outcome: str                    # ok | failed | skipped | retried | warning
    records: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    payload_size: int = 0
    timestamp: str
    error: str | None = None
    detail: dict[str, Any] | None = None
    raw_payload: str | None = None


class RunMetrics(BaseModel):
    """Per run and stream. Latencies are in milliseconds."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    run_id: str
    source: str
    stream: str
    started_at: str
    finished_at: str
    duration_s: float
    outcome: str
    records: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    requests: int = 0
    retries: int = 0
    not_modified: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    failures: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    quota_remaining: int | None = None
