"""Pydantic models of the normalized schema (see docs/architecture.md).

Normalizers return these; the engine adds `_id`, `raw_signature` and
`ingested_at` and hands plain dicts to the store.
"""

from dihub.models.records import (
    ENTITIES,
    ENTITY_KEYS,
    TABLE_COLUMNS,
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
    register_entity,
)
from dihub.models.state import AuditEntry, RunMetrics, SyncState

__all__ = [
    "ENTITIES", "ENTITY_KEYS", "TABLE_COLUMNS", "AuditEntry", "Build", "Channel", "Commit",
    "Issue", "Link", "Person",
    "PullRequest", "Record", "Review", "RunMetrics", "SlackEvent", "Sprint", "SyncState",
    "Transition", "User", "register_entity",
]
