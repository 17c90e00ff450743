"""A history or replies page read into its shape (shapes.py) gives the same records as
the page read whole: with and without stored text, with and without a classifier, for
the recorded pages and for messages carrying every kind of content and subtype."""

from __future__ import annotations

import json

import pytest

from dihub.connectors.slack import shapes
from dihub.connectors.slack.classify import Classifier
from dihub.connectors.slack.errors import error_from_response
from dihub.connectors.slack.normalize import normalize_message
from dihub.jsoncodec import decode_json, reading
from dihub.models.records import SlackEvent

from ._fixtures import body, load

HISTORY = "web-api/conversations.history.openapi-example.json"
REPLIES = "web-api/conversations.replies.openapi-example.json"
INNER = "events-api/message.inner-event.slack-api-ref.json"

RULES = [{"tag": "deploy", "pattern": "deploy(ed)?"}, {"tag": "bot", "bot_id": ["B1"]}]
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "deployed v2"},
           "fields": [{"type": "plain_text", "text": "by the bot"}]}]
ATTACHMENTS = [{"fallback": "deploy done", "text": "deployed", "fields": [
    {"title": "env", "value": "prod"}]}]


def _content_page() -> dict:
    """A page with what the recorded pages lack: blocks, attachments, files, reactions,
    edits, bots, a tombstone, message_changed / message_deleted, a user_profile."""
    parent = {"type": "message", "user": "U1", "text": "release", "ts": "1700000000.000100",
              "thread_ts": "1700000000.000100", "reply_count": 2, "reply_users_count": 1,
              "latest_reply": "1700000300.000100", "reply_users": ["U2"], "is_locked": False,
              "subscribed": True, "team": "T1", "blocks": BLOCKS,
              "user_profile": {"name": "ann", "display_name": "Ann", "avatar_hash": "x"},
              "reactions": [{"name": "tada", "users": ["U2"], "count": 1}]}
    bot = {"type": "message", "subtype": "bot_message", "bot_id": "B1", "username": "ci",
           "text": "", "attachments": ATTACHMENTS, "ts": "1700000100.000100",
           "files": [{"id": "F1", "name": "log.txt"}], "icons": {"emoji": ":robot:"}}
    edited = {"type": "message", "user": "U2", "text": "deployed (edited)",
              "ts": "1700000200.000100", "edited": {"user": "U2", "ts": "1700000250.000000"},
              "thread_ts": "1700000000.000100", "parent_user_id": "U1"}
    tomb = {"type": "message", "subtype": "tombstone", "text": "This message was deleted.",
            "ts": "1700000400.000100", "thread_ts": "1700000400.000100", "reply_count": 1,
            "latest_reply": "1700000500.000100", "user": "USLACKBOT", "hidden": True}
    changed = {"type": "message", "subtype": "message_changed", "hidden": True,
               "ts": "1700000600.000100", "channel": "C1",
               "message": {"type": "message", "user": "U3", "text": "deploy fixed",
                           "ts": "1700000550.000100", "blocks": BLOCKS,
                           "edited": {"user": "U3", "ts": "1700000600.000100"}},
               "previous_message": {"type": "message", "user": "U3", "text": "deploy brokn",
                                    "ts": "1700000550.000100"}}
    deleted = {"type": "message", "subtype": "message_deleted", "hidden": True,
               "ts": "1700000700.000100", "deleted_ts": "1700000650.000100",
               "previous_message": {"type": "message", "user": "U4", "text": "oops",
                                    "ts": "1700000650.000100", "thread_ts": "1700000000.000100"}}
    return {"ok": True, "messages": [parent, bot, edited, tomb, changed, deleted],
            "has_more": False, "pin_count": 0,
            "response_metadata": {"next_cursor": "bmV4dA=="}}


def _pages() -> list[dict]:
    return [body(HISTORY), body(REPLIES), {"ok": True, "messages": [load(INNER)]},
            _content_page()]


def _records(page: dict, store_text: bool, classifier) -> list:
    out = []
    for m in page["messages"]:
        out.extend(r.model_dump() for r in normalize_message(
            m, "slack", "C1", "general", store_text=store_text, classifier=classifier)
            if isinstance(r, SlackEvent))           # users come from the users stream
    return out


@pytest.mark.parametrize("store_text,rules", [(False, None), (True, None), (False, RULES),
                                              (True, RULES)])
def test_a_page_read_into_its_shape_gives_the_same_events(store_text, rules):
    classifier = Classifier.from_config(rules)
    shape = shapes.ContentMessages if store_text or classifier.rules else shapes.Messages
    for page in _pages():
        text = json.dumps(page)
        with reading(shape):
            shaped = decode_json(text)
        whole = decode_json(text)
        assert _records(shaped, store_text, classifier) == _records(whole, store_text,
                                                                     classifier)
        assert shaped.get("response_metadata") == whole.get("response_metadata")


def test_tags_and_payloads_are_there_to_compare():
    # the comparison above would pass trivially if nothing carried content
    page = _content_page()
    events = _records(page, True, Classifier.from_config(RULES))
    assert any(e["tags"] == ["deploy"] for e in events)
    assert any(e["tags"] == ["deploy", "bot"] for e in events)
    assert any(e["payload"] and "blocks" in e["payload"] for e in events)


def test_what_no_record_reads_is_not_built():
    text = json.dumps(_content_page())
    with reading(shapes.Messages):
        lean = decode_json(text)["messages"]
    with reading(shapes.ContentMessages):
        content = decode_json(text)["messages"]
    for skipped in ("blocks", "reactions", "user_profile", "team", "reply_users",
                    "is_locked", "subscribed"):
        assert all(skipped not in m for m in lean), skipped
    assert "blocks" in content[0] and "reply_users" in content[0]
    assert all(k not in content[0] for k in ("user_profile", "team", "is_locked"))
    # the nested new state of a message_changed stays whole (the normalizer reads it)
    assert lean[4]["message"]["blocks"] == BLOCKS


def test_an_error_answer_read_into_the_shape_is_the_same_error():
    text = json.dumps({"ok": False, "error": "missing_scope", "needed": "groups:history",
                       "provided": "channels:history", "warning": "superfluous_charset"})
    with reading(shapes.Messages):
        shaped = decode_json(text)
    err = error_from_response("conversations.history", shaped, source="slack")
    whole = error_from_response("conversations.history", decode_json(text), source="slack")
    assert type(err) is type(whole) and str(err) == str(whole)
    assert shaped["needed"] == "groups:history"
