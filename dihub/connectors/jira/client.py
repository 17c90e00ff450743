"""Jira's endpoints and paging quirks, over the shared HTTP layer (dihub.http).

Cloud (REST v3)                          Data Center (REST v2)
  GET /rest/api/3/search/jql               GET /rest/api/2/search
      nextPageToken / isLast                   startAt / total (see search_dc)
  POST /rest/api/3/changelog/bulkfetch     GET /rest/api/2/issue/{id}?expand=changelog
      (GET /rest/api/3/issue/{id}/changelog for what the bulk answer leaves out)
  GET /rest/api/3/users/search             GET /rest/api/2/user/search?username=.
  GET /rest/api/3/myself, /field           GET /rest/api/2/myself, /field
Both: GET /rest/agile/1.0/board and /board/{id}/sprint (startAt / isLast).

One HttpClient per source and run, the session's (retries, Jira's rate-limit policy
from limits.py: Retry-After, X-RateLimit-Reset, RateLimit-Reason into the audit
log), bound per stream for accounting; the session also keeps the run's Site.
Errors a person can act on are rewritten here: a rejected JQL (exit 2, quoting Jira
and the JQL), a removed or unsupported endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dihub.connectors.jira.auth import credentials, login_hint
from dihub.connectors.jira.fields import discover_sprint_field, story_point_fields
from dihub.connectors.jira.jql import jql_date
from dihub.connectors.jira.limits import POLICY as LIMITS
from dihub.connectors.jira.normalize import compact_histories
from dihub.connectors.jira.shapes import (
    BULK_CHANGELOG_PAGE,
    ISSUE_CHANGELOG,
    ISSUE_CHANGELOG_PAGE,
    search_page_for,
)
from dihub.connectors.session import Once, Session
from dihub.errors import ConfigError, FatalError, UsageError
from dihub.http import HttpClient, HttpFatalError, NotFound, Response
from dihub.http.paging import JsonCursor, Offset
from dihub.jsoncodec import reading
from dihub.timeutil import parse, to_iso

AGILE = "/rest/agile/1.0"
CHANGELOG_PAGE = 100          # the changelog endpoint's maximum
BULK_ISSUES = 1000            # issueIdsOrKeys in one bulk changelog request (its maximum)
BULK_PAGE = 4000              # histories asked for per bulk changelog page: below the
                              # documented maximum (10,000), since a page is decoded at once
                              # (~8 MB of histories and ~5 MB of body at 5,000; 4,000 took
                              # 3 MB off a sync's peak for 2 more requests in 79, see
                              # BENCHMARKS.md); the default is 1,000, a smaller page pages on
AGILE_PAGE = 50               # the Agile API's maximum
USERS_PAGE = 1000
SEEN_KEPT = 1000              # issues a Data Center checkpoint lists as read (see search_dc)
UTC_ZONE = ZoneInfo("UTC")

# Cloud search: nextPageToken until isLast (or no token)
SEARCH_PAGES = JsonCursor("nextPageToken", "nextPageToken", items="issues", last="isLast")
# Agile boards and sprints: startAt until isLast, the total, or an empty page
AGILE_PAGES = Offset(items="values", size_param="maxResults", size=AGILE_PAGE)
# bulk changelogs: nextPageToken (in the JSON body, like the request's) until there is none
BULK_PAGES = JsonCursor("nextPageToken", "nextPageToken", items="issueChangeLogs")
# users: both searches may return short pages before the end; only an empty one ends
USER_PAGES = Offset(size_param="maxResults", size=USERS_PAGE, stop=("empty",))


class JqlError(UsageError):
    """Jira refused the search (400): the message quotes Jira and the JQL (exit 2)."""


@dataclass(frozen=True)
class Site:
    """What a sync learns once per run: the account's zone and the custom field ids."""

    zone: ZoneInfo
    zone_name: str
    zone_known: bool
    story_points_fields: tuple[str, ...]
    sprint_field: str | None

    def fields(self) -> list[str]:
        base = ["summary", "status", "issuetype", "priority", "assignee", "reporter",
                "created", "updated", "resolutiondate", "project", "labels"]
        extra = [*self.story_points_fields, *([self.sprint_field] if self.sprint_field else [])]
        return base + [f for f in extra if f not in base]

    # An interrupted pass keeps its Site in the checkpoint and its resumed run uses it
    # (no /myself and /field requests, the same field mapping for the whole pass) as long
    # as the config keys that shape it are unchanged.
    def to_json(self, config: Any) -> dict[str, Any]:
        return {"zone": self.zone_name, "zone_known": self.zone_known,
                "story_points_fields": list(self.story_points_fields),
                "sprint_field": self.sprint_field, "config": _site_keys(config)}

    @classmethod
    def from_json(cls, data: Any, config: Any) -> Site | None:
        """The Site saved by `to_json`; None if it is unreadable or the config changed."""
        if not isinstance(data, dict) or data.get("config") != _site_keys(config):
            return None
        try:
            known = data["zone_known"] is True
            zone = ZoneInfo(data["zone"]) if known else UTC_ZONE
            points = tuple(str(f) for f in data["story_points_fields"])
            sprint = data["sprint_field"]
            return cls(zone, str(data["zone"]), known, points,
                       str(sprint) if sprint is not None else None)
        except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError):
            return None


