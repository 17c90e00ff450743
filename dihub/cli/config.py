"""`dihub config validate|show`."""

from __future__ import annotations

import typer

from dihub.cli.state import handles_errors, state

app = typer.Typer(help="Check or show the configuration.", no_args_is_help=True)


@app.command("validate")
@handles_errors
def validate() -> None:
    """Load and validate the config; exit 2 with file, line and key if it is broken."""
    cfg = state.config()
    where = cfg.path or "built-in defaults (no config file found)"
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
