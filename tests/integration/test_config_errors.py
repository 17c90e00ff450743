"""Bad config files through the real CLI: a clear message naming the file (and line),
exit 2, never `internal error` (exit 1, which cron cannot tell from an upstream failure)."""

from __future__ import annotations

import os

import pytest

from tests.integration.conftest import git_config


def _clean(proc) -> None:
    out = proc.stderr + proc.stdout
    assert "Traceback" not in out and "internal error" not in out, out


def test_non_utf8_config(dihub):
    dihub.config.write_bytes(b"sources:\n  git:\n    connector: git\n    repo: caf\xe9\n")
    p = dihub.run("sync", "git", "commits", check_code=2)
    assert f"error: {dihub.config}:4: not valid UTF-8: byte 0xe9" in p.stderr
    _clean(p)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_config(dihub):
    dihub.write_config("sources: {}\n")
    dihub.config.chmod(0)
    p = dihub.run("config", "validate", check_code=2)
    assert f"{dihub.config}: cannot read the config file: Permission denied" in p.stderr
    _clean(p)


def test_empty_config_option_is_not_the_defaults(dihub):
    dihub.write_config("sources: {}\n")     # ./dihub.yaml: what '' used to fall back to
    p = dihub.run("--config", "", "config", "validate", check_code=2)
    assert "the config file path is empty" in p.stderr and "ok" not in p.stdout
    _clean(p)


def test_directory_fifo_and_dev_null_are_not_regular_files(dihub, tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for path, kind in ((tmp_path, "a directory"), (fifo, "a named pipe"),
                       ("/dev/null", "a character device")):
        p = dihub.run("--config", str(path), "status", check_code=2)
        assert f"error: {path}: not a regular file ({kind})" in p.stderr
        assert "not found" not in p.stderr
        _clean(p)


def test_empty_config_file_says_no_sources_and_where_the_example_is(dihub):
    dihub.write_config("")
    for cmd in (("sync", "git", "commits"), ("fetch", "git", "commits")):
        p = dihub.run(*cmd, check_code=2)
        assert f"error: {dihub.config}: no sources are configured" in p.stderr
        assert "config.example.yaml" in p.stderr
        _clean(p)
    p = dihub.run("config", "validate", check_code=0)
    assert "warning:" in p.stderr and "no sources are configured" in p.stderr
    assert "config.example.yaml" in p.stderr


def test_bad_store_uri_names_file_and_line(dihub):
    env = {k: v for k, v in dihub.env.items() if k != "DIHUB_STORE_URI"}
    dihub.env = env
    dihub.write_config("sources: {}\nstore:\n  uri: postgres://db/x\n")
    p = dihub.run("status", check_code=2)
    assert f"error: {dihub.config}:3: store.uri: unsupported store URI scheme" in p.stderr
    assert "hint: Use sqlite:///" in p.stderr
    _clean(p)


def test_malformed_mongodb_uri_names_file_and_line(dihub):
    dihub.env = {k: v for k, v in dihub.env.items() if k != "DIHUB_STORE_URI"}
    dihub.write_config("store:\n  batch_size: 10\n  uri: mongodb://bob:pa:ss@db:27017/x\n")
    p = dihub.run("status", check_code=2)
    assert f"error: {dihub.config}:3: store.uri: not a valid MongoDB URI" in p.stderr
    assert "pa:ss" not in p.stderr
    _clean(p)


def test_every_problem_of_the_file_in_one_run(dihub, tmp_path):
    dihub.write_config(git_config(tmp_path, extra="  colour: blue\n")
                       + "    brnaches: [main]\n    depth: 3\nlease_ttl: 5\n")
    p = dihub.run("config", "validate", check_code=2)
    c = dihub.config
    assert (f"error: {c}: 4 problems:\n"
            f"{c}:3: store.colour: unknown key 'colour'\n"
            f"{c}:8: sources.git.brnaches: unknown key 'brnaches'\n"
            f"{c}:9: sources.git.depth: unknown key 'depth'\n"
            f"{c}:10: lease_ttl: unknown key 'lease_ttl'\n") in p.stderr
    _clean(p)


def test_validate_checks_that_a_git_repo_is_a_repository(dihub, tmp_path):
    from tests.support.gitrepo import generate

    repo = generate(tmp_path / "repo", 3)
    plain = tmp_path / "plain"
    plain.mkdir()
    dihub.write_config(git_config(repo) + "  other:\n    connector: git\n"
                       f"    repo: {plain}\n  gone:\n    connector: git\n"
                       f"    repo: {tmp_path / 'gone'}\n")
    p = dihub.run("config", "validate", check_code=2)
    c = dihub.config
    assert f"{c}:9: sources.other.repo: '{plain}' is not a git repository" in p.stderr
    assert f"{c}:12: sources.gone.repo: git repository '{tmp_path / 'gone'}' does not exist" \
        in p.stderr
    assert "sources.git.repo" not in p.stderr
    _clean(p)
    dihub.write_config(git_config(repo))
    assert "ok - git (git)" in dihub.run("config", "validate", check_code=0).stdout
