"""The parts of conversations.history and conversations.replies answers that the pass,
the normalizer and the classifier read.

A page's body is read into one of these shapes (`dihub.jsoncodec.reading`): the keys
named here come out as the json module reads them; every other key (`blocks` and
`attachments` unless they are stored or classified, `reply_users`, `team`, `user_profile`,
...) is skipped without being built. A body in which a named key has another type than
the one here is read whole instead. Raw payloads (kept with `store_text`) are the body's
text, which this does not touch. Keep these in step with what messages.py, normalize.py,
classify.py and errors.py read.
"""

from __future__ import annotations

from typing import Any, TypedDict


class Message(TypedDict, total=False):
    """What the pass and the normalizer read of a message (normalize._message_records,
    normalize_message, messages._WALKED)."""
    type: Any
    subtype: Any
    ts: Any
    thread_ts: Any
    user: Any
    bot_id: Any
    text: Any
    edited: Any
    reply_count: Any
    latest_reply: Any
    deleted_ts: Any
    message: Any                # message_changed / message_replied: the new state, whole
    previous_message: Any


class ContentMessage(Message, total=False):
    """A message with what a stored payload (normalize.PAYLOAD_KEYS) and the classifier
    (classify.searchable_text) read as well."""
    attachments: Any
    blocks: Any
    files: Any
    reactions: Any
    username: Any
    parent_user_id: Any
    reply_users: Any


class _Answer(TypedDict, total=False):
    """The envelope: errors.error_from_response and the cursor (client.CURSOR_PAGES)."""
    ok: Any
    error: Any
    needed: Any
    provided: Any
    response_metadata: Any
    has_more: Any


class Messages(_Answer, total=False):
    messages: list[Message]


class ContentMessages(_Answer, total=False):
    messages: list[ContentMessage]
