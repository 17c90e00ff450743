"""GitLab's renderings of the injected fault kinds, and `Faults` with GitLab defaults.

The injector (`Faults`, `Script`, `PASS`) is shared by every simulator
(tests.simulators.common.faults); this module only changes its defaults and says what
each kind looks like on GitLab.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..common.faults import Faults as _Faults
from ..common.faults import seconds
from ..common.reply import Reply

GITLAB_KINDS = ("500", "502", "503", "429", "drop", "truncated")
RETRY_LATER = b"Retry later\n"         # Rack::Attack's throttled body (text/plain)

_BAD_GATEWAY = (b"<!DOCTYPE html>\n<html><head><title>GitLab is not responding (502)"
                b"</title></head><body><h1>502</h1><p>Whoops, GitLab is taking too much "
                b"time to respond.</p></body></html>\n")
_UNAVAILABLE = (b"<!DOCTYPE html>\n<html><head><title>The server is temporarily unable "
                b"to service your request (503)</title></head><body><h1>503</h1></body>"
                b"</html>\n")


@dataclass
class Faults(_Faults):
    """`tests.simulators.common.Faults` with GitLab's defaults: kinds 500, 502, 503, 429
    (plain-text body), dropped connections and truncated JSON; only /api/v4 paths fail
    (never /oauth)."""

    kinds: tuple[str, ...] = GITLAB_KINDS
    paths: str = r"^/api/v4/"


def throttled(retry_after: float, extra: dict[str, str] | None = None,
              fault: str | None = None) -> Reply:
    """429 as Rack::Attack answers it: text/plain "Retry later" and Retry-After."""
    headers = {"retry-after": seconds(retry_after), **(extra or {})}
    return Reply(429, RETRY_LATER, headers, "text/plain", fault=fault)


def fault_reply(kind: str, retry_after: float) -> Reply:
    """The response of a fault kind ("drop" and "truncated" are handled by the server).
    GitLab has no secondary 403: "secondary_403" and "primary_403" render as the 429
    throttle (the latter with RateLimit-Remaining 0)."""
    if kind == "500":
        return Reply(500, {"message": "500 Internal Server Error"}, fault=kind)
    if kind == "502":
        return Reply(502, _BAD_GATEWAY, content_type="text/html; charset=utf-8", fault=kind)
    if kind == "503":
        return Reply(503, _UNAVAILABLE, {"retry-after": seconds(retry_after)},
                     "text/html; charset=utf-8", fault=kind)
    if kind in ("429", "secondary_403"):
        return throttled(retry_after, fault=kind)
    if kind == "primary_403":
        return throttled(retry_after, {"ratelimit-remaining": "0"}, fault=kind)
    if kind == "401":
        return Reply(401, {"message": "401 Unauthorized"}, fault=kind)
    if kind == "404":
        return Reply(404, {"message": "404 Not Found"}, fault=kind)
    raise ValueError(f"no canned response for fault kind {kind!r}")
