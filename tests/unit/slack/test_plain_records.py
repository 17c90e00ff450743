"""A sync builds Slack records as plain dicts (dihub.models.plain.build): the stored
documents and signatures must be byte for byte those of the pydantic models, for every
recorded message, every message the simulator generates, and the edits, deletions,
thread replies and bot messages in between."""

from __future__ import annotations

import copy
import logging
import random

import pytest

from dihub.connectors.normalizing import as_model
from dihub.connectors.slack import SlackConfig
from dihub.connectors.slack.classify import Classifier
from dihub.connectors.slack.client import SlackSession
from dihub.connectors.slack.messages import DELETED
from dihub.connectors.slack.normalize import (
    deleted_event,
    normalize_channel,
    normalize_message,
    normalize_user,
)
from dihub.connectors.slack.streams import channels, messages, users
from dihub.connectors.stream import Context
from dihub.errors import SkippableRecord
from dihub.models import SlackEvent, User
from dihub.models.documents import encode_document, signature, to_document
from dihub.models.plain import PlainRecord, build
from tests.simulators.slack.data import Workspace

from ._fixtures import body, load

AT = "2026-01-01T00:00:00Z"
HISTORY = "web-api/conversations.history.openapi-example.json"
REPLIES = "web-api/conversations.replies.openapi-example.json"
INNER = "events-api/message.inner-event.slack-api-ref.json"
CALLBACK = "events-api/event_callback.message.channels.docs.json"
LISTS = ["web-api/conversations.list.openapi-example.json",
         "web-api/conversations.list.python-slack-sdk.json",
         "web-api/conversations.list.page1-has-more.python-slack-sdk.json",
         "web-api/conversations.list.last-page.python-slack-sdk.json"]
USERS = "web-api/users.list.openapi-example.json"
RULES = [{"tag": "deploy", "bot_id": ["B0DEPLOY", "B00000001"]},
         {"tag": "island", "pattern": r"\bisland\b"},
         {"tag": "broadcast", "subtype": "thread_broadcast"},
         {"tag": "any", "pattern": "."}]
CLASSIFIERS = {"no-tags": None, "tags": Classifier.from_config(RULES)}


def _stored(records) -> list[tuple[str, str]]:
    """What the store gets of each record: its document's bytes and its signature, which
    is also checked against the reference hash of the document."""
    out = []
    for r in records:
        doc = to_document(r, AT)
        assert doc["raw_signature"] == signature(doc)
        out.append((encode_document(doc), doc["raw_signature"]))
    return out


def _variants(raw: dict) -> list[dict]:
    """A message as recorded, and as it looks edited, changed, deleted and as a tombstone."""
    ts = raw.get("ts") or "1512085950.000216"
    edited = {**raw, "edited": {"user": raw.get("user"), "ts": "1700000000.000100"}}
    return [
        raw,
        edited,
        {"type": "message", "subtype": "message_changed", "ts": "1700000001.000200",
         "message": edited, "previous_message": raw},
        {"type": "message", "subtype": "message_replied", "ts": "1700000001.000300",
         "message": {k: v for k, v in raw.items() if k != "ts"}, "previous_message": raw},
        {"type": "message", "subtype": "message_deleted", "ts": "1700000002.000400",
         "deleted_ts": ts, "previous_message": raw},
        {"type": "message", "subtype": "message_deleted", "ts": "1700000002.000500",
         "deleted_ts": ts},
        {"type": "message", "subtype": "tombstone", "text": "This message was deleted.",
         "user": "USLACKBOT", "hidden": True, "ts": ts},
    ]


def _recorded() -> list[tuple[str, dict]]:
    out = [("C012AB3CD", m) for name in (HISTORY, REPLIES) for m in body(name)["messages"]]
    out += [("C123ABC456", load(INNER)), ("C123ABC456", load(CALLBACK)["event"])]
    bot = {"type": "message", "subtype": "bot_message", "bot_id": "B0DEPLOY",
           "username": "deploybot", "text": "Deploy of api FAILED on island",
           "ts": "1700000000.000200"}
    broadcast = dict(body(REPLIES)["messages"][1], subtype="thread_broadcast")
    profile = dict(body(HISTORY)["messages"][1],
                   user_profile={"name": "spengler", "display_name": "Egon",
                                 "real_name": "Egon Spengler"})
    return out + [("C012AB3CD", bot), ("C012AB3CD", broadcast), ("C012AB3CD", profile)]


