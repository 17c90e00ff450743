import copy

import pytest

from dihub.connectors.jira.normalize import normalize_issue, normalize_user, user_id
from dihub.errors import SkippableRecord
from dihub.models.records import Issue, User

from ._data import load

SRC = "jira"


def issue_of(records) -> Issue:
    assert isinstance(records[0], Issue)
    return records[0]


def users_of(records) -> list[User]:
    assert all(isinstance(r, User) for r in records[1:])
    return records[1:]


# ---- go-jira sprint issue page: REST v2 field format, Data Center style users


GO_JIRA = load("agile-1.0/sprint-issues.go-jira.json")


def test_go_jira_sprint_issue():
    assert GO_JIRA["total"] == 10 and len(GO_JIRA["issues"]) == 1
    records = normalize_issue(GO_JIRA["issues"][0], SRC, story_points_field="customfield_10105",
                              sprint_field="customfield_10102")
    issue = issue_of(records)
    assert issue.source_id == "12338"
    assert issue.issue_id == "AR-86"
    assert issue.key() == "jira:issues:12338"
    assert issue.project_key == "AR"
    assert issue.summary == ""  # the payload has no summary
    assert (issue.status, issue.status_category) == ("Ready", "new")
    assert (issue.type, issue.priority) == ("Task", "Major")
    assert issue.story_points == 13.0
    assert issue.assignee_id == "mister.morris"
    assert issue.reporter_id is None
    assert issue.sprint_ids == []  # customfield_10102 is null
    assert issue.labels == []
    assert issue.created_at == "2015-12-02T15:39:15Z"
    assert issue.updated_at == "2016-02-01T16:17:04Z"
    assert issue.resolved_at == "2015-12-07T22:19:13Z"
    assert issue.transitions == []
    assert users_of(records) == [User(
        source=SRC, source_id="mister.morris", user_id="mister.morris",
        source_user_id="mister.morris", login="mister.morris", display_name="mister Morris",
        email="mister.morris@uservoice.com")]


def test_story_points_only_from_the_discovered_field():
    raw = GO_JIRA["issues"][0]
    assert issue_of(normalize_issue(raw, SRC, story_points_field=None,
                                    sprint_field=None)).story_points is None
    assert issue_of(normalize_issue(raw, SRC, story_points_field="customfield_10016",
                                    sprint_field=None)).story_points is None


# ---- Agile 1.0 sprint issue example: sprint / closedSprints objects


def test_agile_sprint_issue_example():
    raw = load("agile-1.0/sprint-issue.openapi-example.json")
    records = normalize_issue(raw, SRC, story_points_field=None, sprint_field=None)
    issue = issue_of(records)
    assert (issue.source_id, issue.issue_id, issue.project_key) == ("10001", "HSP-1", "EX")
    # fields.sprint (37, "future") and fields.closedSprints ([37, "closed"]) name one sprint.
    assert issue.sprint_ids == ["37"]
    assert issue.status is None and issue.assignee_id is None
    # Atlassian's example has "updated": 1 (a placeholder, not a Jira timestamp).
    assert issue.updated_at is None
    assert users_of(records) == []  # comment and worklog authors are not issue people


# ---- platform REST v3 examples: GET issue, search/jql, legacy search


@pytest.mark.parametrize("name, path", [
    ("rest-api-3/issue-get.openapi-example.json", None),
    ("rest-api-3/search-jql.openapi-example.json", "issues"),
    ("rest-api-3/search-legacy.openapi-example.json", "issues"),
])
def test_platform_examples(name, path):
    body = load(name)
    raws = body[path] if path else [body]
    assert len(raws) == 1
    issue = issue_of(normalize_issue(raws[0], SRC, story_points_field="customfield_10016",
                                     sprint_field="customfield_10020"))
    # The example's key says ED, its project says EX: the project object is believed.
    assert (issue.source_id, issue.issue_id, issue.project_key) == ("10002", "ED-1", "EX")
    assert issue.updated_at is None
    assert issue.story_points is None and issue.sprint_ids == []


# ---- jira-cli hand-written search/jql pages


def jira_cli_issues():
    return (load("rest-api-3/search-jql.page1-next-token.jira-cli.json")["issues"]
            + load("rest-api-3/search-jql.page2-last.jira-cli.json")["issues"])


