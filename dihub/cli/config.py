"""`dihub config validate|show`.

`validate` loads the config (every problem of the file in one message), then runs
the offline checks of each source: a source's config model may define
`check_offline()`, which raises ConfigError (its key relative to the source) for
what can be checked without the network, e.g. that a git `repo:` is a repository.
"""

import typer

from dihub.cli.state import handles_errors, state

app = typer.Typer(help="Check or show the configuration.", no_args_is_help=True)


@app.command("validate")
@handles_errors
def validate() -> None:
    """Load and validate the config; exit 2 with file, line and key of every problem."""
    from dihub.cli.state import print_error
    from dihub.config import combined_error, example_location
    from dihub.errors import ConfigError, DihubError

    cfg = state.config()
    problems = []
    for name, source in cfg.sources.items():
        check = getattr(source, "check_offline", None)
        if check is None:
            continue
        try:
            check()
        except ConfigError as err:
            problems.append(cfg.locate(err, name))
        except DihubError as err:       # e.g. git is not installed: not the config's fault
            print_error(DihubError(f"sources.{name} not checked: {err}", hint=err.hint),
                        label="warning")
    if problems:
        raise combined_error(problems, str(cfg.path or "<config>"))
    where = cfg.path or "built-in defaults (no config file found)"
    if not cfg.sources:
        print_error(DihubError(f"{where}: no sources are configured, so there is nothing to "
                               "sync or fetch",
                               hint=f"Add a source under `sources:`; {example_location()} "
                                    "shows every connector's keys."),
                    label="warning")
    names = ", ".join(f"{n} ({c.connector})" for n, c in cfg.sources.items()) or "no sources"
    typer.echo(f"{where}: ok - {names}")


@app.command("show")
@handles_errors
def show() -> None:
    """Print the effective config (defaults filled in) with secrets masked."""
    import yaml

    from dihub.config import _mask

    cfg = state.config()
    doc = cfg.settings.model_dump(exclude={"sources"}, mode="json")
    doc["sources"] = {n: c.model_dump(mode="json", exclude_none=True)
                      for n, c in cfg.sources.items()}
    typer.echo(f"# {cfg.path or 'no config file; built-in defaults'}")
    typer.echo(yaml.safe_dump(_mask(doc), sort_keys=False), nl=False)
