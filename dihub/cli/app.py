"""The `dihub` command. Heavy modules are imported inside commands so that
`dihub --help` starts fast enough for cron."""

from __future__ import annotations

import typer

from dihub import __version__
from dihub.cli import auth, inspect, sync
from dihub.cli import config as config_cmd
from dihub.cli import fetch as fetch_cmd
from dihub.cli import store as store_cmd
from dihub.cli.state import state

EPILOG = (
    "Exit codes: 0 ok; 1 a failure; 2 usage or config error; "
    "75 temporary (lease held by another run, rate limited, upstream down) - cron retries."
)

app = typer.Typer(
    name="dihub",
    help="Pull engineering data from git, GitHub, GitLab, Jira and Slack into one normalized, "
         "deduplicated, auditable store.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dihub {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    config: str = typer.Option(None, "--config", "-c", envvar="DIHUB_CONFIG",
                               help="Config file. Default: ./dihub.yaml, then "
                                    "~/.config/dihub/config.yaml.", show_default=False),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True,
                                help="More detail (-vv for every HTTP request)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
    log_format: str = typer.Option("text", "--log-format", help="Log lines: text or json.",
                                   case_sensitive=False),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    from dihub import log

    log_format = log_format.lower()
    if log_format not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--log-format")
    state.config_path, state.verbose, state.quiet, state.log_format = (
        config, verbose, quiet, log_format)
    log.setup(verbose, quiet, log_format)


app.command("sync", epilog=EPILOG)(sync.sync)
app.command("fetch", epilog=EPILOG)(fetch_cmd.fetch)
app.command("auth")(auth.auth)
app.command("audit")(inspect.audit)
app.command("metrics")(inspect.metrics)
app.command("status")(inspect.status)
app.command("connectors")(inspect.connectors)
app.add_typer(config_cmd.app, name="config")
app.add_typer(store_cmd.app, name="store")


def _json_requested(argv: list[str]) -> bool:
    """Whether the command line asks for `--log-format json`, read before click parses it
    so that its own usage errors can be written as JSON too."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg.startswith("--log-format="):
            return arg.split("=", 1)[1].lower() == "json"
        if arg == "--log-format" and i + 1 < len(argv):
            return argv[i + 1].lower() == "json"
    return False


def main() -> None:
    import sys

    if not _json_requested(sys.argv[1:]):
        app()
        return
    try:
        from typer._click import ClickException
    except ImportError:     # typer releases that use click itself
        from click import ClickException
    from dihub import log

    log._format = "json"    # before the options are parsed: their errors are JSON too
    try:
        code = app(standalone_mode=False)
    except ClickException as err:
        message = err.format_message()
        ctx = getattr(err, "ctx", None)
        if not message and ctx is not None:     # a command group given no command
            typer.echo(ctx.get_help())
            message = f"{ctx.command_path}: missing command"
        log.emit("error", "error", message, exit_code=err.exit_code,
                 error_type=type(err).__name__,
                 hint="Run with --help for the commands and options." if err.exit_code == 2
                 else None)
        sys.exit(err.exit_code)
    except typer.Abort:     # end of input at a prompt
        log.emit("error", "aborted", "aborted", exit_code=1)
        sys.exit(1)
    except Exception as err:    # noqa: BLE001 - outside the commands' own error boundary
        log.emit("error", "error", f"internal error: {type(err).__name__}: {err}",
                 exit_code=1, error_type=type(err).__name__)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
