"""The Jira streams: issues (incremental by `updated`), sprints (per board), users.

Every page carries the position after it (the engine checkpoints it with the page's
records: dihub/engine/runner.py), so a run stopped at any page (exit 75, SIGKILL,
Ctrl-C...) continues at the last checkpoint on the next run:

issues  Cursor, between passes: the newest `updated` read, as UTC ISO. Each pass
        searches `(jql) AND updated >= <cursor - overlap_minutes>` ordered by `updated`
        ASC, 100 issues a request with `expand=changelog` and only the fields the
        record needs. Issues re-read inside the overlap normalize to the same
        signature, so they are not written again. Changelogs Jira truncated in the
        search are completed before their page is handed over (they are part of it):
        on Cloud with the bulk changelog endpoint, one read for the truncated issues
        of a run of consecutive pages (see _completed_in_bulk), asking only for the
        changes of the fields the records read; on Data Center from each issue, a few
        at a time.
        During a pass the cursor is {"updated": <newest so far>, "resume": {...}}: the
        next request of the pass (Cloud: the query's lower bound and nextPageToken;
        Data Center: the restarted query's lower bound, startAt and the issues it would
        return again), with a digest of its JQL. A resumed run sends that request; if
        the JQL would now differ (`jql`, `projects` or the zone changed) or Jira refuses
        the saved token, it searches from `updated` minus the overlap instead. The last
        page of a pass leaves the plain `updated` cursor.
sprints Every sprint (future, active, closed) of each board: `boards:` from the
        config, else every board that can have sprints. Re-read in full each pass
        (a site has hundreds, not millions); unchanged ones are not written. During a
        pass the cursor is {"start_at": N} (the next page); None once the board is read.
users   Every account the credentials can list, with email where Jira shows it. The
        cursor works as for sprints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from dihub.connectors.jira.client import (
    BULK_ISSUES,
    BULK_PAGE,
    JiraClient,
    JiraSession,
    SearchPage,
    Site,
    StaleToken,
)
from dihub.connectors.jira.jql import lower_bound, search_jql
from dihub.connectors.jira.normalize import (
    changelog_is_truncated,
    compact_histories,
    merge_changelog,
    normalize_issue,
    normalize_sprint,
    normalize_user,
    sprint_board_ids,
)
from dihub.connectors.stream import Page, Stream
from dihub.errors import PartitionSkipped, SkippableRecord
from dihub.http import HttpFatalError
from dihub.models import SyncState
from dihub.timeutil import parse, to_iso

UNKNOWN_ZONE_MARGIN = timedelta(hours=14)     # the widest UTC offset in use
MAX_HELD_PAGES = 10       # search pages that may wait for one bulk changelog read
SKIP = "_dihub_skip"


def _page(items: list[dict], resp: Any, ctx: JiraSession, **cursor: Any) -> Page:
    return ctx.page(items, resp, **cursor)


# ------------------------------------------------------------------------------- issues


def issue_pages(ctx: JiraSession, partition: str, state: SyncState) -> Iterator[Page]:
    cfg = ctx.config
    client = ctx.jira
    saved = state.cursor if isinstance(state.cursor, dict) else {"updated": state.cursor}
    resume = saved.get("resume") if isinstance(saved.get("resume"), dict) else None
    site = client.site(ctx.site, Site.from_json((resume or {}).get("site"), cfg))
    margin = timedelta()
    if not site.zone_known:
        margin = UNKNOWN_ZONE_MARGIN
        ctx.log.warning("%s: the account's time zone (%s) is unknown here; searching %d h "
                        "earlier to be safe (set `timezone:` to avoid it)", ctx.source,
                        site.zone_name, UNKNOWN_ZONE_MARGIN.total_seconds() // 3600)
    cursor = saved.get("updated")
    since = lower_bound(cursor, cfg.start_date, cfg.overlap_minutes, margin)

    def jql_for(lower: datetime | None) -> str:
        return search_jql(cfg.jql, cfg.projects, lower, site.zone)

    pages = _compacted(ctx, _search_pages(ctx, client, jql_for, since, resume, site),
                       site.sprint_field)
    saved_site = site.to_json(cfg)
    workers = max(1, client.http.settings.concurrency)
    with ThreadPoolExecutor(workers, thread_name_prefix="jira-changelog") as pool:
        if client.cloud:
            pages = _completed_in_bulk(ctx, client, pages, pool, _changelog_fields(site),
                                       site.sprint_field)
        for n, (page, nxt) in enumerate(pages):
            data = page.response.data if n == 0 else None
            if isinstance(data, dict) and isinstance(data.get("total"), int):  # Data Center
                ctx.progress_total(partition, data["total"] - int(data.get("startAt") or 0))
            if not client.cloud:
                _complete_changelogs(client, page.issues, pool, site.sprint_field)
            newest = max((u for i in page.issues if (u := _updated_iso(i))), default=None)
            if newest and (cursor is None or newest > cursor):
                cursor = newest
            yield _page(page.issues, page.response, ctx,
                        cursor=cursor if nxt is None else
                        {"updated": cursor, "resume": {**nxt, "site": saved_site}})


def _search_pages(ctx: JiraSession, client: JiraClient, jql_for: Callable[[Any], str],
                  since: datetime | None, resume: Any, site: Site
                  ) -> Iterator[tuple[SearchPage, dict[str, Any] | None]]:
    """The pass's search pages, each with where the next request starts (None after the
    last): from `resume` (an interrupted pass's next request) when it still applies,
    else from `since`."""
    fields = site.fields()

    def marked(pages: Iterator[SearchPage], lower: datetime | None):
        for page in pages:
            nxt = page.next
            if nxt is not None:
                at = parse(nxt["lower"]) if nxt.get("lower") else lower
                nxt = {**nxt, "lower": to_iso(at), "jql": _digest(jql_for(at))}
            yield page, nxt

    usable, lower = _resume_at(resume)
    if usable:
        token, start = resume.get("token"), resume.get("start_at")
        if resume.get("jql") != _digest(jql_for(lower)):
            ctx.log.info("%s: the search changed since the interrupted pass (jql, projects "
                         "or time zone); searching again from the last `updated` read",
                         ctx.source)
        elif client.cloud and isinstance(token, str):
            try:
                yield from marked(client.search_cloud(jql_for(lower), fields, token=token),
                                  lower)
                return
            except StaleToken:
                ctx.log.info("%s: Jira no longer accepts the saved page token; searching "
                             "again from the last `updated` read", ctx.source)
        elif not client.cloud and isinstance(start, int):
            seen = resume.get("seen") if isinstance(resume.get("seen"), dict) else {}
            yield from marked(client.search_dc(jql_for, lower, fields, site.zone, start,
                                               seen), lower)
            return
    if client.cloud:
        yield from marked(client.search_cloud(jql_for(since), fields), since)
    else:
        yield from marked(client.search_dc(jql_for, since, fields, site.zone), since)


def _compacted(ctx: JiraSession, pages: Iterator[tuple[SearchPage, Any]],
               sprint_field: str | None) -> Iterator[tuple[SearchPage, Any]]:
    """The search pages with each embedded changelog cut down to what the records read
    (see `compact_histories`), and the response body released once decoded (unless raw
    payloads are kept): a page may wait for a bulk changelog read with others, and a
    search page's changelog items (every field's changes) and author objects (with
    their avatar URLs) are most of its size."""
    keep_body = ctx.raw_payloads
    for page, nxt in pages:
        authors: dict[tuple, dict[str, Any]] = {}
        for issue in page.issues:
            log = issue.get("changelog")
            if isinstance(log, dict) and isinstance(log.get("histories"), list):
                log["histories"] = compact_histories(log["histories"], sprint_field, authors)
        if not keep_body:
            # in place: the paginator still refers to this response while the page waits
            # (.size stays known)
            object.__setattr__(page.response, "raw", None)
        yield page, nxt


def _resume_at(resume: Any) -> tuple[bool, datetime | None]:
    """Whether a saved next request is readable, and the lower bound of its query."""
    if not isinstance(resume, dict):
        return False, None
    try:
        return True, parse(resume["lower"]) if resume.get("lower") else None
    except (TypeError, ValueError):
        return False, None


def _digest(jql: str) -> str:
    return hashlib.sha256(jql.encode()).hexdigest()[:16]


def _updated_iso(issue: dict[str, Any]) -> str | None:
    try:
        return to_iso((issue.get("fields") or {}).get("updated"))
    except (ValueError, TypeError):
        return None


def _changelog_fields(site: Site) -> list[str] | None:
    """The fields whose changes the records read (status transitions, sprint changes):
    what a bulk changelog request asks for. None (every field) when the site has no
    Sprint field, since sprint changes are then recognized by the field's name."""
    return ["status", site.sprint_field] if site.sprint_field else None


