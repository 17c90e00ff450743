"""The connector interface a plugin implements.

A plugin package exposes an object (or a zero-argument class) under the
entry-point group `dihub.connectors`:

    [project.entry-points."dihub.connectors"]
    myjira = "mypkg.connector:connector"

`entities` declares records of the plugin's own (an `Entity`: the Record model, its
key field and default table columns); `auth` is a `Login` for sources that need
one. docs/writing-a-connector.md walks through a whole plugin, and
`dihub.testing.acceptance` is the test kit every connector passes.

`config_model` validates the source's keys in the YAML config (everything
under `sources.<name>` except `connector`); `streams` lists what it can sync;
`session` is the class of its per-run session (see dihub/connectors/session.py):
the engine calls `connector.open(run)` once per run, passes views of the session to
every stream's partitions, fetch and normalize, and closes it when the run ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from dihub.connectors.session import Session
from dihub.connectors.stream import Stream
from dihub.models import Record, register_entity
from dihub.settings import HttpSettings
from dihub.timeutil import to_iso


def parse_start_date(value: Any) -> str | None:
    """A `start_date` as YAML gives it (a date, a datetime or a string) in the stored
    timestamp format; for connector configs' `mode="before"` validators."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime | date | str):
        try:
            return to_iso(value)
        except ValueError:
            pass
    raise ValueError("must be a date (2024-01-01) or an ISO 8601 time")


class SourceConfig(BaseModel):
    """Keys every source accepts. Connector configs subclass this."""

    model_config = ConfigDict(extra="forbid")

    connector: str
    streams: list[str] | None = None     # default for `dihub sync <source>`: all streams
    http: HttpSettings | None = None     # overrides the top-level `http:` for this source


def known_streams(names: list[str] | None, known: tuple[str, ...]) -> list[str] | None:
    """A `streams:` validator's body: `names` unchanged, or a ValueError naming the
    unknown ones and the known ones."""
    unknown = [s for s in names or [] if s not in known]
    if unknown:
        raise ValueError(f"unknown stream(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return names


OnCode = Callable[[str, str], None]         # (user code, verification URL) of a device flow
Prompt = Callable[..., str]                 # prompt(text, secret=False) -> the answer


@runtime_checkable
class Login(Protocol):
    """What `dihub auth` calls on a connector's `auth`. Every login takes the same keyword
    arguments and ignores those it has no use for (a token-only login never prompts)."""

    def login(self, source: str, config: Any, *, with_token: str | None = None,
              allow_file: bool = False, on_code: OnCode | None = None,
              prompt: Prompt | None = None) -> str | None:
        """Obtain and store a credential for `source`; returns who is logged in."""

    def status(self, source: str, config: Any, *, check: bool = False,
               timeout_s: float = 5.0) -> dict[str, Any]:
        """Where the credential comes from (`state`, `via`, `host`, ...); with `check`, one
        request within `timeout_s` says whether the host accepts it."""

    def logout(self, source: str) -> bool:
        """Forget the stored credential; True when there was one."""


def check_failure(exc: Exception) -> dict[str, Any]:
    """What `Login.status(check=True)` reports when its one request failed: the host could
    not be reached (a temporary error), refused the credential, or something else."""
    from dihub.errors import AuthError, TemporaryError

    if isinstance(exc, TemporaryError):
        return {"state": "unreachable", "error": str(exc)}
    if isinstance(exc, AuthError):
        return {"state": "rejected", "error": str(exc),
                "http_status": getattr(exc, "status", None)}
    return {"state": "error", "error": str(exc)}


@dataclass(frozen=True)
class Entity:
    """An entity a plugin adds: `model` (a Record subclass naming its `entity`), `key` (the
    field whose value is the record's `source_id`) and `columns` (the fields `dihub fetch`
    shows in a table by default)."""

    model: type[Record]
    key: str = "source_id"
    columns: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.model.entity

    def register(self) -> None:
        register_entity(self.model, key=self.key, columns=self.columns)


@dataclass
class Connector:
    name: str
    description: str
    config_model: type[SourceConfig]
    streams: dict[str, Stream]
    auth: Login | None = None     # for sources that have a login
    entities: tuple[Entity, ...] = ()   # the plugin's own entities, besides the built-in ones
    extras: dict[str, Any] = field(default_factory=dict)
    session: type[Session] = Session   # what `open` builds: the connector's per-run state

    def open(self, run: Any) -> Session:
        """The session of one run (`run`: the engine's run Context). The engine closes it."""
        return self.session(run)

    def stream(self, name: str) -> Stream | None:
        return self.streams.get(name)
