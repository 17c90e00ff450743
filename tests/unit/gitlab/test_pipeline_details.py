"""The pipelines stream's detail requests (one GET /pipelines/:id per new or changed
pipeline: dihub/connectors/gitlab/updated.py) go out several at a time, and each detail's
page checkpoints the list page's position with the pipelines read so far."""

from __future__ import annotations

import threading

import httpx

from dihub.connectors.gitlab.client import ProjectInfo
from dihub.connectors.gitlab.updated import pipeline_pages
from dihub.models import SyncState

from .conftest import session

LISTED = [{"id": 500 + i, "iid": i, "status": "success", "ref": "main", "sha": f"{i:040x}",
           "updated_at": f"2026-01-03T10:{i:02d}:00.000Z", "created_at": "2026-01-03T09:00:00.000Z"}
          for i in range(8)]


def test_details_are_read_several_at_once_and_each_checkpoints_what_is_read():
    """Pipeline 500's detail answers only once a fifth detail was asked (four at once:
    another one was read and handed over first)."""
    asked: list[int] = []
    lock = threading.Lock()
    fifth = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/pipelines"):
            return httpx.Response(200, json=LISTED, headers={"x-next-page": ""})
        pid = int(path.rsplit("/", 1)[1])
        with lock:
            asked.append(pid)
            if len(asked) >= 5:
                fifth.set()
        if pid == 500:
            assert fifth.wait(5), "the other details waited for the first one"
        detail = next(p for p in LISTED if p["id"] == pid)
        return httpx.Response(200, json={**detail, "started_at": detail["created_at"],
                                         "finished_at": detail["updated_at"],
                                         "duration": 60, "queued_duration": 1})
    s = session(handler)
    s.projects.put("group/sub/proj", ProjectInfo(9, "group/sub/proj", "main"))
    state = SyncState(source="gl", stream="pipelines", partition="group/sub/proj")
    read: list[int] = []
    for page in pipeline_pages(s, "group/sub/proj", state):
        read += [item["id"] for item in page.items]
        if page.moves_cursor and "seen" in page.cursor:
            # what the checkpoint says is read was handed over by now
            assert {int(k) for k in page.cursor["seen"]} <= set(read)
    assert sorted(read) == [p["id"] for p in LISTED]
    assert read[0] != 500                          # it answered after others
    assert sorted(asked) == [p["id"] for p in LISTED]   # each detail once
