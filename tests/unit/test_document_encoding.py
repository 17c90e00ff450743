"""The embedded store's documents are written by orjson where it gives the bytes json.dumps
gives (compact, ensure_ascii=False, keys in the document's order), and by json otherwise;
they are read back by json for a process's first documents, then (like response bodies) by
msgspec, or json for what only json reads. Either way the text and the values are those of
the json module."""

from __future__ import annotations

import json
import math
import random

import pytest

from dihub.models import documents
from dihub.models.documents import decode_document, encode_document
from tests.unit.test_signature_bytes import _ODD, _key, _value


def _reference(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _same(a, b) -> bool:
    """Equal values, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@pytest.fixture(params=["json first", "msgspec"])
def reader(request, monkeypatch):
    """decode_document in each of its phases: a process's first documents, and later ones."""
    if request.param == "json first":
        monkeypatch.setattr(documents, "_json_left", 10**9)
        monkeypatch.setattr(documents, "_decode_json", None)
    else:
        monkeypatch.setattr(documents, "_json_left", 0)
        decode_document('{"switch": 1}')
        assert documents._decode_json is not None
    return request.param


def test_the_first_documents_are_read_by_json_then_msgspec_s_decoder(monkeypatch):
    from dihub.jsoncodec import decode_json

    monkeypatch.setattr(documents, "_json_left", 3)
    monkeypatch.setattr(documents, "_decode_json", None)
    texts = [json.dumps({"n": i, "big": 2**70 + i}) for i in range(6)]
    assert [decode_document(t) for t in texts] == [json.loads(t) for t in texts]
    assert documents._json_left == 0 and documents._decode_json is decode_json


def test_documents_are_the_bytes_json_writes_and_read_back_as_json_reads_them(reader):
    rng = random.Random(61)
    checked = 0
    for _ in range(5000):
        doc = {_key(rng): _value(rng) for _ in range(rng.randint(0, 12))}
        try:
            expected = _reference(doc)
        except (TypeError, ValueError) as exc:
            with pytest.raises(type(exc)):
                encode_document(doc)
            continue
        text = encode_document(doc)
        assert text == expected, doc
        assert _same(decode_document(text), json.loads(expected)), doc
        checked += 1
    assert checked > 1000


@pytest.mark.parametrize("value", _ODD + ["\ud800 lone surrogate", 2**70, -2**64])
def test_each_odd_value(value, reader):
    doc = {"v": value, "w": [value], "x": {"y": value}}
    try:
        expected = _reference(doc)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            encode_document(doc)
        return
    assert encode_document(doc) == expected
    assert _same(decode_document(expected), json.loads(expected))


def test_decode_refuses_what_is_not_json(reader):
    with pytest.raises(ValueError):
        decode_document('{"a": 1')
    with pytest.raises(TypeError):
        decode_document(None)


@pytest.mark.parametrize("body", [
    b'{"id": 18446744073709551616, "n": -9223372036854775809}',   # beyond 64 bits
    b'{"x": NaN, "y": [Infinity]}',
    b'{"s": "\\ud800"}',
    '{"a": [1, 2.5e-7, "\u00e9"]}'.encode("utf-16"),
    b'[{"sha": "1234567890123456789012345"}, 1e400]',
])
def test_response_bodies_decode_as_json_decodes_them(body):
    from dihub.jsoncodec import decode_json

    assert _same(decode_json(body), json.loads(body))


def test_checked_documents_of_plain_records_are_still_the_bytes_json_writes():
    # a PlainRecord's document is a CheckedDocument through to_document and the store's
    # batch, and encode_document trusts it: it must hold nothing json writes otherwise
    from pydantic import ValidationError

    from dihub.models.documents import to_document
    from dihub.models.plain import CheckedDocument, PlainRecord, build
    from dihub.models.records import SlackEvent
    from dihub.store.keyset import prepare_batch

    rng = random.Random(67)
    plain = 0
    for i in range(3000):
        payload = {_key(rng): _value(rng) for _ in range(rng.randint(0, 8))}
        try:
            record = build(SlackEvent, source="slack", source_id=f"C1:{i}.0", event_id=f"C1:{i}.0",
                           channel_id="C1", ts=f"{i}.0", timestamp="2026-01-02T03:04:05Z",
                           text=rng.choice(["hi", "ünï", "\u2028", "", "\U0001f600"]),
                           payload=payload, updated_at="2026-01-02T03:04:05Z")
        except ValidationError:     # a key pydantic refuses (not a string)
            continue
        doc = to_document(record, "2026-02-01T00:00:00Z")
        [stored] = prepare_batch([doc]).values()
        if type(record) is not PlainRecord:
            assert type(stored) is dict
            continue
        plain += 1
        assert type(doc) is CheckedDocument and type(stored) is CheckedDocument
        assert encode_document(stored) == _reference(stored)
    assert plain > 500


def test_as_records_takes_what_a_normalizer_returns():
    from dihub.models.documents import as_records
    from dihub.models.plain import build
    from dihub.models.records import Commit

    model = Commit(source="git", source_id="c1", updated_at="2026-01-01T00:00:00Z",
                   commit_id="c1", repo="r")
    plain = build(Commit, source="git", source_id="c2", updated_at="2026-01-01T00:00:00Z",
                  commit_id="c2", repo="r")
    assert as_records(None) == ()
    assert as_records(model) == (model,)            # one model: one record
    items = [model, plain]
    assert as_records(items) is items
    gen = (r for r in items)
    assert list(as_records(gen)) == items
