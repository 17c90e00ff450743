"""The GitLab streams: what each one is; the paging lives in commits.py, updated.py, jobs.py.

Partitions are projects (`projects:` plus every project of `groups:`), synced
concurrently by the engine (http.concurrency) through one shared HTTP client whose
governor and breaker see all of the source's traffic.
"""

from __future__ import annotations

from typing import Any

from dihub.connectors.gitlab import jobs as j
from dihub.connectors.gitlab import normalize as n
from dihub.connectors.gitlab.client import GitLabSession, cached_project, project_partitions
from dihub.connectors.gitlab.commits import BRANCH_KEY, commit_pages
from dihub.connectors.gitlab.updated import issue_pages, merge_request_pages, pipeline_pages
from dihub.connectors.stream import Stream


def _commit(raw: dict[str, Any], s: GitLabSession, partition: str):
    p = cached_project(s, partition)
    return n.normalize_commit(raw, s.source, p.path, p.id, raw.get(BRANCH_KEY))


def _merge_request(raw: dict[str, Any], s: GitLabSession, partition: str):
    p = cached_project(s, partition)
    return n.normalize_merge_request(raw, s.source, p.path, p.id)


def _issue(raw: dict[str, Any], s: GitLabSession, partition: str):
    p = cached_project(s, partition)
    return n.normalize_issue(raw, s.source, p.path, p.id)


def _pipeline(raw: dict[str, Any], s: GitLabSession, partition: str):
    p = cached_project(s, partition)
    return n.normalize_pipeline(raw, s.source, p.path, p.id)


commits = Stream(
    name="commits", entity="commits", partitions=project_partitions, cursor_field="timestamp",
    fetch=commit_pages, normalize=_commit, also_emits=("users",),
    description="Commits of the default branch (or `branches:`), incremental by "
                "reachability from the head the last pass finished (compare), by date "
                "where that head is gone; resumable mid-pass; authors and committers as "
                "users.")

merge_requests = Stream(
    name="merge_requests", entity="pull_requests", partitions=project_partitions,
    cursor_field="updated_at", fetch=merge_request_pages, normalize=_merge_request,
    also_emits=("users",),
    description="Merge requests in every state as pull requests, by `updated_after` in "
                "update order (the cursor moves page by page); authors, assignees and "
                "reviewers as users.")

issues = Stream(
    name="issues", entity="issues", partitions=project_partitions, cursor_field="updated_at",
    fetch=issue_pages, normalize=_issue, also_emits=("users",),
    description="Issues in every state, by `updated_after` in update order; authors and "
                "assignees as users.")

pipelines = Stream(
    name="pipelines", entity="builds", partitions=project_partitions,
    cursor_field="updated_at", fetch=pipeline_pages, normalize=_pipeline,
    also_emits=("users",),
    description="CI/CD pipelines as builds, one per pipeline id (a retry updates it), by "
                "`updated_after`; one extra request per new or changed pipeline for its "
                "start, finish and duration. Triggering users as users.")

jobs = Stream(
    name="jobs", entity="jobs", partitions=j.job_partitions, cursor_field="updated_at",
    fetch=j.job_pages, normalize=j.normalize, also_emits=("users",), after=("pipelines",),
    description="Optional (only when listed in `streams:`): the jobs of the pipelines "
                "updated since the last pass, retried attempts included, one request per "
                "pipeline. Sync pipelines first (a run of both starts jobs after it).")

STREAMS = {s.name: s for s in (commits, merge_requests, issues, pipelines, jobs)}