def _site_keys(config: Any) -> list[str | None]:
    return [config.timezone, config.story_points_field, config.sprint_field]


@dataclass
class SearchPage:
    """One search response. `next` is where the request after it starts, for a
    checkpoint (Cloud: {"token"}; Data Center: {"lower", "start_at", "seen"}); None on
    the last page."""

    issues: list[dict[str, Any]]
    response: Response
    next: dict[str, Any] | None = None


class StaleToken(Exception):  # noqa: N818 - a condition, not a failure to report
    """Jira refused a nextPageToken saved by an earlier run (expired or invalid)."""


class JiraSession(Session):
    """One run of a Jira source: its client and the Site the run uses."""

    def __init__(self, run: Any):
        super().__init__(run)
        self.site: Once[Site] = Once()

    def open_http(self) -> HttpClient:
        cfg = self.config
        return self.build_http(cfg.base_url, auth=credentials(self.source, cfg),
                               limits=LIMITS, auth_hint=login_hint(self.source, cfg),
                               headers={"Accept": "application/json"})

    @property
    def jira(self) -> JiraClient:
        """Jira's endpoints over this stream's view of the run's client."""
        return JiraClient(self.http, self.config, self.source)


class JiraClient:
    def __init__(self, http: HttpClient, config: Any, source: str):
        self.http, self.config, self.source = http, config, source
        self.cloud = config.is_cloud
        self.api = "/rest/api/3" if self.cloud else "/rest/api/2"

    # -- requests -----------------------------------------------------------------------
    def get(self, path: str, params: Any = None, *, raw_errors: tuple[int, ...] = ()
            ) -> Response:
        """GET; an HttpFatalError whose status is in `raw_errors` reaches the caller as
        is, any other one is explained (removed or unsupported endpoints)."""
        try:
            return self.http.get(path, params=params)
        except HttpFatalError as err:
            if err.status in raw_errors:
                raise
            raise self._explain(err) from None

    def _getter(self, raw_errors: tuple[int, ...] = (), shape: Any = None
                ) -> Callable[[str, Any], Response]:
        """`get` for a paginator, with these `raw_errors`; with `shape`, the bodies are
        read into it (shapes.py)."""
        if shape is None:
            return lambda path, params: self.get(path, params, raw_errors=raw_errors)

        def get(path: str, params: Any) -> Response:
            with reading(shape):
                return self.get(path, params, raw_errors=raw_errors)
        return get

    def _explain(self, err: HttpFatalError) -> Exception:
        quoted = f' ("{err.upstream_message}")' if err.upstream_message else ""
        where = f"{self.source}: {err.method} {err.path}"
        if err.status == 410:
            return FatalError(
                f"{where} -> 410 Gone: Jira has removed this API{quoted}",
                hint="dihub searches with /rest/api/3/search/jql on Jira Cloud and "
                     "/rest/api/2/search on Data Center: check `deployment:` in the config; "
                     "if Jira retired another endpoint, upgrade dihub.")
        if err.status in (404, 405) and err.path.startswith(("/rest/", self._prefix())):
            kind = "Jira Software (Agile API)" if AGILE in err.path else \
                f"REST API {self.api.rsplit('/', 1)[-1]}"
            return FatalError(
                f"{where} -> {err.status}: this site does not serve {kind}{quoted}",
                hint=f"Check `base_url` and `deployment:` (now "
                     f"{'cloud' if self.cloud else 'datacenter'}): Jira Cloud serves "
                     "/rest/api/3, Data Center /rest/api/2.")
        return err

    def _prefix(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.config.base_url).path.rstrip("/") + "/rest/"

    # -- site -----------------------------------------------------------------------------
    def site(self, cache: Once[Site], resumed: Site | None = None) -> Site:
        """The run's Site: discovered once per run, or `resumed` (an interrupted pass's)."""
        return cache.get(lambda: resumed or self._discover())

    def _discover(self) -> Site:
        cfg = self.config
        me = self.get(f"{self.api}/myself").data or {}
        name = cfg.timezone or me.get("timeZone") or ""
        try:
            zone, known = ZoneInfo(name), True
        except (ZoneInfoNotFoundError, ValueError):
            zone, known, name = UTC_ZONE, False, name or "unknown"
        fields = self.get(f"{self.api}/field").data or []
        points = story_point_fields(fields, cfg.story_points_field)
        if cfg.story_points_field and not points:
            raise ConfigError(f"no field {cfg.story_points_field!r} on {cfg.base_url}",
                              key=f"sources.{self.source}.story_points_field",
                              hint="Use a field id (customfield_10016) or its exact name.")
        sprint = discover_sprint_field(fields, cfg.sprint_field)
        if cfg.sprint_field and not sprint:
            raise ConfigError(f"no field {cfg.sprint_field!r} on {cfg.base_url}",
                              key=f"sources.{self.source}.sprint_field")
        return Site(zone, name, known, tuple(points), sprint)

    # -- search ---------------------------------------------------------------------------
    def _search(self, path: str, params: dict[str, Any], jql: str) -> Response:
        """One search page, its body read into the shape of what the streams read
        (shapes.py: the requested `fields`, the changelog's ids, dates, author identities
        and items)."""
        try:
            with reading(search_page_for(params["fields"].split(","))):
                return self.http.get(path, params=params)
        except HttpFatalError as err:
            if err.status == 400:
                raise JqlError(
                    f'{self.source}: Jira rejected the search: "{err.upstream_message}" — '
                    f"JQL: {jql}",
                    hint=f"Fix `jql:` (or `projects:`) under sources.{self.source} in the "
                         "config. dihub adds `AND updated >= ...` and its own ORDER BY "
                         "to it.") from None
            raise self._explain(err) from None

    def search_cloud(self, jql: str, fields: list[str], token: str | None = None
                     ) -> Iterator[SearchPage]:
        """/rest/api/3/search/jql: follow nextPageToken until isLast. With `token` (saved
        by an interrupted run, for this same `jql`), start at that page; StaleToken if
        Jira refuses it (before anything is yielded)."""
        resumed = [token is not None]

        def search(path: str, params: Any) -> Response:
            try:
                return self._search(path, params, jql)
            except JqlError:
                if resumed[0]:
                    raise StaleToken() from None
                raise
            finally:
                resumed[0] = False

        params = {"jql": jql, "fields": ",".join(fields), "expand": "changelog",
                  "maxResults": self.config.page_size}
        for page in self.http.paginate(f"{self.api}/search/jql", SEARCH_PAGES, params,
                                       start=token, get=search):
            found = SearchPage(page.items, page.response,
                               None if page.last else {"token": page.next})
            # only `found` refers to the response now: a caller that drops its body
            # (raw payloads off) drops it before the next request, not after it
            del page
            yield found
            del found

    def search_dc(self, jql_for: Callable[[datetime | None], str], since: datetime | None,
                  fields: list[str], zone: ZoneInfo, start: int = 0,
                  seen: dict[str, str] | None = None) -> Iterator[SearchPage]:
        """/rest/api/2/search with startAt, restarted from the newest minute read.

        Bespoke paging, not a dihub.http paginator: the query and the offset of the next
        page depend on the issues of this one (below).

        Plain offset paging over `ORDER BY updated` skips an issue whenever one already
        read is edited meanwhile (it moves to the end and everything shifts down). So
        each page restarts the query at the minute of the newest issue read, with
        startAt 0, and drops issues already read at the same `updated`; startAt only
        grows while a whole page falls in that one minute (a bulk edit).

        Each page's `next` ({"lower", "start_at", "seen"}) is the next request's query
        and the issues already read that it returns again; `start` and `seen` resume
        there (an interrupted run's checkpoint).
        """
        lower = since
        seen = dict(seen or {})
        while True:
            jql = jql_for(lower)
            params = {"jql": jql, "fields": ",".join(fields), "expand": "changelog",
                      "startAt": start, "maxResults": self.config.page_size}
            resp = self._search(f"{self.api}/search", params, jql)
            data = resp.data if isinstance(resp.data, dict) else {}
            issues = list(data.get("issues") or [])
            fresh = [i for i in issues if seen.get(str(i.get("id"))) != _updated(i)]
            for i in issues:
                seen[str(i.get("id"))] = _updated(i)
            total = data.get("total")
            if not issues or (isinstance(total, int) and start + len(issues) >= total):
                yield SearchPage(fresh, resp)
                return
            newest = max((parse(u) for i in issues if (u := _updated(i))), default=None)
            if newest is not None and (lower is None or
                                       jql_date(newest, zone) != jql_date(lower, zone)):
                lower, start = newest, 0
                keep = newest - timedelta(hours=2)
                seen = {k: u for k, u in seen.items() if u and parse(u) >= keep}
            else:
                start += len(issues)
            yield SearchPage(fresh, resp, {"lower": to_iso(lower), "start_at": start,
                                           "seen": _seen_again(seen, lower)})
            # the caller may have dropped this page's body: do not keep it (nor the
            # decoded page) alive here during the next request
            del resp, data, issues, fresh

    # -- changelog ------------------------------------------------------------------------
    def changelog(self, issue_id: str, embedded: dict[str, Any] | None = None
                  ) -> list[dict[str, Any]] | None:
        """The histories of one issue (oldest first) that complete `embedded` (the changelog
        a search returned); None when the issue is gone.

        Cloud pages /issue/{id}/changelog oldest first and stops as soon as those pages
        and the embedded histories (the newest 40 in an enhanced search) add up to the
        total, so the newest are not fetched twice.
        """
        try:
            return self._changelog(issue_id, embedded or {})
        except NotFound:
            return None

    def bulk_changelogs(self, issue_ids: list[str], field_ids: list[str] | None,
                        sprint_field: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Cloud: the histories of up to BULK_ISSUES issues from POST
        /rest/api/3/changelog/bulkfetch, by issue id (each list in the order received).

        With `field_ids`, Jira returns only histories that change one of those fields,
        each with only those fields' items. The pages are one stream over the whole
        list, oldest history first across all the issues (by date, then issue id), so
        one issue's histories may continue on the next page; the `nextPageToken` belongs
        to this exact list and fields, and goes back in the body with them. Every page
        is read: an issue is complete only at the end.

        Each page is read into the shape of what the records read (shapes.py), and its
        histories are cut down as it arrives (`compact_histories`, with `sprint_field`),
        so what is kept of earlier pages is small while the next one is read.
        """
        body: dict[str, Any] = {"issueIdsOrKeys": issue_ids, "maxResults": BULK_PAGE}
        if field_ids:
            body["fieldIds"] = field_ids
        out: dict[str, list[dict[str, Any]]] = {}
        shared: dict[tuple, dict[str, Any]] = {}
        for page in self.http.paginate(f"{self.api}/changelog/bulkfetch", BULK_PAGES, body,
                                       get=self._poster(BULK_CHANGELOG_PAGE)):
            _add_histories(out, page.items, sprint_field, shared)
            del page                # this page, body and all, before the next request
        return out

    def _poster(self, shape: Any) -> Callable[[str, Any], Response]:
        """POST `body` as JSON, for a paginator whose page position goes in the body;
        the answer is read into `shape`. A 404 or 405 (a site without the endpoint)
        reaches the caller as is."""
        def post(path: str, body: Any) -> Response:
            try:
                with reading(shape):
                    resp = self.http.post(path, json=body)
                # the body is read, and an answer to a POST is never kept as a raw
                # payload: its bytes need not wait while the page is used
                object.__setattr__(resp, "raw", None)
                return resp
            except HttpFatalError as err:
                if err.status in (404, 405):
                    raise
                raise self._explain(err) from None
        return post

    def _changelog(self, issue_id: str, embedded: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.cloud:
            with reading(ISSUE_CHANGELOG):
                resp = self.get(f"{self.api}/issue/{issue_id}",
                                {"expand": "changelog", "fields": "updated"}, raw_errors=(404,))
            return list(((resp.data or {}).get("changelog") or {}).get("histories") or [])
        have = {str(h.get("id")) for h in embedded.get("histories") or [] if h.get("id")}

        def all_known(data: Any, values: list[Any], offset: int) -> bool:
            """With the embedded histories, every one of the total is known."""
            have.update(str(h.get("id")) for h in values if h.get("id"))
            total = data.get("total") if isinstance(data, dict) else None
            return isinstance(total, int) and len(have) >= total

        pages = Offset(items="values", size_param="maxResults", size=CHANGELOG_PAGE,
                       done=all_known)
        return [h for page in self.http.paginate(
            f"{self.api}/issue/{issue_id}/changelog", pages,
            get=self._getter((404,), ISSUE_CHANGELOG_PAGE))
            for h in page.items]

    # -- agile ----------------------------------------------------------------------------
    def _agile_pages(self, path: str, params: dict[str, Any],
                     raw_errors: tuple[int, ...] = (), start: int = 0
                     ) -> Iterator[tuple[Response, int | None]]:
        """Each page with the startAt of the next one (None after the last)."""
        for page in self.http.paginate(path, AGILE_PAGES, params, start=start,
                                       get=self._getter(raw_errors)):
            yield page.response, page.next

    def boards(self) -> list[dict[str, Any]]:
        return [b for resp, _ in self._agile_pages(f"{AGILE}/board", {})
                for b in (resp.data or {}).get("values") or []]

    def board_sprints(self, board_id: str, start: int = 0
                      ) -> Iterator[tuple[Response, int | None]]:
        """Pages of the board's sprints from `start`, each with the next startAt (None
        after the last). Raises HttpFatalError as is for 400 (a board without sprints),
        403 and 404."""
        return self._agile_pages(f"{AGILE}/board/{board_id}/sprint",
                                 {"state": "future,active,closed"}, raw_errors=(400, 403, 404),
                                 start=start)

    # -- users ----------------------------------------------------------------------------
    def user_pages(self, start: int = 0) -> Iterator[tuple[Response, int | None]]:
        """Cloud /users/search or DC /user/search from `start`, until an empty page (both
        may return short pages before the end, so a short page is not the last). Each
        page comes with the next startAt; the empty one that ends the list with None."""
        path = f"{self.api}/users/search" if self.cloud else f"{self.api}/user/search"
        extra = {} if self.cloud else {"username": "."}
        for page in self.http.paginate(path, USER_PAGES, extra, start=start,
                                       get=self._getter()):
            yield page.response, page.next


def _add_histories(out: dict[str, list[dict[str, Any]]], logs: list[Any],
                   sprint_field: str | None, shared: dict[tuple, dict[str, Any]]) -> None:
    """A bulk changelog page's histories (`issueChangeLogs`), cut down, into `out`."""
    for log in logs:
        if isinstance(log, dict) and log.get("issueId") is not None:
            out.setdefault(str(log["issueId"]), []).extend(compact_histories(
                [h for h in log.get("changeHistories") or [] if isinstance(h, dict)],
                sprint_field, shared))


def _seen_again(seen: dict[str, str], lower: datetime | None) -> dict[str, str]:
    """The issues already read that a query from `lower` (by the minute) can return
    again: those a resumed run must not hand over twice. At most SEEN_KEPT, the newest:
    without the others a resumed run only re-reads a few issues from the same page."""
    again = lower - timedelta(minutes=1) if lower is not None else None
    kept = [(parse(u), k, u) for k, u in seen.items() if u]
    kept = [x for x in kept if again is None or x[0] >= again]
    kept.sort(reverse=True)
    return {k: u for _, k, u in kept[:SEEN_KEPT]}


def _updated(issue: dict[str, Any]) -> str:
    return str((issue.get("fields") or {}).get("updated") or "")
