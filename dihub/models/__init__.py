"""Pydantic models of the normalized schema (see DESIGN.md).

Normalizers return these; the engine adds `_id`, `raw_signature` and
`ingested_at` and hands plain dicts to the store.
"""

from dihub.models.records import (
    ENTITIES,
    Build,
    Channel,
    Commit,
    Issue,
    Link,
    Person,
    PullRequest,
    Record,
    Review,
    SlackEvent,
    Sprint,
    Transition,
    User,
)
from dihub.models.state import AuditEntry, RunMetrics, SyncState

__all__ = [
    "ENTITIES", "AuditEntry", "Build", "Channel", "Commit", "Issue", "Link", "Person",
    "PullRequest", "Record", "Review", "RunMetrics", "SlackEvent", "Sprint", "SyncState",
    "Transition", "User",
]
