"""`dihub serve` and `dihub webhooks list|replay|set-secret`."""

import sys

import typer

from dihub.cli.state import handles_errors, state

webhooks_app = typer.Typer(help="The webhook inbox of `dihub serve`.", no_args_is_help=True)


@handles_errors
def serve(
    host: str = typer.Option(None, "--host", help="Address to bind. Default: serve.host "
                                                  "(127.0.0.1). Put TLS in front of it."),
    port: int = typer.Option(None, "--port", min=1, max=65535,
                             help="Default: serve.port (8787)."),
    workers: int = typer.Option(None, "--workers", min=1, max=64,
                                help="Server processes. Default: serve.workers (1)."),
) -> None:
    """Receive webhooks (GitHub, Slack, Jira), serve the read API, /metrics and a dashboard.

    Runs until SIGTERM or Ctrl-C, which stop accepting, finish in-flight requests and the
    inbox batch in hand, then exit 0.
    """
    import logging
    import os

    import uvicorn

    cfg = state.config()
    s = cfg.settings.serve
    host, port, workers = host or s.host, port or s.port, workers or s.workers
    log = logging.getLogger("dihub.serve")
    if host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("binding %s: the server is reachable from other hosts; terminate TLS in "
                    "front of it (see the README)", host)
    common = dict(host=host, port=port, log_config=None, proxy_headers=False,
                  timeout_keep_alive=5, timeout_graceful_shutdown=int(s.timeout_s),
                  server_header=False)
    log.info("dihub serve on http://%s:%s (%d worker%s)", host, port, workers,
             "" if workers == 1 else "s")
    if workers == 1:
        from dihub.serve.app import create_app

        uvicorn.run(create_app(cfg), **common)
    else:
        os.environ["DIHUB_SERVE_CONFIG"] = str(cfg.path or "")
        os.environ["DIHUB_SERVE_VERBOSE"] = str(state.verbose)
        os.environ["DIHUB_SERVE_LOG_FORMAT"] = state.log_format
        uvicorn.run("dihub.serve.app:app_from_env", factory=True, workers=workers, **common)


@webhooks_app.command("list")
@handles_errors
def list_deliveries(
    failed: bool = typer.Option(False, "--failed", help="Only deliveries that failed "
                                                        "(given up, or waiting to retry)."),
    status: str = typer.Option(None, "--status", help="pending, done or failed."),
    limit: int = typer.Option(50, "--limit", min=1, max=10000),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """The newest deliveries in the inbox (bodies are not shown)."""
    import json

    from dihub.errors import UsageError
    from dihub.timeutil import to_iso

    if status not in (None, "pending", "done", "failed"):
        raise UsageError(f"unknown --status {status!r}; use pending, done or failed")
    store = state.store()
    try:
        rows = store.inbox_list(status=status, limit=limit, failed=failed)
    finally:
        store.close()
    for r in rows:
        r["received_at"] = to_iso(r.pop("received_ts"))
        r["processed_at"] = to_iso(r.pop("processed_ts")) if r.get("processed_ts") else None
        r["next_attempt_at"] = (to_iso(r.pop("next_attempt_ts"))
                                if r["status"] == "pending" else r.pop("next_attempt_ts") and None)
    if as_json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return
    if not rows:
        print("no deliveries" + (" failed" if failed else ""))
        return
    for r in rows:
        err = f"  error: {r['error']}" if r.get("error") else ""
        print(f"{r['id']:>8}  {r['received_at']}  {r['kind']:<6} {r['source']:<12} "
              f"{(r.get('event') or '-'):<20} {r['status']:<8} attempts={r['attempts']}{err}")


@webhooks_app.command("replay")
@handles_errors
def replay(delivery: int = typer.Argument(..., help="The delivery's ID (`webhooks list`).")
           ) -> None:
    """Queue a delivery for processing again now (e.g. a failed one, after a fix)."""
    import time

    from dihub.errors import UsageError

    store = state.store()
    try:
        if not store.inbox_replay(delivery, time.time()):
            found = store.inbox_get(delivery)
            raise UsageError(f"no delivery {delivery} in the inbox" if found is None else
                             f"delivery {delivery} has no body any more (processed Slack "
                             "deliveries keep no text); it cannot be replayed")
    finally:
        store.close()
    print(f"delivery {delivery} queued; `dihub serve` processes it within a second")


@webhooks_app.command("set-secret")
@handles_errors
def set_secret(source: str = typer.Argument(..., help="A github, slack, jira or gitlab source."),
               insecure_store_file: bool = typer.Option(
                   False, "--insecure-store-file",
                   help="Without a keyring: keep it in a private (0600) file.")) -> None:
    """Store SOURCE's webhook signing secret in the keyring, read from stdin."""
    from dihub import secrets
    from dihub.errors import UsageError
    from dihub.serve.sources import SECRET_NAME

    model = state.config().source(source)
    if model.connector not in ("github", "slack", "jira", "gitlab"):
        raise UsageError(f"source {source!r} ({model.connector}) receives no webhooks")
    value = sys.stdin.readline().strip()
    if not value:
        raise UsageError("no secret on stdin", hint=f"echo \"$SECRET\" | dihub webhooks "
                                                    f"set-secret {source}")
    where = secrets.set_secret(source, SECRET_NAME, value, allow_file=insecure_store_file,
                               host=secrets.host_of(model.base_url))
    print(f"webhook secret of {source} stored ({where})")


def register(app: typer.Typer) -> None:
    """Called once by dihub.cli.app."""
    app.command("serve")(serve)
    app.add_typer(webhooks_app, name="webhooks")
