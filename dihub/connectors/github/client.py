"""GitHub REST access for the streams: one HttpClient per run, paging, repo lookups.

All HTTP policy (retries, the rate-limit governor, the persisted breaker, ETags,
redaction) is dihub.http's; this module only knows GitHub's URLs and quirks:

* one `HttpClient` per source per run, shared by every stream and partition thread,
  so the governor and breaker see all traffic (a secondary-limit block holds every
  thread); each stream gets a `bind()` view so requests count in its own metrics;
* the token comes from `GitHubAuth.token` (env var named by `token_env`, keyring,
  opt-in file) and is sent only to the base URL's origin;
* after a 401 the source is stopped: later requests of the run raise the same
  error without calling GitHub, so one revoked token is one message, not hundreds;
* repository ids and default branches (GET /repos/{o}/{r}) and organization
  listings are cached in store meta together with their ETags, so on an unchanged
  upstream they cost a 304 and no quota.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dihub.connectors.github.auth import GitHubAuth
from dihub.engine.stream import Context
from dihub.errors import ConfigError, PartitionSkipped
from dihub.http import BearerAuth, HttpAuthError, HttpClient, NotFound, Response, etag_key
from dihub.models import AuditEntry
from dihub.timeutil import now_iso

PER_PAGE = 100
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
_LOCK = threading.Lock()
_HTTP, _AUTH_ERROR, _PARTITIONS, _REPOS = ("github.http", "github.auth_error",
                                           "github.partitions", "github.repos")


def _auth_hint(ctx: Context) -> str:
    env = getattr(ctx.config, "token_env", None)
    also = f", or put a valid token in ${env}" if env else ""
    return (f"GitHub rejected the token (revoked, expired or wrong): run `dihub auth "
            f"{ctx.source}` to log in again{also}. Nothing after the last checkpoint was "
            "lost; the next run continues from there.")


def _base_client(ctx: Context) -> HttpClient:
    with _LOCK:
        client = ctx.extras.get(_HTTP)
        if client is None:
            stopped = ctx.extras.get(_AUTH_ERROR)
            if stopped is not None:
                raise _copy(stopped)
            token = GitHubAuth().token(ctx.source, ctx.config)
            settings = ctx.config.http or getattr(ctx.settings, "http", None)
            client = HttpClient(
                ctx.config.base_url, source=ctx.source, settings=settings, counters=None,
                audit=ctx.audit, run_id=ctx.run_id, auth=BearerAuth(token), store=ctx.store,
                rate_limit_style="github", headers=API_HEADERS, auth_hint=_auth_hint(ctx))
            ctx.extras[_HTTP] = client
        return client


def _copy(err: HttpAuthError) -> HttpAuthError:
    return HttpAuthError(str(err), hint=err.hint, status=err.status, method=err.method,
                         path=err.path)


class GitHubClient:
    """The requests of one stream pass over one partition (or of partition discovery).

    Counts its calls and 304s, which `audit_requests` writes to the audit log.
    """

    def __init__(self, ctx: Context, label: str | None = None):
        self.ctx = ctx
        self.label = label
        self.http = _base_client(ctx).bind(counters=ctx.metrics, audit=ctx.audit)
        self.calls = 0
        self.not_modified = 0

    def get(self, url: str, params: Any = None, etag: str | None = None) -> Response:
        stopped = self.ctx.extras.get(_AUTH_ERROR)
        if stopped is not None:
            raise _copy(stopped)
        self.calls += 1
        try:
            resp = self.http.get(url, params=params, etag=etag)
        except HttpAuthError as err:
            first = self.ctx.extras.setdefault(_AUTH_ERROR, err)
            if first is err:
                raise
            raise _copy(first) from None      # another thread met it first: one message
        if resp.not_modified:
            self.not_modified += 1
        return resp

    def cget(self, etags: dict[str, str], url: str, params: Any = None) -> Response:
        """A conditional GET with the ETag `etags` (SyncState.etags) holds for this URL."""
        return self.get(url, params, etag=etags.get(self.key(url, params)))

    def key(self, url: str, params: Any = None) -> str:
        return etag_key(self.http.absolute_url(url), params)

    def pages(self, url: str, params: Any, etags: dict[str, str] | None = None
              ) -> Iterator[tuple[str, Response]]:
        """(etag key, response) per page, following rel="next" links verbatim.

        Requests are conditional where `etags` knows the page. A 304 page is yielded
        like any other; the caller decides whether paging goes on.
        """
        etags = etags or {}
        next_url: str | None = url
        next_params = params
        while next_url:
            key = self.key(next_url, next_params)
            resp = self.get(next_url, next_params, etag=etags.get(key))
            yield key, resp
            next_url, next_params = resp.next_url, None

    def audit_requests(self, stream: str, entity: str, partition: str) -> None:
        if self.ctx.audit is None or not self.calls:
            return
        self.ctx.audit(AuditEntry(
            run_id=self.ctx.run_id, source=self.ctx.source, entity=entity, stream=stream,
            partition=partition, action="requests", outcome="ok", timestamp=now_iso(),
            detail={"calls": self.calls, "not_modified": self.not_modified}))


# -- repositories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoInfo:
    id: int
    full_name: str
    default_branch: str | None


def _meta_get(ctx: Context, key: str) -> dict[str, Any]:
    if ctx.store is None:
        return {}
    return ctx.store.get_meta(key) or {}


def _meta_put(ctx: Context, key: str, value: dict[str, Any]) -> None:
    if ctx.store is not None:
        ctx.store.put_meta(key, value)


def repo_info(ctx: Context, gh: GitHubClient, partition: str) -> RepoInfo:
    """GET /repos/{o}/{r} once per run (id, canonical name, default branch), conditional on
    the ETag kept in store meta. A repository that is gone or invisible skips the partition."""
    name = partition.lower()
    cache: dict[str, RepoInfo] = ctx.extras.setdefault(_REPOS, {})
    if name in cache:
        return cache[name]
    meta_key = f"github.repo:{ctx.source}:{name}"
    saved = _meta_get(ctx, meta_key)
    try:
        resp = gh.get(f"/repos/{partition}", etag=saved.get("etag") if saved.get("id") else None)
    except NotFound:
        raise PartitionSkipped(
            f"{ctx.source}: repository {partition} not found, or the token cannot see it",
            hint="Check the name under `repos:` and that the token has the `repo` scope "
                 "(or access to that repository).") from None
    if resp.not_modified:
        info = RepoInfo(int(saved["id"]), saved["full_name"], saved.get("default_branch"))
    else:
        data = resp.data or {}
        info = RepoInfo(int(data["id"]), str(data.get("full_name") or partition),
                        data.get("default_branch"))
        _meta_put(ctx, meta_key, {"etag": resp.etag, "id": info.id,
                                  "full_name": info.full_name,
                                  "default_branch": info.default_branch})
    cache[name] = info
    return info


def cached_repo(ctx: Context, partition: str) -> RepoInfo:
    """The RepoInfo `repo_info` found earlier in this run (normalizers make no requests)."""
    return ctx.extras[_REPOS][partition.lower()]


def org_repos(ctx: Context, gh: GitHubClient, org: str) -> list[str]:
    """Every repository of an organization, each page conditional on its stored ETag."""
    meta_key = f"github.org:{ctx.source}:{org.lower()}"
    saved = {p["key"]: p for p in _meta_get(ctx, meta_key).get("pages", [])}
    etags = {k: p["etag"] for k, p in saved.items() if p.get("etag")}
    pages: list[dict[str, Any]] = []
    names: list[str] = []
    try:
        for key, resp in gh.pages(f"/orgs/{org}/repos", {"per_page": PER_PAGE}, etags):
            if resp.not_modified and key in saved:
                page_names = saved[key]["repos"]
            else:
                page_names = [r["full_name"] for r in resp.data or []]
            pages.append({"key": key, "etag": resp.etag, "repos": page_names})
            names += page_names
    except NotFound:
        raise ConfigError(f"organization {org!r} not found, or the token cannot list its "
                          "repositories", key=f"sources.{ctx.source}.orgs",
                          hint="Check the name and that the token has `read:org`.") from None
    _meta_put(ctx, meta_key, {"pages": pages})
    return names


def repo_partitions(ctx: Context) -> list[str]:
    """The configured repositories plus those of the configured organizations (once per run)."""
    stopped = ctx.extras.get(_AUTH_ERROR)
    if stopped is not None:
        raise _copy(stopped)
    cached = ctx.extras.get(_PARTITIONS)
    if cached is not None:
        return list(cached)
    names = list(ctx.config.repos)
    if ctx.config.orgs:
        gh = GitHubClient(ctx)
        for org in ctx.config.orgs:
            names += org_repos(ctx, gh, org)
    seen: set[str] = set()
    unique = [n for n in names if not (n.lower() in seen or seen.add(n.lower()))]
    ctx.extras[_PARTITIONS] = unique
    return list(unique)
