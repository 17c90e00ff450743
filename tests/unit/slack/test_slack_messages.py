"""normalize_message over every message in the recorded Slack payloads, plus the
edit / delete / thread / privacy rules that those payloads do not show."""

from __future__ import annotations

import hashlib
import json

import pytest

from dihub.connectors.slack.classify import Classifier
from dihub.connectors.slack.normalize import deleted_event, normalize_message
from dihub.errors import SkippableRecord
from dihub.models.records import SlackEvent, User

from ._fixtures import body, load

HISTORY = "web-api/conversations.history.openapi-example.json"
REPLIES = "web-api/conversations.replies.openapi-example.json"
INNER = "events-api/message.inner-event.slack-api-ref.json"
CALLBACK = "events-api/event_callback.message.channels.docs.json"


def one(raw, *, store_text=False, channel="C012AB3CD", name="general", classifier=None):
    records = normalize_message(raw, "slack", channel, name, store_text=store_text,
                                classifier=classifier)
    assert len(records) == 1 and isinstance(records[0], SlackEvent)
    return records[0]


def all_fixture_messages():
    for name in (HISTORY, REPLIES):
        for msg in body(name)["messages"]:
            yield name, "C012AB3CD", msg
    yield INNER, "C123ABC456", load(INNER)
    yield CALLBACK, "C123ABC456", load(CALLBACK)["event"]


# --- conversations.history -------------------------------------------------------

def test_history_messages_with_text_stored():
    first, second = (one(m, store_text=True) for m in body(HISTORY)["messages"])
    assert first.event_id == first.source_id == "C012AB3CD:1512085950.000216"
    assert first.key() == "slack:slack_events:C012AB3CD:1512085950.000216"
    assert first.channel_id == "C012AB3CD" and first.channel_name == "general"
    assert first.type == "message" and first.subtype is None
    assert first.user_id == "U012AB3CDE" and first.bot_id is None
    assert first.ts == "1512085950.000216"
    assert first.timestamp == first.updated_at == "2017-11-30T23:52:30Z"
    assert first.text == "I find you punny and would like to smell your nose letter"
    assert first.text_length == 57
    assert first.thread_ts is None and first.reply_count is None and first.latest_reply is None
    assert first.edited_at is None and first.deleted is False and first.tags == []

    assert second.event_id == "C012AB3CD:1512104434.000490"
    assert second.user_id == "U061F7AUR"
    assert second.timestamp == "2017-12-01T05:00:34Z"
    assert second.text == "What, you want to smell my shoes better?"


def test_history_messages_without_text():
    first = one(body(HISTORY)["messages"][0], store_text=False)
    assert first.text is None and first.payload is None
    assert first.text_length == 57
    assert first.text_sha256 == (
        "5782c0200e4bceb771b8c8a3c777244341e9d20109bfade346180a43f19afb60")


# --- conversations.replies: thread parent vs replies -------------------------------

def test_thread_parent_and_replies():
    parent, *replies = (one(m, store_text=True) for m in body(REPLIES)["messages"])
    assert parent.ts == parent.thread_ts == "1482960137.003543"
    assert parent.reply_count == 3
    assert parent.latest_reply is None          # this example has no latest_reply
    assert parent.updated_at == parent.timestamp == "2016-12-28T21:22:17Z"
    assert parent.text == "island"

    assert [r.ts for r in replies] == [
        "1483037603.017503", "1483051909.018632", "1483125339.020269"]
    assert [r.text for r in replies] == ["one island", "two island", "three for the land"]
    assert [r.timestamp for r in replies] == [
        "2016-12-29T18:53:23Z", "2016-12-29T22:51:49Z", "2016-12-30T19:15:39Z"]
    for reply in replies:
        assert reply.thread_ts == "1482960137.003543" != reply.ts
        assert reply.reply_count is None and reply.latest_reply is None
        assert reply.user_id == "U061F7AUR"
        assert reply.event_id == f"C012AB3CD:{reply.ts}"


def test_parent_with_new_reply_sorts_as_changed():
    parent = dict(body(REPLIES)["messages"][0], latest_reply="1483125339.020269")
    event = one(parent)
    assert event.latest_reply == "1483125339.020269"
    assert event.timestamp == "2016-12-28T21:22:17Z"
    assert event.updated_at == "2016-12-30T19:15:39Z"


def test_reply_count_on_a_reply_is_not_taken_as_parent_data():
    reply = dict(body(REPLIES)["messages"][1], reply_count=9, latest_reply="1999999999.0")
    event = one(reply)
    assert event.reply_count is None and event.latest_reply is None
    assert event.updated_at == "2016-12-29T18:53:23Z"


