"""The per-run session of a connector: what its streams share during one run.

The engine opens one session per run and source (`Connector.open(run)`), hands a
view of it bound to each stream (`session.bind(ctx)`) to that stream's
`partitions`, `fetch` and `normalize`, and closes it in a `finally` when the run
ends (`session.close()`), whatever happened:

    class MySession(Session):
        def __init__(self, run):
            super().__init__(run)
            self.projects = Once()            # a typed per-run cache, shared by streams

        def open_http(self) -> HttpClient:    # built once per run, on first use
            return self.build_http(self.config.base_url, auth=..., limits=MY_LIMITS)

    connector = Connector(..., session=MySession)

    def project_pages(s: MySession, partition, state):
        for resp in s.http.paginate("/projects", LinkHeader()):
            yield s.page(resp.data, resp)     # the raw payload only when it is kept

A session exposes what a stream reads of the engine's per-stream Context (`source`,
`config`, `run_id`, `store`, `settings`, `log`, `metrics`, `audit`,
`progress_total`), so a stream needs nothing else. What it adds:

* `http`: the run's one HttpClient, built on first use by `open_http()` with the
  effective HTTP settings (`http_settings`: the source's `http:` or the top-level
  one), shared by every stream and partition thread (one governor, one breaker),
  and counted in the metrics of the stream that uses it (a `bind()` view);
* typed per-run caches: attributes a subclass creates in `__init__`. A view made
  by `bind` is a shallow copy, so a cache must be a mutable object created there
  (a dict, a set, a `Once`, a `OnceEach`), never an attribute assigned later;
* `page(items, response)`: a Page carrying the response's size, and its body when
  the run keeps raw payloads (`store.raw_payloads.enabled`) — the one place that
  rule is applied;
* `audit_event(...)` and `warn(...)`: audit entries with the run id, source and
  time filled in.

Thread safety: views are used by several partition threads at once, of one stream or
of several (`sync --all` runs streams together: dihub/engine/runner.py); `Once`,
`OnceEach` and the HTTP client are thread-safe. A cache filled by a request belongs in
a `Once` or `OnceEach`, so two streams that need it at the same time make the request
once; plain dict operations are atomic enough for caches filled without requests, never
iterated while filled.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from dihub.connectors.stream import _UNSET, Page
from dihub.models import AuditEntry
from dihub.timeutil import now_iso

T = TypeVar("T")
K = TypeVar("K")


class Once(Generic[T]):
    """A value computed at most once per run, thread-safe (e.g. a site's settings, the
    list of partitions). `get(factory)` computes it on first use; `setdefault(value)`
    keeps the first value given; `peek()` returns it or None without computing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: Any = _UNSET

    def get(self, factory: Callable[[], T]) -> T:
        if self._value is _UNSET:
            with self._lock:
                if self._value is _UNSET:
                    self._value = factory()
        return self._value

    def setdefault(self, value: T) -> T:
        with self._lock:
            if self._value is _UNSET:
                self._value = value
            return self._value

    def peek(self) -> T | None:
        value = self._value
        return None if value is _UNSET else value