def _completed_in_bulk(ctx: JiraSession, client: JiraClient,
                       pages: Iterator[tuple[SearchPage, Any]], pool: ThreadPoolExecutor,
                       fields: list[str] | None, sprint_field: str | None = None
                       ) -> Iterator[tuple[SearchPage, Any]]:
    """Cloud: the search pages, in order, each once the changelogs the search truncated
    are complete, read with the bulk changelog endpoint.

    Consecutive pages with truncated changelogs share one bulk read (a group): up to
    BULK_ISSUES issues, and until the histories expected (what the searches say is
    missing, times the share of it that earlier bulk reads returned with `fields`) fill
    a bulk page. A page without truncated changelogs ends the group before it, so no
    page is held back that needs nothing. A group's pages are handed over together,
    after its bulk read, each with its own cursor: a run stopped during a bulk read
    resumes at the group's first page and reads the group again.
    """
    held: list[tuple[SearchPage, Any, list[dict[str, Any]]]] = []
    share = [1.0]           # histories returned / histories the searches said were missing

    def expected() -> float:
        return share[0] * sum(_missing(i) for _, _, truncated in held for i in truncated)

    def flush() -> Iterator[tuple[SearchPage, Any]]:
        issues = [i for _, _, truncated in held for i in truncated]
        if issues:
            returned = _complete_in_bulk(ctx, client, issues, pool, fields, sprint_field)
            missing = sum(_missing(i) for i in issues)
            if missing and fields:
                share[0] = min(1.0, max(0.05, returned / missing))
        out = [(page, nxt) for page, nxt, _ in held]
        held.clear()
        yield from out

    for page, nxt in pages:
        truncated = [i for i in page.issues if changelog_is_truncated(i.get("changelog"))]
        count = sum(len(t) for _, _, t in held)
        if held and (not truncated or count + len(truncated) > BULK_ISSUES):
            yield from flush()
        if not truncated:
            yield page, nxt
            continue
        held.append((page, nxt, truncated))
        if expected() >= BULK_PAGE or len(held) >= MAX_HELD_PAGES:
            yield from flush()
    yield from flush()