def _generated() -> list[tuple[str, dict]]:
    """Messages, thread parents, replies, broadcasts, bot messages, edits and tombstones
    as the simulator serves them."""
    ws = Workspace.generate(channels=2, messages=150, thread_ratio=0.2, max_replies=6,
                            users=8, bot_ratio=0.2, seed=11)
    for ch in list(ws.channels.values()):
        parents = ch.parents()
        ws.add_reply(ch.id, parents[0]["ts"], broadcast=True)
        ws.edit(ch.id, ch.messages[3]["ts"], "an edited island message")
        ws.edit(ch.id, ch.threads[parents[1]["ts"]][0]["ts"], "an edited reply")
        ws.delete(ch.id, parents[2]["ts"])                  # a tombstone: it has replies
        ws.delete(ch.id, ch.messages[5]["ts"])
    out = []
    for ch in ws.channels.values():
        out += [(ch.id, copy.deepcopy(m)) for m in ch.messages]
        out += [(ch.id, copy.deepcopy(r)) for rs in ch.threads.values() for r in rs]
    return out


def _both(raw: dict, channel: str, store_text: bool, classifier, users: bool = True):
    """(records through the models, records through build) of one message."""
    try:
        want = normalize_message(raw, "slack", channel, "general", store_text=store_text,
                                 classifier=classifier, users=users)
    except SkippableRecord as err:
        with pytest.raises(SkippableRecord) as got:
            normalize_message(raw, "slack", channel, "general", store_text=store_text,
                              classifier=classifier, make=build, users=users)
        assert str(got.value) == str(err)
        return [], []
    got_records = normalize_message(raw, "slack", channel, "general", store_text=store_text,
                                    classifier=classifier, make=build, users=users)
    return want, got_records


@pytest.mark.parametrize("store_text", [False, True], ids=["no-text", "text"])
@pytest.mark.parametrize("tags", list(CLASSIFIERS))
@pytest.mark.parametrize("source", ["recorded", "generated"])
def test_messages_store_the_same_bytes(source, tags, store_text):
    items = _recorded() if source == "recorded" else _generated()
    raws = [(ch, v) for ch, raw in items for v in _variants(raw)] \
        if source == "recorded" else items
    n = plain = 0
    kinds: set[str] = set()
    for channel, raw in raws:
        want, got = _both(raw, channel, store_text, CLASSIFIERS[tags])
        assert [r.key() for r in got] == [r.key() for r in want]
        assert _stored(got) == _stored(want)
        n += len(want)
        plain += sum(type(r) is PlainRecord for r in got)
        for r in got:
            if r.entity == "slack_events":
                kinds.add("deleted" if r.deleted else r.subtype or "message")
                kinds.add("reply" if r.thread_ts not in (None, r.ts) else "top")
                kinds.add("edited" if r.edited_at else "unedited")
                kinds.add("tagged" if r.tags else "untagged")
                kinds.add("text" if r.text is not None else "no text")
            else:
                kinds.add(r.entity)
    assert n > (50 if source == "recorded" else 300)
    assert {"message", "deleted", "bot_message", "reply", "top", "edited", "unedited",
            "thread_broadcast"} <= kinds
    if source == "recorded":
        assert "users" in kinds
    assert ("tagged" in kinds) is (tags == "tags")
    assert ("text" in kinds) is store_text
    assert plain == n               # the hot path builds no model at all, payloads included


class _Str(str):
    pass


_LEAVES = ["a", "é", "\ud800", 0, 1, -1, 2 ** 63 - 1, 2 ** 64 - 1, 2 ** 64, -(2 ** 63) - 1,
           True, False, None, 0.0, -0.0, 1e-5, 1e-4, 1.5, 1e300, float("nan"),
           float("inf"), (1, 2), _Str("x")]


