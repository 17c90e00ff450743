"""Pydantic models of the normalized schema (see docs/architecture.md).

Normalizers return these; the engine adds `_id`, `raw_signature` and
`ingested_at` and hands plain dicts to the store.

The names below are imported on first use, not with the package: a command that only
reads the store (`dihub fetch`) needs `dihub.models.catalog`, `dihub.models.plain` and
`dihub.models.documents`, and none of them imports pydantic (docs/architecture.md,
"Start-up").
"""

from __future__ import annotations

import importlib

_RECORDS = ("ENTITIES", "ENTITY_KEYS", "TABLE_COLUMNS", "Build", "Channel", "Commit", "Issue",
            "Link", "Person", "PullRequest", "Record", "Review", "SlackEvent", "Sprint",
            "Transition", "User", "register_entity")
_STATE = ("AuditEntry", "RunMetrics", "SyncState")
_HOME = {**dict.fromkeys(_RECORDS, "dihub.models.records"),
         **dict.fromkeys(_STATE, "dihub.models.state")}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
