"""Suite-wide isolation: no test leaves a keyring backend or credentials dir behind."""

from __future__ import annotations

import keyring
import pytest


@pytest.fixture(autouse=True)
def _restore_keyring_backend():
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _private_config_dir(tmp_path_factory, monkeypatch):
    """Credentials files written in-process go to a temporary dir, never the user's."""
    monkeypatch.setenv("DIHUB_CONFIG_DIR", str(tmp_path_factory.mktemp("config-dir")))


@pytest.fixture(autouse=True)
def _private_config_memo(tmp_path_factory, monkeypatch):
    """The digests of checked configs (dihub.config_memo) go to a temporary dir in-process."""
    from dihub import config_memo

    folder = tmp_path_factory.mktemp("configs-checked")
    monkeypatch.setattr(config_memo, "memo_dir", lambda: folder)
