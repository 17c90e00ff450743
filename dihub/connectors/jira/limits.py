"""Jira's rate limits, as the policy the shared governor follows.

Jira answers 429 with Retry-After, or with only `X-RateLimit-Reset` (ISO 8601), and
names the quota in `RateLimit-Reason`; the shared layer reads all of these. One
quota per site (one bucket), no per-method pacing, no secondary limit to recognize
from the message.
"""

from __future__ import annotations

from dihub.http.policy import RateLimitPolicy, register

POLICY = register(RateLimitPolicy(name="jira"))
