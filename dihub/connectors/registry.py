"""Find connectors through the entry-point group `dihub.connectors`, check them, and
register the entities they declare (see docs/writing-a-connector.md)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from dihub.connectors.base import Connector, Login
from dihub.errors import ConfigError, UsageError

GROUP = "dihub.connectors"


@cache
def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    return sorted(_entry_points())


@cache
def _load(name: str) -> Connector:
    ep = _entry_points()[name]
    try:
        obj = ep.load()
    except Exception as exc:   # noqa: BLE001 - a broken plugin must not break dihub
        raise UsageError(f"connector {name!r} ({ep.value}) failed to load: "
                         f"{type(exc).__name__}: {exc}",
                         hint="Reinstall or upgrade the package that provides it.") from None
    connector = obj() if isinstance(obj, type) else obj
    if not isinstance(connector, Connector):
        raise UsageError(f"entry point {name!r} in {GROUP} is not a dihub Connector")
    if connector.auth is not None and not isinstance(connector.auth, Login):
        raise UsageError(f"connector {name!r} ({ep.value}): its `auth` lacks login, status "
                         "or logout (the dihub.connectors.base.Login protocol)",
                         hint="Upgrade the package that provides it.")
    for entity in connector.entities:
        try:
            entity.register()
        except ValueError as exc:
            raise UsageError(f"connector {name!r} ({ep.value}): {exc}",
                             hint="Upgrade the package that provides it.") from None
    return connector


def load_connector(name: str, context: tuple | None = None) -> Connector:
    """Load one connector; `context` = (config path, line, key) for a config error."""
    if name not in _entry_points():
        installed = ", ".join(available()) or "none"
        msg = f"connector {name!r} is not installed (installed: {installed})"
        hint = "Install the package that provides it, or fix the `connector:` name."
        if context:
            path, line, key = context
            raise ConfigError(msg, path=path, line=line, key=key, hint=hint)
        raise UsageError(msg, hint=hint)
    return _load(name)


def all_connectors() -> tuple[list[Connector], dict[str, str]]:
    """The connectors that load, and {name: error} for those that don't."""
    loaded, broken = [], {}
    for n in available():
        try:
            loaded.append(_load(n))
        except UsageError as err:
            broken[n] = str(err)
    return loaded, broken
