"""Turn the wrapped GitHub REST fixtures into vcrpy YAML cassettes.

    PYTHONPATH=. python tests/data/github/make_cassettes.py           # (re)write cassettes/
    PYTHONPATH=. python tests/data/github/make_cassettes.py --check   # exit 1 if stale

A wrapped fixture is `{"request", "status", "headers", "body"}` or a JSON array of them in
request order (see README.md). Each becomes one cassette interaction:

* the request keeps method, URL (encoded the way httpx sends it, so vcrpy's matcher finds
  it) and headers minus `Authorization` (the recordings only hold placeholders anyway);
* the response keeps the recorded status and every header verbatim (Link, ETag,
  X-RateLimit-*, multi-valued Vary ...) except the framing headers `Content-Length`,
  `Transfer-Encoding` and `Content-Encoding`: the fixtures store the body decoded, so the
  cassette carries it re-serialized as compact UTF-8 JSON and those headers would lie.
"""

from __future__ import annotations

import json
import sys
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
from vcr.request import Request
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "rest"
CASSETTES = HERE / "cassettes"

# fixture file stem -> cassette file stem
SOURCES = {
    "commits-list.rails_admin.octokit-rb": "commits-list.rails_admin",
    "commit-get.rails_admin.octokit-rb": "commit-get.rails_admin",
    "pulls-list-state-closed.octokit-rb": "pulls-list-state-closed",
    "issues-list-includes-prs.rails_admin.octokit-rb": "issues-list-includes-prs.rails_admin",
    "issues-list.paginated-5-pages.octokit-fixtures": "issues-list.paginated-5-pages",
    "actions-runs-list.paginated-3-pages.octokit-rb": "actions-runs-list.paginated-3-pages",
    "actions-runs-list.empty.octokit-rb": "actions-runs-list.empty",
}

DROP_REQUEST = {"authorization", "cookie"}
DROP_RESPONSE = {"content-length", "transfer-encoding", "content-encoding"}


def _headers(headers: dict[str, Any], drop: set[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers.items():
        if name.lower() in drop:
            continue
        values = value if isinstance(value, list) else [value]
        out[name] = [str(v) for v in values]
    return out


def build_cassette(wrapped: dict[str, Any] | list[dict[str, Any]]) -> str:
    """The vcrpy YAML text for one wrapped fixture (one or more interactions)."""
    requests, responses = [], []
    for item in wrapped if isinstance(wrapped, list) else [wrapped]:
        req = item["request"]
        body = req.get("body")
        req_body = None if body is None else json.dumps(body, separators=(",", ":"))
        requests.append(Request(
            req["method"], str(httpx.URL(req["url"])), req_body,
            {k: v[0] for k, v in _headers(req.get("headers") or {}, DROP_REQUEST).items()},
        ))
        status = int(item["status"])
        responses.append({
            "status": {"code": status, "message": HTTPStatus(status).phrase},
            "headers": _headers(item.get("headers") or {}, DROP_RESPONSE),
            "body": {"string": json.dumps(item["body"], separators=(",", ":"),
                                          ensure_ascii=False).encode("utf-8")},
        })
    return serialize({"requests": requests, "responses": responses}, yamlserializer)


def expected() -> dict[Path, str]:
    out = {}
    for fixture, cassette in SOURCES.items():
        wrapped = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))
        out[CASSETTES / f"{cassette}.yaml"] = build_cassette(wrapped)
    return out


def write_or_check(cassettes: dict[Path, str], check: bool) -> int:
    """Write the cassettes that differ (or, with `check`, name them and return 1)."""
    stale = []
    for path, text in cassettes.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(path.name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.parent.name}/{path.name}")
    if stale:
        print("stale cassettes (run make_cassettes.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    return write_or_check(expected(), "--check" in argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
