"""load_store_config: a config that passed the full check before, unchanged since, is read
for the store from what that check kept, without YAML or pydantic; anything else gets the
full check, errors and all."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import dihub.config as config_module
from dihub import config_memo
from dihub.config import load_config, load_store_config
from dihub.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"

CONFIGS = {
    "relative sqlite path, a source without connector:": """\
store:
  uri: sqlite:///data/dihub.db
sources:
  git: {repo: ./repo}
  work-jira: {connector: jira, base_url: "https://x.atlassian.net"}
""",
    "no store section": "sources:\n  gh: {connector: github, repos: [a/b]}\n",
    "a store section with every key commented out": "store:\n#  uri: x\nsources: {}\n",
    "numbers as text and floats, which the models convert": """\
store:
  uri: null
  audit_retention_days: "30"
  batch_size: 200.0
""",
    "an empty file": "",
    "a token in a source": """\
sources:
  jira: {base_url: "https://x.atlassian.net", email: a@example.org, token: s3cret-t0ken}
""",
}
MONGODB = """\
store:
  uri: mongodb://dihub:s3cret-pass@db.example.org:27017/dihub
  audit_retention_days: 7
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dihub.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _seen(cfg) -> tuple:
    """What a command that reads the store uses of a config."""
    return (cfg.settings.store.uri, cfg.settings.store.audit_retention_days,
            {name: ref.connector for name, ref in cfg.sources.items()},
            cfg.path, cfg.base_dir)


