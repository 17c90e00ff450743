"""Jira payloads → dihub records. Pure functions: no I/O, no clock.

Handles Jira Cloud (REST v3, Agile 1.0) and Data Center (REST v2) shapes:
users are identified by `accountId` on Cloud and by `key` (stable across renames;
`name` is the login) on Data Center; the Sprint field is a list of objects on
Cloud and a list of `com.atlassian.greenhopper.service.sprint.Sprint@…[…]`
strings on old Data Center versions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from dihub.errors import SkippableRecord
from dihub.models.records import Issue, Record, Sprint, SprintChange, Transition, User
from dihub.timeutil import parse, to_iso

__all__ = [
    "changelog_is_truncated",
    "compact_histories",
    "merge_changelog",
    "normalize_issue",
    "normalize_sprint",
    "normalize_user",
    "parse_sprint_string",
    "sprint_board_ids",
    "sprint_ids_from",
    "transitions_from_changelog",
    "user_id",
]

# ----------------------------------------------------------------------------- issues


def normalize_issue(raw: dict[str, Any], source: str, *, story_points_field: str | None,
                    sprint_field: str | None, histories: list[dict[str, Any]] | None = None
                    ) -> list[Record]:
    """One issue → [Issue, User…] (assignee, reporter, changelog authors; each once).

    `histories` are the complete changelog when the caller fetched more pages
    (see `merge_changelog`); by default the embedded `changelog.histories` is used.
    Raises SkippableRecord when the issue has no `id` or `key`.
    """
    issue_id, key = raw.get("id"), raw.get("key")
    if not issue_id or not key:
        raise SkippableRecord(
            f"Jira issue without {'id' if not issue_id else 'key'} "
            f"(id={issue_id!r}, key={key!r})",
            hint="The search must return the issue id and key; they identify the record.")
    fields = raw.get("fields") or {}
    where = f"Jira issue {key}"
    if histories is None:
        histories = (raw.get("changelog") or {}).get("histories") or []
    status = fields.get("status") or {}
    assignee, reporter = fields.get("assignee"), fields.get("reporter")
    ordered = _sorted_histories(histories)

    issue = Issue(
        source=source,
        source_id=str(issue_id),
        issue_id=key,
        project_key=(fields.get("project") or {}).get("key") or key.rsplit("-", 1)[0],
        summary=fields.get("summary") or "",
        status=status.get("name"),
        status_category=(status.get("statusCategory") or {}).get("key"),
        type=(fields.get("issuetype") or {}).get("name"),
        priority=(fields.get("priority") or {}).get("name"),
        story_points=_number(fields.get(story_points_field)) if story_points_field else None,
        assignee_id=user_id(assignee),
        reporter_id=user_id(reporter),
        sprint_ids=_issue_sprint_ids(fields, sprint_field),
        labels=[str(label) for label in fields.get("labels") or []],
        created_at=_timestamp(fields.get("created"), f"{where}: created"),
        updated_at=_timestamp(fields.get("updated"), f"{where}: updated"),
        resolved_at=_timestamp(fields.get("resolutiondate"), f"{where}: resolutiondate"),
        transitions=_transitions(ordered),
        sprint_changes=_sprint_changes(ordered, sprint_field),
    )
    people = [assignee, reporter, *(h.get("author") for h in ordered)]
    return [issue, *_users(people, source)]


def _issue_sprint_ids(fields: dict[str, Any], sprint_field: str | None) -> list[str]:
    """Sprints from the Sprint custom field plus, on Agile 1.0 responses, the
    `sprint` (current) and `closedSprints` fields."""
    values: list[Any] = []
    if sprint_field:
        values.append(fields.get(sprint_field))
    values += [fields.get("sprint"), fields.get("closedSprints")]
    ids: set[str] = set()
    for value in values:
        ids.update(sprint_ids_from(value))
    return sorted(ids, key=_id_order)


def sprint_ids_from(value: Any) -> list[str]:
    """Sprint ids from a Sprint field value: a list (or one) of Cloud objects with `id`,
    or of Data Center `…Sprint@hash[id=7,…]` strings. Unrecognised entries are ignored."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        if isinstance(item, dict):
            found = item.get("id")
        elif isinstance(item, str):
            found = parse_sprint_string(item).get("id")
        else:
            found = None
        if found is not None and str(found) not in ids:
            ids.append(str(found))
    return ids


_SPRINT_STRING = re.compile(r"^[\w.$]+@[0-9a-fA-F]+\[(?P<body>.*)\]\s*$", re.DOTALL)
_SPRINT_ATTR_SPLIT = re.compile(r",(?=[A-Za-z]+=)")


def parse_sprint_string(text: str) -> dict[str, str | None]:
    """Parse `com.atlassian.greenhopper.service.sprint.Sprint@1bf75fd[id=1,rapidViewId=1,
    state=CLOSED,name=Sprint 1,startDate=…,…]` into {attribute: value}; `<null>` → None.

    Attributes are split at a comma followed by `word=`, so sprint names with commas
    survive. Anything that is not such a string gives {}.
    """
    match = _SPRINT_STRING.match(text.strip())
    if not match:
        return {}
    attrs: dict[str, str | None] = {}
    for part in _SPRINT_ATTR_SPLIT.split(match.group("body")):
        name, sep, value = part.partition("=")
        if sep and name not in attrs:
            attrs[name] = None if value == "<null>" else value
    return attrs


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


