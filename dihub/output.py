"""Record writers: table, json, jsonl, csv. All but `table` stream one record at a
time, so memory stays flat however many records match."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from dihub.errors import UsageError

FORMATS = ("table", "json", "jsonl", "csv")
COMMON_FIELDS = ["_id", "source", "entity", "source_id", "updated_at", "ingested_at",
                 "raw_signature"]
TABLE_MAX = 200


def entity_fields(entity: str) -> list[str]:
    from dihub.models import ENTITIES

    model = ENTITIES[entity]
    own = [f for f in model.model_fields if f not in ("source", "source_id", "updated_at")]
    return COMMON_FIELDS[:4] + own + COMMON_FIELDS[4:]


def parse_fields(spec: str | None, entity: str) -> list[str] | None:
    if not spec:
        return None
    fields = [f.strip() for f in spec.split(",") if f.strip()]
    known = entity_fields(entity)
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise UsageError(f"unknown field(s) for {entity}: {', '.join(unknown)}",
                         hint=f"Fields of {entity}: {', '.join(known)}")
    return fields


def project(records: Iterable[dict[str, Any]], fields: list[str] | None) -> Iterator[dict]:
    if fields is None:
        yield from records
    else:
        for r in records:
            yield {f: r.get(f) for f in fields}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


def write_jsonl(records: Iterable[dict], out: TextIO) -> int:
    n = 0
    for r in records:
        out.write(_dumps(r))
        out.write("\n")
        n += 1
    return n


def write_json(records: Iterable[dict], out: TextIO) -> int:
    """A JSON array written element by element: valid for jq, never held in memory."""
    out.write("[")
    n = 0
    for r in records:
        out.write(",\n" if n else "\n")
        out.write(_dumps(r))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def write_csv(records: Iterable[dict], out: TextIO, fields: list[str]) -> int:
    writer = csv.writer(out)
    writer.writerow(fields)
    n = 0
    for r in records:
        writer.writerow([_cell(r.get(f)) for f in fields])
        n += 1
    return n


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return _dumps(v)
    return v


def write_table(records: Iterable[dict], fields: list[str], console, title: str = "") -> int:
    """A rich table of the records. Cells are plain text: terminal control sequences are
    stripped (see `clean`) and `[...]` is not read as rich markup."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title) if title else None, show_lines=False)
    for f in fields:
        table.add_column(f, overflow="fold", max_width=60)
    n = 0
    for r in records:
        table.add_row(*[Text(_short(r.get(f))) for f in fields])
        n += 1
    console.print(table)
    return n


# ESC sequences: CSI (ESC [ ... final), strings ended by BEL or ST (OSC ESC ], DCS ESC P,
# SOS ESC X, PM ESC ^, APC ESC _) and two-or-more-byte escapes (ESC, intermediates, final);
# then their 8-bit C1 forms; then any other C0/C1 control character and DEL.
_CONTROL = re.compile(
    r"\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
    r"|\x9b[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def clean(text: str) -> str:
    """Text safe to print on a terminal: ESC sequences (colours, cursor moves, window
    titles, hyperlinks) and other control characters removed, tabs and newlines as spaces.
    Only the table format uses it: json, jsonl and csv keep the data as stored."""
    return _CONTROL.sub("", text).replace("\t", " ").replace("\n", " ")


def _short(v: Any, width: int = 80) -> str:
    s = "" if v is None else (_dumps(v) if isinstance(v, dict | list) else str(v))
    s = clean(s)
    return s if len(s) <= width else s[: width - 1] + "…"


TABLE_DEFAULT_FIELDS = {
    "commits": ["commit_id", "repo", "branch", "timestamp", "author_id", "message"],
    "users": ["user_id", "login", "display_name", "email"],
    "pull_requests": ["repo", "number", "state", "title", "author_id", "updated_at"],
    "issues": ["issue_id", "project_key", "status", "type", "summary", "updated_at"],
    "sprints": ["sprint_id", "board_id", "name", "state", "start_date", "end_date"],
    "builds": ["repo", "workflow_name", "run_id", "run_attempt", "status", "conclusion",
               "created_at"],
    "slack_events": ["channel_name", "ts", "type", "subtype", "user_id", "thread_ts"],
    "channels": ["channel_id", "name", "is_private", "member_count"],
}
