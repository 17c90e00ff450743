"""Load and validate the YAML config, and bind each source to its connector.

The settings models themselves are in `dihub.settings` (re-exported here); this
module reads the file, checks it, and validates each `sources.<name>` body with
the config model of the connector it names (found through `dihub.connectors.registry`).
See docs/architecture.md for where this sits among the layers.

Found via `--config`, `$DIHUB_CONFIG`, `./dihub.yaml`, then the user config
dir (`~/.config/dihub/config.yaml` on Linux). Environment overrides:
`DIHUB_STORE_URI` (store.uri).

Every error is a ConfigError (exit 2) that names the file, line and key, and one
load reports every problem of a file at once: one `file:line: key: message` line
each. The YAML is parsed once, with libyaml when PyYAML has it; the node tree
keeps the line numbers the messages need.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from dihub import config_memo
from dihub.errors import ConfigError, UsageError

if TYPE_CHECKING:
    import yaml
    from pydantic import ValidationError

    from dihub.settings import Settings

# The settings models, importable from here too. They are imported on first use: a command
# that only reads the store does without pydantic (see load_store_config).
_SETTINGS_NAMES = frozenset({
    "BreakerSettings", "DeploymentSettings", "HttpSettings", "IdentitySettings",
    "InboxSettings", "IncidentSettings", "Invalid", "LinkPattern", "LinkSettings",
    "MetricsSettings", "RateLimitSettings", "RawPayloads", "RetrySettings", "ServeSettings",
    "Settings", "StatusSettings", "StoreSettings", "WebhookSecret"})


def __getattr__(name: str):
    if name not in _SETTINGS_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from dihub import settings

    return getattr(settings, name)


_Loader: type | None = None     # the YAML loader, chosen on first use (see _loader)


def _loader() -> type:
    """libyaml's loader when PyYAML has it (about 15x faster than the pure one). PyYAML is
    imported here, on first use: a fetch from a config checked before reads no YAML."""
    global _Loader
    if _Loader is None:
        import yaml

        _Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return _Loader

SECRET_KEY = re.compile(r"(token|secret|password|passwd|api_key|apikey|private_key)$", re.I)
ENV_OVERRIDES = {"DIHUB_STORE_URI": ("store", "uri")}
SOURCE_NAME = re.compile(r"[a-z][a-z0-9_-]*")
MAX_LISTED = 50         # problems listed in one error; the rest are counted


class Config:
    """A loaded config: settings, validated per-source models, and where it came from.

    `path` is the config file as found (None when there is none); `base_dir` is the
    folder relative paths in it are read from (the file's folder, else the cwd).
    """

    def __init__(self, settings: Settings, sources: dict[str, Any], path: Path | None,
                 raw: dict[str, Any]):
        self.settings = settings
        # name -> connector config model; a SourceRef each when loaded with
        # `connectors=False` (the connector's name only, its keys not validated)
        self.sources = sources
        self.path = path
        self.raw = raw
        self._root: Any = None          # the YAML node tree, composed again on first need

    @property
    def base_dir(self) -> Path:
        return Path(os.path.abspath(self.path.parent if self.path else Path.cwd()))

    def source(self, name: str):
        if not self.sources:
            hint = (f"Add a source under `sources:`; {example_location()} shows every "
                    "connector's keys.")
            if self.path is None:
                raise UsageError("no config file found (--config, $DIHUB_CONFIG, ./dihub.yaml, "
                                 f"{user_config_path()}), so no sources are configured",
                                 hint=hint)
            raise ConfigError(f"no sources are configured (asked for {name!r})",
                              path=str(self.path), hint=hint)
        if name not in self.sources:
            known = ", ".join(sorted(self.sources))
            raise UsageError(f"unknown source {name!r} (configured in {self.path}: {known})",
                             hint="Add it under `sources:` or check the spelling.")
        return self.sources[name]

    def masked(self) -> dict[str, Any]:
        return _mask(self.raw)

    def locate(self, err: ConfigError, source: str) -> ConfigError:
        """A ConfigError raised after loading (no file known) with this config's file, the
        line of the key and its full dotted name."""
        if err.path is not None or self.path is None:
            return err
        key = err.key or ""
        if key and not key.startswith("sources."):
            key = f"sources.{source}.{key}"
        if self._root is None and key:
            try:
                self._root, _ = _parse_yaml(read_config_text(self.path), str(self.path),
                                            construct=False)
            except ConfigError:
                pass
        line = _line_of(self._root, tuple(key.split("."))) if key and self._root else None
        return ConfigError(err.detail, path=str(self.path), line=line, key=key or None,
                           hint=err.hint)


def example_location() -> str:
    """Where a person finds the documented example config."""
    here = Path(__file__).resolve().parents[1] / "config.example.yaml"
    return str(here) if here.is_file() else "config.example.yaml (in the dihub repository)"


def user_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("dihub", appauthor=False)) / "config.yaml"


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if SECRET_KEY.search(key) and value not in (None, ""):
        return "****"
    if isinstance(value, str):
        from dihub.settings import _URI_USERINFO

        # mongodb://user:password@host, https://user:token@host
        return _URI_USERINFO.sub(r"\g<scheme>****@", value)
    return value


# --- finding and reading the file -------------------------------------------------------

def find_config(explicit: str | os.PathLike | None = None) -> Path | None:
    if explicit is not None:
        if not str(explicit).strip():
            raise ConfigError("the config file path is empty", path="--config",
                              hint="Give the path of a YAML file, or leave --config out to "
                                   "use ./dihub.yaml or " f"{user_config_path()}.")
        p = Path(explicit).expanduser()
        _check_file(p, "config file not found", "Pass an existing file with --config.")
        return p
    env = os.environ.get("DIHUB_CONFIG")
    if env:
        p = Path(env).expanduser()
        _check_file(p, "config file named by $DIHUB_CONFIG not found",
                    "Set $DIHUB_CONFIG to an existing file, or unset it.")
        return p
    local = Path("dihub.yaml")
    if local.is_file():
        return local
    user = user_config_path()
    return user if user.is_file() else None


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _check_file(p: Path, not_found: str, hint: str) -> None:
    """A regular file we may open; never opens it (a FIFO would block)."""
    try:
        mode = p.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(not_found, path=str(p), hint=hint) from None
    except OSError as exc:
        raise _unreadable(p, exc) from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a file")
        raise ConfigError(f"not a regular file ({kind})", path=str(p),
                          hint="The config is a YAML file; pass its path.")


def _unreadable(p: Path, exc: OSError) -> ConfigError:
    return ConfigError(f"cannot read the config file: {exc.strerror or exc}", path=str(p),
                       hint="Check the file's permissions: the user running dihub must be "
                            "able to read it.")


def read_config_text(path: Path) -> str:
    """The file's text: UTF-8 (a BOM is dropped), or UTF-16 with a BOM."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from None
    return decode_config(raw, str(path))


def decode_config(raw: bytes, shown: str = "<config>") -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise ConfigError("not valid UTF-16 (the file starts with a UTF-16 byte order mark)",
                              path=shown, hint="Save the file as UTF-8.") from None
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise ConfigError(f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at column {column}",
                          path=shown, line=line,
                          hint="dihub reads its config as UTF-8: save the file as UTF-8 "
                               "(e.g. `iconv -f latin1 -t utf-8`).") from None


class SourceRef:
    """A source of a config loaded with `connectors=False`: the name of its connector, its
    other keys not validated (no connector module was imported for it)."""

    def __init__(self, connector: str):
        self.connector = connector

    def __repr__(self) -> str:
        return f"SourceRef(connector={self.connector!r})"


def load_config(explicit: str | os.PathLike | None = None, *,
                connectors: bool = True, only: str | None = None) -> Config:
    """The config, every source validated with its connector's model. `connectors=False`
    checks the file, the core sections and each source's name and `connector:` key, but
    imports no connector: for commands that only read the store (`dihub fetch`). `only`
    validates that one source with its connector's model and the others as
    `connectors=False` does: `dihub sync SOURCE` imports no other connector, and a mistake
    in another source's keys fails that source's runs (and `dihub config validate`), not
    this one's."""
    path = find_config(explicit)
    text = read_config_text(path) if path else ""
    return parse_config(text, path, connectors=connectors, only=only)


# --- parsing and validation ---------------------------------------------------------------

def parse_config(text: str, path: Path | None = None, *, connectors: bool = True,
                 only: str | None = None) -> Config:
    shown = str(path) if path else "<config>"
    root, data = _parse_yaml(text, shown)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping (store:, sources:, ...)",
                          path=shown, line=1)
    problems = _Problems(root, shown)
    _duplicate_keys(root, (), problems, depth=3)
    from_env = _prepare(data)
    raw_sources = data.get("sources")
    # source names and bodies are checked one by one below, each on its own line
    core = {**data, "sources": {}} if isinstance(raw_sources, dict) else data
    from pydantic import ValidationError

    from dihub.settings import Settings

    settings = None
    try:
        settings = Settings.model_validate(core)
    except ValidationError as exc:
        problems.add_validation(exc, (), from_env)
    sources: dict[str, Any] = {}
    if isinstance(raw_sources, dict):
        base_dir = path.parent if path else Path.cwd()
        for name, body in raw_sources.items():
            model = _source(name, body, problems, base_dir,
                            connectors and (only is None or name == only))
            if model is not None:
                sources[name] = model
    problems.raise_if_any()
    _remember(text, settings.store, sources)
    settings.sources = raw_sources if isinstance(raw_sources, dict) else {}
    ident = settings.identities.file
    if ident and not os.path.isabs(os.path.expanduser(ident)):   # as sqlite paths: the
        base = path.parent if path else Path.cwd()                 # config file's folder
        settings.identities.file = str(Path(os.path.abspath(base / ident)))
    return Config(settings, sources, path, data)


