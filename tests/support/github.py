"""Helpers for the GitHub connector's integration tests: config, expectations, store reads."""

from __future__ import annotations

import json
from typing import Any

from tests.simulators.github import Dataset

TOKEN_ENV = "DIHUB_TEST_GH_TOKEN"
# Not shaped like a ghp_ token on purpose: the redaction that keeps it out of output must
# come from dihub knowing the secret, not from a pattern.
TOKEN = "sekrit-octo-9f8e7d6c5b4a3928"
REPOS = ("octo-org/repo-a", "octo-org/repo-b")
ENTITIES = ("commits", "pull_requests", "issues", "builds", "users")


def github_config(base_url: str, repos: tuple[str, ...] | list[str] | None = REPOS, *,
                  source: str = "github", extra: str = "", http: str | None = None,
                  token_env: str | None = TOKEN_ENV, batch_size: int = 1000,
                  raw_payloads: bool = False, checkpoint_s: float | None = None) -> str:
    """A dihub.yaml for one GitHub source. `extra` lines go under the source (indented);
    `checkpoint_s` 0 checkpoints every page (store.checkpoint_s)."""
    http = http or "  retry: {attempts: 5, backoff_s: [0, 0, 0, 0], jitter: 0}\n"
    store = f"store:\n  batch_size: {batch_size}\n"
    if checkpoint_s is not None:
        store += f"  checkpoint_s: {checkpoint_s}\n"
    if raw_payloads:
        store += "  raw_payloads: {enabled: true}\n"
    lines = [store, f"http:\n{http}", "sources:\n",
             f"  {source}:\n", "    connector: github\n", f"    base_url: {base_url}\n"]
    if repos:
        lines.append(f"    repos: [{', '.join(repos)}]\n")
    if token_env:
        lines.append(f"    token_env: {token_env}\n")
    lines += [f"    {ln}\n" for ln in extra.splitlines() if ln.strip()]
    return "".join(lines)


def with_token(dihub, token: str = TOKEN):
    dihub.env[TOKEN_ENV] = token
    return dihub


# -- what the store should hold, computed from the simulator's data ---------------------------
def _account(obj: dict | None) -> str | None:
    return str(obj["id"]) if obj and obj.get("id") is not None else None


def _git(ident: dict | None) -> str | None:
    """The user key of a git identity without a GitHub account: the lower-cased email,
    else the name as written (an identity without an email is its own user)."""
    email = ((ident or {}).get("email") or "").strip().lower()
    name = ((ident or {}).get("name") or "").strip()
    return f"email:{email}" if email else f"name:{name}" if name else None


def expected(data: Dataset, repos: tuple[str, ...] | list[str] = REPOS) -> dict[str, Any]:
    """Counts per entity and the key sets: commits by sha, builds by (run, attempt)."""
    shas, prs, issues, builds, users = set(), set(), set(), set(), set()
    with data.lock:
        for name in repos:
            r = data.repo(name)
            for c in r.commits:
                shas.add(c["sha"])
                users.add(_account(c["author"]) or _git(c["commit"]["author"]))
                users.add(_account(c["committer"]) or _git(c["commit"]["committer"]))
            for p in r.pulls:
                prs.add((r.id, p["number"]))
                users.add(_account(p["user"]))
            for i in r.issues:
                if "pull_request" in i:
                    continue
                issues.add((r.id, i["number"]))
                users.update(_account(u) for u in [i["user"], i["assignee"], *i["assignees"]])
            for attempts in r.runs:
                for a in attempts:
                    builds.add((a["id"], a["run_attempt"]))
                    users.update((_account(a["actor"]), _account(a["triggering_actor"])))
    users.discard(None)
    return {"counts": {"commits": len(shas), "pull_requests": len(prs), "issues": len(issues),
                       "builds": len(builds), "users": len(users)},
            "shas": shas, "builds": builds}


def records(store, entity: str, source: str = "github") -> dict[str, dict]:
    """Stored records by _id, without what depends on when they were written."""
    out = {}
    for doc in store.iter_records(entity, source):
        out[doc["_id"]] = {k: v for k, v in doc.items() if k != "ingested_at"}
    return out


def cursors(store, source: str = "github") -> dict[tuple[str, str], str]:
    return {(s.stream, s.partition): json.dumps(s.cursor, sort_keys=True)
            for s in store.list_states(source)}


def quota_and_statuses(sim) -> tuple[int, dict[str, int]]:
    snap = sim.stats.snapshot()
    return snap["quota_spent"], snap["by_status"]
