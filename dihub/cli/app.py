"""The `dihub` command. Heavy modules are imported inside commands so that
`dihub --help` starts fast enough for cron."""

import typer
from typer.core import TyperCommand

from dihub import __version__
from dihub.cli import auth, inspect, sync
from dihub.cli import config as config_cmd
from dihub.cli import fetch as fetch_cmd
from dihub.cli import report as report_cmd
from dihub.cli import store as store_cmd
from dihub.cli.state import state

EPILOG = (
    "Exit codes: 0 ok; 1 a failure; 2 usage or config error; "
    "75 temporary (lease held by another run, rate limited, upstream down) - cron retries."
)
CONFIG_HELP = "Config file. Default: $DIHUB_CONFIG, ./dihub.yaml, then ~/.config/dihub/config.yaml."
VERBOSE_HELP = "More detail (-vv for every HTTP request)."
QUIET_HELP = "Only warnings and errors."
LOG_FORMAT_HELP = "Log lines on stderr: text (default) or json."


def _global_options(
    global_config: str = typer.Option(None, "--config", "-c", metavar="FILE",
                                      help=CONFIG_HELP, show_default=False),
    global_verbose: int = typer.Option(0, "--verbose", "-v", count=True, help=VERBOSE_HELP,
                                       show_default=False),
    global_quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP,
                                      show_default=False),
    global_log_format: str = typer.Option(None, "--log-format", metavar="text|json",
                                          help=LOG_FORMAT_HELP, show_default=False),
) -> None:
    """The global options, as every subcommand accepts them too (after its name)."""


def _global_params() -> list:
    helper = typer.Typer(rich_markup_mode=None, add_completion=False)
    helper.command()(_global_options)
    return list(typer.main.get_command(helper).params)


GLOBAL_PARAMS = _global_params()
GLOBAL_NAMES = tuple(p.name for p in GLOBAL_PARAMS)


def _apply_globals(config: str | None, verbose: int, quiet: bool, log_format: str | None,
                   *, root: bool) -> None:
    """Set the CLI state from global options. The root's options are set first; the same
    options given after the subcommand add to them (-v counts, -q) or replace them."""
    from dihub import log

    if log_format is not None:
        log_format = log_format.lower()
        if log_format not in ("text", "json"):
            raise typer.BadParameter("must be text or json", param_hint="--log-format")
    if root:
        state.config_path, state.verbose, state.quiet = config, verbose, quiet
        state.log_format = log_format or "text"
    else:
        if config is not None:
            state.config_path, state._config = config, None
        state.verbose += verbose
        state.quiet = state.quiet or quiet
        state.log_format = log_format or state.log_format
    log.setup(state.verbose, state.quiet, state.log_format)


class Command(TyperCommand):
    """A subcommand that also accepts the global options after its name
    (`dihub sync git -q`, `dihub fetch git commits --config x.yaml`), and lists them in
    its help under their own heading."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:      # SOURCE and --concurrency N, not {source} <int range>
            if param.metavar is None and param.param_type_name == "argument":
                param.metavar = param.name.upper()
            elif param.metavar is None and not (param.is_flag or param.count):
                is_int = getattr(param, "bare_type", lambda: "")() == "int"
                param.metavar = "N" if is_int else param.name.upper()
        self.params.extend(GLOBAL_PARAMS)

    def invoke(self, ctx):
        given = {name: ctx.params.pop(name, None) for name in GLOBAL_NAMES}
        _apply_globals(given["global_config"], given["global_verbose"] or 0,
                       bool(given["global_quiet"]), given["global_log_format"], root=False)
        return super().invoke(ctx)

    def format_options(self, ctx, formatter) -> None:
        sections: dict[str, list] = {"Arguments": [], "Options": [],
                                     "Global options (before or after the command)": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            title = ("Global options (before or after the command)" if param in GLOBAL_PARAMS
                     else "Arguments" if param.param_type_name == "argument" else "Options")
            sections[title].append(record)
        for title, rows in sections.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


app = typer.Typer(
    name="dihub",
    help="Pull engineering data from git, GitHub (and GitHub Actions), Jira and Slack into "
         "one normalized, deduplicated, auditable store.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dihub {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    config: str = typer.Option(None, "--config", "-c", envvar="DIHUB_CONFIG", metavar="FILE",
                               help=CONFIG_HELP, show_default=False, show_envvar=False),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help=VERBOSE_HELP,
                                show_default=False),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP, show_default=False),
    log_format: str = typer.Option("text", "--log-format", metavar="text|json",
                                   help=LOG_FORMAT_HELP, show_default=False),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Global options go before or after the command: `dihub -q sync git` or
    `dihub sync git -q`."""
    _apply_globals(config, verbose, quiet, log_format, root=True)


def _command(name: str, fn, short_help: str, epilog: str | None = None) -> None:
    app.command(name, cls=Command, short_help=short_help, epilog=epilog)(fn)


_command("sync", sync.sync, "One checkpointed ingestion pass per stream.", EPILOG)
_command("fetch", fetch_cmd.fetch, "Print stored records: table, json, jsonl or csv.", EPILOG)
_command("auth", auth.auth, "Log in to a source, show logins, log out.")
_command("audit", inspect.audit, "The audit log: passes, batches, retries, failures.")
_command("metrics", inspect.metrics, "Run metrics per stream; Prometheus textfile.")
_command("report", report_cmd.report, "An HTML page of DORA and flow metrics, sync health.")
_command("status", inspect.status, "Sync state of every source, stream and partition.")
_command("connectors", inspect.connectors, "Installed connectors and their streams.")
app.add_typer(config_cmd.app, name="config")
app.add_typer(store_cmd.app, name="store")
__import__("dihub.cli.serve", fromlist=["register"]).register(app)   # serve, webhooks
__import__("dihub.cli.hub", fromlist=["register"]).register(app)     # hub, identities
_command("worker", __import__("dihub.cli.worker", fromlist=["worker"]).worker,
         "Run queued passes and webhook batches (queue mode).", EPILOG)


def _global_options_everywhere(typer_app: typer.Typer) -> None:
    """Every command, in every group, accepts the global options after its name, and every
    group's help is plain text like the rest."""
    for info in typer_app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = Command
    for group in typer_app.registered_groups:
        group.typer_instance.rich_markup_mode = None
        _global_options_everywhere(group.typer_instance)


_global_options_everywhere(app)


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
        if ctx is not None and (not message or type(err).__name__ == "NoArgsIsHelpError"):
            # a command group given no command: its help, and one JSON line
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
