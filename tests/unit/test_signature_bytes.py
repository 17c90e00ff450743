"""Signatures must stay byte-for-byte what json.dumps(sort_keys, compact, ensure_ascii=False,
default=str) hashes to, whichever encoder computes them: stored records are compared
with them, and a different byte means every record re-written as "updated"."""

from __future__ import annotations

import datetime
import enum
import hashlib
import json
import random
import uuid

import pytest

from dihub.models.documents import signature, to_document
from dihub.models.records import Commit


def _reference(doc: dict) -> str:
    body = {k: v for k, v in doc.items() if k not in ("_id", "raw_signature", "ingested_at")}
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class _Colour(str, enum.Enum):  # noqa: UP042 - as older code would define it
    RED = "red"


class _Size(enum.IntEnum):
    BIG = 3


_TEXT = "abcXYZ 09:-_\"\\/\n\t\x00\x1f\x7fé€ß日本😀\u2028\u2029\u0085"
_ODD = [0.0, -0.0, 1e-5, 1e-7, 1.5e-4, 1e-4, 9.99e-5, float("nan"), float("inf"),
        -float("inf"), 1e16, 1e22, 0.1, 100.0, 2**63, -2**63 - 1, 2**64, 10**30,
        _Colour.RED, _Size.BIG, datetime.datetime(2026, 1, 2, 3, 4, 5),
        datetime.date(2026, 1, 2), uuid.UUID(int=7), (1, "a"), True, False, None]


def _value(rng: random.Random, depth: int = 0):
    r = rng.random()
    if r < 0.3:
        return "".join(rng.choice(_TEXT) for _ in range(rng.randint(0, 10)))
    if r < 0.4:
        return rng.randint(-10**12, 10**12)
    if r < 0.5:
        return rng.uniform(-1e9, 1e9) * 10.0 ** rng.randint(-12, 20)
    if r < 0.6:
        return rng.choice(_ODD)
    if depth < 3 and r < 0.8:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if depth < 3:
        return {_key(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return "leaf"


def _key(rng: random.Random):
    if rng.random() < 0.03:
        return rng.choice([1, 2.5, None, True])
    return "".join(rng.choice(_TEXT) for _ in range(rng.randint(1, 6)))


def test_signature_bytes_match_the_reference_encoding():
    rng = random.Random(16)
    for _ in range(5000):
        doc = {_key(rng): _value(rng) for _ in range(rng.randint(0, 12))}
        if rng.random() < 0.3:
            doc.update(_id="x", raw_signature="y", ingested_at="z")
        try:
            expected = _reference(doc)
        except (TypeError, ValueError) as exc:
            with pytest.raises(type(exc)):
                signature(doc)
            continue
        assert signature(doc) == expected, doc


@pytest.mark.parametrize("value", _ODD + ["\ud800 lone surrogate"])
def test_signature_of_each_odd_value(value):
    doc = {"v": value, "w": [value], "x": {"y": value}}
    try:
        expected = _reference(doc)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            signature(doc)
        return
    assert signature(doc) == expected


def test_a_stored_document_keeps_the_signature_of_its_content():
    commit = Commit(source="git", source_id="abc", commit_id="abc", repo="r",
                    authored_at="2026-01-02T03:04:05Z", message="café ☕ 1e-05")
    doc = to_document(commit, "2026-01-03T00:00:00Z")
    assert doc["raw_signature"] == _reference(doc)
    assert signature(doc) == doc["raw_signature"]
