"""GitHub's canned responses of the injected fault kinds.

The injector itself (`Faults`, `Script`, `PASS`, the kinds) is shared by every
simulator and lives in tests.simulators.common.faults.
"""

from __future__ import annotations

import time

from ..common.faults import seconds
from ..common.reply import Reply
from . import fixtures
from .common import error_body

_BAD_GATEWAY = (b"<html><body><h1>502 Bad Gateway</h1>\n"
                b"The server returned an invalid or incomplete response.\n</body></html>\n")


def fault_reply(kind: str, retry_after: float) -> Reply:
    """The response of a fault kind ("drop" and "truncated" are handled by the server)."""
    wait = {"retry-after": seconds(retry_after)}
    if kind == "500":
        return Reply(500, error_body("Server Error", 500), fault=kind)
    if kind == "502":
        return Reply(502, _BAD_GATEWAY, content_type="text/html", fault=kind)
    if kind == "503":
        return Reply(503, error_body("Service Unavailable", 503), wait, fault=kind)
    if kind == "429":
        # No 429 body is published; GitHub says secondary limits answer 403 or 429.
        return Reply(429, fixtures.body(fixtures.RATE_SECONDARY), wait, fault=kind)
    if kind == "secondary_403":
        return Reply(403, fixtures.body(fixtures.RATE_SECONDARY), wait, fault=kind)
    if kind == "primary_403":        # its window resets `retry_after` seconds from now
        reset = {"x-ratelimit-reset": str(int(time.time() + float(retry_after)))}
        return Reply(403, fixtures.body(fixtures.RATE_PRIMARY), reset, fault=kind,
                     exhausted=True)
    if kind == "401":
        return Reply(401, error_body("Bad credentials", 401), fault=kind)
    if kind == "404":
        return Reply(404, error_body("Not Found", 404), fault=kind)
    raise ValueError(f"no canned response for fault kind {kind!r}")
