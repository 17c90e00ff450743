"""The settings models: what every key of the YAML config means, and its default.

Plain pydantic models and nothing else: this module knows no connector and loads
no plugin, so any layer may import it (the HTTP layer its policies, a connector its
`HttpSettings`). Reading the file, reporting its errors and binding each source to
its connector's config model is `dihub.config`'s job (see docs/architecture.md).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dihub.errors import ConfigError

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
    # and at most this many bytes of upstream payload per write (see dihub/engine/runner.py)
    batch_bytes: int = Field(8 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024)
    # a page with a cursor waits at most this long unwritten; 0: written at once (runner.py)
    checkpoint_s: float = Field(2.0, ge=0, le=3600)

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
    # the first retry of a 5xx or a dropped connection goes out fast, the next ones
    # further apart: an upstream blip costs ~0.1 s, an outage is ridden out for ~20 s
    backoff_s: list[float] = [0.1, 1, 4, 16]
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


class QueueSettings(_Strict):
    """`queue:`: scale out with `dihub worker` (README "Scaling out"). Without `url`,
    passes run in-process, as always; with it, `dihub sync --enqueue` and `dihub serve`
    hand work to the queue (Dramatiq on Redis) and `dihub worker` runs it."""
    url: str | None = None                  # redis://host:6379/0 (no password here)
    password_env: str | None = None         # env var holding the Redis password
    name: str = Field("dihub", pattern=r"^[A-Za-z0-9_.-]+$")   # queue and key prefix
    threads: int = Field(4, ge=1, le=64)    # jobs one `dihub worker` runs at once
    redelivery_s: float = Field(60, gt=0)   # a killed worker's jobs are redelivered after
    max_retries: int = Field(20, ge=0)      # a job that failed temporarily (exit 75)
    retry_backoff_s: list[float] = [15, 900]   # its first and longest delay


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


class HubSettings(_Strict):
    """`hub:`: when people and links are recomputed (dihub/hub/__init__.py)."""
    refresh_after_sync: bool = True     # after each sync that wrote records


class Settings(_Strict):
    store: StoreSettings = StoreSettings()
    http: HttpSettings = HttpSettings()
    serve: ServeSettings = ServeSettings()
    identities: IdentitySettings = IdentitySettings()
    links: LinkSettings = LinkSettings()
    hub: HubSettings = HubSettings()
    metrics: MetricsSettings = MetricsSettings()
    lease_ttl_s: float = Field(600, gt=0)
    queue: QueueSettings = QueueSettings()
    sources: dict[str, Any] = {}       # name -> raw body; see Config.sources for the models
