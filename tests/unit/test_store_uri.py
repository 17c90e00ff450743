"""`store.uri` means what SQLAlchemy users expect, and `describe_store` names the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from dihub.config import parse_config
from dihub.errors import ConfigError
from dihub.store.factory import (
    default_sqlite_path,
    describe_configured_store,
    describe_store,
    open_configured_store,
    open_store,
    sqlite_path,
    store_base_dir,
)
from dihub.store.sqlite import SQLiteStore


def test_three_slashes_is_relative_to_the_base_folder(tmp_path):
    assert sqlite_path("sqlite:///data/dihub.db", tmp_path) == tmp_path / "data" / "dihub.db"
    assert sqlite_path("sqlite:///../up.db", tmp_path / "conf") == tmp_path / "up.db"


def test_four_slashes_is_absolute(tmp_path):
    assert sqlite_path(f"sqlite:///{tmp_path}/x.db", "/elsewhere") == tmp_path / "x.db"
    assert sqlite_path("sqlite:////var/lib/dihub.db", tmp_path) == Path("/var/lib/dihub.db")


def test_home_and_current_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert sqlite_path("sqlite:///~/dihub.db", "/elsewhere") == tmp_path / "dihub.db"
    monkeypatch.chdir(tmp_path)
    assert sqlite_path("sqlite:///rel.db") == tmp_path / "rel.db"


def test_no_uri_is_the_user_data_dir():
    assert sqlite_path(None, "/elsewhere") == default_sqlite_path()
    assert sqlite_path("mongodb://db:27017/x") is None


@pytest.mark.parametrize("uri, message", [
    ("sqlite://dihub.db", "three slashes before a relative path and four before an absolute"),
    ("sqlite:dihub.db", "three slashes"),
    ("sqlite:///", "needs a file"),
    ("sqlite:///:memory:", "needs a file"),
    ("sqlite:///x.db?timeout=5", "options (?...) are not supported"),
    ("postgres://db/x", "unsupported store URI scheme"),
])
def test_bad_uris_are_config_errors(uri, message):
    with pytest.raises(ConfigError, match="store.uri") as exc:
        open_store(uri)
    assert message in str(exc.value)


def _config(tmp_path: Path, uri: str):
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "dihub.yaml"
    path.write_text(f"store:\n  uri: {uri}\n")
    return parse_config(path.read_text(), path)


def test_a_config_file_uri_is_relative_to_the_file_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("DIHUB_STORE_URI", raising=False)
    cfg = _config(tmp_path, "sqlite:///data/dihub.db")
    monkeypatch.chdir(tmp_path)                      # cron runs elsewhere
    assert store_base_dir(cfg) == tmp_path / "etc"
    store = open_configured_store(cfg)
    try:
        assert store.path == tmp_path / "etc" / "data" / "dihub.db"
        store.put_meta("k", {})
    finally:
        store.close()
    assert (tmp_path / "etc" / "data" / "dihub.db").is_file()
    assert not (tmp_path / "data").exists()
    assert describe_configured_store(cfg) == f"sqlite {tmp_path / 'etc' / 'data' / 'dihub.db'}"


def test_a_relative_config_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.delenv("DIHUB_STORE_URI", raising=False)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "dihub.yaml").write_text("store:\n  uri: sqlite:///d.db\n")
    monkeypatch.chdir(tmp_path)
    cfg = parse_config("store:\n  uri: sqlite:///d.db\n", Path("conf/dihub.yaml"))
    assert store_base_dir(cfg) == tmp_path / "conf"


def test_dihub_store_uri_is_relative_to_the_cwd(tmp_path, monkeypatch):
    monkeypatch.setenv("DIHUB_STORE_URI", "sqlite:///env.db")
    cfg = _config(tmp_path, "sqlite:///file.db")
    monkeypatch.chdir(tmp_path)
    assert cfg.settings.store.uri == "sqlite:///env.db"
    assert store_base_dir(cfg) == tmp_path
    store = open_configured_store(cfg)
    assert isinstance(store, SQLiteStore) and store.path == tmp_path / "env.db"


def test_describe_names_the_store_without_credentials(tmp_path):
    assert describe_store(f"sqlite:///{tmp_path}/x.db") == f"sqlite {tmp_path}/x.db"
    assert SQLiteStore(tmp_path / "x.db").describe() == f"sqlite {tmp_path}/x.db"
    described = describe_store("mongodb://ana:s3cret@db1:27017,db2:27017/eng?authSource=admin")
    assert described == "mongodb db1:27017,db2:27017/eng"
    assert describe_store("mongodb+srv://u:p@cluster.example.net") == \
        "mongodb+srv cluster.example.net/dihub"
