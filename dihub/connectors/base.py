"""The connector interface a plugin implements.

A plugin package exposes an object (or a zero-argument class) under the
entry-point group `dihub.connectors`:

    [project.entry-points."dihub.connectors"]
    myjira = "mypkg.connector:connector"

`config_model` validates the source's keys in the YAML config (everything
under `sources.<name>` except `connector`); `streams` lists what it can sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from dihub.engine.stream import Stream
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


@dataclass
class Connector:
    name: str
    description: str
    config_model: type[SourceConfig]
    streams: dict[str, Stream]
    auth: Any = None     # an object with login/status/logout, for sources that have a login
    extras: dict[str, Any] = field(default_factory=dict)

    def stream(self, name: str) -> Stream | None:
        return self.streams.get(name)
