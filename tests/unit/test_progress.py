"""The sync progress display: a bar with percentage, rate and ETA where the upstream said
how many items a pass reads, a spinner where nothing is known; labels said once."""

from __future__ import annotations

import io
import logging

from rich.console import Console

from dihub.cli.progress import LogProgress, RichProgress, labelled
from dihub.connectors.stream import Page, Stream
from dihub.engine.runner import PartitionResult, Runner, _stop_error
from dihub.errors import FatalError
from dihub.models import User
from dihub.store.base import UpsertResult


def _console() -> Console:
    return Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None,
                   legacy_windows=False)


def _lines(progress: RichProgress) -> list[str]:
    console = _console()
    p = progress._progress
    console.print(p.make_tasks_table(p.tasks))
    return [ln.rstrip() for ln in console.file.getvalue().splitlines()]


def _result(records=0, entity="commits", partition="*") -> PartitionResult:
    r = PartitionResult("big", "commits", partition, entity=entity)
    r.records = records
    return r


def test_a_known_total_shows_count_of_total_and_percentage_within_80_columns():
    progress = RichProgress(console=_console())
    now = [1000.0]
    progress._progress.get_time = lambda: now[0]     # 10,000 commits a second
    r = _result()
    progress("start", result=r)
    progress("total", result=r, total=60_000)
    for n in (10_000, 30_000):
        now[0] += 1.0 if n == 10_000 else 2.0
        r.records = n
        r.written = UpsertResult(inserted=n)
        progress("batch", result=r)
    [line] = _lines(progress)
    assert line.endswith("big/commits 30,000/60,000 commits  50% 10,000/s eta 0:00:03")
    assert "━" in line and len(line) <= 80


def test_an_unknown_total_shows_a_spinner_and_the_count_without_a_percentage():
    progress = RichProgress(console=_console())
    r = _result(entity="slack_events")
    progress("start", result=r)
    r.records = 1234
    progress("batch", result=r)
    [line] = _lines(progress)
    assert "big/commits 1,234 slack_events" in line
    assert "%" not in line and "━" not in line and "eta" not in line


def test_an_ended_partition_says_its_outcome_and_several_partitions_count_done_of_all():
    progress = RichProgress(console=_console())
    stream = _result()
    progress("partitions", result=stream, total=3)
    a, b = _result(partition="a"), _result(partition="b")
    for r in (a, b):
        progress("start", result=r)
    a.records, a.written = 5, UpsertResult(inserted=4, updated=1)
    progress("end", result=a)
    lines = _lines(progress)
    assert lines[0].endswith("big/commits 1/3 partitions")
    assert "big/commits [a] [ok] 5 commits +4 ~1" in lines[1]
    b.records, b.written = 3, UpsertResult(inserted=3)
    progress("end", result=b)
    assert "big/commits [b] [ok] 3 commits +3 0:00:00" in _lines(progress)[2]


def test_an_error_naming_its_partition_is_not_prefixed_twice():
    out = _console()
    progress = RichProgress(console=out)
    r = _result()
    progress("start", result=r)
    r.outcome, r.error = "failed", FatalError("big/commits: unexpected OSError: disk gone")
    progress("end", result=r)
    text = out.file.getvalue()
    assert "big/commits: unexpected OSError: disk gone" in text
    assert "big/commits: big/commits" not in text
    assert labelled("x/y", "x/y: boom") == "x/y: boom"
    assert labelled("x/y", "boom") == "x/y: boom"


def test_a_stop_is_not_reported_per_partition():
    out = _console()
    progress = RichProgress(console=out)
    r = _result()
    progress("start", result=r)
    r.outcome, r.error = "failed", _stop_error("SIGINT")
    progress("end", result=r)
    text = out.file.getvalue()
    assert "interrupted" not in text
    assert "[stopped]" in "\n".join(_lines(progress))


def test_log_progress_says_the_total_and_does_not_repeat_the_label(caplog):
    progress = LogProgress()
    r = _result()
    with caplog.at_level(logging.DEBUG, logger="dihub.sync"):
        r.total = 42
        progress("total", result=r, total=42)
        r.records = 10
        progress("batch", result=r)
        r.outcome, r.error = "failed", FatalError("big/commits: unexpected OSError: gone")
        progress("end", result=r)
    messages = [rec.getMessage() for rec in caplog.records]
    assert messages[0] == "big/commits: 42 commits to read"
    assert messages[1].startswith("big/commits: 10 of 42 records so far")
    assert messages[2] == "big/commits: failed after 10 records: unexpected OSError: gone"


def test_the_engine_forwards_a_streams_total_to_the_progress_callback(tmp_path):
    from dihub.store.sqlite import SQLiteStore

    def fetch(ctx, partition, state):
        ctx.progress_total(partition, 7)
        yield Page([{"id": f"u{i}"} for i in range(7)], cursor=1)

    def norm(raw, ctx, partition):
        return User(source=ctx.source, source_id=raw["id"], user_id=raw["id"],
                    source_user_id=raw["id"])

    events = []
    runner = Runner(SQLiteStore(tmp_path / "s.db"), "src", None, None,
                    progress=lambda event, result, **kw: events.append((event, kw)))
    [r] = runner.run_stream(Stream(name="people", entity="users", fetch=fetch, normalize=norm))
    assert ("total", {"total": 7}) in events and r.total == 7 and r.records == 7
    assert r.by_entity["users"].inserted == 7


def test_a_total_is_asked_of_streams_only_for_a_display_that_shows_it(tmp_path, caplog):
    """The log lines show a total at INFO: with --quiet (WARNING) a stream is not asked to
    count (git's `rev-list --count` is a walk of its own), nor without any display."""
    from dihub.store.sqlite import SQLiteStore

    asked = []

    def fetch(ctx, partition, state):
        asked.append(ctx.wants_total)
        yield Page([], cursor=1)

    def run(progress) -> bool:
        store = SQLiteStore(tmp_path / f"s{len(asked)}.db")
        try:
            Runner(store, "src", None, None, progress=progress).run_stream(
                Stream(name="people", entity="users", fetch=fetch, normalize=lambda *a: None))
        finally:
            store.close()
        return asked[-1]

    with caplog.at_level(logging.INFO, logger="dihub.sync"):
        assert LogProgress().wants_totals and run(LogProgress()) is True
    with caplog.at_level(logging.WARNING, logger="dihub.sync"):
        assert not LogProgress().wants_totals and run(LogProgress()) is False
    assert run(RichProgress(console=_console())) is True
    assert run(None) is False
