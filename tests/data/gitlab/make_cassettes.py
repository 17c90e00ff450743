"""Turn the GitLab REST fixtures in rest/ into vcrpy YAML cassettes (cassettes/).

    PYTHONPATH=. python tests/data/gitlab/make_cassettes.py   # (re)write
    PYTHONPATH=. python tests/data/gitlab/make_cassettes.py --check

A wrapped fixture (`{"request", "status", "headers", "body"}`) keeps its recorded request
and headers; a bare payload (a list or an object, as the go-gitlab and go-scm test data
store them) is served for the request named in SOURCES below, with the headers GitLab
sends on such a list (`Content-Type`, and for lists `X-Page`/`X-Per-Page`, no
`X-Next-Page` on a last page). The YAML is written as the GitHub cassettes are
(tests/data/github/make_cassettes.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.data.github.make_cassettes import build_cassette, write_or_check

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "rest"
CASSETTES = HERE / "cassettes"
API = "https://gitlab.example.com/api/v4"

# fixture stem -> (cassette stem, request URL for a bare payload)
SOURCES: dict[str, tuple[str, str | None]] = {
    "commits-list.docs-example": ("commits-list.docs", None),
    "commits-list.go-scm": ("commits-list.go-scm",
                            f"{API}/projects/32732/repository/commits?per_page=100"),
    "commit-get.go-gitlab": ("commit-get.go-gitlab",
                             f"{API}/projects/13083/repository/commits/"
                             "6104942438c14ec7bd21c6cd5bd995272b3faff6"),
    "merge-requests-list.go-gitlab": ("merge-requests-list.go-gitlab",
                                      f"{API}/projects/278964/merge_requests?state=all"),
    "merge-requests-list.go-scm": ("merge-requests-list.go-scm",
                                   f"{API}/projects/32732/merge_requests?state=all"),
    "issues-list.docs-example": ("issues-list.docs", None),
    "pipelines-list.docs-example": ("pipelines-list.docs", None),
    "pipeline-get.docs-example": ("pipeline-get.docs", None),
    "pagination-headers.docs-example": ("pagination-headers.docs", None),
}


def _wrap(payload: Any, url: str | None) -> dict[str, Any]:
    if isinstance(payload, dict) and {"status", "body"} <= payload.keys():
        headers = dict(payload.get("headers") or {})
        headers.setdefault("content-type", "application/json")
        return {**payload, "headers": headers}
    headers = {"content-type": "application/json"}
    if isinstance(payload, list):
        headers.update({"x-page": "1", "x-per-page": "100", "x-next-page": ""})
    return {"request": {"method": "GET", "url": url}, "status": 200, "headers": headers,
            "body": payload}


def expected() -> dict[Path, str]:
    out = {}
    for fixture, (cassette, url) in SOURCES.items():
        payload = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))
        out[CASSETTES / f"{cassette}.yaml"] = build_cassette(_wrap(payload, url))
    return out


def main(argv: list[str]) -> int:
    return write_or_check(expected(), "--check" in argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