# -------------------------------------------------------------------------- changelog


def transitions_from_changelog(histories: list[dict[str, Any]]) -> list[Transition]:
    """Status changes, oldest first (by `created`, then history id).

    Endpoints disagree on order (the issue changelog pages are oldest first, some
    embedded changelogs newest first), so the histories are always sorted. A history
    without a readable `created` cannot be placed in time and is left out.
    """
    return _transitions(_sorted_histories(histories))


def _transitions(ordered: list[dict[str, Any]]) -> list[Transition]:
    """transitions_from_changelog for histories already in order."""
    transitions = []
    for history in ordered:
        items = [item for item in history.get("items") or [] if _is_status_item(item)]
        if not items:
            continue
        timestamp = _history_time(history)
        if timestamp is None:
            continue
        author, at = user_id(history.get("author")), to_iso(timestamp)
        transitions.extend(Transition(from_status=item.get("fromString"),
                                      to_status=item.get("toString"), author_id=author,
                                      timestamp=at) for item in items)
    return transitions


def _sprint_changes(ordered: list[dict[str, Any]], sprint_field: str | None
                    ) -> list[SprintChange]:
    """Changes of the Sprint field, oldest first: the sprint ids before and after each
    (the item's `from`/`to` are comma-separated ids), for sprint commitment."""
    changes = []
    for history in ordered:
        timestamp = _history_time(history)
        if timestamp is None:
            continue
        for item in history.get("items") or []:
            if _is_sprint_item(item, sprint_field):
                changes.append(SprintChange(from_sprint_ids=_id_list(item.get("from")),
                                            to_sprint_ids=_id_list(item.get("to")),
                                            timestamp=to_iso(timestamp)))
    return changes


def _is_sprint_item(item: dict[str, Any], sprint_field: str | None) -> bool:
    if sprint_field and item.get("fieldId") == sprint_field:
        return True
    return item.get("field") == "Sprint" and item.get("fieldtype", "custom") == "custom"


def _id_list(value: Any) -> list[str]:
    if not isinstance(value, str):
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def _is_status_item(item: dict[str, Any]) -> bool:
    if "fieldId" in item:
        return item["fieldId"] == "status"
    # Older Data Center items carry no fieldId; a custom field named "status" has
    # fieldtype "custom".
    return item.get("field") == "status" and item.get("fieldtype", "jira") == "jira"


