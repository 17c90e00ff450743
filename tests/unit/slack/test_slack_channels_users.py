"""normalize_channel / normalize_user over every entry in the recorded payloads."""

from __future__ import annotations

import pytest

from dihub.connectors.slack.normalize import normalize_channel, normalize_user
from dihub.errors import SkippableRecord

from ._fixtures import body

LISTS = "web-api/conversations.list"


def channels(suffix):
    return [normalize_channel(c, "slack") for c in body(f"{LISTS}.{suffix}.json")["channels"]]


def test_conversations_list_openapi_example():
    general, random = channels("openapi-example")
    assert general.channel_id == general.source_id == "C012AB3CD"
    assert general.key() == "slack:channels:C012AB3CD"
    assert general.name == "general"
    assert general.is_private is False and general.is_archived is False
    assert general.topic == "Company-wide announcements and work-based matters"
    assert general.member_count == 4
    assert general.updated_at == "2015-12-04T18:14:49Z"        # from `created`
    assert random.channel_id == "C061EG9T2" and random.name == "random"
    assert random.topic == "Non-work banter and water cooler conversation"
    assert random.member_count == 4


def test_conversations_list_python_sdk_full_fields():
    general, random = channels("python-slack-sdk")
    assert (general.channel_id, general.name, general.member_count) == ("C111", "general", 8)
    assert (random.channel_id, random.name, random.member_count) == ("C222", "random", 10)
    for ch in (general, random):
        assert ch.topic is None                  # empty topic value → no topic
        assert ch.is_private is False and ch.is_archived is False
        assert ch.updated_at == "2015-01-22T11:07:11Z"


@pytest.mark.parametrize("suffix,channel_id", [("page1-has-more.python-slack-sdk", "C1"),
                                                ("last-page.python-slack-sdk", "C3")])
def test_conversations_list_minimal_pages(suffix, channel_id):
    (only,) = channels(suffix)
    assert only.channel_id == only.source_id == channel_id
    assert only.name is None and only.topic is None and only.member_count is None
    assert only.is_private is None and only.is_archived is None and only.updated_at is None


def test_channel_updated_in_milliseconds_wins_over_created():
    raw = {"id": "C9", "created": 1449252889, "updated": 1678229664302}
    assert normalize_channel(raw, "slack").updated_at == "2023-03-07T22:54:24Z"


def test_private_channel_from_legacy_group_flag():
    raw = {"id": "G9", "name": "secret", "is_group": True}
    assert normalize_channel(raw, "slack").is_private is True


def test_users_list_openapi_example():
    spengler, glinda = (normalize_user(m, "slack")
                        for m in body("web-api/users.list.openapi-example.json")["members"])
    assert spengler.user_id == spengler.source_user_id == spengler.source_id == "W012A3CDE"
    assert spengler.key() == "slack:users:W012A3CDE"
    assert spengler.login == "spengler"
    assert spengler.display_name == "spengler"
    assert spengler.email == "spengler@ghostbusters.example.com"
    assert spengler.updated_at == "2017-08-07T20:44:46Z"

    assert glinda.user_id == "W07QCRPA4" and glinda.login == "glinda"
    assert glinda.display_name == "Glinda the Fairly Good"
    assert glinda.email == "glenda@south.oz.coven"
    assert glinda.updated_at == "2016-11-30T17:31:38Z"


def test_user_without_display_name_falls_back_to_real_name():
    raw = {"id": "U1", "name": "egon", "real_name": "egon",
           "profile": {"display_name": "", "real_name": "Egon Spengler"}}
    user = normalize_user(raw, "slack")
    assert user.display_name == "Egon Spengler" and user.email is None


def test_deleted_flag_is_ignored():
    raw = {"id": "U2", "name": "gone", "deleted": True, "profile": {}}
    assert normalize_user(raw, "slack").login == "gone"


@pytest.mark.parametrize("fn", [normalize_channel, normalize_user])
def test_entries_without_id_are_skipped(fn):
    with pytest.raises(SkippableRecord):
        fn({"name": "x"}, "slack")
