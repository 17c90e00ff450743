"""Turn normalized models into stored documents: deterministic key + content signature."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from dihub.models import Record

# Fields the store or engine owns; they never take part in the signature.
_VOLATILE = ("_id", "raw_signature", "ingested_at")


def signature(doc: dict[str, Any]) -> str:
    """Hash of the normalized content: unchanged content → same signature → no write."""
    body = {k: v for k, v in doc.items() if k not in _VOLATILE}
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def to_document(record: Record, ingested_at: str) -> dict[str, Any]:
    doc = record.to_doc()
    doc["raw_signature"] = signature(doc)
    doc["_id"] = record.key()
    doc["ingested_at"] = ingested_at
    return doc


def as_records(result: Record | Iterable[Record] | None) -> Iterable[Record]:
    if result is None:
        return ()
    if isinstance(result, Record):
        return (result,)
    return result