def test_thread_broadcast_is_a_reply_shown_in_the_channel():
    raw = {"type": "message", "subtype": "thread_broadcast", "text": "broadcasting this reply",
           "user": "U123ABC456", "ts": "1673464745.620769", "thread_ts": "1673464730.703009",
           "root": {"text": "This is the original message", "ts": "1673464730.703009",
                    "thread_ts": "1673464730.703009", "reply_count": 1,
                    "latest_reply": "1673464745.620769"}}
    event = one(raw)
    assert event.subtype == "thread_broadcast"
    assert event.thread_ts == "1673464730.703009" and event.ts == "1673464745.620769"
    assert event.reply_count is None
    assert "original message" not in json.dumps(event.to_doc())


# --- Events API ---------------------------------------------------------------------

def test_events_api_inner_event():
    event = one(load(INNER), channel="C123ABC456", name=None, store_text=True)
    assert event.event_id == "C123ABC456:1355517523.000005"
    assert event.user_id == "U123ABC456"
    assert event.text == "Hello world"
    assert event.timestamp == "2012-12-14T20:38:43Z"
    assert event.channel_name is None


def test_events_api_callback_event():
    inner = load(CALLBACK)["event"]
    event = one(inner, channel=inner["channel"], name="general")
    assert event.event_id == "C123ABC456:1355517523.000005"
    assert event.text is None and event.text_length == len("Live long and prospect.") == 23


# --- privacy ---------------------------------------------------------------------

