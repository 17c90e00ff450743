"""The optional `jobs` stream (entity `jobs`): every job of every pipeline, retries included.

Off by default: it runs only when `jobs` is in the source's `streams:`. A pipeline's jobs
change only with the pipeline (its `updated_at` moves), so a pass asks
GET /projects/:id/pipelines/:pipeline_id/jobs?include_retried=true (100 a page) only for
the builds the `pipelines` stream stored and updated since the last pass, oldest first,
`http.concurrency` pipelines at a time; the cursor moves past a pipeline once its jobs,
and those of every older one, are written, and never into a run of pipelines updated in
the same second not all written (dihub/connectors/each_updated.py). A retried job is a
new job id, so each attempt is its own record; the earlier attempt is `retried: true`
(GitLab's job entity does not say so: an attempt is retried when its pipeline has a
newer job of the same name, `_with_retried`). Cost: one request per pipeline updated
since the last pass (plus one per further 100 jobs), none when nothing changed. Sync
`pipelines` first.

Cursor: {"updated": the `updated_at` up to which every pipeline's jobs are stored,
"done": {pipeline id: updated_at} of those stored beyond it, while a pass is under way}.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from dihub.connectors.base import Entity
from dihub.connectors.each_updated import pages_for_each
from dihub.connectors.gitlab.client import (
    PER_PAGE,
    GitLabClient,
    GitLabSession,
    cached_project,
    project_info,
    project_partitions,
)
from dihub.connectors.gitlab.normalize import dedupe, normalize_user, skips_malformed
from dihub.connectors.stream import Page
from dihub.http import NotFound
from dihub.models import Record, SyncState
from dihub.timeutil import to_iso


class Job(Record):
    """A GitLab CI job (one attempt): `pipeline_id` is the pipeline's id, `retried` true for
    an attempt a later retry replaced."""

    entity: ClassVar[str] = "jobs"
    job_id: str
    repo: str
    pipeline_id: str
    name: str | None = None
    stage: str | None = None
    status: str | None = None
    ref: str | None = None
    head_sha: str | None = None
    retried: bool = False
    allow_failure: bool | None = None
    user_id: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    queued_duration_s: float | None = None


ENTITY = Entity(Job, key="job_id",
                columns=("job_id", "repo", "pipeline_id", "name", "status", "retried"))


def enabled(s: GitLabSession) -> bool:
    return "jobs" in (getattr(s.config, "streams", None) or [])


def job_partitions(s: GitLabSession) -> list[str]:
    if not enabled(s):
        s.log.info("%s: the jobs stream is off; add `jobs` to the source's `streams:` to "
                   "sync it", s.source)
        return []
    return project_partitions(s)


def job_pages(s: GitLabSession, partition: str, state: SyncState) -> Iterator[Page]:
    gl = GitLabClient(s)
    try:
        project = project_info(s, gl, partition)
        cursor = state.cursor.get("updated") if isinstance(state.cursor, dict) else None
        # (updated_at, pipeline id) only: a first pass over thousands of pipelines holds
        # no documents
        builds = sorted((b["updated_at"], b["run_id"]) for b in s.store.iter_records(
            "builds", source=s.source, since=cursor or s.config.start_date,
            filters={"repo": project.path})
            if b.get("updated_at") and (cursor is None or b["updated_at"] > cursor))
        # not a progress total: the engine counts jobs, not pipelines
        s.log.info("%s/jobs: %d pipelines of %s updated since the last pass", s.source,
                   len(builds), partition)
        url = f"/projects/{project.id}/pipelines/{{}}/jobs"
        yield from pages_for_each(builds, lambda run_id: _jobs_of(gl, url.format(run_id)),
                                  s.http_concurrency, state.cursor)
    finally:
        gl.audit_requests("jobs", "jobs", partition)


def _jobs_of(gl: GitLabClient, url: str) -> tuple[list[dict[str, Any]], int]:
    """Every job of a pipeline, retried ones included (none when it is gone), and the
    bytes read."""
    items: list[dict[str, Any]] = []
    size = 0
    try:
        for fetched in gl.pages(url, {"include_retried": "true", "per_page": PER_PAGE}):
            size += fetched.size
            items += fetched.items
    except NotFound:
        return [], size             # the pipeline is gone
    return _with_retried(items), size


def _with_retried(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GitLab's job entity has no `retried` field: an attempt was retried when the same
    pipeline has a newer job (a higher id) of the same name. Decided over all of a
    pipeline's jobs (every page), where the item does not say it itself."""
    newest: dict[Any, int] = {}
    for job in jobs:
        if isinstance(job.get("id"), int):
            newest[job.get("name")] = max(newest.get(job.get("name"), job["id"]), job["id"])
    for job in jobs:
        if "retried" not in job and isinstance(job.get("id"), int):
            job["retried"] = job["id"] < newest[job.get("name")]
    return jobs


@skips_malformed("job")
def normalize_job(raw: dict[str, Any], source: str, repo: str, project_id: str | int
                  ) -> list[Record]:
    jid = str(raw["id"])
    user = normalize_user(raw.get("user"), source)
    pipeline = raw.get("pipeline") or {}
    duration, queued = raw.get("duration"), raw.get("queued_duration")
    job = Job(
        source=source, source_id=f"{project_id}:{jid}", job_id=jid, repo=repo,
        pipeline_id=str(pipeline.get("id") or raw.get("pipeline_id") or ""),
        name=raw.get("name"), stage=raw.get("stage"), status=raw.get("status"),
        ref=raw.get("ref"), head_sha=(raw.get("commit") or {}).get("id") or pipeline.get("sha"),
        retried=bool(raw.get("retried")), allow_failure=raw.get("allow_failure"),
        user_id=user.source_id if user else None,
        created_at=to_iso(raw.get("created_at")), started_at=to_iso(raw.get("started_at")),
        finished_at=to_iso(raw.get("finished_at")),
        duration_s=float(duration) if isinstance(duration, int | float) else None,
        queued_duration_s=float(queued) if isinstance(queued, int | float) else None,
        updated_at=to_iso(raw.get("finished_at") or raw.get("started_at")
                          or raw.get("created_at")),
    )
    return dedupe([job, user])


def normalize(raw: dict[str, Any], s: GitLabSession, partition: str):
    project = cached_project(s, partition)
    return normalize_job(raw, s.source, project.path, project.id)
