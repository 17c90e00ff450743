"""Turn normalized models into stored documents: deterministic key + content signature.

Below the engine, so that everything that writes records (the engine, `dihub serve`,
the hub) signs them the same way."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from dihub.models.plain import CheckedDocument, PlainRecord

if TYPE_CHECKING:       # reading documents back needs no model (nor pydantic)
    from dihub.models.records import Record

# Fields the store or engine owns; they never take part in the signature.
_VOLATILE = ("_id", "raw_signature", "ingested_at")


def signature(doc: dict[str, Any]) -> str:
    """Hash of the normalized content: unchanged content → same signature → no write.

    The hashed bytes are those of `json.dumps(body, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False, default=str)` encoded as UTF-8, for every document, forever: the
    signatures already stored depend on it. orjson gives the same bytes for str, int,
    bool, None, lists and dicts with str keys, and floats of magnitude 1e-4 or more (or
    zero); `_same_as_json` checks a document holds nothing else before orjson is used
    (orjson writes 1e-05 as 0.00001 and NaN as null), otherwise json encodes it.
    """
    if "_id" in doc or "raw_signature" in doc or "ingested_at" in doc:
        body = {k: v for k, v in doc.items() if k not in _VOLATILE}
    else:
        body = doc
    if _same_as_json(body):
        try:
            return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
        except orjson.JSONEncodeError:      # an int beyond 64 bits
            pass
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def canonical_json(body: dict[str, Any]) -> str:
    """The reference encoding of a signature (see `signature`)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


_PLAIN = frozenset((str, int, bool, type(None)))
_INF = float("inf")


def _same_as_json(value: Any) -> bool:
    """Whether orjson encodes `value` (sorted, compact) to exactly the bytes of
    canonical_json: only exact JSON types, str keys, and floats orjson and json
    format alike (1e-4 <= |x| < inf, or 0; NaN fails every comparison)."""
    if type(value) is dict:
        if not _STR_ONLY.issuperset(map(type, value)):
            return False
        items = value.values()
    elif type(value) is list:
        items = value
    elif type(value) is float:
        return value == 0.0 or 1e-4 <= abs(value) < _INF
    else:
        return type(value) in _PLAIN
    if _PLAIN.issuperset(map(type, items)):      # the common case, at C speed
        return True
    for v in items:
        if type(v) not in _PLAIN and not _same_as_json(v):
            return False
    return True


_STR_ONLY = frozenset((str,))


def encode_document(doc: dict[str, Any]) -> str:
    """A stored document's JSON text: the bytes of `json.dumps(doc, separators=(",", ":"),
    ensure_ascii=False)`, keys in the document's order. orjson writes them when
    `_same_as_json` says its bytes are the same (nearly always; a CheckedDocument is known
    to be), json otherwise."""
    if type(doc) is CheckedDocument or _same_as_json(doc):
        try:
            return orjson.dumps(doc).decode("utf-8")
        except orjson.JSONEncodeError:      # an int beyond 64 bits, a lone surrogate
            pass
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


_JSON_FIRST = 1000      # documents a process reads with the json module before msgspec
_json_left = _JSON_FIRST
_decode_json = None


def decode_document(text: str | bytes) -> Any:
    """A stored document read back, as the json module reads it. A process's first
    _JSON_FIRST documents are read by json itself (5 us more each than msgspec); then
    dihub.jsoncodec's msgspec decoder, imported on that first need: importing it costs
    about 13 ms, more than a command that reads a few documents spends reading them
    (`dihub fetch ... --limit 1`; docs/architecture.md, "Start-up")."""
    global _json_left, _decode_json
    if _decode_json is not None:
        return _decode_json(text)
    if _json_left > 0:
        _json_left -= 1         # (a race between threads only moves the switch a little)
        return json.loads(text)
    from dihub.jsoncodec import decode_json

    _decode_json = decode_json
    return decode_json(text)


def to_document(record: Record | PlainRecord, ingested_at: str) -> dict[str, Any]:
    doc = record.to_doc()
    # a PlainRecord's values are of exact JSON types already: no need to check them again
    sig = record.signature(doc) if type(record) is PlainRecord else None
    doc["raw_signature"] = sig or signature(doc)
    doc["_id"] = record.key()
    doc["ingested_at"] = ingested_at
    return doc


def as_records(result: Record | Iterable[Record | PlainRecord] | None
               ) -> Iterable[Record | PlainRecord]:
    if result is None:
        return ()
    if type(result) is list:        # what normalizers return, once per item: no import
        return result
    from dihub.models.records import Record

    if isinstance(result, Record):
        return (result,)
    return result
