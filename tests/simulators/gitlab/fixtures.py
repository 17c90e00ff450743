"""The recorded GitLab payloads the simulator's items are shaped from.

The files live in tests/data/gitlab/rest/ (verbatim copies; tests/data/gitlab/README.md
names the source of each). Callers get deep copies, so a template can be edited freely.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "gitlab" / "rest"

COMMITS_LIST = "commits-list.go-scm.json"             # a plain body (list)
COMMIT_GET = "commit-get.go-gitlab.json"               # a plain body (object)
MRS_LIST = "merge-requests-list.go-gitlab.json"        # a plain body (list)
ISSUES_LIST = "issues-list.docs-example.json"          # wrapped
PIPELINES_LIST = "pipelines-list.docs-example.json"    # wrapped
PIPELINE_GET = "pipeline-get.docs-example.json"        # wrapped


@cache
def _load(name: str) -> Any:
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        return json.load(fh)


def body(name: str) -> Any:
    """The payload of a fixture: the file itself, or its `body` when it is a wrapper."""
    data = _load(name)
    if isinstance(data, dict) and "body" in data and "status" in data:
        data = data["body"]
    return copy.deepcopy(data)


def first(name: str) -> dict[str, Any]:
    """The first item of a list fixture."""
    return body(name)[0]


def keys(name: str, *, item: bool = True) -> list[str]:
    """The key order of a fixture's (first) item."""
    return list((first(name) if item else body(name)).keys())
