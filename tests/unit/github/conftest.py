"""Shared helpers for the GitHub connector tests: fixture loading and an in-memory keyring
(tests.support.keyrings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.keyrings import MemoryKeyring, fake_redactor, use_memory_keyring

DATA = Path(__file__).resolve().parents[2] / "data" / "github"
FIXTURES = DATA / "fixtures"
CASSETTES = DATA / "cassettes"


def load(rel: str) -> Any:
    """A fixture file as stored (plain payload, wrapper, or array of wrappers)."""
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))


def is_wrapper(obj: Any) -> bool:
    """A recorded response ({request, status, headers, body}) rather than a bare payload."""
    return isinstance(obj, dict) and {"status", "headers", "body"} <= obj.keys()


def pages(rel: str) -> list[dict[str, Any]]:
    """The {request, status, headers, body} wrappers of a REST fixture, in request order."""
    data = load(rel)
    return data if isinstance(data, list) else [data]


def items(rel: str, key: str | None = None) -> list[dict[str, Any]]:
    """Every item of every page: the body list, or body[key] for enveloped lists."""
    data = load(rel)
    if isinstance(data, dict) and not is_wrapper(data):
        return [data]                  # a plain payload object
    if isinstance(data, list) and data and not is_wrapper(data[0]):
        return data                    # a plain payload list (the docs examples)
    out: list[dict[str, Any]] = []
    for page in pages(rel):
        body = page["body"]
        out.extend(body[key] if key else body if isinstance(body, list) else [body])
    return out


@pytest.fixture(autouse=True)
def registered(monkeypatch) -> list[str]:
    """Stand in for dihub.redact: record registered secrets without touching the
    process-wide redactor other tests rely on."""
    return fake_redactor(monkeypatch)


@pytest.fixture(autouse=True)
def isolated_credentials(monkeypatch):
    """No test reads a real token from the environment (tests/conftest.py keeps the
    config dir and the keyring backend private to each test)."""
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return use_memory_keyring()
