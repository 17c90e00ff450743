"""The stream contract: a stream declares what it is; the engine owns the loop.

It lives in the connectors layer, beside `base.py` and `session.py`: connectors build
streams and pages from it, and the engine (the layer above) runs them, so imports run
one way (engine -> connectors).

    commits = Stream(
        name="commits", entity="commits", partitions=repos_from_config,
        cursor_field="timestamp", fetch=commit_pages, normalize=normalize_commit,
    )

`partitions(session)`, `fetch(session, partition, state)` and
`normalize(raw, session, partition)` receive the connector's per-run session (a
`dihub.connectors.session.Session` view bound to the stream: the run's HTTP client,
its caches, `page`/`warn`/audit helpers, and everything the Context below carries).
The engine opens it once per run (`Connector.open(run)`) and closes it when the run
ends.

`fetch(session, partition, state)` yields `Page`s. Each page carries the raw
items of one upstream response and, optionally, the cursor that is safe to
persist once those items are durable. The engine writes the page's records
first, then checkpoints `page.cursor` (and `page.etags`), so a crash never
moves a cursor past data that was not written.

`normalize(raw, session, partition)` is pure: it returns a Record, a list of
Records (e.g. a commit and its author and committer as `users`), or None to
drop the item. It raises SkippableRecord for an item that cannot be read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dihub.models import AuditEntry, Record, SyncState

_UNSET: Any = object()


@dataclass
class Page:
    items: list[dict[str, Any]]
    cursor: Any = _UNSET             # value to checkpoint after this page; unset = keep
    etags: dict[str, str] | None = None   # replaces SyncState.etags when set
    raw_size: int = 0                # bytes of the upstream payload, for the audit log
    raw_payload: str | None = None   # kept in the audit log only when raw_payloads.enabled

    @property
    def moves_cursor(self) -> bool:
        return self.cursor is not _UNSET

    def forget_cursor(self) -> None:
        """Drop the cursor once a later page's replaces it (the engine holds both)."""
        self.cursor = _UNSET


@dataclass
class Context:
    """The engine's per-stream run context; a connector's Session wraps it (`session.ctx`)
    and exposes its fields, so streams read them from the session."""

    source: str                      # configured source name ("github", "ghe", ...)
    config: Any                      # the connector's validated config model
    run_id: str
    store: Any = None                # dihub.store.Store (for persisted HTTP state)
    metrics: Any = None              # the stream's counters (the engine's Counters)
    audit: Callable[[AuditEntry], None] | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("dihub"))
    settings: Any = None             # dihub.config.Settings (http policy, store options)
    secrets: Any = None              # dihub.secrets lookup for this source, where it has one
    report_total: Callable[[str, int], None] | None = None   # set by the engine

    @property
    def wants_total(self) -> bool:
        """Whether a total given to `progress_total` is shown: a stream whose total costs
        work of its own (git's `rev-list --count`) skips it when it is not."""
        return self.report_total is not None

    def progress_total(self, partition: str, total: int | None) -> None:
        """Tell the progress display how many items this pass of `partition` will read
        (as counted by the engine: one per raw item), when the upstream says so (a search
        total, `git rev-list --count`, a compare's `total_commits`). Optional: without it
        the display shows a spinner instead of a bar."""
        if self.report_total is not None and isinstance(total, int) and total >= 0:
            self.report_total(partition, total)


# the first argument is the connector's Session (dihub.connectors.session), bound to the stream
FetchFn = Callable[[Any, str, SyncState], Iterator[Page]]
NormalizeFn = Callable[[dict[str, Any], Any, str], "Record | Iterable[Record] | None"]
PartitionsFn = Callable[[Any], list[str]]


def single_partition(session: Any) -> list[str]:
    return ["*"]


@dataclass(frozen=True)
class Stream:
    name: str
    entity: str
    fetch: FetchFn
    normalize: NormalizeFn
    partitions: PartitionsFn = single_partition
    cursor_field: str | None = None
    description: str = ""
    also_emits: tuple[str, ...] = ()   # other entities normalize() returns (e.g. "users")
    # streams of the same connector whose stored records this one reads: in a run of
    # several streams (which run together), it starts once they have ended
    after: tuple[str, ...] = ()
