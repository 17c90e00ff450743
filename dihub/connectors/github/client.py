"""GitHub REST access for the streams: the run's session, paging, repo lookups.

All HTTP policy (retries, the rate-limit governor, the persisted breaker, ETags,
redaction) is dihub.http's; this module only knows GitHub's URLs and quirks:

* one `HttpClient` per source per run (the session's), shared by every stream and
  partition thread, so the governor and breaker see all traffic (a secondary-limit
  block holds every thread); each stream's session view counts its own requests;
* the token comes from `GitHubAuth.token` (env var named by `token_env`, keyring,
  opt-in file) and is sent only to the base URL's origin; with `app:` (a GitHub App,
  see app.py) each partition's requests carry the token of the installation on the
  repository's owner and spend that installation's quota (`GitHubClient(session,
  partition)`), through a view of the same client;
* after a 401 the source is stopped: later requests of the run raise the same
  error without calling GitHub, so one revoked token is one message, not hundreds;
* repository ids and default branches (GET /repos/{o}/{r}) and organization
  listings are cached in store meta together with their ETags, so on an unchanged
  upstream they cost a 304 and no quota; within a run, in the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from dihub.connectors.github.app import GitHubApp
from dihub.connectors.github.auth import GitHubAuth
from dihub.connectors.github.limits import POLICY as LIMITS
from dihub.connectors.passes import PassRequests, copy_auth_error
from dihub.connectors.session import Once, OnceEach, Session
from dihub.errors import ConfigError, PartitionSkipped
from dihub.http import BearerAuth, HttpAuthError, HttpClient, NotFound, Response
from dihub.http.paging import LinkHeader, paginate
from dihub.jsoncodec import reading

PER_PAGE = 100
LINK_PAGES = LinkHeader()
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


@dataclass(frozen=True)
class RepoInfo:
    id: int
    full_name: str
    default_branch: str | None


class GitHubSession(Session):
    """One run of a GitHub source: its client, the repositories looked up, the partitions,
    and the 401 that stopped the source (if one did)."""

    def __init__(self, run: Any):
        super().__init__(run)
        self.repos: OnceEach[str, RepoInfo] = OnceEach()   # lower-cased full name
        self.partitions: Once[list[str]] = Once()
        self.auth_error: Once[HttpAuthError] = Once()
        self.app: Once[GitHubApp] = Once()

    def stopped(self) -> None:
        """Raise the run's 401 again (a copy) if the source was stopped by one."""
        err = self.auth_error.peek()
        if err is not None:
            raise _copy(err)

    def open_http(self) -> HttpClient:
        self.stopped()
        if self.config.app is not None:       # credentials per installation: http_for
            return self.build_http(self.config.base_url, limits=LIMITS, headers=API_HEADERS,
                                   auth_hint=_auth_hint(self))
        token = GitHubAuth().token(self.source, self.config)
        return self.build_http(self.config.base_url, auth=BearerAuth(token),
                               limits=LIMITS, headers=API_HEADERS,
                               auth_hint=_auth_hint(self))

    def github_app(self) -> GitHubApp | None:
        """The run's GitHub App (None without `app:`), built once: its key read and
        checked, its installations listed at first use."""
        if self.config.app is None:
            return None
        self.stopped()
        return self.app.get(lambda: GitHubApp(self.source, self.config,
                                              self._client.get(self.open_http),
                                              audit=self.audit_event))

    def http_for(self, owner: str, *, needed_for: str | None = None) -> HttpClient:
        """The client for requests about `owner`'s repositories: this stream's view of the
        run's client, with `app:` on the token and quota of the installation on `owner`
        (ConfigError when the app is not installed there)."""
        app = self.github_app()
        if app is None:
            return self.http
        try:
            return app.client_for(self.http, owner, needed_for=needed_for)
        except HttpAuthError as err:          # the app's JWT was rejected: stop the source
            first = self.auth_error.setdefault(err)
            raise (err if first is err else _copy(first)) from None


def _auth_hint(ctx: GitHubSession) -> str:
    if getattr(ctx.config, "app", None) is not None:
        return (f"GitHub rejected the GitHub App's credentials: run `dihub auth status "
                f"{ctx.source} --check`. Nothing after the last checkpoint was lost; the next "
                "run continues from there.")
    env = getattr(ctx.config, "token_env", None)
    also = f", or put a valid token in ${env}" if env else ""
    return (f"GitHub rejected the token (revoked, expired or wrong): run `dihub auth "
            f"{ctx.source}` to log in again{also}. Nothing after the last checkpoint was "
            "lost; the next run continues from there.")


_copy = copy_auth_error


