"""The Web API methods the simulator serves, as pure functions of (workspace, params).

Each returns the JSON body Slack would send with HTTP 200: `{"ok": true, ...}` or
`{"ok": false, "error": ...}` (Slack reports errors in the body, not the status).

Paging follows Slack: `limit` + `cursor`, and `response_metadata.next_cursor` when
there is more (omitted on the last page, as in the recorded last-page fixture).
Cursors are opaque base64 strings in Slack's own style ("next_ts:<ts>",
"team:<channel id>", "user:<user id>"); a cursor that does not decode is
`invalid_cursor`.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .data import Channel, Workspace, us_of

DEFAULT_SCOPES = ("channels:read", "groups:read", "channels:history", "groups:history",
                  "users:read", "users:read.email")
TYPES = ("public_channel", "private_channel", "mpim", "im")
LIST_SCOPE = {"public_channel": "channels:read", "private_channel": "groups:read",
              "mpim": "mpim:read", "im": "im:read"}
MAX_LIMIT = {"conversations.history": 999, "conversations.replies": 1000,
             "conversations.list": 1000, "users.list": 1000}
DEFAULT_LIMIT = {"conversations.history": 100, "conversations.replies": 1000,
                 "conversations.list": 100, "users.list": 0}


class ApiError(Exception):
    def __init__(self, error: str, **extra: Any):
        super().__init__(error)
        self.body = {"ok": False, "error": error, **extra}


@dataclass
class Call:
    ws: Workspace
    method: str
    params: dict[str, str]
    scopes: frozenset[str]

    def need(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ApiError("missing_scope", needed=scope, provided=",".join(sorted(self.scopes)))

    def limit(self) -> int:
        raw = self.params.get("limit")
        if raw in (None, ""):
            value = DEFAULT_LIMIT[self.method]
        else:
            try:
                value = int(raw)
            except ValueError:
                raise ApiError("invalid_limit") from None
        if value <= 0:
            return 1 << 30
        return min(value, MAX_LIMIT[self.method])

    def cursor(self, prefix: str) -> str | None:
        raw = self.params.get("cursor")
        if not raw:
            return None
        try:
            text = base64.b64decode(raw.encode(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError("invalid_cursor") from None
        if not text.startswith(prefix):
            raise ApiError("invalid_cursor")
        return text[len(prefix):]

    def channel(self) -> Channel:
        ref = self.params.get("channel")
        if not ref or ref not in self.ws.channels:
            raise ApiError("channel_not_found")
        ch = self.ws.channels[ref]
        self.need("groups:history" if ch.private else "channels:history")
        if not ch.member:
            raise ApiError("not_in_channel")
        return ch


def cursor_of(prefix: str, value: str) -> str:
    return base64.b64encode(f"{prefix}{value}".encode()).decode()


def _paged(body: dict[str, Any], next_cursor: str | None) -> dict[str, Any]:
    if next_cursor:
        body["response_metadata"] = {"next_cursor": next_cursor}
    return body


def _bound(value: str | None, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return us_of(value)
    except ValueError:
        raise ApiError("invalid_ts_oldest") from None


# -- methods -------------------------------------------------------------------------------

def auth_test(call: Call) -> dict[str, Any]:
    ws = call.ws
    return {"ok": True, "url": f"https://{ws.team['domain']}.slack.com/",
            "team": ws.team["name"], "user": ws.bot["name"], "team_id": ws.team["id"],
            "user_id": ws.bot["user_id"], "bot_id": ws.bot["bot_id"],
            "is_enterprise_install": False}


def conversations_list(call: Call) -> dict[str, Any]:
    types = [t.strip() for t in call.params.get("types", "public_channel").split(",") if t]
    if not types or any(t not in TYPES for t in types):
        raise ApiError("invalid_types")
    for t in types:
        call.need(LIST_SCOPE[t])
    exclude_archived = call.params.get("exclude_archived") in ("true", "1")
    chans = [ch for ch in call.ws.channels.values()
             if ("private_channel" if ch.private else "public_channel") in types
             and not (exclude_archived and ch.info.get("is_archived"))]
    start = 0
    after = call.cursor("team:")
    if after is not None:
        ids = [ch.id for ch in chans]
        if after not in ids:
            raise ApiError("invalid_cursor")
        start = ids.index(after)
    limit = call.limit()
    page = chans[start:start + limit]
    more = chans[start + limit:start + limit + 1]
    body = {"ok": True, "channels": [dict(ch.info, is_member=ch.member) for ch in page]}
    return _paged(body, cursor_of("team:", more[0].id) if more else None)


def conversations_history(call: Call) -> dict[str, Any]:
    """Newest first, between `oldest` and `latest` (exclusive unless `inclusive`)."""
    ch = call.channel()
    inclusive = call.params.get("inclusive") in ("true", "1")
    oldest = _bound(call.params.get("oldest"), 0)
    latest = _bound(call.params.get("latest"), 1 << 62)
    lo = bisect_left(ch.keys, oldest) if inclusive else bisect_right(ch.keys, oldest)
    hi = bisect_right(ch.keys, latest) if inclusive else bisect_left(ch.keys, latest)
    start_at = call.cursor("next_ts:")
    if start_at is not None:
        try:
            hi = min(hi, bisect_right(ch.keys, us_of(start_at)))
        except ValueError:
            raise ApiError("invalid_cursor") from None
    limit = call.limit()
    first = max(lo, hi - limit)
    page = ch.messages[first:hi][::-1]
    more = first > lo
    body = {"ok": True, "messages": page, "has_more": more, "pin_count": 0}
    return _paged(body, cursor_of("next_ts:", ch.messages[first - 1]["ts"]) if more else None)


def conversations_replies(call: Call) -> dict[str, Any]:
    """The parent first (on the first page), then its replies oldest first."""
    ch = call.channel()
    ts = call.params.get("ts")
    if not ts:
        raise ApiError("invalid_arguments")
    msg = ch.find(ts)
    if msg is None:
        raise ApiError("thread_not_found")
    parent_ts = msg.get("thread_ts") or ts
    try:
        parent = ch.message(parent_ts)
    except KeyError:
        raise ApiError("thread_not_found") from None
    replies = ch.threads.get(parent_ts, [])
    keys = [us_of(r["ts"]) for r in replies]
    inclusive = call.params.get("inclusive") in ("true", "1")
    oldest = _bound(call.params.get("oldest"), 0)
    latest = _bound(call.params.get("latest"), 1 << 62)
    lo = bisect_left(keys, oldest) if inclusive else bisect_right(keys, oldest)
    hi = bisect_right(keys, latest) if inclusive else bisect_left(keys, latest)
    start_at = call.cursor("next_ts:")
    head: list[dict[str, Any]] = [parent]
    if start_at is not None:
        try:
            lo = max(lo, bisect_left(keys, us_of(start_at)))
        except ValueError:
            raise ApiError("invalid_cursor") from None
        head = []
    limit = call.limit()
    room = max(1, limit - len(head))
    page = replies[lo:min(hi, lo + room)]
    more = lo + room < hi
    body = {"ok": True, "messages": head + page, "has_more": more}
    return _paged(body, cursor_of("next_ts:", replies[lo + room]["ts"]) if more else None)


def users_list(call: Call) -> dict[str, Any]:
    call.need("users:read")
    users = call.ws.users
    start = 0
    after = call.cursor("user:")
    if after is not None:
        ids = [u["id"] for u in users]
        if after not in ids:
            raise ApiError("invalid_cursor")
        start = ids.index(after)
    limit = call.limit()
    page = [dict(u) for u in users[start:start + limit]]
    if "users:read.email" not in call.scopes:
        for u in page:
            u["profile"] = {k: v for k, v in u["profile"].items() if k != "email"}
    more = users[start + limit:start + limit + 1]
    body = {"ok": True, "members": page, "cache_ts": call.ws.clock_us // 1_000_000}
    return _paged(body, cursor_of("user:", more[0]["id"]) if more else None)


METHODS: dict[str, Callable[[Call], dict[str, Any]]] = {
    "auth.test": auth_test,
    "conversations.list": conversations_list,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "users.list": users_list,
}


def dispatch(call: Call) -> dict[str, Any]:
    fn = METHODS.get(call.method)
    if fn is None:
        return {"ok": False, "error": "unknown_method"}
    try:
        return fn(call)
    except ApiError as err:
        return err.body
