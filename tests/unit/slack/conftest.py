from __future__ import annotations

import itertools

import pytest

from tests.support.slack import SlackSource


@pytest.fixture
def slack_source(tmp_path):
    """Make a SlackSource over a simulator Workspace, each with its own SQLite store."""
    n = itertools.count(1)
    return lambda ws, **config: SlackSource(ws, tmp_path / f"slack-{next(n)}.db", **config)
