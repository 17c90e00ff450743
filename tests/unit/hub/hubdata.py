"""Helpers for the identities/links/refresh tests: a SQLite store filled with records as the
connectors store them, and a config with git, github, jira and slack sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dihub.config import parse_config
from dihub.models.documents import to_document
from dihub.models.records import Record
from dihub.store.sqlite import SQLiteStore

CONFIG = """
sources:
  git: {connector: git, repo: .}
  github: {connector: github, repos: [acme/shop]}
  jira: {connector: jira, base_url: https://acme.atlassian.net, email: a@acme.example}
  slack: {connector: slack}
"""


def settings(tmp_path: Path, extra: str = "", identities: str | None = None):
    text = CONFIG + extra
    if identities is not None:
        (tmp_path / "identities.yaml").write_text(identities, encoding="utf-8")
        text += "identities: {file: identities.yaml}\n"
    path = tmp_path / "dihub.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / ".git").mkdir(exist_ok=True)
    return parse_config(text, path).settings


def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "data" / "dihub.db")


LATEST_WRITE: list[str] = []      # the stamps `put` used, for `settled_clock`


def put(store: Any, *records: Record, at: str = "2026-03-01T00:00:00Z") -> Any:
    LATEST_WRITE.append(at)
    return store.upsert_many([to_document(r, at) for r in records])


def settled_clock(monkeypatch: Any) -> None:
    """Make "now", for the hub's marks, just past CLOSE_MARGIN after the latest `put`: the
    records here are stamped in the past, as if each refresh ran a while after a sync."""
    from datetime import timedelta

    from dihub.hub import dataset
    from dihub.timeutil import parse

    LATEST_WRITE.clear()
    monkeypatch.setattr(dataset, "utcnow", lambda: parse(max(LATEST_WRITE))
                        + dataset.CLOSE_MARGIN + timedelta(seconds=1))


def groups(store: Any) -> set[frozenset[str]]:
    """The people as sets of account keys (merged-away records left out)."""
    return {frozenset(f"{a['source']}:{a['user_id']}" for a in p["accounts"])
            for p in store.iter_records("people", source="hub") if not p.get("merged_into")}
