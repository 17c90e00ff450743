"""`dihub fetch`: print or export normalized records from the store."""

import typer

from dihub.cli.state import handles_errors, state
from dihub.output import TABLE_MAX

PAGE = 1000


@handles_errors
def fetch(
    source: str = typer.Argument(..., metavar="SOURCE",
                                 help="Source name (e.g. jira, github, git)."),
    entity: str = typer.Argument(..., metavar="ENTITY",
                                 help="users, commits, pull_requests, issues, sprints, "
                                      "builds, slack_events or channels."),
    since: str = typer.Option(None, "--since", metavar="TIME",
                              help="Only records updated at or after this date/time "
                                   "(2026-01-01 or ISO 8601)."),
    until: str = typer.Option(None, "--until", metavar="TIME",
                              help="Only records updated before this."),
    fields: str = typer.Option(None, "--fields", metavar="F1,F2",
                               help="Comma-separated fields to output."),
    limit: int = typer.Option(None, "--limit", min=1, metavar="N",
                              help="At most this many records; the next --cursor goes to "
                                   f"stderr. The table stops at {TABLE_MAX} unless given."),
    cursor: str = typer.Option(None, "--cursor", metavar="CURSOR",
                               help="Continue after a previous --limit."),
    where: list[str] = typer.Option(None, "--where", metavar="FIELD=VALUE",
                                    help="Equality filter (repeatable)."),
    fmt: str = typer.Option("table", "--format", "-f", metavar="FORMAT",
                            help="table, json, jsonl or csv."),
    wide: bool = typer.Option(False, "--wide", "-w",
                              help="Table: every field of the entity, never cut (the "
                                   "default shows the main fields that fit the terminal)."),
) -> None:
    """Print SOURCE's ENTITY records, oldest update first: `dihub fetch jira issues --since
    2026-01-01 --format jsonl`. json/jsonl/csv stream with flat memory.

    The table shows the entity's main fields that fit the terminal's width (all of them
    with --wide, or the --fields you name) and at most 200 records unless --limit is
    given; when more match, the --cursor that continues goes to stderr."""
    import sys

    from dihub import output
    from dihub.errors import DihubError, UsageError
    from dihub.models.catalog import FIELDS as ENTITIES
    from dihub.models.catalog import TABLE_COLUMNS

    if fmt not in output.FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; use one of {', '.join(output.FORMATS)}")
    if entity not in ENTITIES:
        try:
            state.config()      # loading it registers the entities of the plugins it uses
        except DihubError:
            pass
    if entity not in ENTITIES:
        raise UsageError(f"unknown entity {entity!r}",
                         hint=f"Entities: {', '.join(ENTITIES)}")
    cfg = _config()
    connector_name = None
    if source == "hub":     # people and links, computed by `dihub hub refresh`
        __import__("dihub.cli.hub", fromlist=["check_hub_entity"]).check_hub_entity(entity)
    else:
        connector_name = cfg.source(source).connector
    from dihub.collector import freeze_once
    from dihub.store import open_configured_store

    store = open_configured_store(cfg)
    freeze_once()       # dihub/collector.py: the imports are done
    try:
        if connector_name is not None and not _has_records(store, entity, source):
            _check_entity(source, connector_name, entity)
        chosen = _fields(fields, entity)
        since_iso, until_iso = _when(since, "--since"), _when(until, "--until")
        filters = dict(_where(w, entity) for w in where or [])
        capped = fmt == "table" and limit is None
        if capped:
            limit = TABLE_MAX
        pager = _Pager(store, entity, source, since_iso, until_iso, filters, cursor, limit)
        records = output.project(pager, chosen)
        out = sys.stdout
        if fmt == "jsonl":
            output.write_jsonl(records, out)
        elif fmt == "json":
            output.write_json(records, out)
        elif fmt == "csv":
            output.write_csv(records, out, chosen or output.entity_fields(entity))
        else:
            from rich.console import Console

            main = (output.TABLE_DEFAULT_FIELDS.get(entity) or TABLE_COLUMNS.get(entity)
                    or output.entity_fields(entity))
            if chosen:
                cols, keep = chosen, None
            elif wide:
                cols, keep = main + [f for f in output.entity_fields(entity)
                                     if f not in main], None
            else:
                cols, keep = main, 2
            output.write_table(records, cols, Console(), title=f"{source} {entity}",
                               keep=keep, wide=wide)
        out.flush()
    finally:
        store.close()
    if pager.next_cursor:
        from dihub import log

        message = f"more records: continue with --cursor {pager.next_cursor}"
        if capped:
            message = (f"more records: the table shows at most {TABLE_MAX} (give --limit, or "
                       f"use --format jsonl for all); continue with --cursor "
                       f"{pager.next_cursor}")
        if not log.emit("info", "more_records", message, cursor=pager.next_cursor):
            print(message, file=sys.stderr)