def test_jira_cli_pages_lack_issue_ids_and_are_skipped():
    issues = jira_cli_issues()
    assert [i["key"] for i in issues] == ["TEST-1", "TEST-2", "TEST-3"]
    for raw in issues:
        with pytest.raises(SkippableRecord, match="without id"):
            normalize_issue(raw, SRC, story_points_field=None, sprint_field=None)


def test_jira_cli_pages_fields_once_given_an_id():
    out = [issue_of(normalize_issue({"id": str(10000 + n), **raw}, SRC,
                                    story_points_field=None, sprint_field=None))
           for n, raw in enumerate(jira_cli_issues())]
    assert [(i.issue_id, i.type, i.status, i.priority) for i in out] == [
        ("TEST-1", "Bug", "To Do", "Medium"),
        ("TEST-2", "Story", "In Progress", "High"),
        ("TEST-3", "Task", "Done", "Low"),
    ]
    assert out[1].labels == ["critical", "feature"]
    assert out[1].summary == "Story summary"
    assert {i.project_key for i in out} == {"TEST"}  # no project object: from the key
    assert all(i.status_category is None for i in out)  # trimmed status, no category
    # Users with only a displayName cannot be identified.
    assert all(i.assignee_id is None and i.reporter_id is None for i in out)
    assert out[0].created_at == "2020-12-03T13:05:20Z"  # +0100 offset, no colon
    assert out[2].resolved_at is None


def test_jira_cli_display_name_only_users_emit_no_user_records():
    raw = {"id": "1", **jira_cli_issues()[2]}
    assert normalize_issue(raw, SRC, story_points_field=None, sprint_field=None)[1:] == []


# ---- hand-written edge cases


def cloud_issue(**fields):
    base = {
        "summary": "Checkout fails",
        "status": {"name": "In Review", "statusCategory": {"key": "indeterminate"}},
        "issuetype": {"name": "Bug"},
        "project": {"key": "SHOP"},
        "created": "2026-01-02T10:00:00.000+0100",
        "updated": "2026-01-05T09:30:00.000+0000",
        "resolutiondate": None,
        "assignee": {"accountId": "acc-1", "displayName": "Ann", "emailAddress": "ann@x.io"},
        "reporter": {"accountId": "acc-2", "displayName": "Bob"},
        "customfield_10016": 5,
        "customfield_10020": [{"id": 12, "name": "S12", "state": "closed", "boardId": 3},
                              {"id": 9, "name": "S9", "state": "closed", "boardId": 3}],
        "labels": ["checkout"],
    }
    base.update(fields)
    return {"id": "10500", "key": "SHOP-7", "fields": base}


def norm(raw, **kw):
    kw.setdefault("story_points_field", "customfield_10016")
    kw.setdefault("sprint_field", "customfield_10020")
    return normalize_issue(raw, SRC, **kw)


def test_cloud_issue_full():
    records = norm(cloud_issue())
    issue = issue_of(records)
    assert issue.status_category == "indeterminate"
    assert issue.story_points == 5.0 and isinstance(issue.story_points, float)
    assert issue.sprint_ids == ["9", "12"]  # numeric order: stable whatever the payload order
    assert issue.created_at == "2026-01-02T09:00:00Z"
    assert (issue.assignee_id, issue.reporter_id) == ("acc-1", "acc-2")
    assert [(u.source_id, u.email, u.login) for u in users_of(records)] == [
        ("acc-1", "ann@x.io", None), ("acc-2", None, None)]


def test_missing_optional_fields():
    raw = cloud_issue(assignee=None, priority=None, customfield_10016=None,
                      customfield_10020=None, labels=None)
    del raw["fields"]["reporter"], raw["fields"]["status"]
    records = norm(raw)
    issue = issue_of(records)
    assert issue.assignee_id is None and issue.reporter_id is None
    assert issue.priority is None and issue.status is None and issue.status_category is None
    assert issue.story_points is None and issue.sprint_ids == [] and issue.labels == []
    assert users_of(records) == []


def test_issue_without_fields_object():
    issue = issue_of(norm({"id": "1", "key": "A-1"}))
    assert (issue.summary, issue.project_key, issue.created_at) == ("", "A", None)


def test_move_or_rename_keeps_the_record_key():
    moved = cloud_issue()
    moved["key"], moved["fields"]["project"] = "PAY-3", {"key": "PAY"}
    before, after = issue_of(norm(cloud_issue())), issue_of(norm(moved))
    assert before.key() == after.key() == "jira:issues:10500"
    assert (after.issue_id, after.project_key) == ("PAY-3", "PAY")


@pytest.mark.parametrize("value, expected", [
    (3, 3.0), (0.5, 0.5), ("8", 8.0), ("", None), ("n/a", None), (True, None), ({}, None)])
def test_story_point_values(value, expected):
    assert issue_of(norm(cloud_issue(customfield_10016=value))).story_points == expected


def test_data_center_sprint_strings_and_users():
    raw = cloud_issue(
        customfield_10020=[
            "com.atlassian.greenhopper.service.sprint.Sprint@a29f07[rapidViewId=<null>,"
            "state=CLOSED,name=NORD - Sprint 42,startDate=2013-07-29T06:47:00.000+02:00,"
            "endDate=2013-08-11T20:47:00.000+02:00,completeDate=2013-08-14T15:31:33.157+02:00,"
            "id=107]",
            "com.atlassian.greenhopper.service.sprint.Sprint@1689feb[id=2,rapidViewId=1,"
            "state=FUTURE,name=Sprint 2,startDate=<null>,endDate=<null>,completeDate=<null>,"
            "sequence=2]",
        ],
        assignee={"name": "jdoe", "key": "JIRAUSER10100", "displayName": "J. Doe",
                  "emailAddress": "jdoe@corp.example"},
        reporter={"name": "admin", "key": "admin", "displayName": "Admin"},
    )
    records = norm(raw)
    issue = issue_of(records)
    assert issue.sprint_ids == ["2", "107"]
    # Data Center: the user key survives renames; the name is the login.
    assert (issue.assignee_id, issue.reporter_id) == ("JIRAUSER10100", "admin")
    assert [(u.source_id, u.login) for u in users_of(records)] == [
        ("JIRAUSER10100", "jdoe"), ("admin", "admin")]


def test_changelog_authors_become_users_once():
    raw = cloud_issue()
    raw["changelog"] = {"startAt": 0, "maxResults": 2, "total": 2, "histories": [
        {"id": "2", "created": "2026-01-03T10:00:00.000+0000",
         "author": {"accountId": "acc-3", "displayName": "Cy"},
         "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status",
                    "fromString": "To Do", "toString": "In Review"}]},
        {"id": "1", "created": "2026-01-02T10:00:00.000+0000",
         "author": {"accountId": "acc-1", "displayName": "Ann"}, "items": []},
    ]}
    records = norm(raw)
    assert [u.source_id for u in users_of(records)] == ["acc-1", "acc-2", "acc-3"]
    assert [(t.to_status, t.author_id) for t in issue_of(records).transitions] == [
        ("In Review", "acc-3")]


def test_histories_argument_overrides_embedded_changelog():
    raw = cloud_issue()
    raw["changelog"] = {"total": 3, "histories": []}
    history = {"id": "7", "created": "2026-01-04T00:00:00.000+0000", "author": None,
               "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status",
                          "fromString": "In Review", "toString": "Done"}]}
    issue = issue_of(norm(raw, histories=[history]))
    assert [(t.from_status, t.to_status, t.author_id, t.timestamp) for t in issue.transitions] \
        == [("In Review", "Done", None, "2026-01-04T00:00:00Z")]


def test_unreadable_timestamp_skips_with_location():
    with pytest.raises(SkippableRecord, match="SHOP-7: created"):
        norm(cloud_issue(created="yesterday"))


def test_issue_without_key_is_skipped():
    raw = cloud_issue()
    del raw["key"]
    with pytest.raises(SkippableRecord, match="without key"):
        norm(raw)


def test_normalize_user_shapes():
    cloud = normalize_user({"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof",
                            "emailAddress": "mia@example.com", "key": "", "name": ""}, SRC)
    assert (cloud.source_id, cloud.user_id, cloud.source_user_id) == (
        "5b10a2844c20165700ede21g",) * 3
    assert (cloud.login, cloud.email) == (None, "mia@example.com")
    assert cloud.key() == "jira:users:5b10a2844c20165700ede21g"
    dc_old = normalize_user({"name": "legacy", "displayName": "L"}, SRC)
    assert (dc_old.source_id, dc_old.login) == ("legacy", "legacy")
    with pytest.raises(SkippableRecord):
        normalize_user({"displayName": "Person A"}, SRC)
    assert user_id(None) is None


def test_input_is_not_mutated():
    raw = cloud_issue()
    snapshot = copy.deepcopy(raw)
    norm(raw)
    assert raw == snapshot
