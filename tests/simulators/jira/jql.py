"""A JQL subset: enough to search like the connector and to reject like Jira.

    clause  := field op value | field [NOT] IN (v, ...) | field IS [NOT] EMPTY
    fields  := project, key/issuekey, id, updated, created, resolved, status, type/issuetype,
               assignee, reporter, labels, sprint, summary (~)
    query   := [or-expression] [ORDER BY field [ASC|DESC], ...]   (AND, OR, NOT, parentheses)

Dates (`yyyy/MM/dd HH:mm`, `yyyy-MM-dd HH:mm`, `yyyy/MM/dd`, `yyyy-MM-dd`, `-5d`, `-2h`,
`-30m`, `-1w`) are read in the searching account's time zone, by the minute, as Jira
does; a bare number is milliseconds since the epoch (UTC), as Jira reads one. Errors
carry Jira's wording; the server answers them with 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .data import Dataset, SimIssue

_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<op>!=|>=|<=|!~|=|>|<|~)|(?P<punct>[(),])|(?P<word>[^\s(),=!<>~"']+))""", re.X)
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_PERIOD = re.compile(r"^([-+]?)(\d+)([wdhm])$")
_SORTABLE = {"updated", "created", "key", "issuekey", "id"}
ALIASES = {"issuekey": "key", "issuetype": "type", "resolutiondate": "resolved"}
FIELDS = {"project", "key", "id", "updated", "created", "resolved", "status", "type",
          "assignee", "reporter", "labels", "sprint", "summary"}


class JqlError(Exception):
    pass


@dataclass
class Tok:
    kind: str
    text: str
    pos: int           # 1-based character

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


@dataclass
class Query:
    where: Callable[[SimIssue], bool] | None
    order: list[tuple[str, bool]]          # (field, descending)

    @property
    def bounded(self) -> bool:
        return self.where is not None

    def sort_key(self, issue: SimIssue) -> tuple:
        parts: list[float] = []
        for name, desc in self.order or [("created", True)]:
            value = _sort_value(issue, name)
            parts.append(-value if desc else value)
        return (*parts, issue.id)


def _sort_value(issue: SimIssue, name: str) -> float:
    if name == "updated":
        return issue.updated.timestamp()
    if name == "created":
        return issue.created.timestamp()
    if name == "key":
        return (0 if issue.project == "DIH" else 1) * 10**7 + issue.number
    return float(issue.id)


def tokenize(text: str) -> list[Tok]:
    toks, i = [], 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            raise JqlError(f"Error in the JQL Query: The character '{text[i]}' is a reserved "
                           f"JQL character. (line 1, character {i + 1})")
        kind = m.lastgroup or "word"
        start = m.start(kind)
        raw = m.group(kind)
        if kind == "str":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        toks.append(Tok(kind, raw, start + 1))
        i = m.end()
    return toks


