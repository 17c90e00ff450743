"""`dihub auth`: log in to a source, show who is logged in, log out."""

import typer

from dihub.cli.state import handles_errors, state

ACTIONS = ("status", "logout")


@handles_errors
def auth(
    target: str = typer.Argument(..., metavar="SOURCE|status|logout",
                                 help="A source to log in to, or `status` / `logout`."),
    source: str = typer.Argument(None, help="With status/logout: the source (default: all)."),
    with_token: bool = typer.Option(False, "--with-token",
                                    help="Read a token from standard input instead of an "
                                         "interactive login (like `gh auth login`)."),
    insecure_store_file: bool = typer.Option(
        False, "--insecure-store-file",
        help="On a machine without a keyring, store the credential in a 0600 file in the "
             "config dir. Off by default: dihub never writes plaintext silently."),
    check: bool = typer.Option(
        False, "--check",
        help="With status: ask each host (in parallel, one attempt, --timeout) whether it "
             "accepts the credential; exit 1 if any does not. Without it, status only says "
             "where each credential comes from and contacts no one."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, max=120,
                                  help="With status --check: seconds per host."),
    app_id: str = typer.Option(None, "--app-id",
                               help="GitHub App: the app's ID (as in the source's `app:`)."),
    private_key_file: str = typer.Option(
        None, "--private-key-file",
        help="GitHub App: check this private key (.pem) and store it in the keyring."),
) -> None:
    """`dihub auth github` logs in (OAuth device flow, or --with-token);
    `dihub auth status [SOURCE] [--check]`; `dihub auth logout SOURCE`.

    Tokens go to the system keyring (service "dihub"), bound to the host of the
    source's base_url: a stored token is never sent to another host. In CI, set the
    environment variable named by the source's `token_env` instead.
    """
    import sys

    from dihub.connectors.registry import load_connector
    from dihub.errors import UsageError

    cfg = state.config()
    if target in ACTIONS:
        names = [source] if source else list(cfg.sources)
        needs_login = [n for n in names
                       if load_connector(cfg.source(n).connector).auth is not None]
        if not source and not needs_login:
            typer.echo("no configured source needs a login")
            return
        if (check or timeout != 5.0) and target != "status":
            raise UsageError("--check and --timeout go with `dihub auth status`")
        todo = []
        for name in names:
            src = cfg.source(name)
            conn = load_connector(src.connector)
            if conn.auth is None:
                if source:
                    typer.echo(f"{name}: the {conn.name} connector needs no login")
                continue
            if target == "logout":
                removed = conn.auth.logout(name)
                typer.echo(f"{name}: {'logged out' if removed else 'no stored credential'}")
            else:
                todo.append((name, src, conn))
        if target == "status" and todo:
            failed = _statuses(todo, check=check, timeout=timeout)
            if check and failed:
                raise typer.Exit(1)
        return
    if source:
        raise UsageError(f"unexpected argument {source!r}",
                         hint="Use `dihub auth SOURCE`, `dihub auth status [SOURCE]` or "
                              "`dihub auth logout SOURCE`.")
    src = cfg.source(target)
    conn = load_connector(src.connector)
    if conn.auth is None:
        typer.echo(f"{target}: the {conn.name} connector needs no login")
        return
    if app_id is not None or private_key_file is not None:
        if not private_key_file or not hasattr(conn.auth, "login_app"):
            raise UsageError("--app-id and --private-key-file log a GitHub source in as a "
                             "GitHub App; give both (--app-id is optional when the config "
                             "has `app.app_id`)")
        from pathlib import Path
        try:
            pem = Path(private_key_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {private_key_file} ({type(exc).__name__})") from None
        who = conn.auth.login_app(target, src, private_key=pem, app_id=app_id,
                                  allow_file=insecure_store_file)
        typer.echo(f"{target}: logged in as {who}; the key is stored, bound to its host")
        return
    token = None
    if with_token:
        token = sys.stdin.readline().strip()
        if not token:
            raise UsageError("--with-token: no token on standard input")

    def on_code(user_code: str, uri: str) -> None:
        typer.echo(f"First copy your one-time code: {user_code}", err=True)
        typer.echo(f"Then open {uri} in a browser and enter it. Waiting...", err=True)

    # every login takes the same arguments (dihub.connectors.base.Login)
    who = conn.auth.login(target, src, with_token=token, allow_file=insecure_store_file,
                          on_code=on_code, prompt=_prompt)
    typer.echo(f"{target}: logged in" + (f" as {who}" if who else ""))


def _prompt(text: str, secret: bool = False) -> str:
    """Ask on the terminal (the secret is not echoed); used by logins that need several
    values, such as Jira's email + API token."""
    return typer.prompt(text, hide_input=secret, err=True)


def _statuses(todo, *, check: bool, timeout: float) -> int:
    """Print each source's status in config order; with `check`, the hosts are asked in
    parallel. Returns how many checks failed (no credential, rejected, unreachable)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(item):
        name, src, conn = item
        if check:
            return conn.auth.status(name, src, check=True, timeout_s=timeout)
        return conn.auth.status(name, src)

    if check and len(todo) > 1:
        with ThreadPoolExecutor(min(8, len(todo)), thread_name_prefix="dihub-auth") as pool:
            infos = list(pool.map(one, todo))
    else:
        infos = [one(item) for item in todo]
    failed = 0
    for (name, _src, _conn), info in zip(todo, infos, strict=True):
        _print_status(name, info, check=check)
        failed += info.get("state") != "ok"
    return failed


_SHOWN = ("via", "host", "user", "team", "bot_user", "scopes", "deployment", "app",
          "installations")


def _print_status(name: str, info: dict, *, check: bool = False) -> None:
    """One line per source. Without --check nothing was asked of the host: the line says
    where the credential comes from (`via`: env, keyring, file) and the host it is bound
    to (and sent to). With --check: `ok as <who>`, `rejected (401)`, or `credential
    present, host unreachable`."""
    state = info.get("state") or ("ok" if info.get("logged_in") else "missing")
    host = info.get("host")
    if state == "missing":
        where = f" to {host}" if host else ""
        typer.echo(f"{name}: not logged in{where}" + (f" ({info['error']})"
                                                       if info.get("error") else ""))
        return
    details = ", ".join(f"{k}: {', '.join(v) if isinstance(v, list) else v}"
                        for k in _SHOWN if k != "user"
                        and (v := info.get(k)) not in (None, "", []))
    error = str(info.get("error") or "")
    if error.startswith(f"{name}: "):          # the source is not named twice
        error = error[len(name) + 2:]
    if state == "present":
        typer.echo(f"{name}: credential present ({details}); not checked, --check asks "
                   f"{host}")
    elif state == "ok":
        who = info.get("user") or info.get("bot_user") or "?"
        typer.echo(f"{name}: ok as {who} ({details})")
    elif state == "rejected":
        code = f" ({info['http_status']})" if info.get("http_status") else ""
        typer.echo(f"{name}: rejected{code} by {host} ({details}): {error}")
    elif state == "unreachable":
        typer.echo(f"{name}: credential present, host unreachable ({details}): {error}")
    else:
        typer.echo(f"{name}: check failed ({details}): {error}")
