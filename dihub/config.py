"""Load and validate the YAML config.

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
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dihub.errors import ConfigError, UsageError

try:
    _Loader: type = yaml.CSafeLoader        # libyaml: about 15x faster than the pure loader
except AttributeError:
    _Loader = yaml.SafeLoader

SECRET_KEY = re.compile(r"(token|secret|password|passwd|api_key|apikey|private_key)$", re.I)
ENV_OVERRIDES = {"DIHUB_STORE_URI": ("store", "uri")}
SOURCE_NAME = re.compile(r"[a-z][a-z0-9_-]*")
MAX_LISTED = 50         # problems listed in one error; the rest are counted
_URI_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)


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

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str | None) -> str | None:
        """A URI the store factory opens (its own rules, no I/O); a MongoDB URI that pymongo
        parses (no connection, no DNS)."""
        if not v:
            return v
        if v.startswith(("mongodb://", "mongodb+srv://")):
            problem = _mongodb_uri_problem(v)
            if problem:
                raise Invalid(f"not a valid MongoDB URI: {problem}",
                              hint="The form is mongodb://[user:password@]host[:port]"
                                   "[,host...]/database[?options]; percent-encode ':', '/' "
                                   "and '@' in the user name and password.")
            return v
        from dihub.store.factory import sqlite_path

        try:
            sqlite_path(v)
        except ConfigError as err:
            raise Invalid(err.detail, hint=err.hint) from None
        return v


class Invalid(ValueError):
    """A validator's error with a hint for the person fixing the file."""

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _mongodb_uri_problem(uri: str) -> str | None:
    """What pymongo's own URI parser says is wrong with `uri`, or None. Never connects and
    never resolves DNS: a mongodb+srv:// URI gets the syntax checks only."""
    import warnings

    try:
        from pymongo.errors import ConfigurationError
        from pymongo.uri_parser import parse_uri
    except ImportError:
        return None
    if uri.startswith("mongodb+srv://"):
        try:
            # the checks parse_uri makes before its DNS lookups
            from pymongo.uri_parser_shared import _validate_uri as check
        except ImportError:     # an older pymongo: checked when the store connects
            return None
    else:
        check = parse_uri       # no DNS for mongodb://
    try:
        with warnings.catch_warnings():
            # the client itself only warns about unknown options: so does this check
            warnings.simplefilter("ignore")
            check(uri, warn=True)
    except (ConfigurationError, ValueError, TypeError) as exc:
        return _URI_USERINFO.sub(r"\g<scheme>****@", str(exc).split("\n", 1)[0])
    return None


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


class WebhookSecret(_Strict):
    secret_env: str | None = None     # env var holding the source's webhook signing secret


class InboxSettings(_Strict):
    batch: int = Field(200, ge=1, le=5000)          # deliveries processed per transaction
    poll_interval_s: float = Field(0.2, gt=0)
    start_delay_s: float = Field(0, ge=0)           # wait before the first processing
    max_attempts: int = Field(8, ge=1, le=100)      # then the delivery is `failed`
    backoff_s: list[float] = [1, 5, 30, 120, 600]   # delay before attempt 2, 3, ... (last repeats)
    claim_s: float = Field(60, gt=0)                # a crashed worker's claim expires after this
    retention_days: float = Field(7, gt=0)          # processed deliveries are deleted after


class ServeSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8787, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    token_env: str = "DIHUB_API_TOKEN"              # env var holding the read API's token
    token_sha256: str | None = None                 # or: hex SHA-256 of the token
    max_body_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    timeout_s: float = Field(30, gt=0)              # keep-alive; graceful-shutdown drain
    max_sync_age_s: float = Field(26 * 3600, gt=0)  # /api/health: older last success = 503
    max_sync_age: dict[str, float] = {}             # per "source/stream"
    max_inbox_lag_s: float = Field(300, gt=0)       # /api/health: oldest pending delivery
    slack_max_age_s: float = Field(300, gt=0)       # older X-Slack-Request-Timestamp: rejected
    webhooks: dict[str, WebhookSecret] = {}         # source name -> its secret
    inbox: InboxSettings = InboxSettings()

    @field_validator("token_sha256")
    @classmethod
    def _sha(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", v.strip()):
            raise ValueError("must be 64 hex digits (sha256sum of the token)")
        return v.strip().lower() if v else v


class DeploymentSettings(_Strict):
    """Which CI runs are deployments: a successful run of one of these workflows (by name,
    id or path; empty: any workflow whose name contains "deploy") on one of `branches`."""
    workflows: list[str] = []
    branches: list[str] = ["main", "master"]        # the default branch(es)


class IncidentSettings(_Strict):
    labels: list[str] = ["incident"]                # GitHub/Jira labels (case-insensitive)
    issue_types: list[str] = ["Incident"]           # Jira issue types


class StatusSettings(_Strict):
    """Jira statuses that start and end work. Empty: by the status category Jira reports
    (In Progress / Done), learned from the stored issues."""
    in_progress: list[str] = []
    done: list[str] = []


class MetricsSettings(_Strict):
    deployments: DeploymentSettings = DeploymentSettings()
    incidents: IncidentSettings = IncidentSettings()
    statuses: StatusSettings = StatusSettings()
    time_zone: str = "UTC"                          # ISO weeks are cut in this zone
    teams: dict[str, list[str]] = {}                # team -> account ids, logins or emails
    cache: bool = True                              # keep extracted facts between runs

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(f"unknown time zone {v!r}",
                          hint="An IANA zone name such as UTC or Europe/Berlin.") from None
        return v


class IdentitySettings(_Strict):
    """`identities:`: how the hub groups accounts into people (dihub/hub/identities.py)."""
    file: str | None = None             # identities.yaml: manual merges, splits, bots
    shared_emails: list[str] = []       # addresses (fnmatch patterns) that never join people
    bots: list[str] = []                # account refs, login:/email:/name: patterns of bots


class LinkPattern(_Strict):
    pattern: str                        # a regular expression
    key: str = "{0}"                    # the issue it names: {0} the match, {1}.. its groups

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return v


class LinkSettings(_Strict):
    """`links:`: how the hub finds issue references (dihub/hub/links.py)."""
    project_keys: list[str] = []        # Jira project keys, besides those of stored issues
    patterns: list[LinkPattern] = []    # extra issue reference shapes
    repos: dict[str, str] = {}          # git source -> owner/name its `#123` refer to


class Settings(_Strict):
    store: StoreSettings = StoreSettings()
    http: HttpSettings = HttpSettings()
    serve: ServeSettings = ServeSettings()
    identities: IdentitySettings = IdentitySettings()
    links: LinkSettings = LinkSettings()
    metrics: MetricsSettings = MetricsSettings()
    lease_ttl_s: float = Field(600, gt=0)
    sources: dict[str, Any] = {}       # name -> raw body; see Config.sources for the models


class Config:
    """A loaded config: settings, validated per-source models, and where it came from.

    `path` is the config file as found (None when there is none); `base_dir` is the
    folder relative paths in it are read from (the file's folder, else the cwd).
    """

    def __init__(self, settings: Settings, sources: dict[str, Any], path: Path | None,
                 raw: dict[str, Any]):
        self.settings = settings
        self.sources = sources          # name -> connector config model
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


def load_config(explicit: str | os.PathLike | None = None) -> Config:
    path = find_config(explicit)
    text = read_config_text(path) if path else ""
    return parse_config(text, path)


# --- parsing and validation ---------------------------------------------------------------

def parse_config(text: str, path: Path | None = None) -> Config:
    shown = str(path) if path else "<config>"
    root, data = _parse_yaml(text, shown)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping (store:, sources:, ...)",
                          path=shown, line=1)
    problems = _Problems(root, shown)
    _duplicate_keys(root, (), problems, depth=3)
    for section in ("store", "http", "sources", "serve", "metrics"):
        if section in data and data[section] is None:
            data[section] = {}      # a section whose keys are all commented out
    from_env: dict[tuple, str] = {}
    for env, (section, key) in ENV_OVERRIDES.items():
        if os.environ.get(env) and isinstance(data.setdefault(section, {}), dict):
            data[section][key] = os.environ[env]
            from_env[(section, key)] = env
    raw_sources = data.get("sources")
    # source names and bodies are checked one by one below, each on its own line
    core = {**data, "sources": {}} if isinstance(raw_sources, dict) else data
    settings = None
    try:
        settings = Settings.model_validate(core)
    except ValidationError as exc:
        problems.add_validation(exc, (), from_env)
    sources: dict[str, Any] = {}
    if isinstance(raw_sources, dict):
        base_dir = path.parent if path else Path.cwd()
        for name, body in raw_sources.items():
            model = _source(name, body, problems, base_dir)
            if model is not None:
                sources[name] = model
    problems.raise_if_any()
    settings.sources = raw_sources if isinstance(raw_sources, dict) else {}
    ident = settings.identities.file
    if ident and not os.path.isabs(os.path.expanduser(ident)):   # as sqlite paths: the
        base = path.parent if path else Path.cwd()                 # config file's folder
        settings.identities.file = str(Path(os.path.abspath(base / ident)))
    return Config(settings, sources, path, data)


def _source(name: Any, body: Any, problems: _Problems, base_dir: Path):
    from dihub.connectors.registry import load_connector

    prefix = ("sources", name)
    if not isinstance(name, str) or not SOURCE_NAME.fullmatch(name):
        problems.add(prefix, f"source name {name!r} must start with a lower-case letter, "
                             "then lower-case letters, digits, '-' or '_'")
        return None
    if not isinstance(body, dict):
        problems.add(prefix, "must be a mapping with at least `connector:`",
                     hint="See config.example.yaml.")
        return None
    connector_name = body.get("connector", name)
    if not isinstance(connector_name, str):
        problems.add((*prefix, "connector"), "must be a connector name (see `dihub connectors`)")
        return None
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
    loader = None
    try:
        try:
            loader = _Loader(text)      # the pure loader checks the characters here
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
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else None
    problem = getattr(exc, "problem", None)
    if isinstance(exc, yaml.reader.ReaderError):
        at = exc.position
        if _Loader is not yaml.SafeLoader:      # libyaml counts UTF-8 bytes
            at = len(text.encode("utf-8", "surrogatepass")[:at].decode("utf-8", "ignore"))
        line = text.count("\n", 0, at) + 1
        problem = f"unacceptable character #x{exc.character:04x}: {exc.reason}" \
            if isinstance(exc.character, int) else exc.reason
    return ConfigError(f"not valid YAML: {problem or str(exc).splitlines()[0]}", path=shown,
                       line=line, hint="Check indentation and quoting around that line.")


def _bad_scalar(root) -> tuple[int | None, str | None]:
    """Line and key of the first scalar that cannot be constructed (only on the error path)."""
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
