from __future__ import annotations

import pytest

from dihub.connectors.slack.classify import Classifier, ClassifierRuleError
from dihub.errors import ConfigError

from ._fixtures import body

RULES = [
    {"tag": "deploy_notification", "bot_id": "B123"},
    {"tag": "island", "pattern": r"\bisland\b"},
    {"tag": "broadcast", "subtype": "thread_broadcast"},
    {"tag": "deploy_failed", "bot_id": ["B123", "B456"], "pattern": "(?i)failed"},
    {"tag": "island", "pattern": "land"},          # same tag twice → listed once
]


@pytest.fixture
def classifier():
    return Classifier.from_config(RULES)


def test_by_pattern_on_the_recorded_thread(classifier):
    parent, one, two, three = body("web-api/conversations.replies.openapi-example.json")["messages"]
    assert classifier.classify(parent) == ["island"]
    assert classifier.classify(one) == ["island"]
    assert classifier.classify(three) == ["island"]      # "land" via the duplicate rule
    history = body("web-api/conversations.history.openapi-example.json")["messages"]
    assert [classifier.classify(m) for m in history] == [[], []]


def test_by_bot_id_and_all_conditions_of_a_rule(classifier):
    ok = {"type": "message", "subtype": "bot_message", "bot_id": "B123", "text": "deployed"}
    failed = dict(ok, text="deploy FAILED")
    other_bot = dict(failed, bot_id="B999")
    assert classifier.classify(ok) == ["deploy_notification"]
    assert classifier.classify(failed) == ["deploy_notification", "deploy_failed"]
    assert classifier.classify(other_bot) == []


def test_by_subtype(classifier):
    msg = {"type": "message", "subtype": "thread_broadcast", "text": "fyi", "user": "U1"}
    assert classifier.classify(msg) == ["broadcast"]


def test_pattern_reads_bot_attachments_and_blocks(classifier):
    att = {"bot_id": "B456", "text": "", "attachments": [{"fallback": "Build failed"}]}
    blk = {"bot_id": "B456", "text": "",
           "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "job *failed*"}}]}
    assert classifier.classify(att) == ["deploy_failed"]
    assert classifier.classify(blk) == ["deploy_failed"]


def test_message_changed_is_classified_by_its_new_message(classifier):
    raw = {"subtype": "message_changed", "ts": "2.0",
           "message": {"text": "an island", "ts": "1.0"}, "previous_message": {"text": "x"}}
    assert classifier.classify(raw) == ["island"]
    assert classifier.classify({"subtype": "message_deleted", "deleted_ts": "1.0"}) == []


def test_empty_config():
    assert Classifier.from_config(None).classify({"text": "island"}) == []
    assert Classifier.from_config([]).classify({"text": "island"}) == []


def test_invalid_regex_names_rule_and_key():
    rules = [{"tag": "a", "bot_id": "B1"}, {"tag": "b", "subtype": "x"},
             {"tag": "c", "pattern": "deploy (v"}]
    with pytest.raises(ConfigError) as info:
        Classifier.from_config(rules)
    err = info.value
    assert isinstance(err, ClassifierRuleError)
    assert err.reason.startswith("rule 2: invalid regex in `pattern` 'deploy (v'")
    assert "missing )" in err.reason
    assert (err.rule_index, err.rule_key) == (2, "pattern")
    assert "rule 2: invalid regex" in str(err)
    assert err.exit_code == 2


@pytest.mark.parametrize("rule,index_key,needle", [
    ({"pattern": "x"}, (0, "tag"), "`tag` must be"),
    ({"tag": "x"}, (0, None), "needs at least one of"),
    ({"tag": "x", "bot": "B1"}, (0, "bot"), "unknown key 'bot'"),
    ({"tag": "x", "bot_id": 5}, (0, "bot_id"), "`bot_id` must be"),
    ({"tag": "x", "pattern": ["a"]}, (0, "pattern"), "`pattern` must be a string"),
    ("deploy", (0, None), "must be a mapping"),
])
def test_other_invalid_rules(rule, index_key, needle):
    with pytest.raises(ClassifierRuleError) as info:
        Classifier.from_config([rule])
    assert (info.value.rule_index, info.value.rule_key) == index_key
    assert info.value.reason.startswith("rule 0: ") and needle in info.value.reason


def test_rules_must_be_a_list():
    with pytest.raises(ConfigError, match="must be a list"):
        Classifier.from_config({"tag": "x", "bot_id": "B1"})