def _prepare(data: dict) -> dict[tuple, str]:
    """Empty sections as {} and the environment overrides applied, in place; returns
    {(section, key): env var} for the values that came from the environment."""
    for section in ("store", "http", "sources", "serve", "metrics"):
        if section in data and data[section] is None:
            data[section] = {}      # a section whose keys are all commented out
    from_env: dict[tuple, str] = {}
    for env, (section, key) in ENV_OVERRIDES.items():
        if os.environ.get(env) and isinstance(data.setdefault(section, {}), dict):
            data[section][key] = os.environ[env]
            from_env[(section, key)] = env
    return from_env


def _env_values() -> dict[str, str]:
    return {env: os.environ.get(env, "") for env in ENV_OVERRIDES}


def _remember(text: str, store: Any, sources: dict[str, Any]) -> None:
    """Keep what load_store_config reads of a config that passed, for the embedded store
    only: a MongoDB URI can carry credentials (see dihub.config_memo)."""
    if store.uri and not store.uri.startswith("sqlite:"):
        return
    config_memo.remember(text, _env_values(), {
        "store": {"uri": store.uri, "audit_retention_days": store.audit_retention_days},
        "sources": {name: source.connector for name, source in sources.items()}})


class StoreOnly:
    """The settings of a config read by load_store_config: the store's, as checked."""

    def __init__(self, store: dict[str, Any]):
        self.store = SimpleNamespace(uri=store["uri"],
                                     audit_retention_days=store["audit_retention_days"])