def _config():
    """The config as fetch needs it: the store and each source's connector name. No
    connector is imported (fetch reads the store), nor pydantic for a config that passed
    a full check before (dihub.config.load_store_config), unless the full config was
    loaded already (to resolve a plugin's entity)."""
    if state._config is not None:
        return state._config
    from dihub.config import load_store_config

    return load_store_config(state.config_path)


def _has_records(store, entity: str, source: str) -> bool:
    """Whether the store holds any `entity` record of `source`: then the source's connector
    produces it, and need not be imported to say so."""
    return bool(store.query(entity, source=source, limit=1).records)


def _check_entity(source: str, connector_name: str, entity: str) -> None:
    """The source's connector must produce `entity` (as a stream's entity or also_emits):
    `fetch git pull_requests` is a mistake, not an empty result."""
    from dihub.connectors.registry import load_connector
    from dihub.errors import UsageError

    try:
        connector = load_connector(connector_name)
    except UsageError:
        return      # the connector is gone; what it stored can still be read
    produced: list[str] = []
    for stream in connector.streams.values():
        for name in (stream.entity, *stream.also_emits):
            if name not in produced:
                produced.append(name)
    if entity not in produced:
        raise UsageError(f"source {source!r} ({connector.name} connector) has no {entity} "
                         f"records",
                         hint=f"Entities of {source}: {', '.join(produced)}")


def _fields(spec: str | None, entity: str) -> list[str] | None:
    from dihub import output
    from dihub.errors import UsageError

    if spec is not None and not [f for f in spec.split(",") if f.strip()]:
        raise UsageError(f"--fields {spec!r}: give comma-separated field names",
                         hint=f"Fields of {entity}: {', '.join(output.entity_fields(entity))}")
    return output.parse_fields(spec, entity)


def _when(value: str | None, flag: str) -> str | None:
    from dihub.errors import UsageError
    from dihub.timeutil import to_iso

    if value is None:
        return None
    if not value.strip():
        raise UsageError(f"{flag}: empty; give a date (2026-01-01) or a time "
                         f"(2026-01-01T12:00:00Z), or leave {flag} out")
    try:
        return to_iso(value)
    except ValueError:
        raise UsageError(f"{flag}: {value!r} is not a date (use 2026-01-01 or "
                         "2026-01-01T12:00:00Z)") from None


def _where(spec: str, entity: str) -> tuple[str, object]:
    from dihub import output
    from dihub.errors import UsageError

    key, sep, value = spec.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--where {spec!r}: use FIELD=VALUE",
                         hint=f"Fields of {entity}: {', '.join(output.entity_fields(entity))}")
    output.parse_fields(key, entity)
    if value in ("true", "false"):
        return key, value == "true"
    if value.lstrip("-").isdigit():
        return key, int(value)
    return key, value


class _Pager:
    """Iterates keyset pages of the store; remembers where it stopped."""

    def __init__(self, store, entity, source, since, until, filters, cursor, limit):
        self.store, self.entity, self.source = store, entity, source
        self.since, self.until, self.filters = since, until, filters
        self.cursor, self.limit = cursor, limit
        self.next_cursor: str | None = None

    def __iter__(self):
        left = self.limit
        cursor = self.cursor
        while left is None or left > 0:
            size = PAGE if left is None else min(PAGE, left)
            page = self.store.query(self.entity, source=self.source, since=self.since,
                                    until=self.until, filters=self.filters or None,
                                    cursor=cursor, limit=size)
            yield from page.records
            if left is not None:
                left -= len(page.records)
            cursor = page.next_cursor
            if cursor is None:
                return
        self.next_cursor = cursor
