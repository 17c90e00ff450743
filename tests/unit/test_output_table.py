"""Table output is safe for a terminal: no control sequences, no rich markup from the data.
json, jsonl and csv keep the stored text byte for byte."""

from __future__ import annotations

import csv
import io
import json

from rich.console import Console

from dihub import output

HOSTILE = ("\x1b[31mred\x1b[0m then \x1b]0;title\x07 and "
           "\x1b]8;;http://x.example\x1b\\link\x1b]8;;\x1b\\ bell\x07 cr\r bs\x08 \x9b2J end")
RECS = [{"commit_id": "c1", "message": HOSTILE},
        {"commit_id": "c2", "message": "[bold]not markup[/bold] [/] tab\there\nnext line"}]


def table(records, fields=("commit_id", "message")) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=400, force_terminal=False, color_system=None)
    assert output.write_table(iter(records), list(fields), console) == len(records)
    return buf.getvalue()


def test_table_strips_escape_sequences_and_control_characters():
    text = table(RECS[:1])
    assert not any(ch in text for ch in "\x1b\x07\r\x08\x9b")
    assert "red then  and link bell cr bs  end" in text
    assert "title" not in text and "http://x.example" not in text
    # json, jsonl and csv keep the data as stored
    buf = io.StringIO()
    output.write_jsonl(iter(RECS), buf)
    assert [json.loads(line)["message"] for line in buf.getvalue().splitlines()] == [
        r["message"] for r in RECS]
    buf = io.StringIO()
    output.write_json(iter(RECS), buf)
    assert json.loads(buf.getvalue()) == RECS
    buf = io.StringIO()
    output.write_csv(iter(RECS), buf, ["commit_id", "message"])
    rows = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert [r[1] for r in rows[1:]] == [r["message"] for r in RECS]


def test_table_cells_are_not_rich_markup():
    text = table(RECS)
    assert "[bold]not markup[/bold] [/] tab here next line" in text


def test_clean_keeps_printable_text():
    assert output.clean("naïve 日本 — ok") == "naïve 日本 — ok"
    assert output.clean("\x1b[1;38;5;196mX\x1b[m\x1b(B\x1bc") == "X"
    assert output.clean("a\x00b\x7fc\x85d") == "abcd"