def load_store_config(explicit: str | os.PathLike | None = None) -> Config:
    """The config as a command that only reads the store needs it (`dihub fetch`): the
    store settings (`.settings.store.uri` and `.audit_retention_days`) and each source's
    connector name (a SourceRef). For a file that passed the full check before, unchanged
    since and under the same environment overrides, they are the values that check kept
    (dihub.config_memo): no YAML is read and no pydantic imported. Any other file gets
    `load_config(connectors=False)`, errors and all."""
    path = find_config(explicit)
    text = read_config_text(path) if path else ""
    kept = config_memo.recall(text, _env_values())
    try:
        settings = StoreOnly(kept["store"])
        sources = {name: SourceRef(connector) for name, connector in kept["sources"].items()}
    except (TypeError, KeyError, AttributeError):     # none kept, or not of this shape
        return parse_config(text, path, connectors=False)
    return Config(settings, sources, path, {})


def _source(name: Any, body: Any, problems: _Problems, base_dir: Path,
            connectors: bool = True):
    prefix = ("sources", name)
    if not isinstance(name, str) or not SOURCE_NAME.fullmatch(name):
        problems.add(prefix, f"source name {name!r} must start with a lower-case letter, "
                             "then lower-case letters, digits, '-' or '_'")
        return None
    if not isinstance(body, dict):
        problems.add(prefix, "must be a mapping with at least `connector:`",
                     hint="See config.example.yaml.")
        return None
    from pydantic import ValidationError

    connector_name = body.get("connector", name)
    if not isinstance(connector_name, str):
        problems.add((*prefix, "connector"), "must be a connector name (see `dihub connectors`)")
        return None
    if not connectors:
        return SourceRef(connector_name)
    from dihub.connectors.registry import load_connector

    key = (*prefix, "connector")
    try:
        # the line is found only on error: looking it up for every source is quadratic
        connector = load_connector(connector_name, context=(problems.shown, None, None))
    except ConfigError as err:
        problems.add(key, err.detail, hint=err.hint)
        return None
    except UsageError as err:       # installed but broken: the plugin's fault, not the file's
        problems.add(key, str(err), hint=err.hint)
        return None
    try:
        return connector.config_model.model_validate(
            {"connector": connector_name, **body},
            context={"base_dir": base_dir, "name": name})
    except ValidationError as exc:
        problems.add_validation(exc, prefix)
        return None