def _no_full_check(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the config was checked in full again")

    monkeypatch.setattr(config_module, "parse_config", refuse)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_remembered_config_reads_as_the_full_check_reads_it(name, tmp_path, monkeypatch):
    path = _write(tmp_path, CONFIGS[name])
    full = load_config(path, connectors=False)          # passes, and is remembered
    _no_full_check(monkeypatch)
    fast = load_store_config(path)
    assert _seen(fast) == _seen(full)


def test_the_example_config_and_the_store_uri_from_the_environment(tmp_path, monkeypatch):
    full = load_config(EXAMPLE, connectors=False)
    with monkeypatch.context() as m:
        _no_full_check(m)
        assert _seen(load_store_config(EXAMPLE)) == _seen(full)
    monkeypatch.setenv("DIHUB_STORE_URI", f"sqlite:///{tmp_path}/env.db")
    # another value of an override: another digest, so the full check runs again
    assert config_memo.recall(EXAMPLE.read_text(), config_module._env_values()) is None
    full_env = load_config(EXAMPLE, connectors=False)
    _no_full_check(monkeypatch)
    fast_env = load_store_config(EXAMPLE)
    assert fast_env.settings.store.uri == f"sqlite:///{tmp_path}/env.db"
    assert _seen(fast_env) == _seen(full_env)


def test_a_config_never_checked_gets_the_full_check_and_is_remembered(tmp_path):
    path = _write(tmp_path, CONFIGS["no store section"])
    assert config_memo.recall(path.read_text(), config_module._env_values()) is None
    cfg = load_store_config(path)
    assert cfg.settings.store.batch_size == 1000          # the settings model itself
    assert config_memo.recall(path.read_text(), config_module._env_values()) == {
        "store": {"uri": None, "audit_retention_days": 365}, "sources": {"gh": "github"}}


def test_an_edit_that_breaks_the_file_is_reported_with_file_line_and_key(tmp_path):
    path = _write(tmp_path, "store:\n  uri: sqlite:///x.db\n")
    load_config(path)
    path.write_text("store:\n  uri: sqlite:///x.db\n  batch_sise: 10\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_store_config(path)
    assert (info.value.path, info.value.line, info.value.key) == \
        (str(path), 3, "store.batch_sise")


def test_a_config_that_fails_is_not_remembered(tmp_path):
    path = _write(tmp_path, "store:\n  audit_retention_days: 0\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match="audit_retention_days"):
            load_store_config(path)
    assert config_memo.recall(path.read_text(), config_module._env_values()) is None
    assert not list(config_memo.memo_dir().iterdir())


def test_the_memo_holds_the_store_and_the_connectors_never_a_secret(tmp_path):
    path = _write(tmp_path, CONFIGS["a token in a source"])
    load_config(path, connectors=False)
    marks = list(config_memo.memo_dir().iterdir())
    assert len(marks) == 1
    assert len(marks[0].name) == 64 and int(marks[0].name, 16) >= 0
    assert json.loads(marks[0].read_bytes()) == {
        "store": {"uri": None, "audit_retention_days": 365}, "sources": {"jira": "jira"}}
    assert b"s3cret" not in marks[0].read_bytes()
    assert marks[0].stat().st_mode & 0o077 == 0


def test_a_mongodb_config_is_not_remembered_and_is_checked_every_time(tmp_path):
    path = _write(tmp_path, MONGODB)
    for _ in range(2):
        cfg = load_store_config(path)
        assert cfg.settings.store.uri.startswith("mongodb://dihub:s3cret-pass@")
        assert cfg.settings.store.batch_size == 1000    # the settings model itself
    assert not list(config_memo.memo_dir().iterdir())


def test_a_damaged_memo_is_read_as_none(tmp_path, monkeypatch):
    path = _write(tmp_path, CONFIGS["no store section"])
    load_config(path, connectors=False)
    (mark,) = config_memo.memo_dir().iterdir()
    for damage in (b"", b"{", b"[1]", b'{"store": {}}', b'{"store": 1, "sources": {}}'):
        mark.write_bytes(damage)
        assert load_store_config(path).settings.store.batch_size == 1000   # full check
        assert json.loads(mark.read_bytes())["sources"] == {"gh": "github"}  # and kept again


def test_dihub_s_own_rules_changing_forget_what_was_checked(tmp_path, monkeypatch):
    text = CONFIGS["no store section"]
    before = config_memo.digest(text, {})
    rules = tmp_path / "settings.py"
    rules.write_text("# other rules\n")
    monkeypatch.setattr(config_memo, "_RULES", (rules,))
    assert config_memo.digest(text, {}) != before
    assert config_memo.digest(text, {"DIHUB_STORE_URI": "x"}) != config_memo.digest(text, {})
    assert config_memo.digest(text + " ", {}) != config_memo.digest(text, {})


def test_at_most_keep_digests_are_kept_the_least_recently_used_go(monkeypatch):
    monkeypatch.setattr(config_memo, "KEEP", 3)
    folder = config_memo.memo_dir()
    for i in range(3):
        config_memo.remember(f"text {i}", {}, {"i": i})
        os.utime(folder / config_memo.digest(f"text {i}", {}), ns=(i * 10**9, i * 10**9))
    config_memo.remember("text 0", {}, {"i": 0})        # used again: now the newest
    config_memo.remember("text 3", {}, {"i": 3})
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        config_memo.digest(f"text {i}", {}) for i in (0, 2, 3))


def test_a_cache_dir_that_cannot_be_written_only_costs_the_full_check(tmp_path, monkeypatch):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    monkeypatch.setattr(config_memo, "memo_dir", lambda: blocked / "configs-checked")
    path = _write(tmp_path, CONFIGS["no store section"])
    for _ in range(2):
        assert load_store_config(path).settings.store.batch_size == 1000


def test_nothing_is_created_under_a_home_that_does_not_exist(tmp_path, monkeypatch):
    home = tmp_path / "nonexistent"
    # as platformdirs gives it: <cache root>/dihub/configs-checked, the root in the home
    monkeypatch.setattr(config_memo, "memo_dir",
                        lambda: home / ".cache" / "dihub" / "configs-checked")
    config_memo.remember("text", {}, {"a": 1})
    assert not home.exists()
    home.mkdir()            # a home without a cache root yet: the root is made
    config_memo.remember("text", {}, {"a": 1})
    assert config_memo.recall("text", {}) == {"a": 1}
