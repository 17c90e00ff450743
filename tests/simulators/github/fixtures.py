"""Loading the recorded GitHub payloads the simulator's data is derived from.

The files under `fixtures/` are verbatim copies of recorded GitHub payloads
(see tests/simulators/README.md for the source of each). Callers get deep copies,
so a template can be edited freely.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"


@cache
def _load(name: str) -> Any:
    with (FIXTURES_DIR / name).open(encoding="utf-8") as fh:
        return json.load(fh)


def load(name: str) -> Any:
    """A whole fixture file (`rest/...json` or `oauth/...json`), deep-copied."""
    return copy.deepcopy(_load(name))


def body(name: str) -> Any:
    """The `body` of a wrapped response ({request, status, headers, body}), deep-copied."""
    data = _load(name)
    if isinstance(data, list):          # paginated recording: the first page
        data = data[0]
    return copy.deepcopy(data["body"])


# The templates each generated item starts from (first item of the named fixture).
COMMIT = "rest/commits-list.openapi-example.json"
COMMIT_DETAIL = "rest/commit-get.rails_admin.octokit-rb.json"
PULL = "rest/pulls-list.docs-example.go-scm.json"              # plain payload (a list)
ISSUE_DOCS = "rest/issues-list.docs-example.go-scm.json"        # plain payload (a list)
ISSUE_PAGES = "rest/issues-list.paginated-5-pages.octokit-fixtures.json"
RUN_PAGES = "rest/actions-runs-list.paginated-3-pages.octokit-rb.json"
RATE_PRIMARY = "rest/rate-limit-403-primary.docs.json"
RATE_SECONDARY = "rest/rate-limit-403-secondary.docs.json"
DEVICE_CODE = "oauth/device-code.response.docs.json"
TOKEN_SUCCESS = "oauth/access-token.success.docs.json"
DEVICE_ERROR_CODES = "oauth/device-flow-error-codes.docs.json"
TOKEN_OUTCOMES = {
    "authorization_pending": "oauth/access-token.authorization_pending.json",
    "slow_down": "oauth/access-token.slow_down.json",
    "expired_token": "oauth/access-token.expired_token.json",
    "access_denied": "oauth/access-token.access_denied.json",
    "success": TOKEN_SUCCESS,
}


def _wrapped(data: Any) -> bool:
    """A recorded response {request?, status, headers?, body}, not a payload."""
    return isinstance(data, dict) and "status" in data and "body" in data


def first_item(name: str) -> dict[str, Any]:
    """Item 0 of a list body, of a plain list payload, or of `workflow_runs`."""
    data = _load(name)
    if isinstance(data, list) and data and _wrapped(data[0]):
        data = data[0]["body"]
    elif _wrapped(data):
        data = data["body"]
    if isinstance(data, dict) and "workflow_runs" in data:
        data = data["workflow_runs"]
    return copy.deepcopy(data[0])
