"""GitLab's rate limits, as the policy the shared governor follows.

* Every API response carries `RateLimit-Limit`, `RateLimit-Remaining`,
  `RateLimit-Reset` (epoch seconds) and `RateLimit-Name`; a 429 adds `Retry-After`
  and has a plain-text body ("Retry later"). The shared governor reads all of them.
* Some endpoints have limits of their own besides the general authenticated-API
  limit (on gitlab.com, `GET /groups/:id/projects` and `GET /projects/:id`, each
  per minute), so each is a bucket of its own: its headers say how much of *that*
  limit is left and must not pace the rest.
* GitLab has no secondary (abuse) limit answered with a 403: a 403 is a permission
  or scope error (`insufficient_scope`), never a reason to wait.
"""

from __future__ import annotations

import re

from dihub.http.policy import RateLimitPolicy, register

_GROUP_PROJECTS = re.compile(r"^/groups/[^/]+/projects/?$")
_PROJECT = re.compile(r"^/projects/[^/]+/?$")


def bucket(path: str) -> str:
    """Which GitLab limit a request path (relative to /api/v4) spends."""
    if _GROUP_PROJECTS.match(path):
        return "group_projects"
    if _PROJECT.match(path):
        return "project"
    if path.startswith("/oauth/"):
        return "oauth"
    return "api"


def secondary(status: int, message: str) -> bool:
    return False


POLICY = register(RateLimitPolicy(name="gitlab", bucket=bucket, secondary=secondary))
