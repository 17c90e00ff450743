"""Keyring backends and secret isolation for tests that store credentials.

tests/conftest.py already restores the process-wide keyring backend after every test
and points DIHUB_CONFIG_DIR at a fresh temporary dir, so a test (or fixture) only
installs the backend it wants:

    backend = use_memory_keyring()          # then assert on backend.store
    keyring.set_keyring(fail.Keyring())     # a headless machine
    seen = fake_redactor(monkeypatch)       # the secrets dihub registers for redaction
"""

from __future__ import annotations

import sys
import types

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError


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


class LockedKeyring(MemoryKeyring):
    """A keyring whose collection is locked: every call raises KeyringLocked."""

    def get_password(self, service, username, *rest):
        raise KeyringLocked("the collection is locked")

    set_password = delete_password = get_password


def use_memory_keyring() -> MemoryKeyring:
    """Install a fresh MemoryKeyring as the keyring backend and return it."""
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


def fake_redactor(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stand in for dihub.redact: record the secrets dihub registers without
    touching the process-wide redactor other tests rely on. Returns the record."""
    seen: list[str] = []
    fake = types.ModuleType("dihub.redact")
    fake.register_secret = seen.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dihub.redact", fake)
    return seen
