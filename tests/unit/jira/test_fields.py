from dihub.connectors.jira.fields import discover_sprint_field, discover_story_points_field

from ._data import load

JIRA_CLI = load("rest-api-3/field-list.jira-cli.json")
OPENAPI = load("rest-api-3/field-list.openapi-example.json")


def field(fid, name, custom_type=None, schema_type="number"):
    schema = {"type": schema_type}
    if custom_type:
        schema["custom"] = custom_type
    return {"id": fid, "name": name, "custom": fid.startswith("customfield_"), "schema": schema}


FLOAT = "com.atlassian.jira.plugin.system.customfieldtypes:float"
JSW = "com.pyxis.greenhopper.jira:jsw-story-points"
GH_SPRINT = "com.pyxis.greenhopper.jira:gh-sprint"


# ---- real field lists


def test_jira_cli_list_has_no_current_story_points_field():
    # Only Advanced Roadmaps' "Original story points" (a baseline): never auto-picked.
    assert [f["id"] for f in JIRA_CLI] == ["fixVersions", "customfield_10111", "timespent"]
    assert discover_story_points_field(JIRA_CLI, None) is None


def test_jira_cli_configured_by_id_or_name():
    assert discover_story_points_field(JIRA_CLI, "customfield_10111") == "customfield_10111"
    assert discover_story_points_field(JIRA_CLI, "original STORY points") == "customfield_10111"


def test_configured_name_that_matches_nothing_gives_none_not_a_guess():
    assert discover_story_points_field(JIRA_CLI, "Story Points") is None


def test_configured_custom_field_id_missing_from_list_is_trusted():
    # The example list holds only description and summary.
    assert [f["id"] for f in OPENAPI] == ["description", "summary"]
    assert discover_story_points_field(OPENAPI, "customfield_10016") == "customfield_10016"
    assert discover_story_points_field(OPENAPI, None) is None


def test_no_sprint_field_in_real_lists():
    assert discover_sprint_field(JIRA_CLI) is None
    assert discover_sprint_field(OPENAPI) is None


# ---- discovery rules


def test_jsw_story_point_estimate_preferred_over_classic_story_points():
    fields = [field("customfield_10026", "Story Points", FLOAT),
              field("customfield_10016", "Story point estimate", JSW)]
    assert discover_story_points_field(fields, None) == "customfield_10016"


def test_classic_story_points_found_case_insensitively():
    fields = [*JIRA_CLI, field("customfield_10026", "  story POINTS", FLOAT)]
    assert discover_story_points_field(fields, None) == "customfield_10026"


def test_renamed_jsw_field_found_by_type():
    fields = [field("customfield_10016", "Schätzung", JSW)]
    assert discover_story_points_field(fields, None) == "customfield_10016"


def test_text_field_named_story_points_is_rejected():
    fields = [field("customfield_10030", "Story Points",
                    "com.atlassian.jira.plugin.system.customfieldtypes:textfield", "string")]
    assert discover_story_points_field(fields, None) is None


def test_configured_wins_over_discovery():
    fields = [field("customfield_10016", "Story point estimate", JSW),
              field("customfield_10026", "Story Points", FLOAT)]
    assert discover_story_points_field(fields, "customfield_10026") == "customfield_10026"
    assert discover_story_points_field(fields, "Story Points") == "customfield_10026"


def test_sprint_field_by_type_even_when_renamed():
    fields = [*JIRA_CLI, field("customfield_10020", "Itération", GH_SPRINT, "array")]
    assert discover_sprint_field(fields) == "customfield_10020"


def test_sprint_field_by_name_without_schema():
    fields = [{"id": "customfield_10007", "name": "Sprint", "custom": True}]
    assert discover_sprint_field(fields) == "customfield_10007"
    assert discover_sprint_field(fields, configured="customfield_10099") == "customfield_10099"
