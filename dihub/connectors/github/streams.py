"""The GitHub streams: what each one is; the paging lives in commits.py, updated.py, runs.py.

Partitions are repositories (`repos:` plus every repository of `orgs:`), synced
concurrently by the engine (http.concurrency, default 4) through one shared HTTP
client whose governor and breaker see all of the source's traffic.
"""

from __future__ import annotations

from typing import Any

from dihub.connectors.github import normalize as n
from dihub.connectors.github import reviews as r
from dihub.connectors.github.client import GitHubSession, repo_partitions
from dihub.connectors.github.client import cached_repo as _repo
from dihub.connectors.github.commits import BRANCH_KEY, commit_pages
from dihub.connectors.github.runs import run_pages
from dihub.connectors.github.updated import issue_pages, pull_pages
from dihub.connectors.stream import Stream
from dihub.models.plain import build


def _commit(raw: dict[str, Any], ctx: GitHubSession, partition: str):
    repo = _repo(ctx, partition)
    return n.normalize_commit(raw, ctx.source, repo.full_name, repo.id, raw.get(BRANCH_KEY),
                              build)


def _pull(raw: dict[str, Any], ctx: GitHubSession, partition: str):
    repo = _repo(ctx, partition)
    return n.normalize_pull_request(raw, ctx.source, repo.full_name, repo.id, build)


def _issue(raw: dict[str, Any], ctx: GitHubSession, partition: str):
    repo = _repo(ctx, partition)
    return n.normalize_issue(raw, ctx.source, repo.full_name, repo.id, build)


def _run(raw: dict[str, Any], ctx: GitHubSession, partition: str):
    repo = _repo(ctx, partition)
    return n.normalize_workflow_run(raw, ctx.source, repo.full_name, repo.id)


commits = Stream(
    name="commits", entity="commits", partitions=repo_partitions, cursor_field="timestamp",
    fetch=commit_pages, normalize=_commit, also_emits=("users",),
    description="Commits of the default branch (or `branches:`), incremental by "
                "reachability from the head the last pass finished; resumable mid-pass; "
                "authors and committers as users.")

pull_requests = Stream(
    name="pull_requests", entity="pull_requests", partitions=repo_partitions,
    cursor_field="updated_at", fetch=pull_pages, normalize=_pull, also_emits=("users",),
    description="Pull requests in every state, newest update first down to the cursor "
                "(an interrupted pass resumes at its page); authors as users.")

issues = Stream(
    name="issues", entity="issues", partitions=repo_partitions, cursor_field="updated_at",
    fetch=issue_pages, normalize=_issue, also_emits=("users",),
    description="Issues in every state (pull requests excluded), incremental by update "
                "time; reporters and assignees as users.")

workflow_runs = Stream(
    name="workflow_runs", entity="builds", partitions=repo_partitions,
    cursor_field="created_at", fetch=run_pages, normalize=_run, also_emits=("users",),
    description="GitHub Actions workflow runs as builds, one per attempt (a re-run is a new "
                "build); recent runs are re-read to catch re-runs. Actors as users.")

reviews = Stream(
    name="reviews", entity="reviews", partitions=r.review_partitions,
    cursor_field="updated_at", fetch=r.review_pages, normalize=r.normalize,
    also_emits=("users",), after=("pull_requests",),
    description="Optional (only when listed in `streams:`): reviews of the pull requests "
                "updated since the last pass, one request per pull request; reviewers as "
                "users. Sync pull_requests first (a run of both starts reviews after it).")

STREAMS = {s.name: s for s in (commits, pull_requests, issues, workflow_runs, reviews)}
