"""A partition's lease, as the store grants it (a plain dataclass: the store imports it
without pydantic)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lease:
    """A lease as `Store.acquire_lease` granted it: the fencing token of a partition.

    `generation` grows each time the lease passes to another owner (or is taken
    again after a release), so a checkpoint that carries an older generation is
    refused even if the same owner string came back. `until` is the expiry by the
    store's clock (the MongoDB server's, or the SQLite host's), ISO 8601 UTC.
    """

    source: str
    stream: str
    partition: str
    owner: str
    generation: int
    until: str | None = None
