"""Tables sized to the terminal: a compact default that fits, more columns when there is
room, every column with `wide`; numbers humanized and right-aligned, headers never broken."""

from __future__ import annotations

import io

from rich.console import Console

from dihub import output

FIELDS = ["finished_at", "source", "stream", "outcome", "records", "requests", "duration_s",
          "inserted", "updated", "unchanged", "retries", "rate_limit_waits", "latency_p95_ms",
          "error"]
ROWS = [
    {"finished_at": "2026-03-01T10:11:12.345678+00:00", "source": "github",
     "stream": "pull_requests", "outcome": "ok", "records": 12345, "requests": 1234,
     "duration_s": 190.4, "inserted": 10, "updated": 2, "unchanged": 12333, "retries": 0,
     "rate_limit_waits": 1, "latency_p95_ms": 231.0, "error": None},
    {"finished_at": "2026-03-01T10:12:00Z", "source": "jira", "stream": "issues",
     "outcome": "failed", "records": 7, "requests": 3, "duration_s": 4.2, "inserted": 7,
     "updated": 0, "unchanged": 0, "retries": 2, "rate_limit_waits": 0,
     "latency_p95_ms": 1500.0, "error": "401 Unauthorized: the token was revoked " * 3},
]


def render(width: int, **kwargs) -> list[str]:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None)
    assert output.write_table(iter(ROWS), FIELDS, console, **kwargs) == len(ROWS)
    return buf.getvalue().splitlines()


def test_compact_table_fits_80_columns_with_whole_headers(capsys):
    lines = render(80, keep=7)
    assert lines and all(len(line) <= 80 for line in lines)
    header = lines[0].split()
    assert header[:7] == FIELDS[:7]         # never "fin/ish/ed_" pieces
    body = "\n".join(lines[1:])
    assert "12.3k" in body and "1,234" in body and "3m 10s" in body and "4.2 s" in body
    assert "2026-03-01 10:11:12" in body and "+00:00" not in body
    # numbers are right-aligned under their header
    records_end = lines[0].index("records") + len("records")
    assert lines[1][:records_end].endswith("12.3k") and lines[2][:records_end].endswith("7")
    # the error column does not fit: said on stderr, with how to see it
    if "error" not in header:
        assert "--wide" in capsys.readouterr().err


def test_wider_console_shows_more_columns_and_wide_shows_all():
    narrow = render(80, keep=7)[0].split()
    wider = render(160, keep=7)[0].split()
    assert len(wider) > len(narrow) and "inserted" in wider
    lines = render(80, keep=7, wide=True)
    assert lines[0].split() == FIELDS
    assert max(len(line) for line in lines) > 80
    assert ROWS[1]["error"].strip() in "\n".join(lines)     # nothing cut
    assert "…" not in "\n".join(lines)


def test_every_field_given_is_shown_and_text_is_cut_not_wrapped():
    lines = render(80)
    assert lines[0].split() == FIELDS                         # keep=None: all of them
    assert len(lines) == 1 + len(ROWS)                        # one line per row
    assert "…" in lines[2]


def test_humanized_values():
    assert [output.count(n) for n in (0, 999, 1234, 9999, 12345, 123456, 999999, 1234567)] == [
        "0", "999", "1,234", "9,999", "12.3k", "123k", "1M", "1.2M"]
    assert [output.duration(s) for s in (4.23, 12.4, 190, 3725, 90000)] == [
        "4.2 s", "12 s", "3m 10s", "1h 02m", "1d 01h"]
    assert output.human(230.4, "latency_p95_ms") == "230 ms"
    assert output.human(12345, "number") == "12345"           # an id, not a count
    assert output.human(True) == "yes" and output.human(None) == ""
    assert output.human("2026-03-01T10:11:12Z", seconds=False) == "2026-03-01 10:11"
