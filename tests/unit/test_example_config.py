"""config.example.yaml loads, and documents every key of the core and of each connector."""

from __future__ import annotations

import re
from pathlib import Path

from dihub.config import Settings, load_config
from dihub.connectors.base import SourceConfig
from dihub.connectors.registry import all_connectors

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def _keys(model) -> set[str]:
    return set(model.model_fields)


def test_example_config_is_valid():
    cfg = load_config(EXAMPLE)
    assert "git" in cfg.sources


def test_example_config_mentions_every_key():
    text = EXAMPLE.read_text()
    mentioned = set(re.findall(r"^\s*#?\s*([a-z_]+):", text, re.M))
    mentioned |= set(re.findall(r"[{,]\s*([a-z_]+):", text))
    from dihub.config import (
        BreakerSettings,
        HttpSettings,
        RateLimitSettings,
        RetrySettings,
        StoreSettings,
    )

    for model in (Settings, StoreSettings, HttpSettings, RetrySettings, RateLimitSettings,
                  BreakerSettings):
        assert _keys(model) <= mentioned, (model.__name__, _keys(model) - mentioned)
    loaded, broken = all_connectors()
    assert broken == {}
    for connector in loaded:
        own = _keys(connector.config_model) - _keys(SourceConfig)
        missing = own - mentioned
        assert not missing, (connector.name, missing)
