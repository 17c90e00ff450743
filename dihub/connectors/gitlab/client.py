"""GitLab REST access for the streams: the run's session, paging, project lookups.

All HTTP policy (retries, the rate-limit governor with GitLab's policy, the persisted
breaker, ETags, redaction) is dihub.http's; this module only knows GitLab's URLs and
answers:

* one `HttpClient` per source per run (the session's) on `{base_url}/api/v4`, shared
  by every stream and partition thread; the token (`GitLabAuth.token`) is sent only to
  that origin;
* a 401 (expired or revoked token) stops the source: later requests of the run raise
  the same error without calling GitLab; a 403 `insufficient_scope` is an AuthError
  (exit 1) naming the `read_api` scope, never an empty sync;
* a project path is sent `%2F`-encoded (`/projects/group%2Fsub%2Fproject`) when its id,
  path and default branch are looked up: at most once every `project_cache_hours`
  (default 24; they are kept in store meta), conditional on the kept ETag, and again
  at once when its default branch is gone; every other request uses its numeric id;
* group listings use keyset pagination (`pagination=keyset&order_by=id`), which GitLab
  offers there and which, unlike offset paging, has no depth limit;
* offset-paged lists follow `X-Next-Page` (or `Link: rel="next"`): GitLab leaves out
  `X-Total`/`X-Total-Pages` and `rel="last"` for commits and above 10,000 rows, so
  nothing here depends on a total.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dihub.connectors.gitlab.auth import GitLabAuth, relogin_hint, scope_hint
from dihub.connectors.gitlab.limits import POLICY as LIMITS
from dihub.connectors.passes import PassRequests, copy_auth_error
from dihub.connectors.session import Once, OnceEach, Session
from dihub.errors import ConfigError, PartitionSkipped
from dihub.http import (
    BearerAuth,
    HttpAuthError,
    HttpClient,
    HttpFatalError,
    LinkHeader,
    NotFound,
    Response,
)
from dihub.http.paging import items_at, paginate

PER_PAGE = 100
API_HEADERS = {"Accept": "application/json"}


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    path: str                       # path_with_namespace
    default_branch: str | None


class NextPage:
    """GitLab's offset paging: `page=N`, the next number from `X-Next-Page` (empty on the
    last page), else from a `Link: rel="next"` URL; no totals needed. The position is
    the page number."""

    def request(self, path: str, params: dict[str, Any], at: Any) -> tuple[str, Any]:
        return path, ({**params, "page": at} if at and at > 1 else params)

    def items(self, response: Any) -> list[Any]:
        return items_at(response.data, None)

    def after(self, response: Any, items: list[Any], at: Any) -> Any:
        if not items:
            return None
        header = (response.headers.get("x-next-page") or "").strip()
        if header.isdigit():
            return int(header)
        if "x-next-page" not in response.headers and response.next_url:
            return (at or 1) + 1
        return None


PAGES = NextPage()


def next_page(resp: Response, items: list[Any], at: int) -> int | None:
    return PAGES.after(resp, items, at)


class GitLabSession(Session):
    """One run of a GitLab source: its client, the projects looked up, the partitions,
    and the 401 that stopped the source (if one did)."""

    def __init__(self, run: Any):
        super().__init__(run)
        self.projects: OnceEach[str, ProjectInfo] = OnceEach()   # partition (lower-case)
        self.partitions: Once[list[str]] = Once()
        self.auth_error: Once[HttpAuthError] = Once()

    def stopped(self) -> None:
        err = self.auth_error.peek()
        if err is not None:
            raise copy_auth_error(err)

    def open_http(self) -> HttpClient:
        self.stopped()
        token = GitLabAuth().token(self.source, self.config)
        return self.build_http(self.config.api_url, auth=BearerAuth(token), limits=LIMITS,
                               headers=API_HEADERS, auth_hint=self.auth_hint())

    def auth_hint(self) -> str:
        """What a 401 says: the token is expired or revoked, and how to log in again."""
        return ("GitLab rejected the token (expired, revoked or wrong). "
                + relogin_hint(self.source, self.config.token_env)
                + " Nothing after the last checkpoint was lost.")


def insufficient_scope(err: HttpFatalError) -> bool:
    text = f"{getattr(err, 'upstream_message', '')} {err}".lower()
    return err.status == 403 and ("insufficient_scope" in text or "higher privileges" in text
                                  or "scope" in text)


class GitLabClient(PassRequests):
    """The requests of one stream pass over one partition (or of partition discovery):
    counted and audited; a 401, or a 403 `insufficient_scope` (an AuthError naming the
    `read_api` scope), stops the source (dihub.connectors.passes)."""

    def translate(self, err: HttpFatalError) -> HttpAuthError | None:
        if not insufficient_scope(err):
            return None
        return HttpAuthError(str(err), hint=scope_hint(self.session.source,
                                                       self.session.config.token_env),
                             status=403, method=err.method, path=err.path)

    def pages(self, url: str, params: Any, start: int | None = None):
        """Offset pages (`NextPage`) from page `start`."""
        return paginate(self.get, url, PAGES, params, start=start)


def project_url(ref: str | int) -> str:
    """`/projects/<id>` or `/projects/<%2F-encoded path>`."""
    return f"/projects/{quote(str(ref), safe='')}"


# -- projects -------------------------------------------------------------------------------


def _meta_get(s: GitLabSession, key: str) -> dict[str, Any]:
    return (s.store.get_meta(key) or {}) if s.store is not None else {}


def _meta_put(s: GitLabSession, key: str, value: dict[str, Any]) -> None:
    if s.store is not None:
        s.store.put_meta(key, value)


def project_info(s: GitLabSession, gl: GitLabClient, partition: str, *,
                 fresh: bool = False) -> ProjectInfo:
    """The project (id, path, default branch): from this run's group listing, else from
    store meta while it is younger than `project_cache_hours`, else (or `fresh`)
    GET /projects/:id, conditional on the kept ETag; looked up once per run, whichever
    stream asks first. A project that is gone or invisible skips the partition."""
    name = partition.lower()
    if fresh:
        info = _look_up_project(s, gl, partition, fresh=True)
        s.projects.put(name, info)
        return info
    return s.projects.get(name, lambda: _look_up_project(s, gl, partition))


def _look_up_project(s: GitLabSession, gl: GitLabClient, partition: str, *,
                     fresh: bool = False) -> ProjectInfo:
    name = partition.lower()
    meta_key = f"gitlab.project:{s.source}:{name}"
    saved = _meta_get(s, meta_key)
    age = time.time() - float(saved.get("checked_at") or 0)
    if saved.get("id") and not fresh and age < s.config.project_cache_hours * 3600:
        return ProjectInfo(int(saved["id"]), saved["path"], saved.get("default_branch"))
    try:
        resp = gl.get(project_url(partition), etag=saved.get("etag") if saved.get("id") else None)
    except NotFound:
        raise PartitionSkipped(
            f"{s.source}: project {partition} not found, or the token cannot see it",
            hint="Check the path under `projects:` and that the token's user is a member "
                 "(with read_api).") from None
    if resp.not_modified:
        info = ProjectInfo(int(saved["id"]), saved["path"], saved.get("default_branch"))
    else:
        data = resp.data or {}
        info = ProjectInfo(int(data["id"]), str(data.get("path_with_namespace") or partition),
                           data.get("default_branch"))
    _meta_put(s, meta_key, {"etag": resp.etag or saved.get("etag"), "id": info.id,
                            "path": info.path, "default_branch": info.default_branch,
                            "checked_at": time.time()})
    return info


def cached_project(s: GitLabSession, partition: str) -> ProjectInfo:
    """The ProjectInfo found earlier in this run (normalizers make no requests)."""
    return s.projects[partition.lower()]


def group_projects(s: GitLabSession, gl: GitLabClient, group: str) -> list[ProjectInfo]:
    """Every project of a group and its subgroups (archived ones only with
    `include_archived`), by keyset pagination."""
    params: dict[str, Any] = {"include_subgroups": "true", "pagination": "keyset",
                              "order_by": "id", "sort": "asc", "per_page": PER_PAGE,
                              "simple": "true"}
    if not s.config.include_archived:
        params["archived"] = "false"
    out: list[ProjectInfo] = []
    try:
        for page in paginate(gl.get, f"/groups/{quote(group, safe='')}/projects",
                             LinkHeader(), params):
            for p in page.items:
                out.append(ProjectInfo(int(p["id"]), str(p["path_with_namespace"]),
                                       p.get("default_branch")))
    except NotFound:
        raise ConfigError(f"group {group!r} not found, or the token cannot see it",
                          key=f"sources.{s.source}.groups",
                          hint="Check the group's full path (e.g. group/subgroup).") from None
    return out


def project_partitions(s: GitLabSession) -> list[str]:
    """The configured projects plus those of the configured groups (once per run)."""
    s.stopped()

    def discover() -> list[str]:
        names = list(s.config.projects)
        if s.config.groups:
            gl = GitLabClient(s)
            for group in s.config.groups:
                for info in group_projects(s, gl, group):
                    s.projects.setdefault(info.path.lower(), info)
                    names.append(info.path)
            gl.audit_requests("partitions", "projects", "*")
        seen: set[str] = set()
        return [n for n in names if not (n.lower() in seen or seen.add(n.lower()))]
    return list(s.partitions.get(discover))