class _Problems:
    """Every problem found in one file; raise_if_any() raises them as one ConfigError."""

    def __init__(self, root, shown: str):
        self.root, self.shown = root, shown
        self.errors: list[ConfigError] = []
        self.more = 0       # beyond MAX_LISTED: counted, not located

    def append(self, err: ConfigError) -> None:
        if len(self.errors) < MAX_LISTED:
            self.errors.append(err)
        else:
            self.more += 1

    def add(self, loc: tuple, message: str, *, hint: str | None = None,
            env: str | None = None) -> None:
        if len(self.errors) >= MAX_LISTED:
            self.more += 1
            return
        key = ".".join(str(p) for p in loc) or None
        if env:     # the value came from the environment, not from the file
            self.errors.append(ConfigError(message, path=f"${env}", key=key, hint=hint))
        else:
            self.errors.append(ConfigError(message, path=self.shown,
                                           line=_line_of(self.root, loc), key=key, hint=hint))

    def add_validation(self, exc: ValidationError, prefix: tuple,
                       from_env: dict[tuple, str] | None = None) -> None:
        for err in exc.errors(include_url=False):
            loc = (*prefix, *err["loc"])
            message, hint = _describe(err, loc)
            self.add(loc, message, hint=hint, env=(from_env or {}).get(tuple(loc[:2])))

    def raise_if_any(self) -> None:
        if self.errors:
            raise combined_error(self.errors, self.shown, more=self.more)


def combined_error(errors: list[ConfigError], shown: str, *, more: int = 0) -> ConfigError:
    """One ConfigError for several: its message lists each `file:line: key: message` on a
    line of its own, in file order. The errors are kept in `.problems`."""
    if len(errors) == 1 and not more:
        errors[0].problems = list(errors)
        return errors[0]
    ordered = sorted(errors, key=lambda e: (e.line is None, e.line or 0))
    more += max(0, len(ordered) - MAX_LISTED)
    ordered = ordered[:MAX_LISTED]
    lines = [str(e) for e in ordered]
    if more:
        lines.append(f"... and {more} more")
    hints = list(dict.fromkeys(e.hint for e in ordered if e.hint))
    combined = ConfigError(f"{len(ordered) + more} problems:\n" + "\n".join(lines), path=shown,
                           hint=" ".join(hints[:3]) or None)
    combined.problems = ordered
    return combined