class OnceEach(Generic[K, T]):
    """One value per key, each computed at most once per run, thread-safe (e.g. a
    repository's id, looked up by whichever stream needs it first). `get(key, factory)`
    computes it on first use; a factory that raises leaves the key unset; `[key]` reads
    a value computed before (KeyError if none was); `setdefault(key, value)` keeps the
    first value given and `put(key, value)` replaces it (a value looked up again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[K, T] = {}
        self._locks: dict[K, threading.Lock] = {}

    def get(self, key: K, factory: Callable[[], T]) -> T:
        if key in self._values:
            return self._values[key]
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = factory()
            return self._values[key]

    def setdefault(self, key: K, value: T) -> T:
        with self._lock:
            return self._values.setdefault(key, value)

    def put(self, key: K, value: T) -> None:
        self._values[key] = value

    def __getitem__(self, key: K) -> T:
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values


class Session:
    """One run of one source. Subclass it to add caches and `open_http`."""

    def __init__(self, run: Any):
        self.ctx = run                   # the engine's Context (per stream in a view)
        self._client: Once[Any] = Once()
        self._bound: Any = None

    # -- what the engine's context carries ---------------------------------------------------
    @property
    def source(self) -> str:
        return self.ctx.source

    @property
    def config(self) -> Any:
        return self.ctx.config

    @property
    def run_id(self) -> str:
        return self.ctx.run_id

    @property
    def store(self) -> Any:
        return self.ctx.store

    @property
    def settings(self) -> Any:
        return self.ctx.settings

    @property
    def log(self) -> Any:
        return self.ctx.log

    @property
    def metrics(self) -> Any:
        return self.ctx.metrics

    @property
    def audit(self) -> Callable[[AuditEntry], None] | None:
        return self.ctx.audit

    @property
    def wants_total(self) -> bool:
        return self.ctx.wants_total

    def progress_total(self, partition: str, total: int | None) -> None:
        self.ctx.progress_total(partition, total)

    # -- settings ----------------------------------------------------------------------------
    @property
    def http_settings(self) -> Any:
        """The effective HTTP settings: the source's `http:`, else the top-level one (None:
        the defaults)."""
        own = getattr(self.config, "http", None)
        return own if own is not None else getattr(self.settings, "http", None)

    @property
    def http_concurrency(self) -> int:
        """`http.concurrency` of the effective HTTP settings (4 without any): how many
        requests a pass may send at once where it reads several (dihub/http/paging.py,
        `pages_at_once`), and what a connector's own pools are sized by."""
        return max(1, int(getattr(self.http_settings, "concurrency", 4) or 4))

    @property
    def raw_payloads(self) -> bool:
        """Whether the run keeps raw page payloads in the audit log."""
        store = getattr(self.settings, "store", None)
        return bool(store is not None and store.raw_payloads.enabled)

    # -- the HTTP client ---------------------------------------------------------------------
    def open_http(self) -> Any:
        """Build the run's HttpClient (connectors that speak HTTP override this)."""
        raise NotImplementedError(f"{type(self).__name__} has no HTTP client")

    def build_http(self, base_url: str, **kwargs: Any) -> Any:
        """An HttpClient for this run: source, run id, audit, store and the effective
        settings filled in; `kwargs` add auth, headers, limits, ..."""
        from dihub.http import HttpClient

        defaults = dict(source=self.source, settings=self.http_settings, counters=None,
                        audit=self.audit, run_id=self.run_id, store=self.store)
        return HttpClient(base_url, **{**defaults, **kwargs})

    @property
    def http(self) -> Any:
        """The run's HttpClient, counting in this stream's metrics and audit."""
        if self._bound is None:
            self._bound = self._client.get(self.open_http).bind(
                counters=self.metrics, audit=self.audit)
        return self._bound

    # -- views and closing -------------------------------------------------------------------
    def bind(self, ctx: Any) -> Session:
        """A view of this session for one stream's context (its metrics, audit, progress);
        it shares the run's client and caches."""
        view = copy.copy(self)
        view.ctx = ctx
        view._bound = None
        return view

    def close(self) -> None:
        """End the run: close the HTTP client (if one was built). Safe to call twice."""
        client = self._client.peek()
        if client is not None:
            client.close()

    # -- pages and audit ---------------------------------------------------------------------
    def page(self, items: list[dict[str, Any]], response: Any = None, *,
             raw: bool = True, **kw: Any) -> Page:
        """A Page of `items` read from `response`: its size, and its body when raw payloads
        are kept (and `raw` is true). `kw`: cursor, etags."""
        size = getattr(response, "size", 0) if response is not None else 0
        payload = None
        if raw and response is not None and self.raw_payloads \
                and not getattr(response, "not_modified", False):
            payload = response.text
        return Page(items, raw_size=size, raw_payload=payload, **kw)

    def audit_event(self, *, action: str, outcome: str, entity: str | None = None,
                    stream: str | None = None, partition: str | None = None,
                    **kw: Any) -> None:
        """Append an audit entry (no-op without an audit sink, e.g. a dry run's)."""
        if self.audit is None:
            return
        self.audit(AuditEntry(run_id=self.run_id, source=self.source, entity=entity,
                              stream=stream, partition=partition, action=action,
                              outcome=outcome, timestamp=now_iso(), **kw))

    def warn(self, message: str, *, entity: str | None = None, stream: str | None = None,
             partition: str | None = None, action: str = "fetch",
             detail: dict[str, Any] | None = None, logged: str | None = None) -> None:
        """Log a warning and audit it (outcome "warning"). `logged` replaces the message in
        the log line."""
        self.log.warning("%s", logged if logged is not None else message)
        kw: dict[str, Any] = {"detail": detail} if detail else {}
        self.audit_event(action=action, outcome="warning", entity=entity, stream=stream,
                         partition=partition, error=message, **kw)
