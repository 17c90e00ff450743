"""The CLI at 80 columns in a pipe: tables that fit without wrapping (compact by default,
--wide and --fields for the rest, more columns on wider terminals), help that lists only
what exists and shows no value for flags, global options after the subcommand, and
`metrics --format` with `--textfile`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.conftest import git_config
from tests.support.gitrepo import generate

COMMANDS = ["sync", "fetch", "auth", "audit", "metrics", "status", "connectors",
            "config validate", "config show", "store check"]


@pytest.fixture
def synced(dihub, tmp_path):
    repo = generate(tmp_path / "repo", 30)
    dihub.write_config(git_config(repo))
    dihub.run("sync", "git", "commits", check_code=0)
    dihub.run("sync", "git", "commits", check_code=0)
    dihub.env["COLUMNS"] = "80"
    return dihub


def raw(dihub, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    """`python -m dihub ARGS` without the fixture's leading --config."""
    proc = subprocess.run([sys.executable, "-m", "dihub", *args], env=dihub.env,
                          cwd=dihub.tmp, capture_output=True, text=True, timeout=300)
    assert proc.returncode == code, proc.stderr
    return proc


def fits(text: str, width: int = 80) -> list[str]:
    lines = text.splitlines()
    assert lines, "no output"
    too_long = [line for line in lines if len(line) > width]
    assert not too_long, "\n".join(too_long)
    return lines


def header_of(lines: list[str], first: str) -> list[str]:
    [header] = [line for line in lines if line.split()[:1] == [first]]
    return header.split()


@pytest.mark.parametrize("view, first, columns", [
    (["metrics"], "finished_at",
     ["finished_at", "source", "stream", "outcome", "records", "requests", "duration_s"]),
    (["status"], "source", ["source", "stream", "partition", "status", "last_success_at"]),
    (["connectors"], "connector", ["connector", "stream", "records"]),
    (["audit"], "timestamp", ["timestamp", "source", "stream", "action", "outcome",
                              "records"]),
    (["fetch", "git", "commits"], "commit_id", ["commit_id", "repo"]),
])
def test_tables_fit_80_columns_with_whole_headers(synced, view, first, columns):
    p = synced.run(*view, check_code=0)
    lines = fits(p.stdout)
    assert header_of(lines, first)[:len(columns)] == columns


def test_metrics_default_is_the_latest_run_per_stream_and_wide_shows_the_rest(synced):
    lines = fits(synced.run("metrics", check_code=0).stdout)
    rows = [line.split() for line in lines if line.startswith("20")]
    assert len(rows) == 1 and rows[0][2:5] == ["git", "commits", "ok"]   # two runs, one row
    history = fits(synced.run("metrics", "--history", check_code=0).stdout)
    assert len([line for line in history if line.startswith("20")]) == 2
    wide = synced.run("metrics", "--wide", check_code=0).stdout.splitlines()
    assert {"inserted", "retries", "run_id"} <= set(header_of(wide, "finished_at"))
    assert max(map(len, wide)) > 80
    chosen = fits(synced.run("metrics", "--fields", "stream,inserted", check_code=0).stdout)
    assert header_of(chosen, "stream") == ["stream", "inserted"]
    synced.env["COLUMNS"] = "200"
    roomy = synced.run("metrics", check_code=0).stdout.splitlines()
    assert "inserted" in header_of(roomy, "finished_at")
    p = synced.run("metrics", "--fields", "nope", check_code=2)
    assert "--fields 'nope'" in p.stderr and "records" in p.stderr


def test_connectors_one_row_per_stream(synced):
    lines = fits(synced.run("connectors", check_code=0).stdout)
    rows = [line.split() for line in lines[2:]]
    assert ["github", "workflow_runs", "builds,", "users", "yes"] in [r[:5] for r in rows]
    assert ["git", "commits", "commits,", "users"] in [r[:4] for r in rows]


def test_fetch_table_cap_is_said_on_stderr(dihub, tmp_path):
    repo = generate(tmp_path / "repo", 210)
    dihub.write_config(git_config(repo))
    dihub.run("sync", "git", "commits", check_code=0)
    dihub.env["COLUMNS"] = "80"
    p = dihub.run("fetch", "git", "commits", check_code=0)
    lines = fits(p.stdout)
    assert len([line for line in lines if line[:1].isalnum()]) == 200 + 2  # title, header
    assert "the table shows at most 200" in p.stderr and "--cursor " in p.stderr
    assert "200" in dihub.run("fetch", "--help", check_code=0).stdout


def test_help_at_80_columns_lists_global_options_and_no_values_for_flags(dihub):
    dihub.env["COLUMNS"] = "80"
    top = raw(dihub, "--help").stdout
    fits(top)
    assert "GitLab" not in top and "Jira and Slack" in top
    assert "-q, --quiet " in top and "-v, --verbose " in top
    for cmd in COMMANDS:
        text = raw(dihub, *cmd.split(), "--help").stdout
        fits(text)
        assert "<bool>" not in text and "<int>" not in text, cmd
        assert "Global options (before or after the command):" in text, cmd
        assert "-c, --config FILE" in text and "--log-format text|json" in text, cmd
    metrics = raw(dihub, "metrics", "--help").stdout
    assert "--wide" in metrics and "--fields" in metrics and "--history" in metrics


def test_global_options_after_the_subcommand(synced, tmp_path):
    config = str(synced.config)
    loud = raw(synced, "sync", "git", "commits", "--config", config)
    assert " INFO " in loud.stderr
    quiet = raw(synced, "sync", "git", "commits", "--config", config, "-q")
    assert " INFO " not in quiet.stderr
    verbose = raw(synced, "sync", "git", "commits", "-v", "--config", config)
    assert " DEBUG " in verbose.stderr
    rows = raw(synced, "fetch", "git", "commits", "--config", config, "--format", "jsonl")
    assert len(rows.stdout.splitlines()) == 30
    # after the command wins over before it
    (tmp_path / "empty.yaml").write_text("sources: {}\n")
    p = raw(synced, "--config", str(tmp_path / "empty.yaml"), "status", "--config", config,
            "--format", "json")
    assert [s["source"] for s in json.loads(p.stdout)] == ["git"]
    p = raw(synced, "status", "--source", "nope", "--config", config, "--log-format", "json",
            code=2)
    [err] = [json.loads(line) for line in p.stderr.splitlines()]
    assert err["level"] == "error" and "nope" in err["message"]


def test_metrics_format_with_textfile_is_honoured(synced, tmp_path):
    target = tmp_path / "prom" / "dihub.prom"
    p = synced.run("metrics", "--textfile", str(target), check_code=0)
    assert p.stdout == "" and 'dihub_sync_records{source="git",stream="commits"}' in (
        target.read_text())
    target.unlink()
    p = synced.run("metrics", "--format", "json", "--textfile", str(target), check_code=0)
    assert json.loads(p.stdout)[0]["source"] == "git" and target.is_file()
    p = synced.run("metrics", "--format", "prom", "--textfile", str(target), check_code=0)
    assert p.stdout == target.read_text()
