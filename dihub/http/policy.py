"""What a connector tells the shared governor about its upstream's rate limits.

The HTTP layer knows only generic mechanics (Retry-After, reset headers, quota
buckets, a minimum interval between calls of one method). What is specific to an
upstream comes from its connector as a `RateLimitPolicy`, handed to the client:

    POLICY = RateLimitPolicy(
        name="example",
        bucket=lambda path: "search" if path.startswith("/search/") else "core",
        min_interval={"items.list": 3.0},          # seconds between two calls of a method
        secondary=lambda status, message: "slow down" in message,
        secondary_min_wait_s=60.0)
    session.build_http(base_url, limits=POLICY)

* `bucket(path)`: which quota a request path spends (an upstream may keep several);
* `min_interval`: per method, the least time between two calls (pacing, not audited);
  `method(path)` names a path's method (default: the last path segment, as in
  `/api/items.list`);
* `secondary(status, message)`: whether a 403/429 without Retry-After or quota
  headers is the upstream's secondary (abuse) limit, given the status and the
  upstream message in lower case; such an answer is retried after at least
  `secondary_min_wait_s`;
* `hold_after`: how many rate-limit answers with a short wait (a 429's Retry-After
  under `max_wait_s`) one bucket gets, each within the wait of the one before, before
  every call of the bucket is held until the latest of those waits. The call that got
  one always waits exactly what it was told. 1 (the default): the first answer holds
  the whole bucket, as an upstream whose limit holds the whole credential requires.
  2 (an upstream with per-method limits, or whose lone 429s are worth a second
  request before everything stops): a lone 429 holds only its own call and the
  other partitions keep working; a second one while the first's wait runs, with no
  success in between of a request sent after the first, means the limit is real, and
  the bucket is held. A wait beyond `max_wait_s` (the run defers), and an answer whose
  quota headers say nothing is left, always hold the bucket.

The default policy has one bucket, no pacing and no secondary limit. A connector may
also `register` its policy under its name, so `HttpClient(..., rate_limit_style=name)`
finds it (an unknown name is a ValueError).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any


def one_bucket(path: str) -> str:
    return "default"


def last_segment(path: str) -> str:
    """`/api/items.list` -> `items.list`."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def no_secondary(status: int, message: str) -> bool:
    return False


@dataclass(frozen=True)
class RateLimitPolicy:
    name: str = "default"
    bucket: Callable[[str], str] = one_bucket
    min_interval: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({}))
    method: Callable[[str], str] = last_segment
    secondary: Callable[[int, str], bool] = no_secondary
    secondary_min_wait_s: float = 60.0
    hold_after: int = 1

    def with_intervals(self, min_interval: Mapping[str, float]) -> RateLimitPolicy:
        """The same policy with another per-method interval map."""
        return replace(self, min_interval=MappingProxyType(dict(min_interval)))


DEFAULT_POLICY = RateLimitPolicy()


_REGISTERED: dict[str, RateLimitPolicy] = {}


def register(policy: RateLimitPolicy) -> RateLimitPolicy:
    """Make `policy` known by its name (for `rate_limit_style=`); returns it."""
    _REGISTERED[policy.name] = policy
    return policy


def resolve(policy: RateLimitPolicy | None = None, style: Any = None) -> RateLimitPolicy:
    """The policy to follow: `policy` if given, else the one registered as `style`, else
    the default. ValueError for a style no connector registered."""
    if policy is not None:
        if not isinstance(policy, RateLimitPolicy):
            raise TypeError(f"limits must be a RateLimitPolicy, not {type(policy).__name__}")
        return policy
    if style is None:
        return DEFAULT_POLICY
    if style not in _REGISTERED:
        raise ValueError(f"unknown rate_limit_style {style!r}; registered: "
                         f"{sorted(_REGISTERED)}")
    return _REGISTERED[style]
