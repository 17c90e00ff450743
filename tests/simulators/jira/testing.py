"""Helpers for tests and benchmarks that sync from the Jira simulator with the real CLI:
a config pointing at it, and what a correct sync must have stored (from the Dataset,
not from the connector's normalizers)."""

from __future__ import annotations

import base64
from typing import Any

from .data import Dataset
from .server import Credentials, JiraSimulator

# Deliberately shaped like no known token (no ATATT prefix, no JWT): only dihub's
# registered-secret redaction can keep it out of logs, so the secrets test means something.
TOKEN = "sim-pat-7f3a9c2b5e11d04a"
EMAIL = "bot@example.com"
TOKEN_ENV = "JIRA_SIM_TOKEN"


def credentials(cloud: bool = True) -> Credentials:
    return Credentials(TOKEN, EMAIL if cloud else None)


def secret_forms() -> list[str]:
    """Every form of the credential that must never be written anywhere."""
    return [TOKEN, base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()]


def config(sim: JiraSimulator, *, source: str = "jira", deployment: str | None = None,
           extra: str = "", top: str = "", token_env: bool = True) -> str:
    """A dihub.yaml for `sim`. `extra` lines go under the source (indented 4), `top` at
    the top level (e.g. a fast `http:` retry policy)."""
    dep = deployment or ("cloud" if sim.dataset.cloud else "datacenter")
    lines = [top.rstrip(), "sources:", f"  {source}:", "    connector: jira",
             f"    base_url: {sim.base_url}", f"    deployment: {dep}"]
    if dep == "cloud":
        lines.append(f"    email: {EMAIL}")
    if token_env:
        lines.append(f"    token_env: {TOKEN_ENV}")
    lines += [f"    {ln}" for ln in extra.strip("\n").splitlines() if ln.strip()]
    return "\n".join(ln for ln in lines if ln) + "\n"


FAST_RETRIES = """http:
  retry: {attempts: 6, backoff_s: [0.01, 0.02, 0.05], jitter: 0}
  breaker: {failures: 50}
"""


def issue_mismatches(store: Any, ds: Dataset, source: str = "jira") -> list[str]:
    """Differences between the stored issues and the dataset (empty = exact)."""
    got = _stored(store, "issues", "issue_id", source)
    problems = []
    if set(got) != set(ds.by_key):
        missing, extra = set(ds.by_key) - set(got), set(got) - set(ds.by_key)
        problems.append(f"missing {sorted(missing)[:10]} ({len(missing)}), "
                        f"extra {sorted(extra)[:10]} ({len(extra)})")
    for key, issue in ds.by_key.items():
        doc = got.get(key)
        if doc is None:
            continue
        actual = {"status": doc["status"], "story_points": doc["story_points"],
                  "sprint_ids": sorted(doc["sprint_ids"]), "updated_at": doc["updated_at"],
                  "transitions": [(t["from_status"], t["to_status"], t["author_id"],
                                   t["timestamp"]) for t in doc["transitions"]]}
        expected = ds.expected(issue)
        for name, value in expected.items():
            if actual[name] != value:
                problems.append(f"{key}.{name}: stored {actual[name]!r}, expected {value!r}")
    return problems


def sprint_mismatches(store: Any, ds: Dataset, source: str = "jira") -> list[str]:
    got = _stored(store, "sprints", "sprint_id", source)
    want = {str(s.id): s for s in ds.sprints.values()}
    problems = _id_differences("sprint", got, want)
    for sid, s in want.items():
        doc = got.get(sid)
        if doc and (doc["board_id"], doc["state"], doc["name"]) != (
                str(s.board_id), s.state, s.name):
            problems.append(f"sprint {sid}: stored {doc['board_id'], doc['state'], doc['name']}")
    return problems


def user_mismatches(store: Any, ds: Dataset, source: str = "jira") -> list[str]:
    got = _stored(store, "users", "user_id", source)
    want = {(u.get("accountId") or u["key"]): u for u in ds.users}
    problems = _id_differences("user", got, want)
    for uid, u in want.items():
        doc = got.get(uid)
        if doc and (doc["email"], doc["display_name"]) != (u.get("emailAddress"),
                                                           u["displayName"]):
            problems.append(f"user {uid}: stored {doc['email']!r} {doc['display_name']!r}")
    return problems


def _stored(store: Any, entity: str, key: str, source: str) -> dict[str, dict[str, Any]]:
    """The stored records of `entity`, by their id field `key`."""
    return {d[key]: d for d in store.iter_records(entity, source)}


def _id_differences(what: str, got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """The one problem of stored ids that differ from the expected ones, if they do."""
    if set(got) == set(want):
        return []
    return [f"{what} ids differ: missing {sorted(set(want) - set(got))}, "
            f"extra {sorted(set(got) - set(want))}"]
