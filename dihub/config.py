"""Load and validate the YAML config.

Found via `--config`, `$DIHUB_CONFIG`, `./dihub.yaml`, then the user config
dir (`~/.config/dihub/config.yaml` on Linux). Environment overrides:
`DIHUB_STORE_URI` (store.uri). Every error names the file, line and key.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dihub.errors import ConfigError

SECRET_KEY = re.compile(r"(token|secret|password|passwd|api_key|apikey|private_key)$", re.I)
ENV_OVERRIDES = {"DIHUB_STORE_URI": ("store", "uri")}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RawPayloads(_Strict):
    enabled: bool = False
    retention_days: int = Field(90, ge=1)


class StoreSettings(_Strict):
    uri: str | None = None
    raw_payloads: RawPayloads = RawPayloads()
    audit_retention_days: int = Field(365, ge=1)
    batch_size: int = Field(1000, ge=1, le=100_000)


class RetrySettings(_Strict):
    attempts: int = Field(5, ge=1, le=20)
    backoff_s: list[float] = [1, 2, 4, 8, 16]
    jitter: float = Field(0.5, ge=0, le=1)     # up to this fraction of a delay is random


class RateLimitSettings(_Strict):
    reserve: int = Field(50, ge=0)             # below this many requests left, pace
    max_wait_s: float = Field(300, ge=0)       # a reset further away: checkpoint, exit 75


class BreakerSettings(_Strict):
    failures: int = Field(5, ge=1)             # consecutive failed calls (after retries)
    cooldown_s: float = Field(900, ge=0)


class HttpSettings(_Strict):
    timeout_s: float = Field(30, gt=0)
    concurrency: int = Field(4, ge=1, le=32)
    retry: RetrySettings = RetrySettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    breaker: BreakerSettings = BreakerSettings()


class Settings(_Strict):
    store: StoreSettings = StoreSettings()
    http: HttpSettings = HttpSettings()
    lease_ttl_s: float = Field(600, gt=0)
    sources: dict[str, Any] = {}

    @field_validator("sources")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if not re.fullmatch(r"[a-z][a-z0-9_-]*", str(name)):
                raise ValueError(
                    f"source name {name!r} must be lower-case letters, digits, '-' or '_'")
        return v


class Config:
    """A loaded config: settings, validated per-source models, and where it came from."""

    def __init__(self, settings: Settings, sources: dict[str, Any], path: Path | None,
                 raw: dict[str, Any]):
        self.settings = settings
        self.sources = sources          # name -> connector config model
        self.path = path
        self.raw = raw

    def source(self, name: str):
        from dihub.errors import UsageError

        if name not in self.sources:
            known = ", ".join(sorted(self.sources)) or "none"
            where = self.path or "the config"
            raise UsageError(f"unknown source {name!r} (configured in {where}: {known})",
                             hint="Add it under `sources:` or check the spelling.")
        return self.sources[name]

    def masked(self) -> dict[str, Any]:
        return _mask(self.raw)

    def locate(self, err: ConfigError, source: str) -> ConfigError:
        """A ConfigError raised during a pass (no file known) with this config's file, the
        line of the key and its full dotted name."""
        if err.path is not None or self.path is None:
            return err
        key = err.key or ""
        if key and not key.startswith("sources."):
            key = f"sources.{source}.{key}"
        try:
            root = yaml.compose(self.path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        except (OSError, yaml.YAMLError):
            root = None
        line = _line_of(root, tuple(key.split("."))) if key and root is not None else None
        return ConfigError(err.detail, path=str(self.path), line=line, key=key or None,
                           hint=err.hint)


_URI_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if SECRET_KEY.search(key) and value not in (None, ""):
        return "****"
    if isinstance(value, str):
        # mongodb://user:password@host, https://user:token@host
        return _URI_USERINFO.sub(r"\g<scheme>****@", value)
    return value


def find_config(explicit: str | os.PathLike | None = None) -> Path | None:
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_file():
            raise ConfigError("config file not found", path=str(p),
                              hint="Pass an existing file with --config.")
        return p
    env = os.environ.get("DIHUB_CONFIG")
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise ConfigError("config file named by $DIHUB_CONFIG not found", path=str(p))
        return p
    local = Path("dihub.yaml")
    if local.is_file():
        return local
    from platformdirs import user_config_dir

    user = Path(user_config_dir("dihub", appauthor=False)) / "config.yaml"
    return user if user.is_file() else None


def load_config(explicit: str | os.PathLike | None = None) -> Config:
    path = find_config(explicit)
    text = path.read_text(encoding="utf-8") if path else ""
    return parse_config(text, path)


def parse_config(text: str, path: Path | None = None) -> Config:
    shown = str(path) if path else "<config>"
    try:
        root_node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML: {problem}", path=shown, line=line,
                          hint="Check indentation and quoting around that line.") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping (store:, sources:, ...)",
                          path=shown, line=1)
    for env, (section, key) in ENV_OVERRIDES.items():
        if os.environ.get(env):
            data.setdefault(section, {})
            if isinstance(data[section], dict):
                data[section][key] = os.environ[env]
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, root_node, shown, ()) from None
    sources = {}
    from dihub.connectors.registry import load_connector

    for name, body in settings.sources.items():
        prefix = ("sources", name)
        if not isinstance(body, dict):
            raise ConfigError("must be a mapping with at least `connector:`", path=shown,
                              line=_line_of(root_node, prefix), key=".".join(prefix))
        connector_name = body.get("connector", name)
        body = {"connector": connector_name, **body}
        connector = load_connector(connector_name, context=(shown, _line_of(
            root_node, (*prefix, "connector")), f"sources.{name}.connector"))
        try:
            sources[name] = connector.config_model.model_validate(
                body, context={"base_dir": path.parent if path else Path.cwd(), "name": name})
        except ValidationError as exc:
            raise _config_error(exc, root_node, shown, prefix) from None
    return Config(settings, sources, path, data)


def _config_error(exc: ValidationError, root, shown: str, prefix: tuple) -> ConfigError:
    err = exc.errors()[0]
    loc = (*prefix, *err["loc"])
    key = ".".join(str(p) for p in loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = f"unknown key {str(loc[-1])!r}"
        hint = "See config.example.yaml for every key this section accepts."
    elif kind == "missing":
        msg = "required key is missing"
        hint = "See config.example.yaml."
    else:
        got = err.get("input")
        shown_input = "" if isinstance(got, dict | list) else f" (got {got!r})"
        msg = f"{err['msg']}{shown_input}"
        hint = None
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(msg, path=shown, line=_line_of(root, loc), key=key, hint=hint)


def _line_of(node, loc: tuple) -> int | None:
    """1-based line of the deepest YAML node reachable along `loc`."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(part):
                    # a key that must not be there: point at the key itself
                    line = k.start_mark.line + 1
                    node = v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
