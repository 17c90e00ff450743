"""HttpClient: one per source per run, shared by the threads syncing its partitions.

    client = HttpClient("https://api.example.com", source="ex", settings=settings.http,
                        counters=ctx.metrics, audit=ctx.audit, run_id=ctx.run_id,
                        auth=token_auth, store=ctx.store, limits=CONNECTOR_POLICY)
    resp = client.get("/items", params={"per_page": 100}, etag=known_etag)
    if resp.not_modified: ...          # 304: unchanged, no body, no quota spent
    resp.data, resp.etag, resp.next_url

Around every call: the circuit breaker (`check`, then success/failure), a
tenacity retry loop, and around every attempt the rate-limit governor, which
follows the connector's RateLimitPolicy (`limits`: quota buckets, per-method
intervals, its secondary limit; dihub.http.policy). Errors
are dihub.errors classes (see dihub.http.errors), their messages name the
source, method and path, and pass through `redact`.

Credentials are only sent to the base URL's origin (scheme, host, port). Redirects
are followed here, hop by hop, not by httpx: a hop to the base URL's origin gets the
credentials again; a redirect to another origin is refused (HttpFatalError, exit 1)
when the client holds credentials, so neither a stored token nor one from `token_env`
ever reaches a host the config did not name, whatever httpx's own redirect rules are.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies

import httpx
from tenacity import RetryCallState

from dihub import __version__, waits
from dihub.errors import AuthError, FatalError, RateLimited, TemporaryError
from dihub.http import classify as c
from dihub.http.accounting import AuditFn, Recorder
from dihub.http.breaker import CircuitBreaker, breaker_key
from dihub.http.errors import (
    HttpAuthError,
    HttpFatalError,
    HttpRateLimited,
    HttpRetriableError,
    NotFound,
)
from dihub.http.governor import Decision, Governor
from dihub.http.paging import Fetched, Get, Paginator, paginate
from dihub.http.policy import RateLimitPolicy, resolve
from dihub.http.retry import BackoffWait, Transient, retrying
from dihub.http.transport import StdlibTransport
from dihub.http.urls import etag_key as _etag_key
from dihub.http.urls import merge_params
from dihub.jsoncodec import decode_json
from dihub.redact import redact, register_authorization, safe_path
from dihub.settings import HttpSettings
from dihub.timeutil import to_iso

USER_AGENT = f"dihub/{__version__}"
MAX_REDIRECTS = 10
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")
_DEFAULT_PORTS = {"https": 443, "http": 80}
_RETRIABLE_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError,
                        httpx.ProxyError, httpx.DecodingError)


def make_httpx_client(settings: HttpSettings, *, base_url: str = "",
                      headers: Mapping[str, str] | None = None,
                      transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A pooled httpx.Client: timeouts from settings, `User-Agent: dihub/<version>`,
    keep-alive connections sized for `settings.concurrency` threads, redirects followed
    (httpx drops Authorization on a redirect to another origin). HttpClient does not rely
    on that: it asks for no redirects and follows them itself (see `HttpClient._follow`).

    The bytes move over `StdlibTransport` (dihub/http/transport.py), except where the
    environment names a proxy (HTTPS_PROXY, ALL_PROXY, ...): httpx honours those only with
    its own transport, so that client keeps it."""
    if transport is None and not _proxied():
        transport = StdlibTransport(max_keepalive=settings.concurrency)
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(settings.timeout_s),
        limits=httpx.Limits(max_connections=settings.concurrency * 2,
                            max_keepalive_connections=settings.concurrency),
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        transport=transport,
        follow_redirects=True,
    )


def _proxied() -> bool:
    """Whether the environment names a proxy (what httpx reads with trust_env)."""
    return any(scheme != "no" for scheme in getproxies())