class _Parser:
    def __init__(self, text: str, ds: Dataset, now: datetime):
        self.toks, self.i, self.ds, self.now = tokenize(text), 0, ds, now
        self.end = len(text) + 1

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise JqlError("Error in the JQL Query: Expecting a field name but reached the "
                           f"end of the query. (line 1, character {self.end})")
        self.i += 1
        return tok

    def expect(self, what: str, ok: Callable[[Tok], bool]) -> Tok:
        tok = self.peek()
        if tok is None or not ok(tok):
            got = f"got '{tok.text}'" if tok else "reached the end of the query"
            where = tok.pos if tok else self.end
            raise JqlError(f"Error in the JQL Query: Expecting {what} but {got}. "
                           f"(line 1, character {where})")
        self.i += 1
        return tok

    def query(self) -> Query:
        where = None
        tok = self.peek()
        if tok is not None and tok.upper != "ORDER":
            where = self.or_expr()
        order: list[tuple[str, bool]] = []
        tok = self.peek()
        if tok is not None:
            self.expect("either 'OR' or 'AND'", lambda t: t.upper == "ORDER")
            self.expect("'BY'", lambda t: t.upper == "BY")
            while True:
                f = self.expect("a field name", lambda t: t.kind in ("word", "str"))
                name = ALIASES.get(f.text.lower(), f.text.lower())
                if name not in _SORTABLE:
                    raise JqlError(f"Not able to sort using field '{f.text}'.")
                desc = False
                nxt = self.peek()
                if nxt is not None and nxt.upper in ("ASC", "DESC"):
                    desc = self.take().upper == "DESC"
                order.append((name, desc))
                if self.peek() is None:
                    break
                self.expect("',' or the end of the query", lambda t: t.text == ",")
        return Query(where, order)

    def or_expr(self):
        parts = [self.and_expr()]
        while (t := self.peek()) is not None and t.upper == "OR":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda i: any(p(i) for p in parts))

    def and_expr(self):
        parts = [self.not_expr()]
        while (t := self.peek()) is not None and t.upper == "AND":
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else (lambda i: all(p(i) for p in parts))

    def not_expr(self):
        t = self.peek()
        if t is not None and t.upper == "NOT":
            self.take()
            inner = self.not_expr()
            return lambda i: not inner(i)
        if t is not None and t.text == "(" and t.kind == "punct":
            self.take()
            inner = self.or_expr()
            self.expect("')'", lambda x: x.text == ")")
            return inner
        return self.clause()

    def clause(self):
        f = self.expect("a field name", lambda t: t.kind in ("word", "str"))
        name = ALIASES.get(f.text.lower(), f.text.lower())
        if name not in FIELDS:
            raise JqlError(f"Field '{f.text}' does not exist or you do not have permission "
                           "to view it.")
        t = self.take()
        if t.upper == "IS":
            negate = self.peek() is not None and self.peek().upper == "NOT"
            if negate:
                self.take()
            self.expect("'EMPTY'", lambda x: x.upper in ("EMPTY", "NULL"))
            return lambda i: (_get(i, name) in (None, [], "")) != negate
        if t.upper in ("IN", "NOT"):
            negate = t.upper == "NOT"
            if negate:
                self.expect("'IN'", lambda x: x.upper == "IN")
            self.expect("'('", lambda x: x.text == "(")
            values = [self.value(name)]
            while self.peek() is not None and self.peek().text == ",":
                self.take()
                values.append(self.value(name))
            self.expect("')'", lambda x: x.text == ")")
            return lambda i: any(_match(_get(i, name), v) for v in values) != negate
        if t.kind != "op":
            raise JqlError(f"Error in the JQL Query: Expecting operator but got '{t.text}'. "
                           f"The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', "
                           f"'!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'. "
                           f"(line 1, character {t.pos})")
        value = self.value(name)
        return _compare(name, t.text, value)

    def value(self, name: str) -> Any:
        t = self.expect("either a value, an empty string or a function",
                        lambda x: x.kind in ("word", "str"))
        nxt = self.peek()
        if t.kind == "word" and nxt is not None and nxt.text == "(":
            raise JqlError(f"Unable to find JQL function '{t.text}()'.")
        return self.ds_value(name, t.text)

    def ds_value(self, name: str, text: str) -> Any:
        ds = self.ds
        if name in ("updated", "created", "resolved"):
            return self.date(name, text)
        if name == "project":
            for key, p in ds.projects.items():
                if text.upper() == key or text.lower() == p["name"].lower():
                    return key
            raise JqlError(f"The value '{text}' does not exist for the field 'project'.")
        if name == "key":
            if text.upper() not in ds.by_key:
                raise JqlError(f"An issue with key '{text}' does not exist for field 'key'.")
            return text.upper()
        if name == "status":
            from .data import STATUSES
            match = next((s for s in STATUSES if s.lower() == text.lower()), None)
            if match is None:
                raise JqlError(f"The value '{text}' does not exist for the field 'status'.")
            return match
        if name in ("id", "sprint"):
            return int(text) if text.isdigit() else text
        return text

    def date(self, name: str, text: str) -> datetime:
        m = _PERIOD.match(text.strip())
        if m:
            sign = -1 if m.group(1) == "-" else 1
            unit = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}[m.group(3)]
            return self.now + sign * timedelta(**{unit: int(m.group(2))})
        if text.strip().isdigit():              # milliseconds since the epoch
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(text.strip(), fmt).replace(tzinfo=self.ds.zone)
            except ValueError:
                continue
        raise JqlError(f"Date value '{text}' for field '{name}' is invalid. Valid formats "
                       "include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', "
                       "'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")


def _get(issue: SimIssue, name: str) -> Any:
    f = issue.fields
    if name == "updated":
        return issue.updated
    if name == "created":
        return issue.created
    if name == "resolved":
        return issue.history_times[-1] if f.get("resolutiondate") else None
    if name in ("assignee", "reporter"):
        u = f.get(name)
        return (u.get("accountId") or u.get("name")) if u else None
    return {"project": issue.project, "key": issue.key, "id": issue.id,
            "status": issue.status, "type": (f.get("issuetype") or {}).get("name"),
            "labels": f.get("labels") or [], "sprint": issue.sprint_ids,
            "summary": f.get("summary") or ""}[name]


def _match(actual: Any, value: Any) -> bool:
    if isinstance(actual, list):
        return any(_match(a, value) for a in actual)
    if isinstance(actual, str) and isinstance(value, str):
        return actual.lower() == value.lower()
    return actual == value


def _compare(name: str, op: str, value: Any):
    if op == "~":
        return lambda i: str(value).lower() in str(_get(i, name)).lower()
    if op == "!~":
        return lambda i: str(value).lower() not in str(_get(i, name)).lower()
    if op == "=":
        return lambda i: _match(_get(i, name), value)
    if op == "!=":
        return lambda i: not _match(_get(i, name), value)
    if name not in ("updated", "created", "resolved", "id"):
        raise JqlError(f"The operator '{op}' is not supported by the '{name}' field.")
    ops = {">": lambda a: a > value, ">=": lambda a: a >= value,
           "<": lambda a: a < value, "<=": lambda a: a <= value}[op]
    return lambda i: (a := _get(i, name)) is not None and ops(a)


def parse(text: str, ds: Dataset, now: datetime) -> Query:
    return _Parser(text or "", ds, now).query()
