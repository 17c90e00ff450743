"""Slack Web API objects → normalized records. Pure functions: dicts in, records out.

Messages come from conversations.history, conversations.replies and the Events
API inner `event` (all share one shape); channels from conversations.list;
users from users.list.

Identity: a message is `(channel, ts)`, so `event_id == source_id ==
f"{channel_id}:{ts}"`. Edits, new replies and deletions arrive as new states
of that same key:

* `message_changed` (and `message_replied`) carry the new state in `message`;
  it is normalized under the original message's ts, replacing the old record.
* `message_deleted` carries the deleted message's ts in `deleted_ts`; it becomes
  a `deleted_event` (deleted=True, no text).
* `tombstone` is what Slack leaves of a deleted thread parent that still has
  replies; it is kept (the thread still hangs off it) with deleted=True.

Threads: a parent has `thread_ts == ts` (and `reply_count` / `latest_reply`); a
reply has `thread_ts != ts`; a `thread_broadcast` is a reply also shown in the
channel. `updated_at` is the latest of ts, edited.ts and latest_reply, so an
edited or newly replied-to message sorts as changed.

Privacy: message text is stored only with `store_text=True`. Otherwise `text`
is None and only `text_length` and `text_sha256` are kept, and no `payload`
(attachments, blocks and files carry the text too). Classifier tags are still
computed from the text, which is then dropped.

Each record is built by `make(Model, **values)`: the model itself by default
(normalizing.as_model); a sync passes dihub.models.plain.build, which stores the
same documents without pydantic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

from dihub.connectors.normalizing import Make, as_model
from dihub.errors import SkippableRecord
from dihub.models.records import Channel, Record, SlackEvent, User
from dihub.timeutil import to_iso

#: Subtypes whose `message` is the new state of an existing message (same ts).
REPLACING_SUBTYPES = ("message_changed", "message_replied")

#: Raw keys kept in `payload` when text storage is on (they carry content).
PAYLOAD_KEYS = ("attachments", "blocks", "files", "reactions", "username",
                "parent_user_id", "reply_users")


class TagSource(Protocol):
    def classify(self, raw: Mapping[str, Any]) -> list[str]: ...


def normalize_message(raw: Mapping[str, Any], source: str, channel_id: str,
                      channel_name: str | None, *, store_text: bool,
                      classifier: TagSource | None = None, make: Make = as_model,
                      users: bool = True) -> list[Record]:
    """One message → `[SlackEvent]`, plus a `User` when it carries `user_profile` (and
    `users` is on)."""
    subtype = raw.get("subtype")
    if subtype in REPLACING_SUBTYPES:
        inner = raw.get("message")
        if not isinstance(inner, Mapping):
            raise SkippableRecord(f"Slack {subtype} in {channel_id} has no `message`")
        original_ts = inner.get("ts") or _get(raw.get("previous_message"), "ts")
        return _message_records({**inner, "ts": original_ts}, source, channel_id,
                                channel_name, store_text=store_text, classifier=classifier,
                                make=make, users=users)
    if subtype == "message_deleted":
        previous = raw.get("previous_message")
        gone_ts = raw.get("deleted_ts") or _get(previous, "ts")
        if not gone_ts:
            raise SkippableRecord(f"Slack message_deleted in {channel_id} has no deleted_ts")
        kept: dict[str, Any] = {}
        if isinstance(previous, Mapping):
            # who wrote it and where it sat in a thread survive; its text does not
            kept = {"subtype": previous.get("subtype"), "user_id": previous.get("user"),
                    "bot_id": previous.get("bot_id"), "thread_ts": previous.get("thread_ts")}
        return [deleted_event(source, channel_id, channel_name, gone_ts, raw.get("ts"),
                              make=make, **kept)]
    return _message_records(raw, source, channel_id, channel_name,
                            store_text=store_text, classifier=classifier, make=make,
                            users=users)


def deleted_event(source: str, channel_id: str, channel_name: str | None,
                  ts: str, deleted_ts: str | float | None = None, *,
                  make: Make = as_model, **kept: Any) -> SlackEvent:
    """The record that replaces a message that was deleted or disappeared from history.

    `ts` is the vanished message's own ts (its identity); `deleted_ts` is when
    the deletion happened or was noticed (Slack-style epoch seconds; Slack's
    `message_deleted` event puts it in the event's `ts`). It becomes
    `updated_at`, so the deletion sorts as a change; without it, the message
    time is used. `kept` are the fields of the message that survive its deletion
    (`subtype`, `user_id`, `bot_id`, `thread_ts`).
    """
    when = _epoch(ts, channel_id)
    gone = _epoch(deleted_ts, channel_id) if deleted_ts not in (None, "") else when
    return make(
        SlackEvent,
        source=source, source_id=f"{channel_id}:{ts}", event_id=f"{channel_id}:{ts}",
        channel_id=channel_id, channel_name=channel_name, ts=str(ts),
        timestamp=to_iso(when), updated_at=to_iso(max(when, gone)), deleted=True, **kept,
    )


def normalize_channel(raw: Mapping[str, Any], source: str, make: Make = as_model) -> Channel:
    """A conversations.list entry → Channel."""
    channel_id = raw.get("id")
    if not channel_id:
        raise SkippableRecord("Slack conversation without an id")
    topic = raw.get("topic")
    topic_value = topic.get("value") if isinstance(topic, Mapping) else topic
    is_private = raw.get("is_private")
    if is_private is None and any(k in raw for k in ("is_group", "is_im", "is_mpim")):
        # older payloads mark private channels as groups and have no is_private
        is_private = bool(raw.get("is_group") or raw.get("is_im") or raw.get("is_mpim"))
    updated = raw.get("updated")
    if isinstance(updated, int | float) and updated > 0:
        when: float | None = updated / 1000 if updated > 1e11 else updated   # ms epoch
    else:
        created = raw.get("created")
        when = created if isinstance(created, int | float) and created > 0 else None
    return make(
        Channel, source=source, source_id=channel_id, channel_id=channel_id,
        name=raw.get("name"), is_private=is_private, is_archived=raw.get("is_archived"),
        topic=topic_value or None, member_count=raw.get("num_members"),
        updated_at=to_iso(when),
    )


def normalize_user(raw: Mapping[str, Any], source: str, make: Make = as_model) -> User:
    """A users.list member → User. `user_id` is the Slack id, as in SlackEvent.user_id."""
    user_id = raw.get("id")
    if not user_id:
        raise SkippableRecord("Slack user without an id")
    profile = raw.get("profile") if isinstance(raw.get("profile"), Mapping) else {}
    updated = raw.get("updated")
    return make(
        User, source=source, source_id=user_id, user_id=user_id, source_user_id=user_id,
        login=raw.get("name") or None,
        display_name=_display_name(profile, raw),
        email=profile.get("email") or None,     # only with the users:read.email scope
        updated_at=to_iso(updated) if isinstance(updated, int | float) and updated else None,
    )


# ---------------------------------------------------------------------------

def _message_records(raw: Mapping[str, Any], source: str, channel_id: str,
                     channel_name: str | None, *, store_text: bool,
                     classifier: TagSource | None, make: Make,
                     users: bool) -> list[Record]:
    ts = raw.get("ts")
    if not ts:
        raise SkippableRecord(f"Slack message in {channel_id} without a ts")
    ts = str(ts)
    when = _epoch(ts, channel_id)
    subtype = raw.get("subtype")
    thread_ts = raw.get("thread_ts")
    is_parent = thread_ts is not None and str(thread_ts) == ts
    edited_ts = _get(raw.get("edited"), "ts")
    latest_reply = raw.get("latest_reply") if is_parent else None
    deleted = subtype == "tombstone"
    latest = max(_epoch(v, channel_id) for v in (ts, edited_ts, latest_reply) if v)
    stamp = to_iso(when)

    fields: dict[str, Any] = {}
    if not deleted:
        fields = _text_fields(raw.get("text"), store_text)
        if store_text:
            payload = {k: raw[k] for k in PAYLOAD_KEYS if raw.get(k) not in (None, [], {})}
            fields["payload"] = payload or None
        if classifier is not None:
            fields["tags"] = list(classifier.classify(raw))
    event = make(
        SlackEvent, source=source, source_id=f"{channel_id}:{ts}", event_id=f"{channel_id}:{ts}",
        channel_id=channel_id, channel_name=channel_name,
        type=raw.get("type") or "message", subtype=subtype,
        user_id=raw.get("user"), bot_id=raw.get("bot_id"),
        thread_ts=str(thread_ts) if thread_ts is not None else None,
        ts=ts, timestamp=stamp, updated_at=stamp if latest == when else to_iso(latest),
        reply_count=raw.get("reply_count") if is_parent else None,
        latest_reply=latest_reply,
        edited_at=to_iso(_epoch(edited_ts, channel_id)) if edited_ts else None,
        deleted=deleted, **fields,
    )
    records: list[Record] = [event]
    profile = raw.get("user_profile")
    if users and isinstance(profile, Mapping) and raw.get("user"):
        uid = raw["user"]
        records.append(make(User, source=source, source_id=uid, user_id=uid,
                            source_user_id=uid, login=profile.get("name") or None,
                            display_name=_display_name(profile, {})))
    return records


def _text_fields(text: Any, store_text: bool) -> dict[str, Any]:
    if not isinstance(text, str):
        return {}
    return {
        "text": text if store_text else None,
        "text_length": len(text),
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }


def _display_name(profile: Mapping[str, Any], raw: Mapping[str, Any]) -> str | None:
    """What Slack shows: the display name if set, else the real name, else the handle."""
    for value in (profile.get("display_name"), profile.get("real_name"),
                  raw.get("real_name"), raw.get("name")):
        if value:
            return value
    return None


def _epoch(ts: Any, channel_id: str) -> float:
    try:
        return float(ts)
    except (TypeError, ValueError):
        raise SkippableRecord(f"Slack message in {channel_id} has a malformed ts {ts!r}") from None


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else None