def _missing(issue: dict[str, Any]) -> int:
    """Histories of `issue` its search did not embed."""
    log = issue.get("changelog") or {}
    total = log.get("total")
    return max(0, total - len(log.get("histories") or [])) if isinstance(total, int) else 0


def _complete_in_bulk(ctx: JiraSession, client: JiraClient, issues: list[dict[str, Any]],
                      pool: ThreadPoolExecutor, fields: list[str] | None,
                      sprint_field: str | None = None) -> int:
    """Complete the changelogs of `issues` (in place) with one bulk read; returns how
    many histories it returned. An issue the answer leaves out although its embedded
    changelog holds a change of `fields` (deleted meanwhile, or out of reach) is read
    on its own, which tells a deleted issue (404) from one without older changes."""
    ids = [str(i.get("id") or i.get("key")) for i in issues]
    try:
        found = client.bulk_changelogs(ids, fields, sprint_field)
    except HttpFatalError as err:
        if err.status not in (404, 405):
            raise
        ctx.log.info("%s: %s %s -> %d; reading the truncated changelogs one issue at a "
                     "time", ctx.source, err.method, err.path, err.status)
        _complete_changelogs(client, issues, pool, sprint_field)
        return 0
    alone = []
    for issue, iid in zip(issues, ids, strict=True):
        rest = found.get(iid)
        if rest is None and _has_change_of(issue.get("changelog"), fields):
            alone.append(issue)
            continue
        _set_histories(issue, [rest or []], sprint_field)
    _complete_changelogs(client, alone, pool, sprint_field)
    return sum(len(h) for h in found.values())


def _has_change_of(changelog: dict[str, Any] | None, fields: list[str] | None) -> bool:
    histories = (changelog or {}).get("histories") or []
    if fields is None:
        return bool(histories)
    return any(item.get("fieldId") in fields for h in histories
               for item in h.get("items") or [] if isinstance(item, dict))


def _set_histories(issue: dict[str, Any], extra_pages: list[list[dict[str, Any]]],
                   sprint_field: str | None = None) -> None:
    histories = compact_histories(merge_changelog(issue.get("changelog"), extra_pages),
                                  sprint_field)
    issue["changelog"] = {"startAt": 0, "maxResults": len(histories),
                          "total": len(histories), "histories": histories}


