import copy

from dihub.connectors.jira.normalize import (
    changelog_is_truncated,
    merge_changelog,
    normalize_issue,
    transitions_from_changelog,
)
from dihub.models.records import Transition

from ._data import load

EMBEDDED = load("rest-api-3/issue-changelog-embedded.openapi-example.json")
PAGE = load("rest-api-3/issue-changelog-page.openapi-example.json")
MIA = "5b10a2844c20165700ede21g"


def status_item(frm, to):
    return {"field": "status", "fieldtype": "jira", "fieldId": "status",
            "from": "1", "fromString": frm, "to": "2", "toString": to}


def history(hid, created, *items, author="acc-1"):
    return {"id": hid, "created": created, "author": {"accountId": author},
            "items": list(items)}


# ---- real examples


def test_embedded_example_has_no_status_changes():
    assert [h["id"] for h in EMBEDDED["histories"]] == ["10001", "10002"]
    assert [i["field"] for h in EMBEDDED["histories"] for i in h["items"]] == ["fields", "fields"]
    assert transitions_from_changelog(EMBEDDED["histories"]) == []
    assert changelog_is_truncated(EMBEDDED) is False  # total 2, 2 histories


def test_page_example_overlaps_embedded_and_merges_without_duplicates():
    assert (PAGE["startAt"], PAGE["total"], PAGE["isLast"]) == (2, 5, False)
    merged = merge_changelog(EMBEDDED, [PAGE["values"]])
    assert [h["id"] for h in merged] == ["10001", "10002"]
    assert merged[0]["created"] == "1970-01-18T06:27:50.429+0000"


def test_page_example_as_a_truncated_embedded_changelog():
    partial = {"startAt": 0, "maxResults": 2, "total": PAGE["total"], "histories": PAGE["values"]}
    assert changelog_is_truncated(partial) is True


def test_status_item_in_real_history_gives_transition_with_author_and_time():
    histories = copy.deepcopy(EMBEDDED["histories"])
    histories[1]["items"].append(status_item("To Do", "In Progress"))
    assert transitions_from_changelog(histories) == [Transition(
        from_status="To Do", to_status="In Progress", author_id=MIA,
        timestamp="1970-01-18T06:27:51Z")]


def test_changelog_author_from_real_example_becomes_user():
    raw = {"id": "10", "key": "TT-1", "fields": {}, "changelog": EMBEDDED}
    records = normalize_issue(raw, "jira", story_points_field=None, sprint_field=None)
    assert [(u.source_id, u.display_name, u.email) for u in records[1:]] == [
        (MIA, "Mia Krystof", "mia@example.com")]


# ---- ordering


ORDERED = [
    history("100", "2026-01-02T10:00:00.000+0100", status_item("To Do", "In Progress")),
    history("101", "2026-01-02T12:00:00.000+0000", status_item("In Progress", "In Review"),
            author="acc-2"),
    history("102", "2026-01-03T08:00:00.000-0500", status_item("In Review", "Done")),
]


def test_transitions_oldest_first():
    got = transitions_from_changelog(ORDERED)
    assert [(t.from_status, t.to_status, t.author_id, t.timestamp) for t in got] == [
        ("To Do", "In Progress", "acc-1", "2026-01-02T09:00:00Z"),
        ("In Progress", "In Review", "acc-2", "2026-01-02T12:00:00Z"),
        ("In Review", "Done", "acc-1", "2026-01-03T13:00:00Z"),
    ]


def test_reverse_order_changelog_gives_same_transitions():
    assert transitions_from_changelog(list(reversed(ORDERED))) == \
        transitions_from_changelog(ORDERED)


def test_sorted_by_instant_not_by_text():
    # As text "…T10:00+0100" sorts after "…T09:30+0000"; as instants it is earlier.
    histories = [history("2", "2026-01-02T09:30:00.000+0000", status_item("B", "C")),
                 history("1", "2026-01-02T10:00:00.000+0100", status_item("A", "B"))]
    assert [t.to_status for t in transitions_from_changelog(histories)] == ["B", "C"]


def test_same_instant_ordered_by_numeric_history_id():
    same = "2026-01-02T10:00:00.000+0000"
    histories = [history("10", same, status_item("B", "C")),
                 history("9", same, status_item("A", "B"))]
    assert [t.to_status for t in transitions_from_changelog(histories)] == ["B", "C"]


