"""The Slack streams: `channels`, `users` and `messages` (→ slack_events).

`messages` has one partition per channel: the configured `channels` (ids or
names), or every channel of `channel_types` the bot is a member of. A channel
that cannot be read (the bot is not in it, a scope is missing, it is gone) is a
per-channel warning; the others sync. See messages.py for the incremental pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dihub.connectors.slack.client import SlackClient, SlackSession
from dihub.connectors.slack.errors import ChannelSkipped, MissingScope
from dihub.connectors.slack.messages import DELETED, ChannelPass
from dihub.connectors.slack.normalize import (
    deleted_event,
    normalize_channel,
    normalize_message,
    normalize_user,
)
from dihub.connectors.stream import Page, Stream
from dihub.errors import FatalError
from dihub.models import SyncState
from dihub.models.plain import build
from dihub.timeutil import parse

LIST_LIMIT = 999          # conversations.list: "a limit value under 1000"
USERS_LIMIT = 200         # users.list: Slack recommends no more than 200
LIST_SCOPES = {"channels:read": "public_channel", "groups:read": "private_channel",
               "mpim:read": "mpim", "im:read": "im"}


# -- channels ------------------------------------------------------------------------------

def list_channels(ctx: SlackSession, client: SlackClient | None = None) -> list[dict[str, Any]]:
    """conversations.list of the configured types, once per run (shared by streams)."""
    def listing() -> list[dict[str, Any]]:
        channels: list[dict[str, Any]] = []
        for resp in _listing(ctx, client or ctx.slack):
            channels.extend(resp.data.get("channels") or [])
        return channels
    return ctx.channels.get(listing)


def _listing(ctx: SlackSession, client: SlackClient) -> Iterator[Any]:
    """The pages of conversations.list. A type whose read scope the app lacks (e.g.
    groups:read for private channels) is dropped with a warning naming the scope, so
    the other types still sync; if no type is left, the error stands."""
    types = list(ctx.config.channel_types)
    while True:     # not paging (client.pages pages): the listing again, one type fewer
        pages = 0
        try:
            for resp in client.pages("conversations.list", {
                    "types": ",".join(types), "limit": LIST_LIMIT, "exclude_archived": "false"}):
                pages += 1
                yield resp
            return
        except MissingScope as err:
            dropped = LIST_SCOPES.get(err.needed or "")
            if pages or dropped not in types or len(types) == 1:
                raise
            types.remove(dropped)
            message = (f"{ctx.source}: not listing {dropped} channels: the Slack app lacks "
                       f"the {err.needed} scope (add it and reinstall the app to sync them)")
            ctx.warn(message, entity="channels", action="list",
                     detail={"needed": err.needed})


def channel_pages(ctx: SlackSession, partition: str, state: SyncState) -> Iterator[Page]:
    client = ctx.slack
    channels: list[dict[str, Any]] = []
    for resp in _listing(ctx, client):
        items = resp.data.get("channels") or []
        channels.extend(items)
        yield Page(items, raw_size=resp.size)
    ctx.channels.setdefault(channels)


def _normalize_channel(raw: dict, ctx: SlackSession, partition: str):
    return [normalize_channel(raw, ctx.source, build)]


# -- users ---------------------------------------------------------------------------------

def user_pages(ctx: SlackSession, partition: str, state: SyncState) -> Iterator[Page]:
    client = ctx.slack
    for resp in client.pages("users.list", {"limit": USERS_LIMIT}):
        yield Page(resp.data.get("members") or [], raw_size=resp.size)


def _normalize_user(raw: dict, ctx: SlackSession, partition: str):
    return [normalize_user(raw, ctx.source, build)]


# -- messages ------------------------------------------------------------------------------

def channel_partitions(ctx: SlackSession) -> list[str]:
    """Channel ids to sync. A configured name that is not found stays as `#name`,
    so that channel alone is reported (skipped) and the others sync."""
    channels = list_channels(ctx)
    names = {c["id"]: c.get("name") for c in channels if c.get("id")}
    ctx.names.clear()
    ctx.names.update(names)
    wanted = ctx.config.channels
    if wanted:
        by_name = {n: cid for cid, n in names.items() if n}
        return list(dict.fromkeys(_resolve(ref, names, by_name) for ref in wanted))
    members = [c["id"] for c in channels if c.get("is_member") and c.get("id")]
    if not members:
        raise FatalError(
            f"{ctx.source}: the bot is a member of none of the "
            f"{len(channels)} channel(s) of types {', '.join(ctx.config.channel_types)}",
            hint="Invite it with /invite @<your app> in the channels to sync, or list "
                 "channel ids under `channels:` in the config.")
    return members


def _resolve(ref: str, names: dict[str, Any], by_name: dict[str, str]) -> str:
    bare = ref[1:] if ref.startswith("#") else ref
    if bare in names:
        return bare
    if bare in by_name:
        return by_name[bare]
    if not ref.startswith("#") and _looks_like_id(bare):
        return bare          # an id the listing does not show: history will say why
    return f"#{bare}"


def _looks_like_id(ref: str) -> bool:
    return len(ref) >= 9 and ref[0] in "CGD" and ref.isalnum() and ref.isupper()


def message_pages(ctx: SlackSession, partition: str, state: SyncState) -> Iterator[Page]:
    names = ctx.names
    if partition.startswith("#"):
        raise ChannelSkipped(
            f"channel {partition} was not found among the workspace's "
            f"{'/'.join(ctx.config.channel_types)} channels; skipping it", channel=partition,
            hint="Check the name under `channels:` (a private channel is only listed once "
                 "the app is invited to it and has groups:read).")
    name = names.get(partition)
    label = f"#{name}" if name else partition
    client = ctx.slack
    floor = parse(ctx.config.start_date).timestamp() if ctx.config.start_date else 0.0
    try:
        yield from ChannelPass(ctx, client, partition, label, state, floor).run()
    except MissingScope as err:
        # A scope one channel type needs (groups:history for private channels): that
        # channel is skipped with the fix in the message; the others sync.
        raise ChannelSkipped(f"{label} ({partition}) is skipped: {err}", channel=partition,
                             hint=err.hint) from None


def _normalize_message(raw: dict, ctx: SlackSession, partition: str):
    store_text, classifier = ctx.message_options
    name = ctx.names.get(partition)
    if DELETED in raw:
        kept = {"thread_ts": raw["thread_ts"]} if raw.get("thread_ts") else {}
        return [deleted_event(ctx.source, partition, name, raw[DELETED], raw.get("noticed"),
                              make=build, **kept)]
    # users come from the users stream; a message's partial profile would overwrite them
    return normalize_message(raw, ctx.source, partition, name, store_text=store_text,
                             classifier=classifier, make=build, users=False)


channels = Stream(
    name="channels", entity="channels", fetch=channel_pages, normalize=_normalize_channel,
    description="Channels of the configured channel_types (conversations.list), read in full "
                "each run; unchanged ones are not rewritten.",
)
users = Stream(
    name="users", entity="users", fetch=user_pages, normalize=_normalize_user,
    description="Workspace members (users.list); email only with the users:read.email scope.",
)
messages = Stream(
    name="messages", entity="slack_events", fetch=message_pages,
    normalize=_normalize_message, partitions=channel_partitions, cursor_field="ts",
    after=("channels",),     # its partitions come from the listing the channels stream read
    description="Messages and every thread reply, one partition per channel; re-reads a "
                "look-back window for new replies, edits and deletions.",
)
