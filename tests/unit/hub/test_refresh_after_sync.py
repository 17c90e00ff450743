"""`dihub sync` refreshes people and links when it wrote records (hub.refresh_after_sync),
on a small generated git repository; a failed refresh never fails the sync."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import dihub.hub
from dihub.config import parse_config
from dihub.engine.sync import run_sync
from dihub.store.sqlite import SQLiteStore
from tests.support.gitrepo import generate


def _config(tmp_path: Path, extra: str = ""):
    repo = generate(tmp_path / "repo", 6)
    db = tmp_path / "data" / "dihub.db"
    text = (f"store: {{uri: 'sqlite:///{db}'}}\n{extra}"
            f"sources:\n  git: {{connector: git, repo: '{repo}'}}\n")
    path = tmp_path / "dihub.yaml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path), db


def _sync(config, db):
    return run_sync(config, "git", ["commits"], store=SQLiteStore(db))


def test_people_appear_after_a_sync_without_a_hub_refresh(tmp_path, monkeypatch):
    config, db = _config(tmp_path)
    calls = []
    real = dihub.hub.refresh
    monkeypatch.setattr(dihub.hub, "refresh", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert _sync(config, db).exit_code == 0
    store = SQLiteStore(db)
    try:
        assert store.count("commits", "git") == 6
        people = list(store.iter_records("people", source="hub"))
        assert people and all(p["person_id"].startswith("p_") for p in people)
        assert store.get_meta("hub.state")
    finally:
        store.close()
    assert len(calls) == 1
    again = _sync(config, db)            # nothing new: the refresh is not even called
    assert again.exit_code == 0 and len(calls) == 1


def test_a_failed_refresh_is_a_warning_and_the_sync_stands(tmp_path, monkeypatch, caplog):
    config, db = _config(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(dihub.hub, "refresh", broken)
    with caplog.at_level(logging.WARNING, logger="dihub.hub"):
        report = _sync(config, db)
    assert report.exit_code == 0
    assert any("dihub hub refresh" in r.getMessage() and "boom" in r.getMessage()
               for r in caplog.records)
    store = SQLiteStore(db)
    try:
        assert store.count("commits", "git") == 6
        assert store.count("people", "hub") == 0
    finally:
        store.close()


@pytest.mark.parametrize("extra", ["hub: {refresh_after_sync: false}\n"])
def test_it_can_be_turned_off(tmp_path, extra):
    config, db = _config(tmp_path, extra)
    assert _sync(config, db).exit_code == 0
    store = SQLiteStore(db)
    try:
        assert store.count("commits", "git") == 6
        assert store.count("people", "hub") == 0
    finally:
        store.close()
