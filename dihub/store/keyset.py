"""Keyset pagination shared by the store backends.

A page cursor is the sort key of the last record returned: `(updated_at, _id)`.
Records with no `updated_at` sort first (as if it were ""), in both backends.
The cursor is opaque to callers: urlsafe base64 of a JSON pair, so it survives
a shell, a URL or a file. The next page starts strictly after that key, so a
page costs the same at any depth (no OFFSET/skip).

This module also holds what else both backends must do identically: argument
checks, upsert batch preparation, lease expiry times and retention cutoffs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any

from dihub.errors import UsageError
from dihub.models.plain import CheckedDocument
from dihub.timeutil import now_iso, parse, to_iso, utcnow

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 100_000

# Collections/tables the stores keep beside the entities; an entity may not shadow them.
RESERVED_NAMES = frozenset({"sync_state", "audit_log", "run_metrics", "meta", "records"})
_ENTITY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CURSOR_RE = re.compile(r"^[A-Za-z0-9_-]{1,4096}$")   # what encode_cursor emits: no padding

Key = tuple[str | None, str]


def encode_cursor(updated_at: str | None, record_id: str) -> str:
    """The cursor that resumes after the record with this sort key."""
    raw = json.dumps([updated_at, record_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> Key:
    """Inverse of encode_cursor; anything else raises UsageError."""
    if not isinstance(cursor, str) or not _CURSOR_RE.match(cursor):
        raise _bad_cursor(str(cursor))
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
        value = json.loads(raw)
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise _bad_cursor(cursor) from exc
    if (not isinstance(value, list) or len(value) != 2
            or not (value[0] is None or isinstance(value[0], str))
            or not isinstance(value[1], str)):
        raise _bad_cursor(cursor)
    return value[0], value[1]


def _bad_cursor(cursor: str) -> UsageError:
    shown = cursor if len(cursor) <= 40 else cursor[:37] + "..."
    return UsageError(
        f"invalid --cursor {shown!r}: not a cursor printed by dihub",
        hint="Pass the next_cursor value of the previous page unchanged, or omit --cursor "
             "to start from the first page.",
    )


_ENTITIES_SEEN: set[str] = set()      # names check_entity accepted: checked once a process


def check_entity(entity: str) -> str:
    """Entity names become table keys and MongoDB collection names: keep them plain."""
    if type(entity) is str and entity in _ENTITIES_SEEN:
        return entity
    if not isinstance(entity, str) or not _ENTITY_RE.match(entity) or entity in RESERVED_NAMES:
        raise UsageError(
            f"invalid entity name {entity!r}",
            hint="Entity names are lower-case words such as commits, users or pull_requests.",
        )
    _ENTITIES_SEEN.add(entity)
    return entity


# Fields a record can be found by besides its `_id`, one store index each (`find_by`;
# `find_by_prefix` for a text field), so that the hub links a record to what it names
# without reading every record of the target's entity: a commit by its sha, an issue by
# its key or number, a pull request by its number, a build by its run id.
KEYED_FIELDS: dict[str, tuple[str, ...]] = {
    "commits": ("commit_id",),
    "issues": ("issue_id",),
    "pull_requests": ("number",),
    "builds": ("run_id",),
}
# Keyed fields whose values are integers (the others are strings).
KEYED_INTEGERS = {("pull_requests", "number")}
PREFIX_END = "\U0010ffff"      # above every character: `prefix <= key < prefix + PREFIX_END`


def keyed_pairs() -> list[tuple[str, str]]:
    """Every (entity, field) of KEYED_FIELDS."""
    return [(entity, field) for entity, fields in KEYED_FIELDS.items() for field in fields]


def check_keyed(entity: str, field: str, values: Iterable[Any] = (), *,
                prefix: bool = False) -> list[Any]:
    """The distinct `values` to look up, sorted, of the field's type (strings, or integers
    for KEYED_INTEGERS, where digit strings count too); refuses a lookup by a field the
    stores keep no index for (it would read every record of the entity, each time)."""
    integer = (check_entity(entity), field) in KEYED_INTEGERS
    if field not in KEYED_FIELDS.get(entity, ()) or prefix and integer:
        raise UsageError(f"records of {entity!r} cannot be looked up by {field!r}"
                         + (" prefix" if prefix else ""),
                         hint="Indexed lookups: " + ", ".join(
                             f"{e}.{f}" for e, f in sorted(keyed_pairs())) + ".")
    if not integer:
        return sorted({v for v in values if isinstance(v, str)})
    return sorted({int(v) for v in values if isinstance(v, int) and not isinstance(v, bool)
                   or isinstance(v, str) and v.isascii() and v.isdigit()})


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise UsageError(f"invalid --limit {limit!r}: use a number from 1 to {MAX_PAGE_SIZE}")
    return limit


Scalar = str | int | float | bool | None


def check_filters(filters: dict[str, Any] | None) -> dict[str, Scalar]:
    """Filters compare one top-level field with one scalar value.

    As in MongoDB, a scalar also matches an array field containing it, and None
    matches a missing field; both backends implement exactly that.
    """
    if not filters:
        return {}
    for name, value in filters.items():
        if not isinstance(name, str) or not _FIELD_RE.match(name):
            raise UsageError(f"invalid filter field {name!r}: use a top-level field name")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise UsageError(
                f"invalid filter value for {name!r}: only strings, numbers, booleans and "
                f"null can be compared, not {type(value).__name__}"
            )
    return dict(filters)


def check_window(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """Empty bounds mean "no bound". A bound excludes records without `updated_at`."""
    return since or None, until or None


def prepare_batch(records: Iterable[Mapping[str, Any]], clock: Any = None
                  ) -> dict[tuple[str, str], dict[str, Any]]:
    """Key an upsert batch by (entity, _id); a repeated key keeps the last record. The
    records given are never changed (one is copied before a stamp is added to it).

    A record without `ingested_at` gets the time of this write (by `clock`, a callable
    returning an aware datetime; default: this host's clock).
    """
    now = None
    batch: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        record_id = record.get("_id") if isinstance(record, Mapping) else None
        if not isinstance(record_id, str) or not record_id:
            raise ValueError(f"record without a string _id cannot be stored: {record!r:.200}")
        # the caller's dict is stored as it is, or copied when a stamp is to be added: a
        # copy of the same kind (what a CheckedDocument holds was checked, and this only
        # adds a string)
        kind = type(record)
        doc = record if kind is dict or kind is CheckedDocument else dict(record)
        check_entity(doc.get("entity"))
        if doc.get("ingested_at") is None:
            now = now or (to_iso(clock()) if clock else now_iso())
            if doc is record:
                doc = CheckedDocument(doc) if kind is CheckedDocument else dict(doc)
            doc["ingested_at"] = now
        batch[(doc["entity"], record_id)] = doc
    return batch


def is_unchanged(stored_signature: str | None, doc: Mapping[str, Any]) -> bool:
    """Same signature as stored → nothing to write. No signature → always written."""
    signature = doc.get("raw_signature")
    return signature is not None and signature == stored_signature


RAW_PAYLOAD_LIMIT = 8 * 1024 * 1024   # bytes of one audit entry's raw payload (UTF-8)
TRUNCATED_MARK = "\n[dihub: raw payload truncated]"


def cap_raw_payload(entry: Any, limit: int = RAW_PAYLOAD_LIMIT) -> Any:
    """The audit entry with its raw payload cut to `limit` bytes, and a marker saying so.

    A MongoDB document cannot exceed 16 MiB: one large upstream page would make its
    audit entry unwritable, the run would fail before its checkpoint, and every
    later run would fetch the same page again. So a longer payload keeps its first
    `limit` bytes followed by TRUNCATED_MARK, and `detail["raw_payload_truncated"]`
    records the original and the kept size. Both stores do the same.
    """
    raw = getattr(entry, "raw_payload", None)
    if raw is None or len(raw) * 4 <= limit:       # at most 4 bytes per character
        return entry
    data = raw.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return entry
    kept = data[:limit].decode("utf-8", "ignore")
    detail = dict(entry.detail or {})
    detail["raw_payload_truncated"] = {"bytes": len(data),
                                       "kept_bytes": len(kept.encode("utf-8", "surrogatepass"))}
    return entry.model_copy(update={"raw_payload": kept + TRUNCATED_MARK, "detail": detail})


def lease_until(ttl_s: float) -> str:
    """Now + ttl at the stored second precision; a lease is held while `lease_until > now`,
    so `ttl_s=0` (or less) hands out a lease that is already expired."""
    return to_iso(utcnow() + timedelta(seconds=ttl_s))


def lease_name(source: str, stream: str, partition: str) -> str:
    """How a lease is named in LeaseHeld messages."""
    return f"{source}/{stream} partition {partition}"


def cutoff(now: str, days: float) -> str:
    """The timestamp `days` before `now`: entries strictly older are past retention."""
    return to_iso(parse(now) - timedelta(days=days))


def iter_pages(store, entity: str, **query: Any) -> Iterator[dict[str, Any]]:
    """Every record matching `query`, read one keyset page at a time (flat memory)."""
    cursor = None
    while True:
        page = store.query(entity, cursor=cursor, limit=DEFAULT_PAGE_SIZE, **query)
        yield from page.records
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
