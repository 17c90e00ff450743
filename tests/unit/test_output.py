"""Writers stream records and produce valid JSON / JSONL / CSV; Prometheus text is well-formed."""

from __future__ import annotations

import csv
import io
import json

import pytest

from dihub import output
from dihub.errors import UsageError
from dihub.metrics_export import latest_per_stream, to_prometheus, write_textfile
from dihub.models import RunMetrics

RECS = [{"_id": f"g:commits:{i}", "message": f"line1\nline2 \"q\" {i}", "parents": ["a", "b"],
         "additions": None} for i in range(3)]


def test_json_is_one_valid_array():
    buf = io.StringIO()
    assert output.write_json(iter(RECS), buf) == 3
    assert json.loads(buf.getvalue()) == RECS
    empty = io.StringIO()
    output.write_json(iter([]), empty)
    assert json.loads(empty.getvalue()) == []


def test_json_writer_does_not_consume_ahead():
    """Each record is written before the next one is pulled: memory stays flat."""
    buf = io.StringIO()
    seen = []

    def gen():
        for r in RECS:
            seen.append(buf.tell())
            yield r

    output.write_json(gen(), buf)
    assert seen[0] < seen[1] < seen[2]


def test_jsonl_and_csv():
    buf = io.StringIO()
    output.write_jsonl(RECS, buf)
    assert [json.loads(x) for x in buf.getvalue().splitlines()] == RECS
    buf = io.StringIO()
    output.write_csv(RECS, buf, ["_id", "message", "parents", "additions"])
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[0] == ["_id", "message", "parents", "additions"]
    assert rows[1] == ["g:commits:0", 'line1\nline2 "q" 0', '["a","b"]', ""]


def test_fields_are_checked_and_projected():
    assert output.parse_fields("commit_id, message", "commits") == ["commit_id", "message"]
    with pytest.raises(UsageError, match="unknown field"):
        output.parse_fields("sha", "commits")
    assert list(output.project(RECS[:1], ["_id", "nope"])) == [{"_id": "g:commits:0",
                                                              "nope": None}]


def _m(source, stream, finished, outcome="ok", records=5):
    return RunMetrics(run_id="r", source=source, stream=stream, started_at=finished,
                      finished_at=finished, duration_s=1.5, outcome=outcome, records=records,
                      requests=7, quota_remaining=4990)


def test_prometheus_uses_latest_run_per_stream(tmp_path):
    runs = [_m("github", "commits", "2026-11-02T00:00:00Z", records=9),
            _m("github", "commits", "2026-11-01T00:00:00Z", records=1),
            _m("jira", "issues", "2026-11-01T00:00:00Z", outcome="failed")]
    text = to_prometheus(latest_per_stream(runs))
    assert 'dihub_sync_records{source="github",stream="commits"} 9' in text
    assert 'dihub_sync_success{source="jira",stream="issues"} 0' in text
    assert "# TYPE dihub_sync_duration_seconds gauge" in text
    for line in text.splitlines():
        assert line.startswith("#") or line.split()[-1].replace(".", "").isdigit()
    target = tmp_path / "tf" / "dihub.prom"
    write_textfile(target, text)
    assert target.read_text() == text
    assert [p.name for p in target.parent.iterdir()] == ["dihub.prom"]
