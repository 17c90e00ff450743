"""A pipeline's jobs, derived from the pipeline on request (nothing is stored).

No recorded jobs response is among the fixtures: an item has the fields of GitLab's REST
job entity (tests/simulators/README.md names where they come from): id, status, stage,
name, ref, tag, coverage, allow_failure, created_at, started_at, finished_at, erased_at,
duration, queued_duration, user, commit, pipeline, failure_reason (failed jobs only),
web_url, project, artifacts, runner, runner_manager, artifacts_expire_at, archived,
tag_list. It has no `retried` field: a retried attempt is an older job of the same name
in the same pipeline, listed only with `include_retried=true`.

Every pipeline has `compile` (build), `rspec` and `lint` (test) and, on the default
branch, `deploy`. Every fifth pipeline's `rspec` failed once and was retried (two
attempts), every fifteenth's twice. The jobs' times are spread between the pipeline's
start and finish; their statuses follow the pipeline's: a failed pipeline's last `rspec`
failed, a canceled one's last job was canceled, a running one's last job still runs, a
pending one's jobs are all pending, a manual one's `deploy` waits for its button.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .data import WEB, ProjectData, iso_z, parse_ts

JOBS = (("build", "compile"), ("test", "rspec"), ("test", "lint"), ("deploy", "deploy"))
_PIPELINE_BASIC = ("id", "iid", "project_id", "sha", "ref", "status", "source",
                   "created_at", "updated_at", "web_url")


def attempts(pipeline_id: int, name: str) -> int:
    if name != "rspec":
        return 1
    return 3 if pipeline_id % 15 == 0 else 2 if pipeline_id % 5 == 0 else 1


def pipeline_jobs(p: ProjectData, pl: dict[str, Any], people: list[Any],
                  include_retried: bool) -> list[dict[str, Any]]:
    """Every job of pipeline `pl` (the latest attempt of each name without
    `include_retried`), newest first (GitLab's order: id descending)."""
    specs = [(stage, name) for stage, name in JOBS
             if name != "deploy" or pl["ref"] == p.default_branch]
    runs = [(stage, name, k, attempts(pl["id"], name))
            for stage, name in specs for k in range(1, attempts(pl["id"], name) + 1)]
    start = parse_ts(pl["started_at"] or pl["created_at"])
    end = parse_ts(pl["finished_at"]) if pl["finished_at"] else start + timedelta(minutes=5)
    step = (end - start) / (len(runs) + 1)
    status = pl["status"]
    commit = p.commit_index.get(pl["sha"])
    jobs = []
    for n, (stage, name, k, of) in enumerate(runs, 1):
        latest = k == of
        last_job = n == len(runs)
        job_status = "success"
        if not latest:
            job_status = "failed"                  # an attempt retried after it failed
        elif status == "failed" and name == "rspec":
            job_status = "failed"
        elif status in ("pending", "skipped"):
            job_status = status
        elif status == "manual" and name == "deploy":
            job_status = "manual"
        elif status in ("canceled", "running") and last_job:
            job_status = status
        began = None if job_status in ("pending", "skipped", "manual") else start + step * n
        done = (began + step * 0.8 if began and job_status not in ("running",) else None)
        job_id = pl["id"] * 10 + n
        who = people[(pl["id"] + n) % len(people)].user()
        job = {
            "id": job_id, "status": job_status, "stage": stage, "name": name,
            "ref": pl["ref"], "tag": False, "coverage": 87.5 if name == "rspec" else None,
            "allow_failure": name == "lint", "created_at": iso_z(start + step * (n - 1)),
            "started_at": iso_z(began) if began else None,
            "finished_at": iso_z(done) if done else None, "erased_at": None,
            "duration": round((done - began).total_seconds(), 3) if began and done else None,
            "queued_duration": 1.25 + n, "user": who,
            "commit": ({**commit, "web_url": f"{WEB}/{p.path}/-/commit/{commit['id']}"}
                       if commit else None),
            "pipeline": {key: pl[key] for key in _PIPELINE_BASIC},
            "web_url": f"{WEB}/{p.path}/-/jobs/{job_id}",
            "project": {"ci_job_token_scope_enabled": False},
            "artifacts": [], "runner": None, "runner_manager": None,
            "artifacts_expire_at": None, "archived": False, "tag_list": ["docker"],
        }
        if job_status == "failed":
            pos = list(job).index("pipeline") + 1
            items = list(job.items())
            job = dict(items[:pos] + [("failure_reason", "script_failure")] + items[pos:])
        if include_retried or latest:
            jobs.append(job)
    return sorted(jobs, key=lambda j: j["id"], reverse=True)