def _complete_changelogs(client: JiraClient, issues: list[dict[str, Any]],
                         pool: ThreadPoolExecutor, sprint_field: str | None = None) -> None:
    """Fetch the rest of every changelog the search truncated (in place), one issue at
    a time, a few at once (Data Center; Cloud for what a bulk read left out)."""
    truncated = [i for i in issues if changelog_is_truncated(i.get("changelog"))]

    def complete(issue: dict[str, Any]) -> None:
        rest = client.changelog(str(issue.get("id") or issue.get("key")),
                                issue.get("changelog"))
        if rest is None:
            issue[SKIP] = (f"Jira issue {issue.get('key')} disappeared (404) while its "
                           "changelog was read: deleted or moved out of reach")
            return
        _set_histories(issue, [rest], sprint_field)

    list(pool.map(complete, truncated))


def _normalize_issue(raw: dict[str, Any], ctx: JiraSession, partition: str):
    if raw.get(SKIP):
        raise SkippableRecord(raw[SKIP])
    site = ctx.site.peek()
    fields = raw.get("fields") or {}
    candidates = site.story_points_fields
    points = next((f for f in candidates if fields.get(f) is not None),
                  candidates[0] if candidates else None)
    return normalize_issue(raw, ctx.source, story_points_field=points,
                           sprint_field=site.sprint_field)


issues = Stream(
    name="issues", entity="issues", cursor_field="updated_at",
    fetch=issue_pages, normalize=_normalize_issue, also_emits=("users",),
    description="Issues matching `jql`/`projects`, with status transitions, story points "
                "and sprint ids; assignees, reporters and changelog authors as users. "
                "Incremental by `updated` with an overlap window.",
)


# ------------------------------------------------------------------------------ sprints


def board_partitions(ctx: JiraSession) -> list[str]:
    if ctx.config.boards:
        return [str(b) for b in ctx.config.boards]
    return sprint_board_ids(ctx.jira.boards())


def _start_at(state: SyncState) -> int:
    """Where an interrupted pass of a paged stream stopped (0: from the start)."""
    cursor = state.cursor
    start = cursor.get("start_at") if isinstance(cursor, dict) else None
    return start if isinstance(start, int) and start > 0 else 0


def _position(start: int | None) -> dict[str, int] | None:
    return None if start is None else {"start_at": start}


def sprint_pages(ctx: JiraSession, partition: str, state: SyncState) -> Iterator[Page]:
    client = ctx.jira
    try:
        for resp, nxt in client.board_sprints(partition, _start_at(state)):
            yield _page(list((resp.data or {}).get("values") or []), resp, ctx,
                        cursor=_position(nxt))
    except HttpFatalError as err:
        why = {400: "has no sprints (a kanban board?)", 403: "is not visible to this account",
               404: "does not exist or is not visible to this account"}.get(err.status)
        if why is None:
            raise
        quoted = f': "{err.upstream_message}"' if err.upstream_message else ""
        raise PartitionSkipped(f"{ctx.source}: board {partition} {why} ({err.status}{quoted})",
                               hint="Remove it from `boards:` in the config, or leave "
                                    "`boards:` out to use every board with sprints.") from None


def _normalize_sprint(raw: dict[str, Any], ctx: JiraSession, partition: str):
    return normalize_sprint(raw, ctx.source, partition)


sprints = Stream(
    name="sprints", entity="sprints", partitions=board_partitions,
    fetch=sprint_pages, normalize=_normalize_sprint,
    description="Future, active and closed sprints of each board (`boards:` or every "
                "board with sprints), via the Agile API.",
)


# -------------------------------------------------------------------------------- users


def user_pages(ctx: JiraSession, partition: str, state: SyncState) -> Iterator[Page]:
    for resp, nxt in ctx.jira.user_pages(_start_at(state)):
        yield _page(list(resp.data) if isinstance(resp.data, list) else [], resp, ctx,
                    cursor=_position(nxt))


def _normalize_user(raw: dict[str, Any], ctx: JiraSession, partition: str):
    return normalize_user(raw, ctx.source)


users = Stream(
    name="users", entity="users", fetch=user_pages, normalize=_normalize_user,
    description="Accounts (Cloud: /users/search by accountId; Data Center: /user/search), "
                "with email where the site shows it.",
)