class GitHubClient(PassRequests):
    """The requests of one stream pass over one partition (or of partition discovery).

    `label` is the partition (owner/repo) or the organization the requests are about;
    with `app:` they use the token and quota of the installation on its owner.
    Counts its calls and 304s, which `audit_requests` writes to the audit log; the first
    401 stops the source (dihub.connectors.passes).
    """

    def __init__(self, session: GitHubSession, label: str | None = None):
        owner = label.split("/", 1)[0] if label else None
        super().__init__(session, session.http_for(
            owner, needed_for=label if label != owner else None) if owner else None)
        self.label = label

    def get(self, url: str, params: Any = None, etag: str | None = None, *,
            shape: Any = None) -> Response:
        """A GET whose JSON body is read into `shape` (see shapes.py): only what the
        streams read is built; a body of another form is read whole. The response keeps
        its body's text only when raw payloads are kept (`raw_payloads.enabled`)."""
        if shape is None:
            return super().get(url, params, etag)
        with reading(shape):
            resp = super().get(url, params, etag)
        if resp.raw is not None and not self.session.raw_payloads:
            # the body is read: without raw payloads to keep, its bytes (1.5 MB for 100
            # pull requests) need not wait in memory while the page is normalized. An
            # httpx response and its stream refer to each other, so it would also wait
            # for the garbage collector: break that cycle (the stream is read and closed)
            raw = resp.raw
            object.__setattr__(resp, "raw", None)
            raw.stream = httpx.ByteStream(b"")
        return resp

    def cget(self, etags: dict[str, str], url: str, params: Any = None) -> Response:
        """A conditional GET with the ETag `etags` (SyncState.etags) holds for this URL."""
        return self.get(url, params, etag=etags.get(self.key(url, params)))

    def pages(self, url: str, params: Any, etags: dict[str, str] | None = None, *,
              shape: Any = None) -> Iterator[tuple[str, Response]]:
        """(etag key, response) per page, following rel="next" links verbatim.

        Requests are conditional where `etags` knows the page. A 304 page is yielded
        like any other; the caller decides whether paging goes on.
        """
        etags = etags or {}
        keys: list[str] = []

        def get(page_url: str, page_params: Any) -> Response:
            keys.append(self.key(page_url, page_params))
            return self.get(page_url, page_params, etag=etags.get(keys[-1]), shape=shape)
        for page in paginate(get, url, LINK_PAGES, params):
            yield keys[-1], page.response


# -- repositories ---------------------------------------------------------------------------


def _meta_get(ctx: GitHubSession, key: str) -> dict[str, Any]:
    if ctx.store is None:
        return {}
    return ctx.store.get_meta(key) or {}


def _meta_put(ctx: GitHubSession, key: str, value: dict[str, Any]) -> None:
    if ctx.store is not None:
        ctx.store.put_meta(key, value)


def repo_info(ctx: GitHubSession, gh: GitHubClient, partition: str) -> RepoInfo:
    """GET /repos/{o}/{r} once per run, whichever stream asks first (id, canonical name,
    default branch), conditional on the ETag kept in store meta. A repository that is gone
    or invisible skips the partition."""
    return ctx.repos.get(partition.lower(), lambda: _look_up_repo(ctx, gh, partition))


def _look_up_repo(ctx: GitHubSession, gh: GitHubClient, partition: str) -> RepoInfo:
    name = partition.lower()
    meta_key = f"github.repo:{ctx.source}:{name}"
    saved = _meta_get(ctx, meta_key)
    try:
        resp = gh.get(f"/repos/{partition}", etag=saved.get("etag") if saved.get("id") else None)
    except NotFound:
        access = ("that the GitHub App's installation on its owner has access to it"
                  if ctx.config.app is not None else
                  "that the token has the `repo` scope (or access to that repository)")
        raise PartitionSkipped(
            f"{ctx.source}: repository {partition} not found, or the token cannot see it",
            hint=f"Check the name under `repos:` and {access}.") from None
    if resp.not_modified:
        return RepoInfo(int(saved["id"]), saved["full_name"], saved.get("default_branch"))
    data = resp.data or {}
    info = RepoInfo(int(data["id"]), str(data.get("full_name") or partition),
                    data.get("default_branch"))
    _meta_put(ctx, meta_key, {"etag": resp.etag, "id": info.id, "full_name": info.full_name,
                              "default_branch": info.default_branch})
    return info


def cached_repo(ctx: GitHubSession, partition: str) -> RepoInfo:
    """The RepoInfo `repo_info` found earlier in this run (normalizers make no requests)."""
    return ctx.repos[partition.lower()]


def org_repos(ctx: GitHubSession, gh: GitHubClient, org: str) -> list[str]:
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


def repo_partitions(ctx: GitHubSession) -> list[str]:
    """The configured repositories plus those of the configured organizations (once per run)."""
    ctx.stopped()

    def discover() -> list[str]:
        names = list(ctx.config.repos)
        app = ctx.github_app()
        if app is not None:                 # every repository's owner has the app: say so now
            for name in names:
                ctx.http_for(name.split("/", 1)[0], needed_for=name)
        for org in ctx.config.orgs:
            names += org_repos(ctx, GitHubClient(ctx, org), org)
        seen: set[str] = set()
        return [n for n in names if not (n.lower() in seen or seen.add(n.lower()))]
    return list(ctx.partitions.get(discover))
