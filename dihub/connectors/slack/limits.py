"""Slack's rate limits, as the policy the shared governor follows.

Each Web API method belongs to a tier that allows so many calls per minute per
workspace; the governor paces the calls of each method at least this far apart
(`/api/conversations.history` -> method `conversations.history`, the last path
segment). 429s carry Retry-After, which the shared layer honours for the method
that got it: the limits are per method, so each method is a quota bucket of its own
and a 429 on one holds only that method's calls (other channels' calls of other
methods go on meanwhile).
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

POLICY = register(RateLimitPolicy(name="slack", bucket=last_segment)
                  .with_intervals(MIN_INTERVAL_S))
