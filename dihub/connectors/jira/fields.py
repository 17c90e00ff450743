"""Find the custom fields that hold story points and sprints.

Jira gives every custom field a site-specific id (`customfield_10016` on one site,
`customfield_10105` on another), so the ids are looked up once per sync in the
field list (GET /rest/api/3/field on Cloud, /rest/api/2/field on Data Center).
Pure functions: the caller fetches the list.
"""

from __future__ import annotations

import re
from typing import Any

# Jira Software's managed "Story point estimate" (Cloud, team- and company-managed).
JSW_STORY_POINTS = "com.pyxis.greenhopper.jira:jsw-story-points"
# The classic "Story Points" field is a plain number custom field.
FLOAT_FIELD = "com.atlassian.jira.plugin.system.customfieldtypes:float"
# Advanced Roadmaps (formerly Portfolio, "jpo"): "Original story points", a baseline.
JPO_ORIGINAL_STORY_POINTS = "com.atlassian.jpo:jpo-custom-field-original-story-points"
STORY_POINT_TYPES = (JSW_STORY_POINTS, FLOAT_FIELD, JPO_ORIGINAL_STORY_POINTS)
STORY_POINT_NAMES = ("story point estimate", "story points")

GH_SPRINT = "com.pyxis.greenhopper.jira:gh-sprint"
SPRINT_NAME = "sprint"

_FIELD_ID = re.compile(r"^customfield_\d+$")


def discover_story_points_field(fields: list[dict[str, Any]], configured: str | None = None
                                ) -> str | None:
    """The id of the story-points field, or None when the site has none we can trust.

    `configured` (a field id or a field name, from the source config) wins: it is
    returned when the list has a field with that id or (case-insensitive) name. A
    configured `customfield_N` that the list lacks is still returned, since the
    operator named it and the field list is filtered by the caller's permissions. Any
    other configured value that matches nothing gives None rather than a guess, so a
    typo cannot silently swap in a different field.

    Without configuration, in order: the Jira Software "Story point estimate" type,
    then a number field named "Story point estimate", then one named "Story Points".
    Fields such as Advanced Roadmaps' "Original story points" (a baseline, not the
    current estimate) are used only when configured.
    """
    if configured:
        return _configured(fields, configured)
    for field in fields:
        if _custom_type(field) == JSW_STORY_POINTS:
            return field.get("id")
    for name in STORY_POINT_NAMES:
        for field in fields:
            if _name(field) == name and _is_story_points_typed(field):
                return field.get("id")
    return None


def discover_sprint_field(fields: list[dict[str, Any]], configured: str | None = None
                          ) -> str | None:
    """The id of the Sprint field: the `gh-sprint` type first (the name is localized and
    may be renamed), then a field named "Sprint". `configured` wins as above."""
    if configured:
        return _configured(fields, configured)
    for field in fields:
        if _custom_type(field) == GH_SPRINT:
            return field.get("id")
    for field in fields:
        if _name(field) == SPRINT_NAME and field.get("custom", True):
            return field.get("id")
    return None


def _configured(fields: list[dict[str, Any]], configured: str) -> str | None:
    wanted = configured.strip()
    for field in fields:
        if field.get("id") == wanted:
            return wanted
    for field in fields:
        if _name(field) == wanted.casefold():
            return field.get("id")
    return wanted if _FIELD_ID.match(wanted) else None


def _name(field: dict[str, Any]) -> str:
    return str(field.get("name") or "").strip().casefold()


def _custom_type(field: dict[str, Any]) -> str | None:
    return (field.get("schema") or {}).get("custom")


def _is_story_points_typed(field: dict[str, Any]) -> bool:
    """A field named like story points counts only if it holds a number (a text field
    called "Story Points" would give values we cannot sum)."""
    schema = field.get("schema")
    if not schema:
        return True
    if schema.get("custom") in STORY_POINT_TYPES:
        return True
    return schema.get("type") == "number"


def story_point_fields(fields: list[dict[str, Any]], configured: str | None = None
                       ) -> list[str]:
    """Every field that may hold an issue's story points, best first.

    A configured field is the only one (or none, see `discover_story_points_field`).
    Otherwise the discovered field comes first, then the other number fields named
    "Story point estimate" / "Story Points": a site often has both, team-managed
    projects filling the first and company-managed ones the second, so each issue
    takes the first of them that has a value.
    """
    first = discover_story_points_field(fields, configured)
    if configured:
        return [first] if first else []
    ids = [first] if first else []
    for field in fields:
        fid = field.get("id")
        if fid and fid not in ids and (
                _custom_type(field) == JSW_STORY_POINTS
                or (_name(field) in STORY_POINT_NAMES and _is_story_points_typed(field))):
            ids.append(fid)
    return ids
