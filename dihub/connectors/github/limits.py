"""GitHub's rate limits, as the policy the shared governor follows.

* Separate quotas per resource: core, search, code search and GraphQL each have
  their own `x-ratelimit-*` window, so each is a bucket of its own.
* The secondary (abuse) limit: a 403/429 whose message says "secondary rate limit"
  (older wording: "abuse detection"), without Retry-After or quota headers; GitHub
  asks to "wait for at least one minute before retrying".
* A secondary limit that says how long to wait (Retry-After) holds the call that got it,
  for exactly that long; the other partitions keep working unless a second one comes
  while the first's wait runs with no success in between, which means the limit holds
  the credential: then every call waits (`hold_after=2`; dihub/http/policy.py). An
  exhausted quota (`x-ratelimit-remaining: 0`) holds every call of its bucket at once.
"""

from __future__ import annotations

from dihub.http.policy import RateLimitPolicy, register

SECONDARY_MIN_WAIT_S = 60.0


def bucket(path: str) -> str:
    """GitHub keeps separate quotas per resource; pick it from the API path."""
    if path.startswith("/search/code"):
        return "code_search"
    if path.startswith("/search/"):
        return "search"
    if path.startswith("/graphql"):
        return "graphql"
    return "core"


def secondary(status: int, message: str) -> bool:
    return "secondary rate limit" in message or "abuse detection" in message


POLICY = register(RateLimitPolicy(name="github", bucket=bucket, secondary=secondary,
                                  secondary_min_wait_s=SECONDARY_MIN_WAIT_S, hold_after=2))
