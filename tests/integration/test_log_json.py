"""`--log-format json`: every line dihub writes to stderr is one JSON object (cron log
collectors parse the stream), whatever the command and however it ends."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import git_config
from tests.support.gitrepo import generate
from tests.support.tty import run_on_tty


def json_lines(stderr: str) -> list[dict]:
    """Every stderr line parsed; a line that is not one JSON object fails the test."""
    docs = []
    for line in stderr.splitlines():
        doc = json.loads(line)
        assert isinstance(doc, dict), line
        assert {"ts", "level", "event", "message"} <= set(doc), line
        assert doc["level"] in ("debug", "info", "warning", "error"), line
        docs.append(doc)
    return docs


def jrun(dihub, *args: str, code: int) -> list[dict]:
    p = dihub.run("--log-format", "json", *args, check_code=code)
    return json_lines(p.stderr)


@pytest.fixture
def repo(tmp_path):
    return generate(tmp_path / "repo", 30, branch_every=10)


def test_sync_logs_and_summary_are_json(dihub, repo):
    dihub.write_config(git_config(repo, batch_size=10))
    docs = jrun(dihub, "-v", "sync", "git", "commits", code=0)
    logs = [d for d in docs if d["event"] == "log"]
    assert any(d["logger"] == "dihub.sync" and "starting" in d["message"] for d in logs)
    assert any(d["level"] == "debug" for d in logs)        # -v batch progress, JSON too
    end = [d for d in logs if d.get("partition") == "git/commits"]
    assert end and end[-1]["outcome"] == "ok" and end[-1]["records"] == 30
    [summary] = [d for d in docs if d["event"] == "summary"]
    assert summary["level"] == "info" and summary["exit_code"] == 0
    assert summary["records"] == 30 and summary["partitions"] == {"ok": 1}
    assert summary["inserted"] >= 30 and summary["run_id"]
    assert summary["message"].startswith(f"run {summary['run_id']}: synced 30 commits")
    users = summary["entities"]["users"]
    assert summary["entities"]["commits"] == {"read": 30, "inserted": 30, "updated": 0,
                                              "unchanged": 0}
    assert summary["inserted"] == 30 + users["inserted"] and users["inserted"] > 0

    again = jrun(dihub, "sync", "git", "commits", "--full-refresh", code=0)
    [summary] = [d for d in again if d["event"] == "summary"]
    assert summary["inserted"] == 0 and summary["records"] == 30 and summary["unchanged"] > 0


def test_a_run_that_exits_75_is_json_with_a_warning(dihub, repo):
    """A stream leased by a live run elsewhere: a warning log line, a `temporary` line with
    the hint, and the summary carrying exit code 75."""
    dihub.write_config(git_config(repo))
    store = dihub.store()
    store.acquire_lease("git", "commits", "*", "elsewhere pid 1 run other", 3600)
    store.close()
    docs = jrun(dihub, "sync", "git", "commits", code=75)
    assert any(d["event"] == "log" and d["level"] == "warning" and d["outcome"] == "busy"
               for d in docs)
    [temp] = [d for d in docs if d["event"] == "temporary"]
    assert temp["level"] == "warning" and "elsewhere pid 1" in temp["message"]
    assert "next will continue" in temp["hint"] and temp["partition"] == "git/commits"
    [summary] = [d for d in docs if d["event"] == "summary"]
    assert summary["exit_code"] == 75 and summary["partitions"] == {"busy": 1}


def test_config_and_usage_errors_are_json(dihub, tmp_path):
    dihub.write_config("store:\n  batch_size: many\nsources: {}\n")
    [err] = jrun(dihub, "sync", "git", "commits", code=2)
    assert err["level"] == "error" and err["event"] == "error" and err["exit_code"] == 2
    assert err["config_file"] == str(dihub.config) and err["config_line"] == 2
    assert err["config_key"] == "store.batch_size"

    dihub.write_config(git_config(tmp_path))
    [err] = jrun(dihub, "sync", "gitlab", "commits", code=2)
    assert "unknown source 'gitlab'" in err["message"] and err["hint"]
    assert err["error_type"] == "UsageError"

    # errors click finds while parsing the command line
    [err] = jrun(dihub, "fetch", "git", code=2)
    assert "Missing argument" in err["message"] and err["exit_code"] == 2
    [err] = jrun(dihub, "sync", "git", "--concurrency", "0", code=2)
    assert "--concurrency" in err["message"]
    [err] = jrun(dihub, "status", "--no-such-option", code=2)
    assert "--no-such-option" in err["message"]
    [err] = jrun(dihub, "config", code=2)             # a group without its command
    assert err["message"].endswith("config: missing command")

    # without the option, the same errors stay text for people
    p = dihub.run("sync", "gitlab", "commits", check_code=2)
    assert p.stderr.startswith("error: ") and "\nhint: " in p.stderr
    p = dihub.run("--log-format", "text", "fetch", "git", check_code=2)
    assert "Missing argument" in p.stderr and p.stderr.startswith("Usage: ")


def test_fetch_cursor_and_broken_plugin_warning_are_json(dihub, repo, tmp_path):
    dihub.write_config(git_config(repo))
    dihub.run("sync", "git", "commits", check_code=0)
    p = dihub.run("--log-format", "json", "fetch", "git", "commits", "--limit", "5",
                  "--format", "jsonl", check_code=0)
    [more] = json_lines(p.stderr)
    assert more["event"] == "more_records" and more["cursor"] in more["message"]
    second = dihub.run("fetch", "git", "commits", "--limit", "5", "--format", "jsonl",
                       "--cursor", more["cursor"], check_code=0)
    first_ids = {json.loads(ln)["_id"] for ln in p.stdout.splitlines()}
    assert len(second.stdout.splitlines()) == 5
    assert not first_ids & {json.loads(ln)["_id"] for ln in second.stdout.splitlines()}

    site = tmp_path / "site"
    dist = site / "broken_dihub-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-dihub\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[dihub.connectors]\nbroken = no_such_module:c\n")
    dihub.env["PYTHONPATH"] = f"{site}:{dihub.env['PYTHONPATH']}"
    p = dihub.run("--log-format", "json", "connectors", "--format", "json", check_code=0)
    warnings = [d for d in json_lines(p.stderr) if d["level"] == "warning"]
    assert warnings and warnings[0]["connector"] == "broken"
    assert "git" in {c["connector"] for c in json.loads(p.stdout)}


def test_json_on_a_terminal_has_no_live_display(dihub, repo):
    """On a TTY the text format shows rich's live display; JSON mode logs lines instead."""
    dihub.write_config(git_config(repo, batch_size=10))
    code, out = run_on_tty(dihub.argv("--log-format", "json", "sync", "git", "commits"),
                           dihub.env)
    assert code == 0
    text = out.decode().replace("\r\n", "\n")
    assert "\x1b[" not in text
    docs = json_lines(text)
    assert [d["records"] for d in docs if d["event"] == "summary"] == [30]