def merge_changelog(embedded: dict[str, Any] | None,
                    extra_pages: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The embedded changelog (`expand=changelog`) plus histories from
    /issue/{id}/changelog pages (each page's `values`), without duplicates (by history
    id; the embedded copy wins), oldest first."""
    merged: dict[str, dict[str, Any]] = {}
    for history in [*((embedded or {}).get("histories") or []),
                    *(h for page in extra_pages for h in page or [])]:
        hid = history.get("id")
        key = f"id:{hid}" if hid is not None else "body:" + json.dumps(history, sort_keys=True)
        merged.setdefault(key, history)
    return _sorted_histories(merged.values())


_AUTHOR_KEYS = ("accountId", "key", "name", "displayName", "emailAddress", "accountType")


def compact_histories(histories: list[dict[str, Any]], sprint_field: str | None,
                      shared: dict[tuple, dict[str, Any]] | None = None
                      ) -> list[dict[str, Any]]:
    """`histories` cut down to what `normalize_issue` reads, so a changelog held for a
    while takes little memory: each history's id, created and author (the attributes
    `normalize_user` reads) and, of its items, the status and Sprint changes (whole).
    Equal authors and equal items share one dict through `shared` (nothing changes
    them afterwards). A history without an id is kept as it is (`merge_changelog` tells
    those apart by their whole body). Normalizing the result gives exactly the records
    the full histories give."""
    if shared is None:
        shared = {}
    out = []
    for h in histories:
        if not isinstance(h, dict) or h.get("id") is None:
            out.append(h)
            continue
        slim: dict[str, Any] = {"id": h["id"]}
        if "created" in h:
            slim["created"] = h["created"]
        author = h.get("author")
        if isinstance(author, dict):
            slim["author"] = _shared(shared, "author", tuple(
                (k, author[k]) for k in _AUTHOR_KEYS if k in author))
        elif author is not None:
            slim["author"] = author
        items = h.get("items")
        if isinstance(items, list):
            kept = [_shared(shared, "item", tuple(i.items())) for i in items
                    if isinstance(i, dict) and (
                        _is_status_item(i) or _is_sprint_item(i, sprint_field))]
            if kept:                     # none: as good as no items, and smaller
                slim["items"] = kept
        elif items is not None:
            slim["items"] = items
        out.append(slim)
    return out


def _shared(shared: dict[tuple, dict[str, Any]], kind: str, pairs: tuple) -> dict[str, Any]:
    """The dict of `pairs`, one for all equal ones of this `kind` in `shared`."""
    try:
        return shared.setdefault((kind, pairs), dict(pairs))
    except TypeError:            # an unhashable value (a list): keep this one apart
        return dict(pairs)


def changelog_is_truncated(embedded: dict[str, Any] | None) -> bool:
    """True when the embedded changelog holds fewer histories than its `total`: the
    rest must be fetched from /rest/api/3/issue/{id}/changelog."""
    if not embedded:
        return False
    total = embedded.get("total")
    if not isinstance(total, int):
        return False
    return total > len(embedded.get("histories") or [])


_LAST = datetime.max.replace(tzinfo=UTC)


def _sorted_histories(histories: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(histories,
                  key=lambda h: (_history_time(h) or _LAST, _id_order(h.get("id"))))


def _history_time(history: dict[str, Any]) -> datetime | None:
    created = history.get("created")
    if not isinstance(created, str) or not created:
        return None
    try:
        return parse(created)
    except ValueError:
        return None


def _id_order(value: Any) -> tuple[int, int, str]:
    """Numeric ids in numeric order, anything else after them in text order."""
    text = "" if value is None else str(value)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


# ------------------------------------------------------------------------------ users


def user_id(raw: dict[str, Any] | None) -> str | None:
    """Cloud `accountId`, else Data Center `key` (survives renames), else `name`."""
    if not raw:
        return None
    for attr in ("accountId", "key", "name"):
        value = raw.get(attr)
        if value:
            return str(value)
    return None


def normalize_user(raw: dict[str, Any], source: str) -> User:
    """A Jira user object (assignee, reporter, author, /user) → User keyed by its id.

    `email` is set only when the site shows it (Cloud hides it by user privacy
    settings); `login` is the Data Center username (Cloud has none).
    """
    uid = user_id(raw)
    if uid is None:
        raise SkippableRecord(
            f"Jira user without accountId, key or name: {raw.get('displayName')!r}",
            hint="The user object carries no identifier; it cannot be stored.")
    return User(
        source=source,
        source_id=uid,
        user_id=uid,
        source_user_id=uid,
        login=raw.get("name") or None,
        display_name=raw.get("displayName") or None,
        email=raw.get("emailAddress") or None,
        account_type=raw.get("accountType") or None,   # Cloud: atlassian, app, customer
    )


def _users(people: Iterable[dict[str, Any] | None], source: str) -> list[User]:
    users: dict[str, User] = {}
    for person in people:
        uid = user_id(person)
        if person and uid is not None and uid not in users:
            users[uid] = normalize_user(person, source)
    return list(users.values())


# ---------------------------------------------------------------------------- sprints


def normalize_sprint(raw: dict[str, Any], source: str, board_id: str | int | None) -> Sprint:
    """An Agile 1.0 sprint (board sprint list or GET /sprint/{id}) → Sprint.

    `board_id` is the board the sprint was listed from; the sprint's own
    `originBoardId` takes precedence, because a sprint shared by several boards must
    normalize the same way whichever board listed it (otherwise its content signature
    would change on every pass). `updated_at` is the latest of the complete, end and
    start dates (sprints carry no modification time), or None for an undated sprint.
    """
    sid = raw.get("id")
    if sid is None:
        raise SkippableRecord(f"Jira sprint without id (name={raw.get('name')!r})")
    where = f"Jira sprint {sid}"
    dates = {attr: _timestamp(raw.get(attr), f"{where}: {attr}")
             for attr in ("startDate", "endDate", "completeDate")}
    origin = raw.get("originBoardId")
    if origin is None:
        origin = board_id
    state = raw.get("state")
    return Sprint(
        source=source,
        source_id=str(sid),
        sprint_id=str(sid),
        board_id=None if origin is None else str(origin),
        name=raw.get("name") or "",
        state=state.lower() if isinstance(state, str) else None,
        start_date=dates["startDate"],
        end_date=dates["endDate"],
        complete_date=dates["completeDate"],
        goal=raw.get("goal") or None,
        updated_at=max((d for d in dates.values() if d), default=None),
    )


def sprint_board_ids(boards: Iterable[dict[str, Any]]) -> list[str]:
    """Ids of the boards (GET /rest/agile/1.0/board `values`) whose sprints can be
    listed: every board but kanban ones, for which /board/{id}/sprint answers 400.
    Team-managed ("simple") boards are kept: they may have sprints switched on."""
    return [str(b["id"]) for b in boards if b.get("id") is not None and b.get("type") != "kanban"]


# ------------------------------------------------------------------------------- time


def _timestamp(value: Any, where: str) -> str | None:
    """A Jira date-time string → stored format. Jira sends strings only; a non-string
    (Atlassian's OpenAPI examples put `"updated": 1`) has no known unit and gives None.
    An unparsable string skips the record rather than storing a wrong time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return to_iso(value)
    except ValueError as exc:
        raise SkippableRecord(f"{where}: unreadable timestamp {value!r}",
                              hint="Report the payload; Jira timestamps are ISO 8601.") from exc
