"""Shared helpers for the GitHub connector tests: fixture loading and an in-memory keyring."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

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


class MemoryKeyring(KeyringBackend):
    """A dict-backed keyring so tests never touch (or need) the OS keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise PasswordDeleteError("not found")
        del self.store[(service, username)]


@pytest.fixture(autouse=True)
def registered(monkeypatch) -> list[str]:
    """Stand in for dihub.http.redact: record registered secrets without touching the
    process-wide redactor other tests rely on."""
    seen: list[str] = []
    fake = types.ModuleType("dihub.http.redact")
    fake.register_secret = seen.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dihub.http.redact", fake)
    return seen


@pytest.fixture(autouse=True)
def isolated_credentials(tmp_path, monkeypatch):
    """No test reads the real config dir or a real token from the environment."""
    monkeypatch.setenv("DIHUB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend
