import pytest

from dihub.connectors.jira.normalize import (
    normalize_sprint,
    parse_sprint_string,
    sprint_board_ids,
    sprint_ids_from,
)
from dihub.errors import SkippableRecord
from dihub.models.records import Sprint

from ._data import load

SRC = "jira"


# ---- go-jira board sprint list


GO_SPRINTS = load("agile-1.0/board-sprints.go-jira.json")["values"]


def test_go_jira_sprint_states_and_ids():
    sprints = [normalize_sprint(s, SRC, board_id=734) for s in GO_SPRINTS]
    assert [(s.source_id, s.state) for s in sprints] == [
        ("740", "closed"), ("776", "closed"), ("807", "closed"),
        ("832", "active"), ("845", "future"), ("846", "future")]
    assert {s.board_id for s in sprints} == {"734"}
    assert sprints[0].key() == "jira:sprints:740"


def test_go_jira_closed_sprint_dates():
    s = normalize_sprint(GO_SPRINTS[0], SRC, board_id=734)
    assert (s.name, s.sprint_id) == ("Iteration-10", "740")
    assert s.start_date == "2016-04-11T14:29:03Z"
    assert s.end_date == "2016-04-27T15:29:00Z"
    assert s.complete_date == "2016-04-28T12:08:48Z"
    assert s.updated_at == s.complete_date


def test_go_jira_active_sprint_updated_at_is_end_date():
    s = normalize_sprint(GO_SPRINTS[3], SRC, board_id=734)
    assert (s.start_date, s.end_date, s.complete_date) == (
        "2016-06-20T20:24:39Z", "2016-06-28T21:24:00Z", None)
    assert s.updated_at == "2016-06-28T21:24:00Z"


def test_go_jira_future_sprints():
    minimal, with_goal = (normalize_sprint(s, SRC, board_id=734) for s in GO_SPRINTS[4:])
    assert minimal == Sprint(source=SRC, source_id="845", sprint_id="845", board_id="734",
                             name="Minimal Example Sprint", state="future")
    assert minimal.updated_at is None
    assert (with_goal.goal, with_goal.updated_at) == ("My Goal", None)


# ---- Atlassian examples: board 84 lists a sprint whose origin board is 5


OA_SPRINTS = load("agile-1.0/board-sprints.openapi-example.json")["values"]
SPRINT_GET = load("agile-1.0/sprint-get.openapi-example.json")


def test_openapi_board_sprints():
    closed, future = (normalize_sprint(s, SRC, board_id=84) for s in OA_SPRINTS)
    assert closed == Sprint(
        source=SRC, source_id="37", sprint_id="37", board_id="5", name="sprint 1",
        state="closed", start_date="2015-04-11T05:22:00Z", end_date="2015-04-19T15:22:00Z",
        complete_date="2015-04-20T01:04:00Z", goal="sprint 1 goal",
        updated_at="2015-04-20T01:04:00Z")
    assert (future.source_id, future.state, future.goal) == ("72", "future", "sprint 2 goal")
    assert future.board_id == "84"  # no originBoardId: the listing board


def test_sprint_normalizes_the_same_from_any_board_or_from_get():
    from_board_84 = normalize_sprint(OA_SPRINTS[0], SRC, board_id=84)
    from_board_9 = normalize_sprint(OA_SPRINTS[0], SRC, board_id="9")
    from_get = normalize_sprint(SPRINT_GET, SRC, board_id=None)
    assert from_board_84 == from_board_9 == from_get
    assert from_get.to_doc() == from_board_84.to_doc()


def test_latest_date_wins_even_when_end_is_after_completion():
    s = normalize_sprint({"id": 1, "state": "closed", "startDate": "2026-01-01T00:00:00.000Z",
                          "endDate": "2026-01-15T00:00:00.000Z",
                          "completeDate": "2026-01-10T00:00:00.000Z"}, SRC, board_id=None)
    assert s.updated_at == "2026-01-15T00:00:00Z"
    assert s.board_id is None


def test_sprint_without_id_or_with_bad_date_is_skipped():
    with pytest.raises(SkippableRecord):
        normalize_sprint({"name": "x"}, SRC, board_id=1)
    with pytest.raises(SkippableRecord, match="sprint 5: endDate"):
        normalize_sprint({"id": 5, "endDate": "soon"}, SRC, board_id=1)


def test_data_center_uppercase_state_is_lowered():
    assert normalize_sprint({"id": 3, "state": "ACTIVE"}, SRC, board_id=1).state == "active"


# ---- boards


def test_sprint_boards_from_board_lists():
    go_jira = load("agile-1.0/board-list.go-jira.json")["values"]
    assert [(b["id"], b["type"]) for b in go_jira][:2] == [(4, "scrum"), (5, "kanban")]
    assert sprint_board_ids(go_jira) == ["4", "9", "1"]
    assert sprint_board_ids(load("agile-1.0/board-list.openapi-example.json")["values"]) == ["84"]
    assert sprint_board_ids([{"id": 12, "type": "simple"}, {"type": "scrum"}]) == ["12"]


# ---- Sprint field values


CLOSED_42 = ("com.atlassian.greenhopper.service.sprint.Sprint@a29f07[rapidViewId=<null>,"
             "state=CLOSED,name=NORD - Sprint 42,startDate=2013-07-29T06:47:00.000+02:00,"
             "endDate=2013-08-11T20:47:00.000+02:00,completeDate=2013-08-14T15:31:33.157+02:00,"
             "id=107]")


def test_parse_data_center_sprint_string():
    assert parse_sprint_string(CLOSED_42) == {
        "rapidViewId": None, "state": "CLOSED", "name": "NORD - Sprint 42",
        "startDate": "2013-07-29T06:47:00.000+02:00", "endDate": "2013-08-11T20:47:00.000+02:00",
        "completeDate": "2013-08-14T15:31:33.157+02:00", "id": "107"}


def test_sprint_name_with_comma_and_id_first():
    text = ("com.atlassian.greenhopper.service.sprint.Sprint@1bf75fd[id=1,rapidViewId=1,"
            "state=CLOSED,name=Sprint 7, hardening,goal=,startDate=<null>,sequence=1]")
    attrs = parse_sprint_string(text)
    assert (attrs["id"], attrs["name"], attrs["goal"], attrs["startDate"]) == (
        "1", "Sprint 7, hardening", "", None)


def test_not_a_sprint_string():
    assert parse_sprint_string("Sprint 42") == {}
    assert parse_sprint_string("") == {}


def test_sprint_ids_from_cloud_and_data_center_values():
    assert sprint_ids_from([{"id": 37, "state": "closed"}, {"id": 38}]) == ["37", "38"]
    assert sprint_ids_from({"id": 37}) == ["37"]  # Agile 1.0 fields.sprint
    assert sprint_ids_from([CLOSED_42, CLOSED_42]) == ["107"]
    assert sprint_ids_from(None) == [] and sprint_ids_from([]) == []
    assert sprint_ids_from(["junk", 5, {"name": "no id"}]) == []
