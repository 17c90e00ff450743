"""The optional jobs stream: only the pipelines updated since the last pass are asked for
their jobs (retried attempts included), each attempt its own record."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs

import httpx

from dihub.connectors.gitlab.client import ProjectInfo
from dihub.connectors.gitlab.jobs import job_pages, normalize_job
from dihub.models import SyncState

from .conftest import session

JOB = {"id": 7, "name": "rspec", "stage": "test", "status": "failed", "ref": "main",
       "allow_failure": False, "retried": True, "created_at": "2026-01-01T10:00:00.000Z",
       "started_at": "2026-01-01T10:00:05.000Z", "finished_at": "2026-01-01T10:01:05.000Z",
       "duration": 60.2, "queued_duration": 5.0,
       "commit": {"id": "abc"}, "pipeline": {"id": 300, "sha": "abc"},
       "user": {"id": 1, "username": "root", "name": "Administrator"}}


class Builds:
    """A store holding two stored builds of project g/p (and no breaker state)."""

    def get_meta(self, key):
        return None

    def put_meta(self, key, value):
        pass

    def iter_records(self, entity, source=None, since=None, filters=None):
        assert entity == "builds" and filters == {"repo": "g/p"}
        return iter([{"run_id": "300", "updated_at": "2026-01-01T10:02:00Z"},
                     {"run_id": "301", "updated_at": "2026-01-02T09:00:00Z"}])


def test_each_job_attempt_is_its_own_record():
    first = normalize_job(JOB, "gl", "g/p", 9)
    job = first[0]
    assert job.key() == "gl:jobs:9:7" and job.pipeline_id == "300" and job.retried is True
    assert (job.duration_s, job.head_sha, job.user_id) == (60.2, "abc", "1")
    again = normalize_job(dict(JOB, id=8, retried=False, status="success"), "gl", "g/p", 9)[0]
    assert again.key() != job.key() and again.pipeline_id == job.pipeline_id


def test_only_pipelines_updated_since_the_cursor_are_asked_for_their_jobs():
    asked = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        assert parse_qs(request.url.query.decode())["include_retried"] == ["true"]
        return httpx.Response(200, json=[JOB], headers={"x-next-page": ""})
    s = session(handler, streams=["jobs"])
    s.ctx.store = Builds()
    s.projects.put("g/p", ProjectInfo(9, "g/p", "main"))
    state = SyncState(source="gl", stream="jobs", partition="g/p",
                      cursor={"updated": "2026-01-01T12:00:00Z"})
    pages = list(job_pages(s, "g/p", state))
    assert asked == ["/api/v4/projects/9/pipelines/301/jobs"]
    assert [p.cursor for p in pages] == [{"updated": "2026-01-02T09:00:00Z"}]
    assert [i["id"] for i in pages[0].items] == [7]


class ManyBuilds(Builds):
    """Eight stored builds; 302 and 303 were updated in the same second."""

    UPDATED = ["2026-01-03T10:00:00Z", "2026-01-03T11:00:00Z", "2026-01-03T12:00:00Z",
               "2026-01-03T12:00:00Z", "2026-01-03T13:00:00Z", "2026-01-03T14:00:00Z",
               "2026-01-03T15:00:00Z", "2026-01-03T16:00:00Z"]

    def iter_records(self, entity, source=None, since=None, filters=None):
        assert entity == "builds" and filters == {"repo": "g/p"}
        return iter([{"run_id": str(300 + i), "updated_at": u}
                     for i, u in enumerate(self.UPDATED)])


def test_pipelines_are_read_several_at_once_and_the_cursor_passes_none_unread():
    """Pipeline 300 answers only once a fifth one was asked (four at once: one of the
    others was read and yielded first): they went on meanwhile.
    No page's cursor passes a pipeline whose jobs were not yielded yet, and none stops
    between 302 and 303 (updated in the same second)."""
    asked: list[str] = []
    lock = threading.Lock()
    others = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        pipeline = request.url.path.split("/")[-2]
        with lock:
            asked.append(pipeline)
            if len(asked) >= 5:           # asked once another one's page was yielded
                others.set()
        if pipeline == "300":
            assert others.wait(5), "the other pipelines waited for the first one"
        return httpx.Response(200, json=[dict(JOB, id=int(pipeline) * 10,
                                              pipeline={"id": int(pipeline)})],
                              headers={"x-next-page": ""})
    s = session(handler, streams=["jobs"])
    s.ctx.store = ManyBuilds()
    s.projects.put("g/p", ProjectInfo(9, "g/p", "main"))
    state = SyncState(source="gl", stream="jobs", partition="g/p")
    yielded: list[int] = []
    cursors = []
    for page in job_pages(s, "g/p", state):
        yielded += [i["pipeline"]["id"] for i in page.items]
        if page.moves_cursor:
            upto = page.cursor.get("updated")
            cursors.append(upto)
            passed = {300 + i for i, u in enumerate(ManyBuilds.UPDATED)
                      if upto is not None and u <= upto}
            done = {int(k) for k in page.cursor.get("done", {})}
            assert passed | done <= set(yielded)
    assert sorted(yielded) == list(range(300, 308))
    assert yielded[0] != 300                       # it answered after others
    assert cursors[-1] == ManyBuilds.UPDATED[-1]


def test_an_attempt_is_retried_when_its_pipeline_has_a_newer_job_of_its_name():
    from dihub.connectors.gitlab.jobs import _with_retried

    jobs = [{"id": 9, "name": "rspec"}, {"id": 8, "name": "lint"}, {"id": 7, "name": "rspec"},
            {"id": 5, "name": "rspec"}, {"id": 6, "name": "deploy", "retried": True}]
    flags = {j["id"]: j["retried"] for j in _with_retried(jobs)}
    assert flags == {9: False, 8: False, 7: True, 5: True, 6: True}   # 6: as GitLab said
