"""Helpers for the GitLab connector's integration tests: config, expectations, store reads."""

from __future__ import annotations

import json
from typing import Any

from tests.simulators.gitlab import Dataset

TOKEN_ENV = "DIHUB_TEST_GL_TOKEN"
# Not shaped like a glpat- token on purpose: the redaction that keeps it out of output must
# come from dihub knowing the secret, not from a pattern.
TOKEN = "sekrit-tanuki-4c3b2a1f0e9d8c7b"
PROJECTS = ("group-a/sub/project-a", "group-a/project-b")
ENTITIES = ("commits", "pull_requests", "issues", "builds", "users")


def gitlab_config(base_url: str, projects: tuple[str, ...] | list[str] | None = PROJECTS, *,
                  source: str = "gitlab", extra: str = "", http: str | None = None,
                  token_env: str | None = TOKEN_ENV, batch_size: int = 1000,
                  checkpoint_s: float | None = None) -> str:
    """A dihub.yaml for one GitLab source. `extra` lines go under the source (indented);
    `checkpoint_s` 0 checkpoints every page (store.checkpoint_s)."""
    http = http or "  retry: {attempts: 5, backoff_s: [0, 0, 0, 0], jitter: 0}\n"
    store = f"store:\n  batch_size: {batch_size}\n"
    if checkpoint_s is not None:
        store += f"  checkpoint_s: {checkpoint_s}\n"
    lines = [store, f"http:\n{http}", "sources:\n",
             f"  {source}:\n", "    connector: gitlab\n", f"    base_url: {base_url}\n"]
    if projects:
        lines.append(f"    projects: [{', '.join(projects)}]\n")
    if token_env:
        lines.append(f"    token_env: {token_env}\n")
    lines += [f"    {ln}\n" for ln in extra.splitlines() if ln.strip()]
    return "".join(lines)


def with_token(dihub, token: str = TOKEN):
    dihub.env[TOKEN_ENV] = token
    return dihub


def _user(obj: dict | None) -> str | None:
    return str(obj["id"]) if isinstance(obj, dict) and obj.get("id") is not None else None


def _git(name: str | None, email: str | None) -> str | None:
    address = (email or "").strip().lower()
    if address:
        return f"email:{address}"
    return f"name:{name.strip()}" if (name or "").strip() else None


def expected(data: Dataset, projects: tuple[str, ...] | list[str] = PROJECTS) -> dict[str, Any]:
    """Counts per entity, and the keys: commits by (project id, sha), merge requests and
    issues by (project id, iid), builds by (project id, pipeline id)."""
    commits, prs, issues, builds, users = set(), set(), set(), set(), set()
    with data.lock:
        for path in projects:
            p = data.project(path)
            for sha in p.reachable(p.branches[p.default_branch]):
                c = p.commit(sha)
                commits.add((p.id, sha))
                users.add(_git(c.get("author_name"), c.get("author_email")))
                users.add(_git(c.get("committer_name"), c.get("committer_email")))
            for mr in p.merge_requests:
                prs.add((p.id, mr["iid"]))
                users.update(_user(u) for u in [mr.get("author"), *(mr.get("assignees") or []),
                                                *(mr.get("reviewers") or [])])
                if not mr.get("assignees"):
                    users.add(_user(mr.get("assignee")))
            for issue in p.issues:
                issues.add((p.id, issue["iid"]))
                users.update(_user(u) for u in [issue.get("author"),
                                                *(issue.get("assignees") or [])])
                if not issue.get("assignees"):
                    users.add(_user(issue.get("assignee")))
            for pl in p.pipelines:
                builds.add((p.id, pl["id"]))
                users.add(_user(pl.get("user")))
    users.discard(None)
    return {"counts": {"commits": len(commits), "pull_requests": len(prs),
                       "issues": len(issues), "builds": len(builds), "users": len(users)},
            "commits": commits, "builds": builds}


def records(store, entity: str, source: str = "gitlab") -> dict[str, dict]:
    """Stored records by _id, without what depends on when they were written."""
    return {doc["_id"]: {k: v for k, v in doc.items() if k != "ingested_at"}
            for doc in store.iter_records(entity, source)}


def cursors(store, source: str = "gitlab") -> dict[tuple[str, str], str]:
    return {(s.stream, s.partition): json.dumps(s.cursor, sort_keys=True)
            for s in store.list_states(source)}
