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
    from dihub.models.catalog import FIELDS

    own = [f for f in FIELDS[entity] if f not in ("source", "source_id", "updated_at")]
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


GAP = 2     # spaces between table columns
FLEX_MIN = 12   # a text column narrower than this is left out rather than cut further


def write_table(records: Iterable[dict], fields: list[str], console, title: str = "", *,
                keep: int | None = None, wide: bool = False, seconds: bool = True) -> int:
    """A table of the records sized to the console, without wrapping: numbers right-aligned
    and humanized (1,234 / 12.3k), durations as 4.2 s / 3m 10s, times to the second.

    `keep`: the first `keep` fields are always shown, the others (in order) only while they
    fit the console's width and hold something. `keep=None` shows every field. Text cells
    too long for the width end in "…"; `wide` never cuts a cell and lets the table be as
    wide as its content. Headers are never broken.

    Cells are plain text: terminal control sequences are stripped (see `clean`) and `[...]`
    is not read as rich markup."""
    from rich.table import Table
    from rich.text import Text

    rows = list(records)
    width = console.width
    cap = 100_000 if wide else max(80, width)
    cols = [_Column(f, [r.get(f) for r in rows], seconds, cap) for f in fields]
    if keep is not None and not wide:
        shown = [c for c in cols[:keep] if not c.empty or not rows]
        for col in cols[keep:]:
            if not col.empty and _total(shown + [col], flex=True) <= width:
                shown.append(col)
        hidden = [c for c in cols if c not in shown and c.name == "error" and not c.empty]
        if hidden:
            _say(f"{sum(1 for c in hidden[0].cells if c)} row(s) have an error this "
                 f"{width}-column table leaves out: see it with --wide, or --fields "
                 f"{','.join([*(c.name for c in shown[:3]), 'error'])}")
    else:
        shown = cols
    if wide:
        width = max(width, _total(shown, flex=False))
    _fit(shown, width)
    if title:
        console.print(Text(title, overflow="fold"), soft_wrap=False, width=width)
    table = Table(box=None, pad_edge=False, padding=(0, GAP // 2), show_edge=False,
                  header_style="bold")
    for col in shown:
        table.add_column(col.name, width=col.width, no_wrap=True, overflow="ellipsis",
                         justify="right" if col.numeric else "left")
    for i in range(len(rows)):
        table.add_row(*[Text(col.cells[i]) for col in shown])
    saved = console.width
    console.width = max(saved, sum(c.width for c in shown) + GAP * (len(shown) - 1))
    try:
        console.print(table)
    finally:
        console.width = saved
    return len(rows)


def _say(message: str) -> None:
    import sys

    from dihub import log

    if not log.emit("info", "table_note", message):
        print(message, file=sys.stderr)


class _Column:
    def __init__(self, name: str, values: list[Any], seconds: bool = True, cap: int = 80):
        self.name = name
        present = [v for v in values if v is not None and v != ""]
        self.empty = not present
        self.numeric = bool(present) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in present)
        self.cells = [human(v, name, seconds, cap) for v in values]
        self.natural = max([len(name), *(len(c) for c in self.cells)])
        # numbers and times are never cut; text may be, down to its header or FLEX_MIN
        self.flex = not self.numeric and not (present and all(_TIME.match(str(v))
                                                              for v in present))
        self.least = min(self.natural, max(len(name), FLEX_MIN)) if self.flex else self.natural
        self.width = self.natural


def _total(cols: list[_Column], flex: bool) -> int:
    return sum(c.least if flex else c.natural for c in cols) + GAP * max(len(cols) - 1, 0)


def _fit(cols: list[_Column], width: int) -> None:
    """Give every column its natural width, then narrow the widest text columns until the
    table fits `width`: first down to their `least`, then, if that is not enough, down to
    their header's width."""
    for c in cols:
        c.width = c.natural
    excess = _total(cols, flex=False) - width
    for floor in (lambda c: c.least, lambda c: max(len(c.name), 4) if c.flex else c.natural):
        while excess > 0:
            flex = [c for c in cols if c.width > floor(c)]
            if not flex:
                break
            widest = max(flex, key=lambda c: c.width)
            others = [c.width for c in flex if c is not widest]
            target = max(floor(widest), max(others, default=0), widest.width - excess)
            if target >= widest.width:
                target = widest.width - 1
            excess -= widest.width - target
            widest.width = target


_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]00:00)?$")


def human(v: Any, field: str = "", seconds: bool = True, cap: int = 80) -> str:
    """A value as a table shows it: 1,234 / 12.3k / 4.5M for counts, 4.2 s / 3m 10s / 2h 05m
    for fields in seconds (`*_s`), 230 ms / 1.2 s for milliseconds (`*_ms`), UTC times
    without fractions and offset (2026-01-02 03:04:05), yes for true, nothing for
    None/false. Only the table uses it: json, jsonl and csv keep the values as stored."""
    if v is None or v is False:
        return ""
    if v is True:
        return "yes"
    if isinstance(v, int | float):
        if field.endswith("_ms"):
            return f"{v:.0f} ms" if v < 1000 else duration(v / 1000)
        if field.endswith("_s"):
            return duration(v)
        return str(v) if _is_id(field) else count(v)
    if isinstance(v, str):
        m = _TIME.match(v)
        if m and m.group(3):
            return f"{m.group(1)} {m.group(2) if seconds else m.group(2)[:5]}"
    return _short(v, cap)


def count(n: float) -> str:
    """1,234 up to 9,999; then 12.3k, 456k, 1.2M, 3.4G."""
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.1f}" if abs(n) < 10_000 else count(round(n))
    n = int(n)
    if abs(n) < 10_000:
        return f"{n:,}"
    for size, unit in ((1e3, "k"), (1e6, "M"), (1e9, "G")):
        value = n / size
        if abs(value) < 999.95 or unit == "G":
            return (f"{value:.1f}" if abs(value) < 99.95 else f"{value:.0f}").removesuffix(
                ".0") + unit
    raise AssertionError("unreachable")


def _is_id(field: str) -> bool:
    """Numbers that name something (a PR number, an id, an attempt) are shown as they are."""
    return field == "number" or field.endswith("_id") or field.endswith("attempt")


def duration(seconds: float) -> str:
    """4.2 s, 12 s, 3m 10s, 2h 05m, 1d 03h."""
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    if seconds < 59.5:
        return f"{seconds:.0f} s"
    s = round(seconds)
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


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