def _value(rng: random.Random, depth: int = 0):
    r = rng.random()
    if depth > 3 or r < 0.5:
        return rng.choice(_LEAVES)
    if r < 0.75:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["k", "b", "a", "ü", 1 if rng.random() < 0.1 else "z"]
    return {rng.choice(keys): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _outcome(make, payload):
    """The stored bytes and signature of an event with this payload, or the error."""
    try:
        doc = to_document(make(SlackEvent, source="slack", source_id="C1:1.0",
                               event_id="C1:1.0", channel_id="C1", ts="1.0",
                               timestamp=AT, payload=payload), AT)
        return encode_document(doc), doc["raw_signature"]
    except Exception as err:         # the model refuses it, or json cannot encode it
        return type(err)


def test_payloads_of_any_json_store_the_same_bytes():
    """Payloads of exact JSON values are built plain; anything pydantic or orjson would
    treat otherwise (a tuple, a str subclass, an int key, NaN, 1e-05, an int beyond 64
    bits, a lone surrogate) gives the model's result all the same."""
    rng = random.Random(16)
    plain = 0
    for _ in range(3000):
        payload = {"blocks": _value(rng), "files": _value(rng)}
        got = _outcome(build, payload)
        assert got == _outcome(as_model, payload), payload
        plain += type(build(SlackEvent, source="s", source_id="1", event_id="1",
                            channel_id="C", ts="1", timestamp=AT, payload=payload)
                      ) is PlainRecord
    assert 500 < plain < 2500               # both paths taken


def test_a_plain_payload_shares_nothing_with_the_message():
    payload = {"blocks": [{"type": "section", "text": {"text": "hi"}}], "files": []}
    event = build(SlackEvent, source="s", source_id="1", event_id="1", channel_id="C",
                  ts="1", timestamp=AT, payload=payload)
    assert type(event) is PlainRecord
    payload["blocks"][0]["text"]["text"] = "changed"
    payload["files"].append("f")
    assert event.payload == {"blocks": [{"type": "section", "text": {"text": "hi"}}],
                             "files": []}


def test_records_built_plain_read_like_the_models():
    for channel, raw in _recorded():
        want, got = _both(raw, channel, False, CLASSIFIERS["tags"])
        for a, b in zip(want, got, strict=True):
            assert type(b) is PlainRecord
            assert b.to_doc() == a.to_doc() and b.key() == a.key()
            for name in type(a).model_fields:
                if name in b.doc:
                    assert getattr(b, name) == getattr(a, name)


def test_a_deleted_message_keeps_what_the_model_copy_kept():
    """message_deleted with its previous_message: the stored event is the deleted_event
    updated with the previous message's author, subtype and thread, as it always was."""
    prev = {"type": "message", "subtype": "thread_broadcast", "user": "U061F7AUR",
            "bot_id": "B0DEPLOY", "thread_ts": "1482960137.003543", "text": "gone",
            "ts": "1483037603.017503"}
    raw = {"type": "message", "subtype": "message_deleted", "ts": "1700000002.000400",
           "deleted_ts": prev["ts"], "previous_message": prev}
    old = deleted_event("slack", "C1", "general", prev["ts"], raw["ts"]).model_copy(
        update={"subtype": prev["subtype"], "user_id": prev["user"],
                "bot_id": prev["bot_id"], "thread_ts": prev["thread_ts"]})
    for make in (as_model, build):
        (event,) = normalize_message(raw, "slack", "C1", "general", store_text=False,
                                     make=make)
        assert _stored([event]) == _stored([old])
        assert event.user_id == "U061F7AUR" and event.deleted is True


def _ctx(**config) -> SlackSession:
    cfg = SlackConfig.model_validate({"connector": "slack", **config})
    ctx = SlackSession(Context(source="slack", config=cfg, run_id="test",
                               log=logging.getLogger("dihub.slack")))
    ctx.names.update(C1="general")
    return ctx


@pytest.mark.parametrize("thread_ts", [None, "1482960137.003543"])
def test_the_stream_stores_a_vanished_message_as_before(thread_ts):
    ctx = _ctx()
    raw = {DELETED: "1483037603.017503", "thread_ts": thread_ts, "noticed": 1700000000.5}
    old = deleted_event("slack", "C1", "general", raw[DELETED], raw["noticed"])
    if thread_ts:
        old = old.model_copy(update={"thread_ts": thread_ts})
    got = messages.normalize(raw, ctx, "C1")
    assert [type(r) for r in got] == [PlainRecord]
    assert _stored(got) == _stored([old])


def test_the_stream_stores_events_only_and_the_same_bytes():
    ctx = _ctx(classify=RULES)
    for channel, raw in _recorded():
        ctx.names.clear()
        ctx.names[channel] = "general"
        got = messages.normalize(raw, ctx, channel)
        want = [r for r in normalize_message(raw, "slack", channel, "general",
                                             store_text=False, classifier=ctx.config.classifier)
                if isinstance(r, SlackEvent)]
        assert [type(r) for r in got] == [PlainRecord]
        assert _stored(got) == _stored(want)


def test_channels_and_users_store_the_same_bytes():
    ctx = _ctx()
    raws = [c for name in LISTS for c in body(name)["channels"]]
    assert len(raws) > 5
    for raw in raws:
        assert _stored(channels.normalize(raw, ctx, "*")) == \
            _stored([normalize_channel(raw, "slack")])
    members = body(USERS)["members"]
    members += [dict(m, profile={**m.get("profile", {}), "email": "a@example.com"})
                for m in members]
    for raw in members:
        got = users.normalize(raw, ctx, "*")
        want = normalize_user(raw, "slack")
        assert isinstance(want, User)
        assert _stored(got) == _stored([want])
    ws = Workspace.generate(channels=2, messages=1, users=5, private=1)
    for raw in ws.users:
        assert _stored(users.normalize(copy.deepcopy(raw), ctx, "*")) == \
            _stored([normalize_user(raw, "slack")])
    for ch in ws.channels.values():
        assert _stored(channels.normalize(copy.deepcopy(ch.info), ctx, "*")) == \
            _stored([normalize_channel(ch.info, "slack")])
