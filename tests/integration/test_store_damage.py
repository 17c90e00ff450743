"""A damaged, foreign or read-only embedded store, through the real CLI: every command
exits non-zero with one message naming the file and what to do; `dihub store check`
says what is wrong. And `sqlite:///relative.db` follows the config file, not the cwd."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import Dihub, git_config
from tests.support.gitrepo import generate
from tests.support.sqlitefiles import corrupt_middle_page, read_only


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("repo") / "repo", 400)


def _synced(dihub: Dihub, repo: Path) -> Dihub:
    dihub.write_config(git_config(repo))
    dihub.run("sync", "git", "commits", check_code=0)
    return dihub


def _error_lines(proc) -> list[str]:
    assert "Traceback" not in proc.stdout + proc.stderr
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]


def test_a_corrupt_page_fails_sync_fetch_and_check_alike(dihub, repo):
    _synced(dihub, repo)
    ok = dihub.run("store", "check", check_code=0)
    assert ok.stdout.startswith(f"ok: sqlite {dihub.db} (")
    page = corrupt_middle_page(dihub.db)

    # Nothing new upstream: this sync writes only its lease, state, audit and metrics,
    # none of them on the bad page. It used to exit 0 while fetch failed.
    for args in (("sync", "git", "commits"), ("fetch", "git", "commits", "--format", "jsonl")):
        proc = dihub.run(*args, check_code=1)
        [line] = _error_lines(proc)
        assert f"the embedded store {dihub.db} is damaged" in line, proc.stderr
        assert "dihub store check" in proc.stderr

    check = dihub.run("store", "check", check_code=1)
    assert check.stdout.startswith(f"{dihub.db}: Page {page}: ")
    [line] = _error_lines(check)
    assert f"the embedded store {dihub.db} is damaged" in line
    assert f"dihub --config {dihub.config} sync git --full-refresh" in check.stderr
    assert "backup" in check.stderr


def test_a_file_that_is_not_a_database(dihub, repo):
    dihub.write_config(git_config(repo))
    dihub.db.write_text("these are my notes, not a database\n" * 200)
    for args in (("sync", "git", "commits"), ("fetch", "git", "commits"), ("status",)):
        proc = dihub.run(*args, check_code=1)
        [line] = _error_lines(proc)
        assert f"the embedded store {dihub.db} is not a SQLite database" in line, proc.stderr
    check = dihub.run("store", "check", check_code=1)
    assert "file is not a database" in check.stdout
    assert dihub.db.read_text().startswith("these are my notes")


def test_a_read_only_store_can_be_read_but_not_synced(dihub, repo):
    _synced(dihub, repo)
    with read_only(dihub.db):
        proc = dihub.run("sync", "git", "commits", check_code=1)
        [line] = _error_lines(proc)
        assert f"the embedded store {dihub.db} is not writable" in line, proc.stderr
        fetched = dihub.run("fetch", "git", "commits", "--format", "jsonl", check_code=0)
        assert len(fetched.stdout.splitlines()) == 400
        dihub.run("store", "check", check_code=0)


def test_a_relative_sqlite_uri_follows_the_config_file(dihub, repo, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    dihub.config = etc / "dihub.yaml"
    dihub.env.pop("DIHUB_STORE_URI")
    dihub.write_config(git_config(repo).replace(
        "store:\n", "store:\n  uri: sqlite:///data/dihub.db\n"))
    dihub.run("sync", "git", "commits", check_code=0)   # cwd is tmp_path, not etc
    assert (etc / "data" / "dihub.db").is_file()
    assert not (tmp_path / "data").exists()
    check = dihub.run("store", "check", check_code=0)
    assert check.stdout.startswith(f"ok: sqlite {etc / 'data' / 'dihub.db'} (")
    # An environment variable has no file: its relative path is from the cwd.
    dihub.env["DIHUB_STORE_URI"] = "sqlite:///here.db"
    dihub.run("sync", "git", "commits", check_code=0)
    assert (tmp_path / "here.db").is_file()


def test_store_check_on_mongodb_says_what_it_checks(dihub, repo):
    dihub.write_config(git_config(repo))
    dihub.env["DIHUB_STORE_URI"] = "mongodb://ana:s3cret@127.0.0.1:9/eng"
    proc = dihub.run("store", "check", check_code=2)
    [line] = _error_lines(proc)
    assert "checks the embedded SQLite store" in line and "mongodb 127.0.0.1:9/eng" in line
    assert "s3cret" not in proc.stderr


def test_metrics_textfile_that_is_a_directory(dihub, repo, tmp_path):
    _synced(dihub, repo)
    folder = tmp_path / "textfiles"
    folder.mkdir()
    proc = dihub.run("metrics", "--textfile", str(folder), check_code=1)
    [line] = _error_lines(proc)
    assert f"the metrics textfile {folder} is a directory" in line
    assert f"--textfile {folder / 'dihub.prom'}" in proc.stderr
    assert list(folder.iterdir()) == []