def _describe(err: dict, loc: tuple) -> tuple[str, str | None]:
    """A pydantic error as (message, hint)."""
    kind = err["type"]
    if kind == "extra_forbidden":
        return (f"unknown key {str(loc[-1])!r}",
                "See config.example.yaml for every key this section accepts.")
    if kind == "missing":
        return "required key is missing", "See config.example.yaml."
    cause = (err.get("ctx") or {}).get("error")
    if kind in ("value_error", "assertion_error") and cause is not None:
        return str(cause), getattr(cause, "hint", None)
    got = err.get("input")
    secret = any(SECRET_KEY.search(str(p)) for p in loc)
    if isinstance(got, dict | list) or secret:
        return err["msg"], None
    return f"{err['msg']} (got {_mask(got)!r})", None


def _duplicate_keys(node, loc: tuple, problems: _Problems, depth: int) -> None:
    """A key given twice in one mapping (the later one would silently win), down to `depth`
    levels of nested mappings: the sections and each source's keys."""
    import yaml

    if not isinstance(node, yaml.MappingNode) or depth <= 0:
        return
    seen: dict[tuple, int] = {}
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode) or k.tag == "tag:yaml.org,2002:merge":
            continue
        line = k.start_mark.line + 1
        first = seen.setdefault((k.tag, k.value), line)
        if first != line:
            problems.append(ConfigError(
                f"duplicate key (first given on line {first}; YAML would silently keep only "
                "the last one)", path=problems.shown, line=line,
                key=".".join(map(str, (*loc, k.value)))))
        _duplicate_keys(v, (*loc, k.value), problems, depth - 1)


def _parse_yaml(text: str, shown: str, *, construct: bool = True) -> tuple[Any, Any]:
    """(node tree, data) from one parse: the tree gives line numbers to error messages."""
    import yaml

    loader = None
    try:
        try:
            loader = _loader()(text)      # the pure loader checks the characters here
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _yaml_error(exc, text, shown) from None
        except RecursionError:
            raise ConfigError("not valid YAML: nested too deeply", path=shown) from None
        if root is None or not construct:
            return root, None
        try:
            return root, loader.construct_document(root)
        except yaml.YAMLError as exc:
            raise _yaml_error(exc, text, shown) from None
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            # e.g. `start_date: 2024-13-45`: YAML reads it as a timestamp, which fails
            line, key = _bad_scalar(root)
            raise ConfigError(f"not valid YAML: {exc}", path=shown, line=line, key=key,
                              hint="Quote the value if it is meant as a string.") from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_error(exc: yaml.YAMLError, text: str, shown: str) -> ConfigError:
    import yaml

    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else None
    problem = getattr(exc, "problem", None)
    if isinstance(exc, yaml.reader.ReaderError):
        at = exc.position
        if _loader() is not yaml.SafeLoader:      # libyaml counts UTF-8 bytes
            at = len(text.encode("utf-8", "surrogatepass")[:at].decode("utf-8", "ignore"))
        line = text.count("\n", 0, at) + 1
        problem = f"unacceptable character #x{exc.character:04x}: {exc.reason}" \
            if isinstance(exc.character, int) else exc.reason
    return ConfigError(f"not valid YAML: {problem or str(exc).splitlines()[0]}", path=shown,
                       line=line, hint="Check indentation and quoting around that line.")


def _bad_scalar(root) -> tuple[int | None, str | None]:
    """Line and key of the first scalar that cannot be constructed (only on the error path)."""
    import yaml

    constructor = yaml.SafeLoader("")
    stack: list[tuple[Any, tuple]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node)
            except Exception:   # noqa: BLE001 - whatever it is, this node is the bad one
                return node.start_mark.line + 1, ".".join(map(str, loc)) or None
        elif isinstance(node, yaml.MappingNode):
            for k, v in reversed(node.value):
                stack += [(v, (*loc, k.value)), (k, loc)]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(v, (*loc, i)) for i, v in reversed(list(enumerate(node.value)))]
    return None, None


def _line_of(node, loc: tuple) -> int | None:
    """1-based line of the deepest YAML node reachable along `loc`."""
    import yaml

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
