"""`dihub hub refresh`, `dihub identities suggest`, and the `hub` source of `dihub fetch`
(`dihub fetch hub people`, `dihub fetch hub links`)."""

import typer

from dihub.cli.state import handles_errors, state

HUB_ENTITIES = ("people", "links")

hub_app = typer.Typer(help="The hub: people and links computed from the stored records.",
                      no_args_is_help=True)
identities_app = typer.Typer(help="People: accounts grouped across sources.",
                             no_args_is_help=True)


def check_hub_entity(entity: str) -> None:
    """`dihub fetch hub ENTITY`: the hub stores people and links only."""
    from dihub.errors import UsageError

    if entity not in HUB_ENTITIES:
        raise UsageError(f"source 'hub' has no {entity} records",
                         hint=f"Entities of hub: {', '.join(HUB_ENTITIES)}")


@hub_app.command("refresh")
@handles_errors
def refresh_cmd(
    full: bool = typer.Option(False, "--full", help="Recompute from every stored record "
                                                    "(default: what was ingested since the "
                                                    "last refresh)."),
    fmt: str = typer.Option("text", "--format", "-f", metavar="FORMAT", help="text or json."),
) -> None:
    """Recompute people and links from the store (no upstream calls); writes only what
    changed: `dihub hub refresh`, then `dihub fetch hub people`."""
    import json

    from dihub.errors import UsageError
    from dihub.hub import refresh

    if fmt not in ("text", "json"):
        raise UsageError(f"unknown --format {fmt!r}; use text or json")
    cfg = state.config()
    store = state.store()
    try:
        result = refresh(store, cfg.settings, full=full)
    finally:
        store.close()
    if fmt == "json":
        typer.echo(json.dumps(result.as_dict(), sort_keys=True))
        return
    if not state.quiet:
        p, n = result.people, result.links
        typer.echo(f"hub refresh{' (full)' if result.full else ''}: "
                   f"{sum(result.read.values())} changed records read; "
                   f"people {p['inserted']} new, {p['updated']} updated; "
                   f"links {n['inserted']} new, {n['updated']} updated "
                   f"({result.linked_records} records linked)")


@identities_app.command("suggest")
@handles_errors
def suggest_cmd(
    fmt: str = typer.Option("text", "--format", "-f", metavar="FORMAT", help="text or json."),
) -> None:
    """People whose names look alike (case, accents, punctuation and word order ignored).
    Suggestions only, nothing is merged: to merge, list their accounts under one person in
    the identities file (identities.file) and run `dihub hub refresh`."""
    import json

    from dihub.errors import UsageError
    from dihub.hub.identities import suggest

    if fmt not in ("text", "json"):
        raise UsageError(f"unknown --format {fmt!r}; use text or json")
    store = state.store()
    try:
        people = list(store.iter_records("people", source="hub"))
    finally:
        store.close()
    hints = suggest(people)
    if fmt == "json":
        typer.echo(json.dumps(hints, ensure_ascii=False))
        return
    if not people and not state.quiet:
        typer.echo("no people stored yet: run `dihub hub refresh` first", err=True)
    for hint in hints:
        typer.echo(f"# same name {hint['name']!r}: {hint['people'][0]} and {hint['people'][1]}")
        typer.echo("- accounts: [" + ", ".join(
            json.dumps(a) for group in hint["accounts"] for a in group) + "]")


def register(app: typer.Typer) -> None:
    app.add_typer(hub_app, name="hub")
    app.add_typer(identities_app, name="identities")
