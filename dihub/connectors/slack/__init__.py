"""The `slack` connector: channels, users and messages (with every thread reply) from
the Slack Web API, read-only, with a bot token (xoxb-...).

Message text is stored only with `store_text: true`; otherwise a length and a
SHA-256 are kept. See messages.py for how incremental runs catch new replies
to old threads, edits and deletions inside the `lookback_days` window.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, PrivateAttr, field_validator, model_validator

from dihub.connectors.base import Connector, SourceConfig, parse_start_date
from dihub.connectors.slack.auth import SlackAuth
from dihub.connectors.slack.classify import Classifier, ClassifierRuleError
from dihub.connectors.slack.client import DEFAULT_BASE_URL, SlackSession
from dihub.connectors.slack.streams import channels, messages, users

CHANNEL_TYPES = ("public_channel", "private_channel", "mpim", "im")


class SlackConfig(SourceConfig):
    base_url: str = DEFAULT_BASE_URL
    token_env: str | None = None             # else the keyring login of `dihub auth <source>`
    channels: list[str] | None = None        # ids or names; default: every channel the bot is in
    channel_types: list[str] = ["public_channel", "private_channel"]
    store_text: bool = False                 # keep message text (else only length + sha256)
    lookback_days: float = Field(7, ge=0, le=365)          # re-read: edits, deletions, replies
    thread_lookback_days: float = Field(30, ge=0, le=365)  # deeper re-read for thread replies
    thread_scan_every_hours: float = Field(24, ge=0)       # ...at most this often
    recheck_threads: bool = False            # re-read every thread in the window each run
    start_date: str | None = None            # first sync reads history from here (default: all)
    classify: list[dict[str, Any]] | None = None
    page_size: int = Field(999, ge=1, le=999)           # limit= of history and replies
    min_interval_s: dict[str, float] | None = None      # pacing per method; "*" = all

    _classifier: Classifier = PrivateAttr(default_factory=Classifier)

    @field_validator("channel_types", mode="before")
    @classmethod
    def _types(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [t.strip() for t in v.split(",") if t.strip()]
        if isinstance(v, list):
            unknown = [t for t in v if t not in CHANNEL_TYPES]
            if unknown or not v:
                raise ValueError(f"unknown channel type(s) {unknown}; use any of "
                                 f"{', '.join(CHANNEL_TYPES)}")
        return v

    @field_validator("channels", mode="before")
    @classmethod
    def _channels(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [c.strip() for c in v.split(",") if c.strip()]
        return v

    _start = field_validator("start_date", mode="before")(
        classmethod(lambda cls, v: parse_start_date(v)))

    @field_validator("min_interval_s")
    @classmethod
    def _intervals(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v and any(x < 0 for x in v.values()):
            raise ValueError("intervals must be >= 0 seconds")
        return v

    @field_validator("classify")
    @classmethod
    def _rules(cls, v: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        try:
            Classifier.from_config(v)
        except ClassifierRuleError as err:
            raise ValueError(err.reason) from None
        return v

    @model_validator(mode="after")
    def _compile(self) -> SlackConfig:
        self._classifier = Classifier.from_config(self.classify)
        return self

    @property
    def classifier(self) -> Classifier:
        return self._classifier


connector = Connector(
    name="slack",
    description="Slack channels, users and messages with every thread reply (Web API, "
                "read-only bot token).",
    config_model=SlackConfig,
    streams={"channels": channels, "users": users, "messages": messages},
    auth=SlackAuth(),
    session=SlackSession,
)
