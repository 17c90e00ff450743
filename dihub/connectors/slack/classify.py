"""Tag Slack messages by configured rules (deploy notifications, incidents, ...).

A rule is a mapping with a `tag` and at least one condition; every condition a
rule names must hold (AND), and a message gets the tags of all matching rules,
in rule order, each once:

    - {tag: deploy_notification, bot_id: B0123456}          # or a list of ids
    - {tag: incident, pattern: "(?i)\\bsev[12]\\b"}          # re.search
    - {tag: broadcast, subtype: thread_broadcast}           # or a list
    - {tag: deploy_failed, bot_id: B0123456, pattern: failed}

`pattern` is searched in the message text and in the text of its attachments
and section blocks (bots often post there). It runs whether or not the text is
stored: the tag is kept, the text is not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dihub.errors import ConfigError

CONDITIONS = ("bot_id", "pattern", "subtype")
_ATTACHMENT_TEXT = ("pretext", "title", "text", "fallback")


class ClassifierRuleError(ConfigError):
    """A rule is invalid. `reason` is the bare message ("rule 2: ..."), `rule_index`
    (0-based, as in the YAML list) and `rule_key` say where, so the config loader
    can re-raise it with the file and line."""

    def __init__(self, index: int | None, key: str | None, problem: str):
        self.reason = f"rule {index}: {problem}" if index is not None else problem
        super().__init__(self.reason, hint="See the `classify:` rules in config.example.yaml.")
        self.rule_index, self.rule_key = index, key


@dataclass(frozen=True)
class Rule:
    tag: str
    bot_ids: frozenset[str] | None = None
    pattern: re.Pattern[str] | None = None
    subtypes: frozenset[str] | None = None

    def matches(self, message: Mapping[str, Any]) -> bool:
        if self.bot_ids is not None and message.get("bot_id") not in self.bot_ids:
            return False
        if self.subtypes is not None and message.get("subtype") not in self.subtypes:
            return False
        return self.pattern is None or self.pattern.search(searchable_text(message)) is not None


class Classifier:
    def __init__(self, rules: Sequence[Rule] = ()):
        self.rules = tuple(rules)

    @classmethod
    def from_config(cls, rules: Sequence[Mapping[str, Any]] | None) -> Classifier:
        if rules is None:
            return cls()
        if not isinstance(rules, list | tuple):
            raise ClassifierRuleError(None, None, "the rules must be a list of mappings")
        return cls([_parse_rule(i, rule) for i, rule in enumerate(rules)])

    def classify(self, raw: Mapping[str, Any]) -> list[str]:
        """Tags of every matching rule, in rule order, without repeats."""
        message = raw
        if raw.get("subtype") in ("message_changed", "message_replied"):
            if not isinstance(raw.get("message"), Mapping):
                return []
            message = raw["message"]
        elif raw.get("subtype") == "message_deleted":
            return []
        tags: list[str] = []
        for rule in self.rules:
            if rule.tag not in tags and rule.matches(message):
                tags.append(rule.tag)
        return tags


def searchable_text(message: Mapping[str, Any]) -> str:
    """The message text plus the text bots put in attachments and section blocks."""
    parts = [message.get("text")]
    for att in _dicts(message.get("attachments")):
        parts.extend(att.get(k) for k in _ATTACHMENT_TEXT)
        parts.extend(f.get("value") for f in _dicts(att.get("fields")))
    for block in _dicts(message.get("blocks")):
        for obj in (block.get("text"), *_dicts(block.get("fields"))):
            if isinstance(obj, Mapping):
                parts.append(obj.get("text"))
    return "\n".join(p for p in parts if isinstance(p, str) and p)


def _parse_rule(index: int, raw: Any) -> Rule:
    if not isinstance(raw, Mapping):
        raise ClassifierRuleError(index, None, "must be a mapping with `tag` and a condition")
    unknown = sorted(set(raw) - {"tag", *CONDITIONS})
    if unknown:
        raise ClassifierRuleError(index, unknown[0], f"unknown key {unknown[0]!r} "
                                  f"(a rule has `tag` and any of {', '.join(CONDITIONS)})")
    tag = raw.get("tag")
    if not isinstance(tag, str) or not tag.strip():
        raise ClassifierRuleError(index, "tag", "`tag` must be a non-empty string")
    if not any(raw.get(k) is not None for k in CONDITIONS):
        raise ClassifierRuleError(index, None, f"tag {tag!r} needs at least one of "
                                  f"{', '.join(CONDITIONS)}")
    pattern = None
    if raw.get("pattern") is not None:
        if not isinstance(raw["pattern"], str):
            raise ClassifierRuleError(index, "pattern", "`pattern` must be a string")
        try:
            pattern = re.compile(raw["pattern"])
        except re.error as exc:
            raise ClassifierRuleError(
                index, "pattern", f"invalid regex in `pattern` {raw['pattern']!r}: {exc}",
            ) from None
    return Rule(tag=tag, bot_ids=_names(index, "bot_id", raw.get("bot_id")), pattern=pattern,
                subtypes=_names(index, "subtype", raw.get("subtype")))


def _names(index: int, key: str, value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not values or not all(
            isinstance(v, str) and v for v in values):
        raise ClassifierRuleError(index, key, f"`{key}` must be a string or a list of strings")
    return frozenset(values)


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