def test_only_status_items_count():
    h = history("1", "2026-01-02T10:00:00.000+0000",
                {"field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
                 "fromString": None, "toString": "Ann"},
                {"field": "status", "fieldtype": "custom", "fromString": "x", "toString": "y"},
                {"field": "status", "fieldtype": "jira", "fromString": "Open",
                 "toString": "Closed"},  # Data Center: no fieldId
                {"field": "Status", "fieldtype": "custom", "fieldId": "customfield_1",
                 "fromString": "a", "toString": "b"})
    assert [(t.from_status, t.to_status) for t in transitions_from_changelog([h])] == [
        ("Open", "Closed")]


def test_history_without_readable_time_is_left_out():
    histories = [history("1", None, status_item("A", "B")),
                 history("2", "garbage", status_item("B", "C")),
                 history("3", "2026-01-02T10:00:00.000+0000", status_item("C", "D"))]
    assert [t.to_status for t in transitions_from_changelog(histories)] == ["D"]


# ---- truncated changelog merge


def test_truncated_embedded_plus_pages_without_duplicates():
    all_h = [history(str(n), f"2026-01-0{n}T10:00:00.000+0000", status_item(f"s{n - 1}", f"s{n}"))
             for n in range(1, 6)]
    embedded = {"startAt": 0, "maxResults": 2, "total": 5,
                "histories": [all_h[4], all_h[3]]}  # newest first, only the last two
    assert changelog_is_truncated(embedded) is True
    pages = [all_h[0:2], all_h[2:4], all_h[4:5]]  # oldest first; 4 and 5 overlap embedded
    merged = merge_changelog(embedded, pages)
    assert [h["id"] for h in merged] == ["1", "2", "3", "4", "5"]
    assert [t.to_status for t in transitions_from_changelog(merged)] == [
        "s1", "s2", "s3", "s4", "s5"]


def test_merge_keeps_histories_without_id_once():
    anon = {"created": "2026-01-01T00:00:00.000+0000", "items": []}
    merged = merge_changelog({"histories": [anon]}, [[dict(anon)], []])
    assert merged == [anon]


def test_merge_and_truncation_handle_missing_embedded():
    assert merge_changelog(None, []) == []
    assert merge_changelog({}, [[history("1", "2026-01-01T00:00:00.000+0000")]])[0]["id"] == "1"
    assert changelog_is_truncated(None) is False
    assert changelog_is_truncated({"histories": []}) is False  # no total: nothing to fetch


# ---- Sprint field history (sprint commitment)


def test_sprint_field_changes_are_kept_beside_status_transitions():
    sprint_cloud = {"field": "Sprint", "fieldtype": "custom", "fieldId": "customfield_10020",
                    "from": "1", "fromString": "S1", "to": "1, 2", "toString": "S1, S2"}
    sprint_dc = {"field": "Sprint", "fieldtype": "custom", "from": None, "to": "1"}
    raw = {"id": "10", "key": "ENG-1",
           "fields": {"created": "2026-01-01T10:00:00.000+0000",
                      "updated": "2026-01-03T10:00:00.000+0000"},
           "changelog": {"histories": [
               history("2", "2026-01-03T10:00:00.000+0000", sprint_cloud,
                       status_item("To Do", "In Progress")),
               history("1", "2026-01-02T10:00:00.000+0000", sprint_dc)]}}
    issue = normalize_issue(raw, "jira", story_points_field=None,
                            sprint_field="customfield_10020")[0]
    assert [(c.from_sprint_ids, c.to_sprint_ids, c.timestamp) for c in issue.sprint_changes] == [
        ([], ["1"], "2026-01-02T10:00:00Z"), (["1"], ["1", "2"], "2026-01-03T10:00:00Z")]
    assert [(t.from_status, t.to_status) for t in issue.transitions] == [("To Do", "In Progress")]


def test_an_issue_without_sprint_changes_keeps_its_document_and_signature():
    raw = {"id": "10", "key": "ENG-1", "fields": {},
           "changelog": {"histories": [history("1", "2026-01-02T10:00:00.000+0000",
                                               status_item("To Do", "Done"))]}}
    doc = normalize_issue(raw, "jira", story_points_field=None, sprint_field=None)[0].to_doc()
    assert "sprint_changes" not in doc
