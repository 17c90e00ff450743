"""People: the accounts of every source grouped into persons, from the stored records only.

An account is a stored user record, named by its key `<source>:<user_id>` (`github:1001`,
`git:email:alice@example.com`, `jira:5b10ac8d82e05b22cc7d4ef5`, `slack:U012AB3CD`). Every
record keeps its own account id; `Identities.person_id(source, user_id)` resolves it:

    ids = Identities.load(store)                   # from the stored `hub` people records
    ids.person_id("git", commit["author_id"])      # -> "p_3f2a9c0d1e4b" or None
    ids.person_of_email("Alice@Example.com")       # by email, case-insensitive
    ids.person("p_3f2a9c0d1e4b")                   # the people record (merges followed)
    ids.is_bot("p_...")

Accounts are joined when (and only when):

* they have the same email, compared case-insensitively (git identities, GitHub commit
  authors, Jira and Slack profiles);
* one's email is the GitHub noreply address of the other (`12345+login@users.noreply.
  github.com` -> GitHub account 12345 of a github.com source; the old `login@users.noreply.
  github.com` -> that login), or the GitLab one (`12345-login@users.noreply.gitlab.com`);
* a GitHub account and a git email are the author (or the committer) of the same commit;
* `identities.yaml` lists them under one person (`people:`).

Never: by name (names only *suggest*: `suggest()`), through a shared address
(`noreply@github.com`, `identities.shared_emails`, the `split:` list of the identities
file), nor between a bot and a human. Bots: logins ending in `[bot]`, GitHub accounts of
type Bot, `web-flow`, Jira app accounts, Slack bot users (USLACKBOT and users that post as a
bot), and `bots:` of the config or identities file.

`person_id` is `p_` + the first 12 hex digits of the SHA-256 of the group's smallest
account key: the same groups give the same ids on every run. A person absorbed by another
keeps its record, with `merged_into`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dihub.hub.dataset import HUB_SOURCE, Dataset
from dihub.models.records import Account, Person

SHARED_EMAILS = ("noreply@github.com", "noreply@gitlab.com")
WEB_FLOW = "web-flow"
SLACKBOT = "USLACKBOT"
_GH_NOREPLY = re.compile(r"^(?:(\d+)\+)?([^@+]+)@users\.noreply\.github\.com$")
_GL_NOREPLY = re.compile(r"^(\d+)-([^@]+)@users\.noreply\.gitlab\.com$")


def account_key(source: str, user_id: str) -> str:
    return f"{source}:{user_id}"


def make_person_id(first_account: str) -> str:
    return "p_" + hashlib.sha256(first_account.encode("utf-8")).hexdigest()[:12]


# ------------------------------------------------------------------------ resolution API


class Identities:
    """Account -> person, read from the stored people records (source `hub`)."""

    def __init__(self, people: Iterable[dict[str, Any]]):
        self._people: dict[str, dict[str, Any]] = {}
        self._by_account: dict[str, str] = {}
        self._by_email: dict[str, str] = {}
        for doc in people:
            self._people[doc["person_id"]] = doc
            for acct in doc.get("accounts") or []:
                self._by_account[account_key(acct["source"], acct["user_id"])] = \
                    doc["person_id"]
            for email in doc.get("emails") or []:
                self._by_email.setdefault(email.lower(), doc["person_id"])

    @classmethod
    def load(cls, store: Any) -> Identities:
        return cls(store.iter_records("people", source=HUB_SOURCE))

    def person_id(self, source: str, user_id: str | None) -> str | None:
        """The person of account `user_id` of `source` (a record's author_id, assignee_id,
        reviewer_id, user_id ...); None when the account is unknown to the hub."""
        if not user_id:
            return None
        found = self._by_account.get(account_key(source, str(user_id)))
        if found is None and str(user_id).startswith("email:"):
            found = self.person_of_email(str(user_id)[len("email:"):])
        return self._follow(found)

    def person_of_email(self, email: str | None) -> str | None:
        if not email:
            return None
        return self._follow(self._by_email.get(email.strip().lower()))

    def person(self, person_id: str | None) -> dict[str, Any] | None:
        pid = self._follow(person_id)
        return self._people.get(pid) if pid else None

    def is_bot(self, person_id: str | None) -> bool:
        person = self.person(person_id)
        return bool(person and person.get("is_bot"))

    def people(self) -> list[dict[str, Any]]:
        """The current people (not those merged into another)."""
        return [p for p in self._people.values() if not p.get("merged_into")]

    def _follow(self, person_id: str | None) -> str | None:
        seen = set()
        while person_id and person_id in self._people and person_id not in seen:
            seen.add(person_id)
            nxt = self._people[person_id].get("merged_into")
            if not nxt:
                return person_id
            person_id = nxt
        return person_id


# ------------------------------------------------------------------------ the rules


@dataclass
class IdentityRules:
    """The configurable part: from `identities:` of the config plus its identities file."""

    shared_emails: list[str] = field(default_factory=list)   # fnmatch patterns
    bots: list[str] = field(default_factory=list)            # refs/patterns, see is_bot_ref
    split: list[str] = field(default_factory=list)           # refs never joined automatically
    people: list[dict[str, Any]] = field(default_factory=list)   # manual merges

    @classmethod
    def from_settings(cls, settings: Any) -> IdentityRules:
        cfg = getattr(settings, "identities", None)
        rules = cls(shared_emails=list(getattr(cfg, "shared_emails", None) or []),
                    bots=list(getattr(cfg, "bots", None) or []))
        path = getattr(cfg, "file", None)
        if path:
            rules.add_file(Path(path))
        return rules

    def add_file(self, path: Path) -> None:
        from dihub.errors import ConfigError

        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("identities file not found", path=str(path),
                              hint="Create it (see `identities:` in config.example.yaml) or "
                                   "remove identities.file from the config.") from None
        self.add_yaml(text, str(path))

    def add_yaml(self, text: str, shown: str = "identities.yaml") -> None:
        import yaml

        from dihub.errors import ConfigError

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML: {exc}", path=shown) from None
        if not isinstance(data, dict):
            raise ConfigError("the top level must be a mapping (people:, split:, bots:, "
                              "shared_emails:)", path=shown)
        unknown = sorted(set(data) - {"people", "split", "bots", "shared_emails"})
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r}", path=shown, key=unknown[0],
                              hint="Keys: people, split, bots, shared_emails.")
        for key in ("split", "bots", "shared_emails"):
            value = data.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError("must be a list of strings", path=shown, key=key)
            getattr(self, key).extend(value)
        people = data.get("people") or []
        if not isinstance(people, list):
            raise ConfigError("must be a list of people", path=shown, key="people")
        for i, entry in enumerate(people):
            if not isinstance(entry, dict) or set(entry) - {"name", "accounts", "emails"}:
                raise ConfigError("each person is a mapping of name, accounts, emails",
                                  path=shown, key=f"people.{i}")
            self.people.append({"name": entry.get("name"),
                                "accounts": [str(a) for a in entry.get("accounts") or []],
                                "emails": [str(e).lower() for e in entry.get("emails") or []]})

    def fingerprint(self) -> str:
        import json

        body = json.dumps([self.shared_emails, self.bots, self.split, self.people],
                          sort_keys=True)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    def is_shared(self, email: str) -> bool:
        return email in SHARED_EMAILS or any(fnmatch.fnmatchcase(email, p.lower())
                                             for p in self.shared_emails) \
            or f"email:{email}" in self.split

    def is_split(self, key: str, email: str | None) -> bool:
        return key in self.split

    def is_bot_ref(self, key: str, login: str | None, email: str | None,
                   name: str | None) -> bool:
        """A `bots:` entry matches the account key (`github:1001`), `login:NAME`,
        `email:ADDR` or `name:DISPLAY NAME`; each may be an fnmatch pattern."""
        refs = [key]
        if login:
            refs.append(f"login:{login}")
        if email:
            refs.append(f"email:{email}")
        if name:
            refs.append(f"name:{name}")
        return any(fnmatch.fnmatchcase(ref, pattern) for pattern in self.bots for ref in refs)


# ------------------------------------------------------------------------ grouping


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def add(self, node: str) -> None:
        self.parent.setdefault(node, node)

    def find(self, node: str) -> str:
        self.add(node)
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class _Acct:
    source: str
    user_id: str
    login: str | None = None
    display_name: str | None = None
    email: str | None = None
    is_bot: bool = False
    updated_at: str | None = None

    @property
    def key(self) -> str:
        return account_key(self.source, self.user_id)


def normalized_email(value: str | None) -> str | None:
    email = (value or "").strip().lower()
    return email or None


class Resolver:
    """Builds the people from accounts and facts. `seed(people)` starts from stored people
    (incremental); `add_user`, `add_commit`, `add_slack_event` add facts; `people()`."""

    def __init__(self, dataset: Dataset, rules: IdentityRules):
        self.ds = dataset
        self.rules = rules
        self.uf = _Union()
        self.accounts: dict[str, _Acct] = {}
        self.reasons: dict[str, set[str]] = {}      # node -> why it was joined
        self.bot_ids: set[str] = set()              # account keys known as bots by facts
        self.stamps: dict[str, str] = {}            # node -> updated_at of a stored person
        self._github_com = {s for s in dataset.sources("github")
                            if _is_github_com(dataset.source_setting(s, "base_url"))}
        self._gitlab_com = {s for s in dataset.sources("gitlab")
                            if "gitlab.com" in str(dataset.source_setting(
                                s, "base_url", "https://gitlab.com"))}
        self._by_login: dict[tuple[str, str], str] = {}

    # -- facts --------------------------------------------------------------
    def seed(self, people: Iterable[dict[str, Any]]) -> None:
        """Start from stored people: their accounts stay joined (merges only grow)."""
        for person in people:
            if person.get("merged_into"):
                continue
            keys = []
            for a in person.get("accounts") or []:
                acct = _Acct(a["source"], a["user_id"], a.get("login"),
                             a.get("display_name"), a.get("email"), bool(a.get("is_bot")))
                self._account(acct)
                keys.append(acct.key)
                if acct.is_bot:
                    self.bot_ids.add(acct.key)
            for email in person.get("emails") or []:
                keys.append(self._email_node(email, person.get("is_bot")))
            for k in keys[1:]:
                self.uf.union(keys[0], k)
            if keys:
                self.reasons.setdefault(keys[0], set()).update(person.get("reasons") or [])
                if person.get("updated_at"):
                    self.stamps[keys[0]] = person["updated_at"]

    def add_user(self, doc: dict[str, Any]) -> None:
        uid = str(doc.get("user_id") or doc.get("source_id"))
        email = normalized_email(doc.get("email"))
        if email is None and uid.startswith("email:"):
            email = uid[len("email:"):]
        acct = _Acct(doc["source"], uid, doc.get("login"), doc.get("display_name"), email,
                     updated_at=doc.get("updated_at"))
        acct.is_bot = self._bot(acct, doc.get("account_type"))
        self._account(acct)
        if email and not self.rules.is_shared(email) \
                and not self.rules.is_split(acct.key, email):
            self._join(acct.key, self._email_node(email, acct.is_bot), "same email")
            self._noreply(acct, email)

    def add_commit(self, doc: dict[str, Any]) -> None:
        """A commit of a GitHub/GitLab source joins the account that made it with the git
        email written in it (author with author, committer with committer)."""
        source = doc.get("source", "")
        if self.ds.connector_of(source) not in ("github", "gitlab"):
            return
        for role in ("author", "committer"):
            uid, email = doc.get(f"{role}_id"), normalized_email(doc.get(f"{role}_email"))
            if not uid or not email or str(uid).startswith(("email:", "name:")):
                continue
            key = account_key(source, str(uid))
            acct = self.accounts.get(key)
            if acct is None or acct.is_bot or acct.login == WEB_FLOW or key in self.bot_ids:
                continue
            if self.rules.is_shared(email) or self.rules.is_split(key, email) \
                    or _bot_email(email) or self.rules.is_bot_ref(key, None, email, None):
                continue
            self._join(key, self._email_node(email, False),
                       f"commit {role} email")

    def add_slack_event(self, doc: dict[str, Any]) -> None:
        if doc.get("bot_id") and doc.get("user_id"):
            key = account_key(doc["source"], doc["user_id"])
            self.bot_ids.add(key)
            if key in self.accounts:
                self.accounts[key].is_bot = True

    # -- output -------------------------------------------------------------
    def people(self) -> list[Person]:
        self._manual()
        groups: dict[str, list[str]] = {}
        for node in list(self.uf.parent):
            groups.setdefault(self.uf.find(node), []).append(node)
        out = []
        for nodes in groups.values():
            accts = sorted((self.accounts[n] for n in nodes if n in self.accounts),
                           key=lambda a: a.key)
            if not accts:
                continue
            for a in accts:
                if a.key in self.bot_ids:
                    a.is_bot = True
            emails = sorted({n.split(":", 1)[1] for n in nodes if n.startswith("email")}
                            | {a.email for a in accts if a.email})
            reasons = sorted(set().union(*(self.reasons.get(n, set()) for n in nodes)))
            names = [a.display_name for a in accts if a.display_name]
            manual = next((p["name"] for p in self.rules.people if p.get("name")
                           and set(p["accounts"]) & {a.key for a in accts}), None)
            stamps = [a.updated_at for a in accts if a.updated_at] + [
                self.stamps[n] for n in nodes if n in self.stamps]
            out.append(Person(
                source=HUB_SOURCE, source_id=make_person_id(accts[0].key),
                person_id=make_person_id(accts[0].key),
                display_name=manual or (max(set(names), key=lambda n: (names.count(n), n))
                                        if names else None),
                emails=emails, logins=sorted({a.login for a in accts if a.login}),
                accounts=[Account(source=a.source, user_id=a.user_id, login=a.login,
                                  display_name=a.display_name, email=a.email,
                                  is_bot=a.is_bot) for a in accts],
                is_bot=any(a.is_bot for a in accts), reasons=reasons,
                updated_at=max(stamps) if stamps else None))
        return sorted(out, key=lambda p: p.person_id)

    # -- helpers ------------------------------------------------------------
    def _account(self, acct: _Acct) -> None:
        old = self.accounts.get(acct.key)
        if old is not None:
            acct.is_bot = acct.is_bot or old.is_bot
            acct.updated_at = max(filter(None, (acct.updated_at, old.updated_at)),
                                  default=None)
        self.accounts[acct.key] = acct
        self.uf.add(acct.key)
        if acct.login:
            self._by_login[(acct.source, acct.login.lower())] = acct.key

    def _bot(self, acct: _Acct, account_type: str | None) -> bool:
        login = acct.login or ""
        return (login.endswith("[bot]") or login == WEB_FLOW
                or (account_type or "").lower() in ("bot", "app")
                or acct.user_id == SLACKBOT or acct.key in self.bot_ids
                or (acct.display_name or "").endswith("[bot]")
                or (acct.email is not None and _bot_email(acct.email))
                or self.rules.is_bot_ref(acct.key, acct.login, acct.email, acct.display_name))

    def _email_node(self, email: str, bot: bool | None) -> str:
        # bots and humans never share a node: a human using a bot's address stays apart
        node = f"{'email-bot' if bot else 'email'}:{email.lower()}"
        self.uf.add(node)
        return node

    def _join(self, a: str, b: str, reason: str) -> None:
        self.uf.union(a, b)
        self.reasons.setdefault(a, set()).add(reason)

    def _noreply(self, acct: _Acct, email: str) -> None:
        gh = _GH_NOREPLY.match(email)
        if gh and self._github_com:
            number, login = gh.groups()
            for source in sorted(self._github_com):
                if number:
                    target = account_key(source, number)
                    self.uf.add(target)
                    self.accounts.setdefault(target, _Acct(source, number, login))
                    self._join(acct.key, target, "GitHub noreply address")
                else:
                    target = self._by_login.get((source, login.lower()))
                    if target:
                        self._join(acct.key, target, "GitHub noreply address")
        gl = _GL_NOREPLY.match(email)
        if gl and self._gitlab_com:
            for source in sorted(self._gitlab_com):
                target = account_key(source, gl.group(1))
                self.uf.add(target)
                self.accounts.setdefault(target, _Acct(source, gl.group(1), gl.group(2)))
                self._join(acct.key, target, "GitLab noreply address")

    def _manual(self) -> None:
        for entry in self.rules.people:
            nodes = []
            for ref in entry["accounts"]:
                source, _, rest = ref.partition(":")
                if rest.startswith("login:"):
                    key = self._by_login.get((source, rest[len("login:"):].lower()))
                    if key:
                        nodes.append(key)
                elif ref in self.accounts:
                    nodes.append(ref)
            nodes += [self._email_node(e, False) for e in entry["emails"]]
            for n in nodes[1:]:
                self._join(nodes[0], n, "identities file")
            if nodes:
                self.reasons.setdefault(nodes[0], set()).add("identities file")


def _is_github_com(base_url: Any) -> bool:
    return base_url is None or "api.github.com" in str(base_url) \
        or str(base_url).rstrip("/") in ("https://github.com",)


def _bot_email(email: str) -> bool:
    return "[bot]@" in email


# ------------------------------------------------------------------------ suggestions


def name_key(name: str | None) -> str:
    """A display name compared loosely: accents, case, punctuation and order ignored."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(sorted(re.findall(r"[a-z0-9]+", text)))


def suggest(people: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pairs of people (not bots) whose account names look alike: same name ignoring
    case, accents, punctuation and word order. Suggestions only: nothing is merged."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for person in people:
        if person.get("merged_into") or person.get("is_bot"):
            continue
        keys = {name_key(a.get("display_name")) for a in person.get("accounts") or []}
        keys |= {name_key(person.get("display_name"))}
        for key in keys - {""}:
            by_name.setdefault(key, []).append(person)
    out = []
    seen = set()
    for key, group in sorted(by_name.items()):
        group = sorted({p["person_id"]: p for p in group}.values(), key=lambda p: p["person_id"])
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                pair = (a["person_id"], b["person_id"])
                if pair not in seen:
                    seen.add(pair)
                    out.append({"name": key, "people": list(pair),
                                "accounts": [[account_key(x["source"], x["user_id"])
                                              for x in p.get("accounts") or []]
                                             for p in (a, b)]})
    return out