@dataclass(frozen=True)
class Response:
    """A finished response. `data` is the parsed JSON (None for a 304 or an empty body)."""

    status: int
    url: str
    headers: httpx.Headers
    data: Any = None
    etag: str | None = None
    not_modified: bool = False
    size: int = 0                  # bytes of the body (for Page.raw_size)
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    raw: httpx.Response | None = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The body as text, decoded only when asked for (raw payloads, error messages)."""
        return self.raw.text if self.raw is not None else ""

    @property
    def next_url(self) -> str | None:
        """The `Link: <...>; rel="next"` URL (RFC 8288 paging), if any."""
        return (self.links.get("next") or {}).get("url")

    def json(self) -> Any:
        return self.data


@dataclass
class _Call:
    method: str
    url: str               # absolute
    path: str              # safe for messages: no query string
    rel: str               # relative to the base URL path: what the governor sees
    params: Any
    headers: dict[str, str]
    data: Any
    json: Any
    etag: str | None
    allow_status: Collection[int]


class HttpClient:
    def __init__(self, base_url: str, *, source: str, settings: HttpSettings | None = None,
                 counters: Any = None, audit: AuditFn | None = None, run_id: str = "",
                 auth: httpx.Auth | None = None, store: Any = None,
                 limits: RateLimitPolicy | None = None,
                 rate_limit_style: str | None = None,
                 transport: httpx.BaseTransport | None = None,
                 headers: Mapping[str, str] | None = None,
                 min_interval: Mapping[str, float] | None = None,
                 auth_hint: str | None = None,
                 sleep: Callable[[float], Any] = time.sleep,
                 clock: Callable[[], float] = time.time,
                 rand: Callable[[], float] = _random.random):
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.settings = settings or HttpSettings()
        self.limits = resolve(limits, rate_limit_style)
        self._auth = auth
        self._quota: str | None = None      # the governor's quota scope (`with_credential`)
        self._auth_hint = auth_hint
        self._sleep = sleep
        self._clock = clock
        parts = urlsplit(self.base_url)
        self._origin = origin_of(self.base_url)
        self._base_path = parts.path.rstrip("/")
        self._http = make_httpx_client(self.settings, headers=headers, transport=transport)
        self._owns_http = True
        self.recorder = Recorder(source=source, run_id=run_id, counters=counters,
                                 audit=audit, clock=clock)
        self.governor = Governor(self.settings.rate_limit, policy=self.limits,
                                 clock=clock, min_interval=min_interval)
        host = parts.hostname or self.base_url
        self.breaker = CircuitBreaker(
            breaker_key(source, host), self.settings.breaker, store=store, clock=clock,
            name=f"{source} ({host})", on_transition=self.recorder.breaker,
            probe_wait_s=self.settings.timeout_s * 2)
        self._wait = BackoffWait(self.settings.retry, rand)

    @classmethod
    def from_context(cls, ctx: Any, base_url: str, **kwargs: Any) -> HttpClient:
        """Build from an engine Context: source, run id, metrics, audit, store, settings."""
        settings = getattr(getattr(ctx, "settings", None), "http", None)
        defaults = dict(source=ctx.source, settings=settings, counters=ctx.metrics,
                        audit=ctx.audit, run_id=ctx.run_id, store=ctx.store)
        return cls(base_url, **{**defaults, **kwargs})

    def bind(self, *, counters: Any = None, audit: AuditFn | None = None) -> HttpClient:
        """A view sharing connections, governor and breaker, accounting elsewhere
        (e.g. per stream when one client serves several streams)."""
        clone = object.__new__(HttpClient)
        clone.__dict__.update(self.__dict__)
        clone.recorder = self.recorder.bind(counters=counters, audit=audit)
        clone._owns_http = False
        return clone

    def with_credential(self, auth: httpx.Auth | None, *, quota: str | None,
                        auth_hint: str | None = None) -> HttpClient:
        """A view sending `auth` instead of this client's credential, whose requests spend
        the governor's `quota` scope: for an upstream that gives each credential a rate
        limit of its own. It shares connections, breaker, governor and accounting; the
        credential still goes only to the base URL's origin."""
        clone = object.__new__(HttpClient)
        clone.__dict__.update(self.__dict__)
        clone._auth, clone._quota = auth, quota
        if auth_hint is not None:
            clone._auth_hint = auth_hint
        clone._owns_http = False
        return clone

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- URLs ------------------------------------------------------------------------------
    def absolute_url(self, path_or_url: str) -> str:
        if urlsplit(path_or_url).scheme:
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def etag_key(self, path_or_url: str, params: Any = None, method: str = "GET") -> str:
        return _etag_key(self.absolute_url(path_or_url), params, method)

    def _same_origin(self, url: str) -> bool:
        return origin_of(url) == self._origin

    def _relative(self, url: str) -> str:
        path = urlsplit(url).path or "/"
        if self._base_path and path.startswith(self._base_path + "/"):
            path = path[len(self._base_path):]
        return path

    # -- public calls ----------------------------------------------------------------------
    def get(self, path_or_url: str, params: Any = None, etag: str | None = None, *,
            headers: Mapping[str, str] | None = None,
            allow_status: Collection[int] = ()) -> Response:
        """GET; a 304 (when `etag` was sent) comes back with `not_modified=True`.

        Raises HttpRateLimited, HttpRetriableError, HttpAuthError, HttpFatalError /
        NotFound, UpstreamUnavailable. Statuses in `allow_status` are returned instead.
        """
        return self.request("GET", path_or_url, params=params, etag=etag, headers=headers,
                            allow_status=allow_status)

    def paginate(self, path: str, paginator: Paginator, params: Any = None, *,
                 start: Any = None, get: Get | None = None) -> Iterator[Fetched]:
        """Every page of `path` as `paginator` pages it (dihub.http.paging), from position
        `start`; `get(url, params)` replaces this client's GET (e.g. a connector's call
        that checks its own error shapes)."""
        return paginate(get or (lambda url, query: self.get(url, params=query)), path,
                        paginator, params, start=start)

    def post(self, path_or_url: str, *, data: Any = None, json: Any = None,
             params: Any = None, headers: Mapping[str, str] | None = None,
             allow_status: Collection[int] = ()) -> Response:
        """POST a form (`data`) or JSON (`json`) body, e.g. the OAuth device flow."""
        return self.request("POST", path_or_url, params=params, data=data, json=json,
                            headers=headers, allow_status=allow_status)

    def request(self, method: str, path_or_url: str, *, params: Any = None,
                etag: str | None = None, data: Any = None, json: Any = None,
                headers: Mapping[str, str] | None = None,
                allow_status: Collection[int] = ()) -> Response:
        url = self.absolute_url(path_or_url)
        if params:
            url, params = merge_params(url, params)
        hdrs = dict(headers or {})
        if etag:
            hdrs["If-None-Match"] = etag
        call = _Call(method.upper(), url, safe_path(url), self._relative(url), params, hdrs,
                     data, json, etag, tuple(allow_status))
        probe = self.breaker.check()
        attempts = 1 if probe else self.settings.retry.attempts
        loop = retrying(attempts=attempts, wait=self._wait, sleep=self._retry_pause,
                        before_sleep=lambda rs: self._on_retry(call, rs))
        try:
            response = loop(self._attempt, call)
        except Transient as exc:
            err = self._retriable_error(call, exc, attempts)
            self.recorder.failure(method=call.method, path=call.path, status=exc.status,
                                  error=str(err), kind="retriable")
            self.breaker.failure(probe)
            raise err from None
        except RateLimited as err:
            rl_reason = getattr(err, "rate_limit_reason", None)
            self.recorder.deferred(method=call.method, path=call.path, error=str(err),
                                   reset_at=err.reset_at, reason=getattr(err, "reason", None),
                                   extra={"rate_limit_reason": rl_reason} if rl_reason else None)
            self.breaker.release(probe)
            raise
        except (AuthError, FatalError) as err:
            status = getattr(err, "status", None)
            self.recorder.failure(method=call.method, path=call.path, status=status,
                                  error=str(err), kind=type(err).__name__)
            if status is None:                 # nothing reached the upstream
                self.breaker.release(probe)
            else:                              # the upstream answered: it is up
                self.breaker.success(probe)
            raise
        except BaseException:
            self.breaker.release(probe)
            raise
        self.breaker.success(probe)
        return response

    def _pause(self, seconds: float) -> None:
        """Wait for the governor (a held bucket, pacing); the pass in this thread writes
        the pages it holds first (dihub/waits.py)."""
        waits.announce(seconds)
        self._sleep(seconds)

    def _retry_pause(self, seconds: float) -> None:
        """Sit out this call's own retry wait (a backoff, its `Retry-After`): the pass
        writes its pages first and lends its place meanwhile (dihub/waits.py)."""
        with waits.own_wait(seconds):
            self._sleep(seconds)

    # -- one attempt -----------------------------------------------------------------------
    def _attempt(self, call: _Call) -> Response:
        decision = self.governor.decide(call.rel, self._quota)
        if decision.defer:
            raise self._rate_limited(call, decision.reason, decision.reset_at,
                                     decision.wait_s, None, decision.detail)
        if decision.wait_s > 0:
            self.recorder.wait(method=call.method, path=call.path, wait_s=decision.wait_s,
                               reason=decision.reason, audited=decision.audited,
                               extra=decision.detail)
            self._pause(decision.wait_s)
        sent_at = self._clock()
        r = self._send(call)
        remaining = self.governor.observe(call.rel, r.status_code, r.headers, decision.charged,
                                          self._quota, sent_at=sent_at)
        self.recorder.quota(remaining)
        if r.status_code in call.allow_status:
            return self._response(r, call, strict=False)
        v = c.classify(r, now=self._clock(), max_wait_s=self.settings.rate_limit.max_wait_s,
                       policy=self.limits)
        return self._act(call, r, v, decision, sent_at)

    def _send(self, call: _Call) -> httpx.Response:
        started = time.perf_counter()
        try:
            r = self._follow(call)
        except _RETRIABLE_TRANSPORT as exc:
            self.recorder.request((time.perf_counter() - started) * 1000, None)
            raise Transient(f"{type(exc).__name__}: {redact(exc) or 'no response'}") from None
        except httpx.HTTPError as exc:
            raise HttpFatalError(
                f"{self.source}: {call.method} {call.path}: request failed: "
                f"{type(exc).__name__}: {redact(exc)}", method=call.method, path=call.path,
                hint="Check base_url in the config.") from None
        self.recorder.request((time.perf_counter() - started) * 1000, r.status_code)
        register_authorization(r.request.headers.get("authorization"))
        return r

    def _follow(self, call: _Call) -> httpx.Response:
        """Send `call` and follow its redirects (up to MAX_REDIRECTS) hop by hop.

        Credentials (`auth`, and any Authorization or Cookie header) go only to the base
        URL's origin. With credentials, a redirect to another origin is refused before
        anything is sent there. 303 (and 301/302 after a POST) continue as a GET without
        the body, as browsers and httpx do; 307/308 repeat the method and body.
        """
        method, url, params = call.method, call.url, call.params
        body: dict[str, Any] = {"data": call.data, "json": call.json}
        for _ in range(MAX_REDIRECTS + 1):
            same = self._same_origin(url)
            headers = call.headers if same else {
                k: v for k, v in call.headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
            r = self._http.request(method, url, params=params, headers=headers, **body,
                                   auth=self._auth if same else None, follow_redirects=False)
            location = r.headers.get("location")
            if r.status_code not in _REDIRECT_STATUSES or not location:
                return r
            target = str(r.url.join(location))
            if self._auth is not None and not self._same_origin(target):
                raise self._cross_origin(call, r.status_code, target)
            if (r.status_code == 303 and method != "HEAD") or (
                    r.status_code in (301, 302) and method == "POST"):
                method, body = "GET", {}
            url, params = target, None      # the Location is the whole next URL
        raise HttpFatalError(
            f"{self.source}: {call.method} {call.path}: more than {MAX_REDIRECTS} redirects",
            status=r.status_code, method=call.method, path=call.path,
            hint="Check base_url in the config.")

    def _cross_origin(self, call: _Call, status: int, target: str) -> HttpFatalError:
        there, here = _show_origin(target), _show_origin(self.base_url)
        return HttpFatalError(
            redact(f"{self.source}: {call.method} {call.path} -> {status} redirect to "
                   f"{there}, another host than base_url's {here}: not followed, so the "
                   "source's credentials are not sent there"),
            status=status, method=call.method, path=call.path,
            hint=f"If the service moved to {there}, set base_url to it and log in there with "
                 f"`dihub auth {self.source}` (or update the variable named by token_env).")

    def _act(self, call: _Call, r: httpx.Response, v: c.Verdict,
             decision: Decision, sent_at: float | None = None) -> Response:
        if v.kind == c.OK:
            return self._response(r, call, strict=True)
        if v.kind == c.NOT_MODIFIED:
            return Response(304, str(r.url), r.headers, etag=r.headers.get("etag") or call.etag,
                            not_modified=True, links=dict(r.links))
        label = f"{v.status} {httpx.codes.get_reason_phrase(v.status)}".strip()
        extra = {"rate_limit_reason": r.headers.get("ratelimit-reason")} \
            if r.headers.get("ratelimit-reason") else {}
        if v.kind in (c.RETRY, c.DEFER) and v.rate_limited and v.reset_at is not None:
            self.governor.block(call.rel, v.reset_at, v.reason, self._quota,
                                short=v.kind == c.RETRY and not v.exhausted, sent_at=sent_at)
        if v.kind == c.DEFER:
            raise self._rate_limited(call, v.reason, v.reset_at, v.wait_s, v.status, extra)
        if v.kind in (c.RETRY, c.GIVE_UP):
            described = label + (f': "{v.message}"' if v.message else "")
            if v.reason and v.reason != "server error":
                described += f" ({v.reason})"
            raise Transient(described, status=v.status, wait_s=v.wait_s,
                            min_wait_s=v.min_wait_s, reason=v.reason,
                            rate_limited=v.rate_limited, final=v.kind == c.GIVE_UP,
                            extra=extra)
        quoted = f': "{v.message}"' if v.message else ""
        message = f"{self.source}: {call.method} {call.path} -> {label}{quoted}"
        kw = dict(status=v.status, method=call.method, path=call.path)
        if v.kind == c.AUTH:
            hint = self._auth_hint or (
                f"Check the credentials of source {self.source!r}: log in again with "
                f"`dihub auth {self.source}` or set the variable named by token_env.")
            raise HttpAuthError(redact(message), hint=hint, **kw)
        cls, hint = (NotFound, "Check that it exists and that the credentials can see it.") \
            if v.status == 404 else (HttpFatalError, None)
        raise cls(redact(message), upstream_message=v.message, hint=hint, **kw)

    def _response(self, r: httpx.Response, call: _Call, *, strict: bool) -> Response:
        content = r.content
        # the body is read and the stream closed; an httpx response and its stream refer to
        # each other, so the body would otherwise wait for the garbage collector instead of
        # going as soon as the page it belongs to is done with (peak memory of a sync)
        r.stream = httpx.ByteStream(b"")
        data = None
        ctype = r.headers.get("content-type", "").lower()
        looks_json = "json" in ctype or content[:1] in (b"{", b"[")
        if content.strip() and looks_json:
            try:
                data = decode_json(content)
            except ValueError:
                if strict:
                    raise Transient(f"{r.status_code}: truncated or malformed JSON body "
                                    f"({len(content)} bytes)", status=r.status_code,
                                    reason="malformed JSON") from None
        return Response(r.status_code, str(r.url), r.headers, data=data,
                        etag=r.headers.get("etag"), size=len(content), links=dict(r.links),
                        raw=r)

    # -- accounting and errors ---------------------------------------------------------------
    def _on_retry(self, call: _Call, rs: RetryCallState) -> None:
        exc = rs.outcome.exception() if rs.outcome else None
        if not isinstance(exc, Transient):
            return
        wait_s = float(rs.next_action.sleep) if rs.next_action else 0.0
        self.recorder.retry(method=call.method, path=call.path, attempt=rs.attempt_number,
                            wait_s=wait_s, reason=exc.reason, error=exc.description,
                            status=exc.status, rate_limited=exc.rate_limited, extra=exc.extra)

    def _retriable_error(self, call: _Call, exc: Transient, attempts: int) -> TemporaryError:
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if exc.final:
            tries = "giving up"
        return HttpRetriableError(
            redact(f"{self.source}: {call.method} {call.path} failed ({tries}): "
                   f"{exc.description}"),
            status=exc.status, method=call.method, path=call.path, attempts=attempts,
            hint="A temporary upstream problem: the sync keeps what it wrote and cron will "
                 "retry (exit 75).")

    def _rate_limited(self, call: _Call, reason: str | None, reset_at: float | None,
                      wait_s: float | None, status: int | None,
                      extra: dict | None) -> HttpRateLimited:
        why = reason or "rate limited"
        extra_reason = (extra or {}).get("rate_limit_reason")
        if extra_reason and extra_reason not in why:
            why += f"; {extra_reason}"
        when = f"until {to_iso(reset_at)}" if reset_at else "for a while"
        secs = f"{wait_s:.0f} s, " if wait_s is not None else ""
        return HttpRateLimited(
            redact(f"{self.source}: {call.method} {call.path}: rate limited ({why}) {when} "
                   f"({secs}more than http.rate_limit.max_wait_s = "
                   f"{self.settings.rate_limit.max_wait_s:g} s)"),
            reset_at=reset_at, reason=why, status=status, method=call.method,
            path=call.path, rate_limit_reason=extra_reason,
            hint="Work done so far is checkpointed; cron will resume after the reset "
                 "(exit 75). Raise http.rate_limit.max_wait_s to wait instead.")


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in; no user info."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _show_origin(url: str) -> str:
    """`scheme://host[:port]` for a message: never user info, path or query."""
    scheme, host, port = origin_of(url)
    if ":" in host:
        host = f"[{host}]"
    shown = f"{scheme}://{host}"
    return shown if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{shown}:{port}"
