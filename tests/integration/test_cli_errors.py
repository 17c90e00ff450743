"""Bad input on the command line: a clear message, exit 2, never a traceback."""

from __future__ import annotations

from tests.integration.conftest import git_config


def _no_traceback(proc):
    assert "Traceback" not in proc.stderr + proc.stdout


def test_invalid_config_type(dihub):
    dihub.write_config("store:\n  batch_size: many\nsources: {}\n")
    p = dihub.run("sync", "git", "commits", check_code=2)
    assert f"{dihub.config}:2: store.batch_size" in p.stderr
    _no_traceback(p)


def test_unknown_config_key(dihub, tmp_path):
    dihub.write_config(git_config(tmp_path) + "    colour: blue\n")
    p = dihub.run("config", "validate", check_code=2)
    assert f"{dihub.config}:7: sources.git.colour: unknown key 'colour'" in p.stderr
    _no_traceback(p)


def test_broken_yaml(dihub):
    dihub.write_config("sources:\n  git:\n    connector: git\n   repo: .\n")
    p = dihub.run("status", check_code=2)
    assert f"{dihub.config}:4" in p.stderr and "not valid YAML" in p.stderr
    _no_traceback(p)


def test_missing_config_file(dihub):
    p = dihub.run("--config", "/nonexistent/dihub.yaml", "status", check_code=2)
    assert "/nonexistent/dihub.yaml" in p.stderr and "not found" in p.stderr


def test_unknown_source(dihub, tmp_path):
    dihub.write_config(git_config(tmp_path))
    p = dihub.run("sync", "gitlab", "commits", check_code=2)
    assert "unknown source 'gitlab'" in p.stderr and "git" in p.stderr
    _no_traceback(p)


def test_unknown_stream(dihub, tmp_path):
    dihub.write_config(git_config(tmp_path))
    p = dihub.run("sync", "git", "comits", check_code=2)
    assert "no stream 'comits'" in p.stderr and "commits" in p.stderr
    _no_traceback(p)


def test_unknown_entity_and_field_on_fetch(dihub, tmp_path):
    dihub.write_config(git_config(tmp_path))
    p = dihub.run("fetch", "git", "comits", check_code=2)
    assert "unknown entity 'comits'" in p.stderr
    p = dihub.run("fetch", "git", "commits", "--fields", "sha", check_code=2)
    assert "unknown field(s) for commits: sha" in p.stderr
    p = dihub.run("fetch", "git", "commits", "--since", "yesterday", check_code=2)
    assert "--since" in p.stderr


def test_repo_that_is_not_git_is_a_config_error(dihub, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    dihub.write_config(git_config(plain))
    p = dihub.run("sync", "git", "commits")
    assert p.returncode == 2, p.stderr
    assert "is not a git repository" in p.stderr
    _no_traceback(p)


def test_auth_on_sources_without_a_login(dihub, tmp_path):
    dihub.write_config(git_config(tmp_path))
    assert "no configured source needs a login" in dihub.run("auth", "status",
                                                             check_code=0).stdout
    assert "git connector needs no login" in dihub.run("auth", "git", check_code=0).stdout
    p = dihub.run("auth", "logout", "nosuch", check_code=2)
    assert "unknown source 'nosuch'" in p.stderr


def test_config_error_found_during_a_pass_names_file_and_line(dihub, tmp_path):
    from tests.support.gitrepo import generate

    repo = generate(tmp_path / "repo", 5)
    dihub.write_config(git_config(repo) + "    branches: [nosuch]\n")
    p = dihub.run("sync", "git", "commits", check_code=2)
    assert f"error: {dihub.config}:7: sources.git.branches: branch(es) not found" in p.stderr
