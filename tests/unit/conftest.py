"""Fixtures the unit tests share."""

from __future__ import annotations

import pytest

from dihub.store.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path):
    """A fresh embedded store in the test's directory, closed after the test."""
    s = SQLiteStore(tmp_path / "s.db")
    yield s
    s.close()
