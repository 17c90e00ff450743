"""A stable pool of GitHub accounts shared by every generated item.

Each account is the `author` object of commits-list.openapi-example.json (the
current "simple user" shape) with its login, id, node_id and URLs replaced.
"""

from __future__ import annotations

from typing import Any

from . import fixtures
from .common import API, WEB, node_id

LOGINS = (
    "ada-l", "grace-h", "linus-t", "margaret-h", "ken-t", "dennis-r", "barbara-l", "alan-k",
    "donald-k", "edsger-d", "frances-a", "john-m", "niklaus-w", "radia-p", "shafi-g", "tim-bl",
    "vint-c", "whitfield-d", "yukihiro-m", "guido-vr", "bjarne-s", "james-g", "anders-h",
    "brendan-e", "rich-h", "jose-v", "rob-p", "russ-c", "sandi-m", "kent-b", "martin-f",
    "ward-c", "erich-g", "rebecca-w", "sophie-w", "hedy-l", "katherine-j", "dorothy-v",
    "mary-j", "annie-e", "evelyn-b", "jean-s", "betty-h", "kathleen-b", "adele-g",
    "lynn-c", "carol-s", "susan-k", "dependabot[bot]", "renovate[bot]",
)
BOT_IDS = {"dependabot[bot]": 49699333, "renovate[bot]": 29139614}   # their real account ids
WEB_FLOW = ("web-flow", 19864447)        # GitHub's committer account for web merges
FIRST_ID = 5_830_001


def user_object(login: str, uid: int, kind: str = "User") -> dict[str, Any]:
    """The fixture's user object rewritten for `login`/`uid` (kind: User, Bot, Organization)."""
    user = fixtures.first_item(fixtures.COMMIT)["author"]
    for key, value in user.items():
        if isinstance(value, str) and key.endswith("url") and "octocat" in value:
            user[key] = value.replace("octocat", login)
    user.update(
        login=login, id=uid, node_id=node_id(kind if kind != "Bot" else "Bot", uid),
        avatar_url=f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        url=f"{API}/users/{login}", html_url=f"{WEB}/{login}", type=kind, site_admin=False,
    )
    if kind == "Bot":
        user["html_url"] = f"{WEB}/apps/{login.removesuffix('[bot]')}"
    return user


class UserPool:
    """~50 logins with stable ids; `pick(rng)` favours humans, bots appear now and then."""

    def __init__(self, logins: tuple[str, ...] = LOGINS):
        self.by_login: dict[str, dict[str, Any]] = {}
        for i, login in enumerate(logins):
            kind = "Bot" if login.endswith("[bot]") else "User"
            uid = BOT_IDS.get(login, FIRST_ID + 37 * i)
            self.by_login[login] = user_object(login, uid, kind)
        self.humans = [u for u in self.by_login.values() if u["type"] == "User"]
        self.bots = [u for u in self.by_login.values() if u["type"] == "Bot"]
        self.web_flow = user_object(*WEB_FLOW)
        self._orgs: dict[str, dict[str, Any]] = {}

    def __getitem__(self, login: str) -> dict[str, Any]:
        return self.by_login[login]

    def __iter__(self):
        return iter(self.by_login.values())

    def __len__(self) -> int:
        return len(self.by_login)

    def get(self, who: str | dict[str, Any] | None) -> dict[str, Any] | None:
        """A login or a user object → the pooled object (unknown logins are added)."""
        if who is None or isinstance(who, dict):
            return who
        if who not in self.by_login:
            kind = "Bot" if who.endswith("[bot]") else "User"
            self.by_login[who] = user_object(who, FIRST_ID + 37 * len(self.by_login), kind)
        return self.by_login[who]

    def pick(self, rng, bot_share: float = 0.05) -> dict[str, Any]:
        if self.bots and rng.random() < bot_share:
            return rng.choice(self.bots)
        return rng.choice(self.humans)

    def org(self, login: str) -> dict[str, Any]:
        """The owner object of an organization (ids stable by name)."""
        if login not in self._orgs:
            uid = 9_100_000 + sum(ord(c) * (i + 1) for i, c in enumerate(login)) % 900_000
            self._orgs[login] = user_object(login, uid, "Organization")
        return self._orgs[login]

    @property
    def orgs(self) -> dict[str, dict[str, Any]]:
        return self._orgs


def identity(user: dict[str, Any] | None, fallback: tuple[str, str]) -> tuple[str, str]:
    """(name, email) a commit carries for this account: the noreply address GitHub uses."""
    if user is None:
        return fallback
    name = user["login"].replace("-", " ").title()
    return name, f"{user['id']}+{user['login']}@users.noreply.github.com"