@pytest.mark.parametrize("name,channel,raw", list(all_fixture_messages()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_text_is_nowhere_in_the_record_when_not_stored(name, channel, raw):
    classifier = Classifier.from_config([{"tag": "anything", "pattern": "."}])
    records = normalize_message(raw, "slack", channel, "general", store_text=False,
                                classifier=classifier)
    dumped = json.dumps([r.to_doc() for r in records])
    assert raw["text"] not in dumped
    event = records[0]
    assert event.text is None and event.payload is None
    assert event.text_length == len(raw["text"])
    assert event.text_sha256 == hashlib.sha256(raw["text"].encode()).hexdigest()
    assert event.tags == ["anything"]           # classified on the text, text dropped


def test_text_in_attachments_is_dropped_too():
    raw = {"type": "message", "subtype": "bot_message", "bot_id": "B0DEPLOY", "ts": "1700000000.1",
           "text": "", "attachments": [{"fallback": "deployed secret-project v2",
                                        "text": "deployed secret-project v2"}]}
    hidden = one(raw, store_text=False)
    assert "secret-project" not in json.dumps(hidden.to_doc())
    assert hidden.text_length == 0
    shown = one(raw, store_text=True)
    assert shown.payload == {"attachments": raw["attachments"]}


def test_payload_keeps_only_content_keys_when_text_is_stored():
    reply = body(REPLIES)["messages"][1]
    assert one(reply, store_text=True).payload == {"parent_user_id": "U061F7AUR"}
    assert one(body(HISTORY)["messages"][0], store_text=True).payload is None


# --- edits ----------------------------------------------------------------------

EDITED = {"type": "message", "subtype": "message_changed", "hidden": True,
          "channel": "C123ABC456", "ts": "1358878755.000001",
          "message": {"type": "message", "user": "U123ABC456", "text": "Hello, world!",
                      "ts": "1355517523.000005",
                      "edited": {"user": "U123ABC456", "ts": "1358878755.000001"}},
          "previous_message": {"type": "message", "user": "U123ABC456",
                               "text": "Hello wrld", "ts": "1355517523.000005"}}


def test_message_changed_replaces_the_original_message():
    event = one(EDITED, channel="C123ABC456", store_text=True)
    original = one(load(INNER), channel="C123ABC456")
    assert event.key() == original.key()
    assert event.event_id == "C123ABC456:1355517523.000005"
    assert event.ts == "1355517523.000005"
    assert event.subtype is None                    # the message's own subtype, not the event's
    assert event.text == "Hello, world!"
    assert event.edited_at == "2013-01-22T18:19:15Z"
    assert event.timestamp == "2012-12-14T20:38:43Z"
    assert event.updated_at == "2013-01-22T18:19:15Z"
    assert event.updated_at > original.updated_at


def test_message_changed_never_leaks_the_previous_text():
    dumped = json.dumps(one(EDITED, channel="C123ABC456", store_text=True).to_doc())
    assert "Hello wrld" not in dumped
    hidden = json.dumps(one(EDITED, channel="C123ABC456", store_text=False).to_doc())
    assert "Hello, world!" not in hidden and "Hello wrld" not in hidden


def test_message_changed_into_a_tombstone_marks_the_parent_deleted():
    raw = {"type": "message", "subtype": "message_changed", "ts": "1700000100.000000",
           "message": {"type": "message", "subtype": "tombstone", "hidden": True,
                       "text": "This message was deleted.", "user": "USLACKBOT",
                       "ts": "1482960137.003543", "thread_ts": "1482960137.003543",
                       "reply_count": 3, "latest_reply": "1483125339.020269"}}
    event = one(raw, store_text=True)
    assert event.deleted is True and event.subtype == "tombstone"
    assert event.text is None and event.text_length is None and event.text_sha256 is None
    assert event.event_id == "C012AB3CD:1482960137.003543"
    assert event.reply_count == 3
    assert event.updated_at == "2016-12-30T19:15:39Z"
    assert event.tags == []


def test_message_changed_without_message_is_skipped():
    with pytest.raises(SkippableRecord, match="message_changed"):
        normalize_message({"type": "message", "subtype": "message_changed", "ts": "1.0"},
                          "slack", "C1", None, store_text=False)


# --- deletions --------------------------------------------------------------------

def test_message_deleted_becomes_a_deleted_event_for_the_deleted_ts():
    raw = {"type": "message", "subtype": "message_deleted", "hidden": True,
           "channel": "C123ABC456", "ts": "1358878755.000001",
           "deleted_ts": "1358878749.000002",
           "previous_message": {"type": "message", "user": "U123ABC456",
                                "text": "delete me", "ts": "1358878749.000002"}}
    event = one(raw, channel="C123ABC456", store_text=True)
    assert event.event_id == "C123ABC456:1358878749.000002"
    assert event.ts == "1358878749.000002"
    assert event.deleted is True
    assert event.text is None and event.text_length is None and event.payload is None
    assert event.user_id == "U123ABC456"
    assert event.timestamp == "2013-01-22T18:19:09Z"
    assert event.updated_at == "2013-01-22T18:19:15Z"
    assert "delete me" not in json.dumps(event.to_doc())


def test_deleted_event_replaces_the_stored_message():
    stored = one(body(HISTORY)["messages"][1], store_text=True)
    gone = deleted_event("slack", "C012AB3CD", "general", "1512104434.000490",
                         "1512200000.000100")
    assert gone.key() == stored.key()
    assert gone.deleted is True and gone.text is None
    assert gone.timestamp == "2017-12-01T05:00:34Z"
    assert gone.updated_at == "2017-12-02T07:33:20Z" > stored.updated_at


def test_deleted_event_without_deletion_time_uses_the_message_time():
    gone = deleted_event("slack", "C012AB3CD", None, "1512104434.000490", None)
    assert gone.updated_at == gone.timestamp == "2017-12-01T05:00:34Z"


# --- bots, classifier, users ---------------------------------------------------------

def test_bot_message_keeps_bot_id_and_gets_tags():
    classifier = Classifier.from_config([
        {"tag": "deploy_notification", "bot_id": "B0DEPLOY"},
        {"tag": "failure", "pattern": "(?i)failed"},
    ])
    raw = {"type": "message", "subtype": "bot_message", "bot_id": "B0DEPLOY",
           "username": "deploybot", "text": "Deploy of api FAILED", "ts": "1700000000.000200"}
    event = one(raw, classifier=classifier)
    assert event.bot_id == "B0DEPLOY" and event.user_id is None
    assert event.subtype == "bot_message"
    assert event.tags == ["deploy_notification", "failure"]
    assert event.text is None


def test_user_profile_on_a_message_yields_a_user():
    raw = dict(body(HISTORY)["messages"][1],
               user_profile={"name": "glinda", "real_name": "Glinda Southgood",
                             "display_name": "Glinda the Fairly Good"})
    event, user = normalize_message(raw, "slack", "C012AB3CD", "general", store_text=False)
    assert isinstance(user, User)
    assert user.user_id == user.source_user_id == user.source_id == "U061F7AUR" == event.user_id
    assert user.login == "glinda" and user.display_name == "Glinda the Fairly Good"
    assert user.email is None


@pytest.mark.parametrize("raw", [{"type": "message", "text": "no ts"},
                                 {"type": "message", "text": "bad", "ts": "yesterday"}])
def test_message_without_a_usable_ts_is_skipped(raw):
    with pytest.raises(SkippableRecord):
        normalize_message(raw, "slack", "C1", None, store_text=False)
