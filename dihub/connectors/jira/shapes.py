"""The parts of Jira's search and changelog bodies that the streams and normalizers read.

A response body is read into these shapes (`dihub.jsoncodec.reading`): the keys named
here come out as the json module reads them, every other key (`self` URLs, avatar URLs,
time zones, icon URLs, descriptions, ...) is skipped without being built. A search page
with `expand=changelog` and a bulk changelog page are several MB each, mostly such keys,
so this is most of the memory a sync takes while it reads them. A body in which a named
key has another type than the one here (say `author` is a string) is read whole instead,
so a malformed item reaches the normalizer exactly as Jira sent it.

Keep these in step with what normalize.py, streams.py and client.py read. The issue
`fields` shape depends on the site's custom fields (story points, Sprint): see
`search_page`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypedDict


class User(TypedDict, total=False):         # normalize.user_id and normalize_user
    accountId: Any
    key: Any
    name: Any
    displayName: Any
    emailAddress: Any
    accountType: Any


# a changelog item: "from" is a keyword, hence the functional form
Item = TypedDict("Item", {"field": Any, "fieldtype": Any, "fieldId": Any, "from": Any,
                          "fromString": Any, "to": Any, "toString": Any}, total=False)


class History(TypedDict, total=False):      # normalize._transitions, _sprint_changes
    id: Any
    created: Any
    author: User | None
    items: list[Item | None] | None


class Changelog(TypedDict, total=False):    # an issue's `changelog` (expand=changelog)
    startAt: Any
    maxResults: Any
    total: Any
    histories: list[History | None] | None


class Named(TypedDict, total=False):        # status, issuetype, priority
    name: Any
    statusCategory: Keyed | None


class Keyed(TypedDict, total=False):        # project, statusCategory
    key: Any


_FIXED: dict[str, Any] = {
    "summary": Any, "status": Named | None, "issuetype": Named | None,
    "priority": Named | None, "assignee": User | None, "reporter": User | None,
    "created": Any, "updated": Any, "resolutiondate": Any, "project": Keyed | None,
    "labels": Any,
    "sprint": Any, "closedSprints": Any,      # Agile 1.0 issue bodies (_issue_sprint_ids)
}


@lru_cache(maxsize=16)
def search_page(custom: tuple[str, ...] = ()) -> Any:
    """The shape of a search page (Cloud /search/jql and Data Center /search) whose
    issues carry the `custom` fields (story points, Sprint) besides the fixed ones;
    the values of custom fields are read whole. The same `custom` gives the same shape
    (and so the same decoder)."""
    fields = TypedDict("Fields", {**_FIXED, **{f: Any for f in custom}},
                       total=False)
    # functional forms: a class body's annotations (strings here) could not see `fields`
    issue = TypedDict("Issue", {"id": Any, "key": Any, "fields": fields | None,  # noqa: UP013
                                "changelog": Changelog | None}, total=False)
    return TypedDict("SearchPage", {"issues": list[issue | None] | None, "isLast": Any,
                                    "nextPageToken": Any, "total": Any, "startAt": Any,
                                    "maxResults": Any}, total=False)


class IssueChangeLog(TypedDict, total=False):
    issueId: Any
    changeHistories: list[History | None] | None


class BulkChangelogPage(TypedDict, total=False):    # POST /rest/api/3/changelog/bulkfetch
    issueChangeLogs: list[IssueChangeLog | None] | None
    nextPageToken: Any


class ChangelogPage(TypedDict, total=False):        # GET /rest/api/3/issue/{id}/changelog
    values: list[History | None] | None
    startAt: Any
    maxResults: Any
    total: Any
    isLast: Any


class IssueWithChangelog(TypedDict, total=False):   # DC GET /issue/{id}?expand=changelog
    id: Any
    key: Any
    changelog: Changelog | None


def search_page_for(fields: list[str]) -> Any:
    """`search_page` for a search that asks for `fields`."""
    return search_page(tuple(f for f in fields if f not in _FIXED))


BULK_CHANGELOG_PAGE = BulkChangelogPage
ISSUE_CHANGELOG_PAGE = ChangelogPage
ISSUE_CHANGELOG = IssueWithChangelog
