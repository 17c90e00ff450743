"""The ASGI application of `dihub serve` (FastAPI on uvicorn).

Routes
  POST /webhooks/github | /webhooks/slack | /webhooks/jira   signed deliveries
  POST /webhooks/gitlab               deliveries with the source's X-Gitlab-Token
  GET  /api/fetch/{source}/{entity}   stored records, keyset-paged like `dihub fetch`
  GET  /api/health                    200 healthy / 503 with reasons
  GET  /metrics                       Prometheus text exposition
  POST /api/sync/{source}/{stream}    start a pass in the background (409 when running)
  GET  /                              the dashboard
  GET  /openapi.json, /docs           the OpenAPI document

A webhook is answered 2xx only once it is stored in the inbox (durable), after its
signature was verified; nothing unverified is stored. The read API, /metrics and
the dashboard need the bearer token (`serve.token_sha256`, or the variable named by
`serve.token_env`); compared as SHA-256 digests with hmac.compare_digest. The
dashboard also accepts HTTP Basic with the token as password, so a browser can
open it. /api/health answers without a token (load balancers probe it) and says
only what is unhealthy. No log line holds a secret, a token or a signature: the
access log is uvicorn's (method, path, status), and query strings are not secrets.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from dihub.inbox.gitlab_hooks import HOOK_EVENTS
from dihub.serve import verify
from dihub.serve.sources import pick, pick_gitlab, webhook_sources
from dihub.serve.worker import LAG_BUCKETS, InboxWorker, Stats

log = logging.getLogger("dihub.serve")
STATIC = Path(__file__).parent / "static"

GITHUB_EVENTS = ("workflow_run", "workflow_job", "push", "pull_request", "issues")
# Headers kept with a delivery: what processing and `webhooks list` need. Never the
# signature headers, never Authorization or cookies.
KEPT_HEADERS = {
    "github": ("x-github-event", "x-github-delivery", "x-github-hook-id",
               "x-github-hook-installation-target-type", "user-agent", "content-type"),
    "slack": ("x-slack-request-timestamp", "x-slack-retry-num", "x-slack-retry-reason",
              "user-agent", "content-type"),
    "jira": ("x-atlassian-webhook-identifier", "x-atlassian-webhook-retry", "user-agent",
             "content-type"),
    "gitlab": ("x-gitlab-event", "x-gitlab-instance", "x-gitlab-webhook-uuid",
               "x-gitlab-event-uuid", "idempotency-key", "user-agent", "content-type"),
}


class Server:
    """Per-process state: config, store, worker, counters, background syncs."""

    def __init__(self, cfg: Any, *, start_worker: bool = True):
        from dihub.store import open_configured_store

        self.cfg = cfg
        self.settings = cfg.settings.serve
        self.store = open_configured_store(cfg)
        # the inbox writes of the request handlers get a connection of their own, so an
        # acknowledgement never queues behind the worker's batch on one connection lock
        self.inbox_store = open_configured_store(cfg)
        self.inbox_writer = InboxWriter(self.inbox_store)
        self.stats = Stats()
        self.sources = webhook_sources(cfg)
        self.token_hash = _token_hash(self.settings)
        if self.token_hash is None:
            log.warning("no API token configured (serve.token_sha256 or $%s): the read API, "
                        "/metrics and the dashboard refuse every request",
                        self.settings.token_env)
        self.worker = InboxWorker(cfg, self.store, self.stats) if start_worker else None
        self.syncs: dict[tuple[str, str], Any] = {}
        self.syncs_lock = threading.Lock()
        self.started = time.time()

    def start(self) -> None:
        self.inbox_writer.start()
        if self.worker is not None:
            self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(self.settings.timeout_s)
            log.info("dihub serve: inbox worker stopped (%d pending deliveries are processed "
                     "at the next start)", self.store.inbox_stats(time.time())["pending"])
        with self.syncs_lock:
            running = list(self.syncs.values())
        for thread, runner in running:
            runner.stopped_by = "SIGTERM"
            runner._stop.set()          # stops at its next page, checkpointed
            thread.join(self.settings.timeout_s)
        if self.inbox_writer.is_alive():
            self.inbox_writer.stop()
        self.inbox_store.close()
        self.store.close()


class InboxWriter(threading.Thread):
    """Group commit of the acknowledgements: request handlers hand their delivery over
    and await it; this thread writes every delivery waiting at that moment in one
    transaction (`inbox_put_many`) and then answers each. A delivery is acknowledged
    only after the commit that holds it, as before, but 500 deliveries a second cost a
    few dozen commits instead of 500 (and as many waits for the write lock), with no
    request thread parked on the store."""

    MAX_BATCH = 256

    def __init__(self, store: Any):
        super().__init__(name="dihub-inbox-writer", daemon=True)
        self.store = store
        self.queue: queue.SimpleQueue = queue.SimpleQueue()

    async def put(self, delivery: dict[str, Any]) -> bool:
        if self.ident is None:        # an app used without its lifespan (tests)
            self.start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.put((delivery, loop, future))
        return await future

    def stop(self) -> None:
        self.queue.put(None)
        self.join(30)

    def run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self.MAX_BATCH:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.queue.put(None)      # stop after this batch
                    break
                batch.append(more)
            try:
                answers: list[Any] = self.store.inbox_put_many([d for d, _, _ in batch])
            except Exception as exc:   # noqa: BLE001 - every waiting request gets it
                answers = [exc] * len(batch)
            for (_, loop, future), answer in zip(batch, answers, strict=True):
                loop.call_soon_threadsafe(_settle, future, answer)


def _settle(future: asyncio.Future, answer: Any) -> None:
    if future.done():                 # the request was cancelled (client gone)
        return
    if isinstance(answer, BaseException):
        future.set_exception(answer)
    else:
        future.set_result(answer)


def _token_hash(settings: Any) -> str | None:
    if settings.token_sha256:
        return settings.token_sha256
    token = os.environ.get(settings.token_env, "").strip()
    return hashlib.sha256(token.encode()).hexdigest() if token else None


def _presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def _authorized(server: Server, request: Request) -> bool:
    token = _presented_token(request)
    if not token or server.token_hash is None:
        return False
    digest = hashlib.sha256(token.encode()).hexdigest()
    return hmac.compare_digest(digest.encode(), server.token_hash.encode())


def create_app(cfg: Any, *, start_worker: bool = True) -> FastAPI:
    server = Server(cfg, start_worker=start_worker)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        server.start()
        try:
            yield
        finally:
            await run_in_threadpool(server.stop)

    app = FastAPI(title="dihub", version=_version(), lifespan=lifespan,
                  description="Webhooks in, records out: the HTTP face of dihub.")
    app.state.server = server
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def require_token(request: Request) -> None:
        if not _authorized(server, request):
            raise HTTPException(401, "a valid bearer token is required",
                                headers={"WWW-Authenticate": 'Bearer realm="dihub"'})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        from dihub.errors import DihubError

        if isinstance(exc, DihubError):
            status = 400 if exc.exit_code == 2 else 503
            return JSONResponse({"detail": str(exc), "hint": exc.hint}, status_code=status)
        log.error("%s %s: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    # -- webhooks ------------------------------------------------------------------

    async def receive(kind: str, request: Request) -> JSONResponse:
        try:
            body = await _read_body(request, server.settings.max_body_bytes)
            candidates = [s for s in server.sources[kind] if s.secret]
            if not candidates:
                raise verify.Rejected(f"no {kind} source has a webhook secret configured")
            h = request.headers
            if kind == "slack":
                ts = verify.slack_timestamp(h.get("x-slack-request-timestamp"), time.time(),
                                            server.settings.slack_max_age_s)
                ok = [s for s in candidates
                      if verify.slack_signature_ok(s.secret, ts, body, h.get("x-slack-signature"))]
            elif kind == "gitlab":
                token = h.get("x-gitlab-token")
                if not token:
                    raise verify.Rejected("missing X-Gitlab-Token")
                ok = [s for s in candidates if verify.token_ok(s.secret, token)]
            else:
                header = h.get("x-hub-signature-256" if kind == "github" else "x-hub-signature")
                if not header:
                    raise verify.Rejected("missing signature header")
                ok = [s for s in candidates if verify.hub_signature_ok(s.secret, body, header)]
            if not ok:
                raise verify.Rejected("X-Gitlab-Token does not match" if kind == "gitlab"
                                      else "signature does not match")
            try:
                payload = json.loads(body)
            except ValueError:
                raise verify.Rejected("the body is not JSON", 400) from None
            if not isinstance(payload, dict):
                raise verify.Rejected("the body is not a JSON object", 400)
        except verify.Rejected as rej:
            server.stats.inc("rejected", (kind, rej.reason.split(":")[0][:60]))
            log.info("webhook %s rejected: %s", kind, rej.reason)
            return JSONResponse({"detail": rej.reason}, status_code=rej.status)
        event, delivery_id = None, None
        stored_body = body
        if kind == "gitlab":
            event = h.get("x-gitlab-event") or ""
            if event not in HOOK_EVENTS:
                return JSONResponse({"ok": True, "ignored": event}, status_code=202)
            found = pick_gitlab(ok, h.get("x-gitlab-instance"), payload)
            if found is None:
                return JSONResponse({"ok": True, "ignored": "project"}, status_code=202)
            source = found
            delivery_id = _gitlab_delivery_id(h, event, body)
        else:
            source = pick(kind, ok, payload)
        if kind == "github":
            event = h.get("x-github-event") or ""
            if event == "ping":
                return JSONResponse({"ok": True, "zen": payload.get("zen")})
            if event not in GITHUB_EVENTS:
                return JSONResponse({"ok": True, "ignored": event}, status_code=202)
            delivery_id = h.get("x-github-delivery")
        elif kind == "slack":
            kind_of = payload.get("type")
            if kind_of == "url_verification":
                return JSONResponse({"challenge": payload.get("challenge")})
            if kind_of != "event_callback":
                return JSONResponse({"ok": True, "ignored": kind_of}, status_code=202)
            event = (payload.get("event") or {}).get("type")
            delivery_id = payload.get("event_id")
            # the deprecated verification token is a secret: not stored
            stored_body = json.dumps({k: v for k, v in payload.items() if k != "token"},
                                     separators=(",", ":"), ensure_ascii=False).encode()
        elif kind == "jira":
            event = payload.get("webhookEvent")
            delivery_id = h.get("x-atlassian-webhook-identifier")
        if not delivery_id:
            delivery_id = "sha256:" + hashlib.sha256(body).hexdigest()
        headers = {k: v for k, v in h.items() if k.lower() in KEPT_HEADERS[kind]}
        delivery = {"kind": kind, "source": source.name, "delivery_id": str(delivery_id)[:200],
                    "event": str(event or "")[:100], "received_ts": time.time(),
                    "headers": headers, "body": stored_body}
        try:
            new = await server.inbox_writer.put(delivery)
        except Exception as exc:   # noqa: BLE001 - not durable: the sender must retry
            log.error("webhook %s: cannot store the delivery: %s", kind, type(exc).__name__)
            return JSONResponse({"detail": "the store is unavailable; retry"}, status_code=503)
        server.stats.inc("received" if new else "duplicates", (kind, source.name))
        return JSONResponse({"ok": True, "duplicate": not new})

    webhook_doc = {"requestBody": {"content": {"application/json": {"schema": {
        "type": "object"}}}, "required": True}}

    @app.post("/webhooks/github", tags=["webhooks"], openapi_extra=webhook_doc,
              summary="GitHub webhook (X-Hub-Signature-256)")
    async def github_webhook(request: Request):
        return await receive("github", request)

    @app.post("/webhooks/slack", tags=["webhooks"], openapi_extra=webhook_doc,
              summary="Slack Events API (X-Slack-Signature v0)")
    async def slack_webhook(request: Request):
        return await receive("slack", request)

    @app.post("/webhooks/jira", tags=["webhooks"], openapi_extra=webhook_doc,
              summary="Jira Cloud webhook (X-Hub-Signature)")
    async def jira_webhook(request: Request):
        return await receive("jira", request)

    @app.post("/webhooks/gitlab", tags=["webhooks"], openapi_extra=webhook_doc,
              summary="GitLab webhook (X-Gitlab-Token)")
    async def gitlab_webhook(request: Request):
        return await receive("gitlab", request)

    # -- read API ------------------------------------------------------------------

    @app.get("/api/fetch/{source}/{entity}", tags=["api"], dependencies=[Depends(require_token)],
             summary="Stored records, oldest update first (keyset paging like `dihub fetch`)")
    async def api_fetch(source: str = PathParam(...), entity: str = PathParam(...),
                        since: str | None = Query(None, description="updated_at >= (ISO date)"),
                        until: str | None = Query(None, description="updated_at < (ISO date)"),
                        limit: int = Query(100, ge=1, le=1000),
                        cursor: str | None = Query(None, description="previous next_cursor")):
        from dihub.timeutil import to_iso

        _check_source_entity(cfg, source, entity)
        try:
            since_iso = to_iso(since) if since else None
            until_iso = to_iso(until) if until else None
        except (ValueError, TypeError, OverflowError):
            raise HTTPException(400, "since/until: use a date (2026-01-01) or a time "
                                     "(2026-01-01T12:00:00Z)") from None
        page = await run_in_threadpool(server.store.query, entity, source=source,
                                       since=since_iso, until=until_iso, cursor=cursor,
                                       limit=limit)
        return {"data": page.records, "next_cursor": page.next_cursor}

    @app.get("/api/health", tags=["api"], summary="200 when healthy, 503 with reasons")
    async def api_health():
        from dihub.serve.health import health

        try:
            body = await asyncio.wait_for(run_in_threadpool(health, server), timeout=10)
        except TimeoutError:
            body = {"status": "unhealthy", "reasons": ["the store did not answer in 10 s"]}
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    @app.get("/metrics", tags=["api"], dependencies=[Depends(require_token)],
             response_class=PlainTextResponse, summary="Prometheus text exposition")
    async def metrics():
        text = await run_in_threadpool(_metrics_text, server)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @app.post("/api/sync/{source}/{stream}", tags=["api"], status_code=202,
              dependencies=[Depends(require_token)],
              summary="Start a sync pass of one stream in the background")
    async def api_sync(source: str = PathParam(...), stream: str = PathParam(...)):
        from dihub.serve.syncs import start_sync

        return await run_in_threadpool(start_sync, server, source, stream)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard(request: Request):
        if not _authorized(server, request):
            return HTMLResponse("<!doctype html><title>dihub</title><p>Log in with the API "
                                "token as password.</p>", status_code=401,
                                headers={"WWW-Authenticate": 'Basic realm="dihub"'})
        from dihub.serve.dashboard import render

        return HTMLResponse(await run_in_threadpool(render, server))

    return app


def _gitlab_delivery_id(h: Any, event: str, body: bytes) -> str:
    """The key that makes a resent GitLab delivery a duplicate: `Idempotency-Key` (the
    same on every retry of a delivery), else `X-Gitlab-Webhook-UUID` (one per delivery,
    older GitLab), else `X-Gitlab-Event-UUID` with the event and the body's digest: GitLab
    gives every hook that one action (and the hooks it sets off) triggers the same event
    UUID, so it names a delivery only together with what was delivered."""
    if h.get("idempotency-key"):
        return "idem:" + h["idempotency-key"].strip()
    if h.get("x-gitlab-webhook-uuid"):
        return "hook:" + h["x-gitlab-webhook-uuid"].strip()
    digest = hashlib.sha256(body).hexdigest()
    if h.get("x-gitlab-event-uuid"):
        return f"event:{h['x-gitlab-event-uuid'].strip()}:{event}:{digest[:32]}"
    return "sha256:" + digest


def _check_source_entity(cfg: Any, source: str, entity: str) -> None:
    from dihub.connectors.registry import load_connector
    from dihub.errors import DihubError
    from dihub.models.records import ENTITIES

    model = cfg.sources.get(source)
    if model is None:
        raise HTTPException(404, "unknown source")
    if entity not in ENTITIES:
        raise HTTPException(404, f"unknown entity; entities: {', '.join(ENTITIES)}")
    try:
        connector = load_connector(model.connector)
    except DihubError:
        return
    produced = {n for s in connector.streams.values() for n in (s.entity, *s.also_emits)}
    if entity not in produced:
        raise HTTPException(404, f"source {source!r} has no {entity} records")


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise verify.Rejected(f"the body is larger than {limit} bytes", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise verify.Rejected(f"the body is larger than {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _metrics_text(server: Server) -> str:
    from dihub.metrics_export import latest_per_stream, to_prometheus

    lines = [to_prometheus(latest_per_stream(server.store.query_metrics(limit=1000))).rstrip()]
    st = server.stats

    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    with st.lock:
        for name, counter, labels, help_ in (
                ("dihub_webhook_deliveries_received_total", st.received, ("kind", "source"),
                 "Verified deliveries stored in the inbox (this process)."),
                ("dihub_webhook_deliveries_duplicate_total", st.duplicates, ("kind", "source"),
                 "Deliveries already in the inbox (retries), acknowledged, not stored again."),
                ("dihub_webhook_deliveries_rejected_total", st.rejected, ("kind", "reason"),
                 "Deliveries refused (signature, timestamp, size, body)."),
                ("dihub_webhook_deliveries_processed_total", st.processed, ("kind", "source"),
                 "Deliveries turned into records."),
                ("dihub_webhook_deliveries_failed_total", st.failed, ("kind", "source"),
                 "Processing attempts that failed (retried with backoff).")):
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} counter"]
            lines += [f'{name}{{{labels[0]}="{esc(k[0])}",{labels[1]}="{esc(k[1])}"}} {v}'
                      for k, v in sorted(counter.items())]
        name = "dihub_webhook_processing_lag_seconds"
        lines += [f"# HELP {name} From receipt to records written.", f"# TYPE {name} histogram"]
        lines += [f'{name}_bucket{{le="{b:g}"}} {n}' for b, n in zip(LAG_BUCKETS,
                                                                      st.lag_buckets,
                                                                      strict=True)]
        lines += [f'{name}_bucket{{le="+Inf"}} {st.lag_count}', f"{name}_sum {st.lag_sum:.6f}",
                  f"{name}_count {st.lag_count}"]
    inbox = server.store.inbox_stats(time.time())
    lines += ["# HELP dihub_webhook_inbox_deliveries Deliveries in the inbox by status.",
              "# TYPE dihub_webhook_inbox_deliveries gauge"]
    lines += [f'dihub_webhook_inbox_deliveries{{status="{s}"}} {inbox[s]}'
              for s in ("pending", "done", "failed")]
    lines += ["# HELP dihub_webhook_inbox_oldest_pending_seconds Age of the oldest pending "
              "delivery (processing lag).",
              "# TYPE dihub_webhook_inbox_oldest_pending_seconds gauge",
              f"dihub_webhook_inbox_oldest_pending_seconds {inbox['oldest_pending_age_s']:.3f}"]
    return "\n".join(line for line in lines if line) + "\n"


def _version() -> str:
    from dihub import __version__

    return __version__


def app_from_env() -> FastAPI:
    """The uvicorn factory for `--workers N`: each worker process loads the config that
    `dihub serve` named in $DIHUB_SERVE_CONFIG (a path; empty: the default lookup)."""
    from dihub import log as dlog
    from dihub.config import load_config

    dlog.setup(int(os.environ.get("DIHUB_SERVE_VERBOSE", "0")), False,
               os.environ.get("DIHUB_SERVE_LOG_FORMAT", "text"))
    return create_app(load_config(os.environ.get("DIHUB_SERVE_CONFIG") or None))
