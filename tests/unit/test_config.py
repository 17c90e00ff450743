"""Config loading: every error names the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dihub.config import parse_config
from dihub.errors import EXIT_USAGE, ConfigError

GOOD = """\
store:
  uri: sqlite:///tmp/x.db
  batch_size: 500
sources:
  git:
    connector: git
    repo: ./repo
"""


def _err(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("/etc/dihub/config.yaml"))
    assert info.value.exit_code == EXIT_USAGE
    return info.value


def test_good_config_resolves_relative_repo_from_config_dir():
    cfg = parse_config(GOOD, Path("/etc/dihub/config.yaml"))
    assert cfg.settings.store.batch_size == 500
    assert cfg.sources["git"].repo == "/etc/dihub/repo"
    assert cfg.sources["git"].connector == "git"


def test_wrong_type_names_line_and_key():
    err = _err(GOOD.replace("batch_size: 500", "batch_size: lots"))
    assert err.line == 3 and err.key == "store.batch_size"
    assert str(err).startswith("/etc/dihub/config.yaml:3: store.batch_size:")
    assert "lots" in str(err)


def test_unknown_key_points_at_the_key():
    err = _err(GOOD + "    brnaches: [main]\n")
    assert err.line == 8
    assert err.key == "sources.git.brnaches"
    assert "unknown key 'brnaches'" in str(err)


def test_unknown_top_level_key():
    err = _err("stor:\n  uri: x\n")
    assert (err.line, err.key) == (1, "stor")


def test_broken_yaml_gives_line():
    err = _err("store:\n  uri: [unclosed\nsources: {}\n")
    assert err.line is not None and err.line >= 2
    assert "not valid YAML" in str(err)


def test_unknown_connector_names_the_line():
    err = _err("sources:\n  jra:\n    connector: jiraa\n")
    assert err.line == 3
    assert "connector 'jiraa' is not installed" in str(err)


def test_bad_source_name():
    err = _err("sources:\n  My Source:\n    connector: git\n")
    assert "source name" in str(err)


def test_store_uri_env_override(monkeypatch):
    monkeypatch.setenv("DIHUB_STORE_URI", "mongodb://db:27017/x")
    cfg = parse_config(GOOD, Path("/etc/dihub/config.yaml"))
    assert cfg.settings.store.uri == "mongodb://db:27017/x"


def test_masked_hides_secrets():
    cfg = parse_config("sources:\n  git:\n    connector: git\n", None)
    cfg.raw["sources"]["git"]["api_token"] = "s3cr3t"
    assert "s3cr3t" not in str(cfg.masked())


def test_masked_hides_credentials_inside_uris(monkeypatch):
    monkeypatch.setenv("DIHUB_STORE_URI", "mongodb://bob:hunter2@db.example:27017/dihub")
    cfg = parse_config("sources: {}\n", None)
    shown = str(cfg.masked())
    assert "hunter2" not in shown and "bob" not in shown
    assert "mongodb://****@db.example:27017/dihub" in shown
