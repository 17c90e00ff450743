"""`dihub auth`: log in to a source, show who is logged in, log out."""

from __future__ import annotations

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
) -> None:
    """`dihub auth github` logs in (OAuth device flow, or --with-token);
    `dihub auth status [SOURCE]`; `dihub auth logout SOURCE`.

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
                info = conn.auth.status(name, src)
                _print_status(name, info)
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
    token = None
    if with_token:
        token = sys.stdin.readline().strip()
        if not token:
            raise UsageError("--with-token: no token on standard input")

    def on_code(user_code: str, uri: str) -> None:
        typer.echo(f"First copy your one-time code: {user_code}", err=True)
        typer.echo(f"Then open {uri} in a browser and enter it. Waiting...", err=True)

    kwargs = {"with_token": token, "allow_file": insecure_store_file, "on_code": on_code}
    import inspect

    if "prompt" in inspect.signature(conn.auth.login).parameters:
        kwargs["prompt"] = _prompt
    who = conn.auth.login(target, src, **kwargs)
    typer.echo(f"{target}: logged in" + (f" as {who}" if who else ""))


def _prompt(text: str, secret: bool = False) -> str:
    """Ask on the terminal (the secret is not echoed); used by logins that need several
    values, such as Jira's email + API token."""
    return typer.prompt(text, hide_input=secret, err=True)


def _print_status(name: str, info: dict) -> None:
    """One line per source; `host` is the host its credential is bound to (and sent to)."""
    if not info.get("logged_in"):
        where = f" to {info['host']}" if info.get("host") else ""
        typer.echo(f"{name}: not logged in{where}" + (f" ({info['error']})"
                                                       if info.get("error") else ""))
        return
    details = ", ".join(f"{k}: {v}" for k, v in info.items()
                        if k not in ("logged_in",) and v not in (None, "", []))
    typer.echo(f"{name}: logged in ({details})")
