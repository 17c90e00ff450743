"""Slack's rate limits, as the policy the shared governor follows.

Each Web API method belongs to a tier that allows so many calls per minute per
workspace; the governor paces the calls of each method at least this far apart
(`/api/conversations.history` -> method `conversations.history`, the last path
segment). 429s carry Retry-After, which the call that got one waits exactly. The
limits are per method, so each method is a quota bucket of its own: a second 429 on a
method while the first one's wait runs, with no success in between, means the method's
limit is really reached, and every call of that method is held until the latest
Retry-After (calls of other methods go on). A lone 429 holds only its own call, so the
other channels keep working while it waits (`hold_after=2`; dihub.http.policy).
"""

from __future__ import annotations

from dihub.http.policy import RateLimitPolicy, last_segment, register

# Slack Web API tiers (requests per minute): 2 -> 20, 3 -> 50, 4 -> 100.
TIER_INTERVAL_S = {1: 60.0, 2: 3.0, 3: 1.2, 4: 0.6}
MIN_INTERVAL_S: dict[str, float] = {
    "conversations.list": TIER_INTERVAL_S[2],
    "conversations.history": TIER_INTERVAL_S[3],
    "conversations.replies": TIER_INTERVAL_S[3],
    "conversations.info": TIER_INTERVAL_S[3],
    "users.list": TIER_INTERVAL_S[2],
    "users.info": TIER_INTERVAL_S[4],
    "team.info": TIER_INTERVAL_S[3],
}

POLICY = register(RateLimitPolicy(name="slack", bucket=last_segment, hold_after=2)
                  .with_intervals(MIN_INTERVAL_S))
