"""People from accounts: the tricky cases of issue 12 (different emails joined by the
identities file, noreply addresses, bots, two people sharing a display name)."""

from __future__ import annotations

from dihub.hub import refresh
from dihub.hub.identities import Identities, make_person_id, suggest
from dihub.models.records import Commit, SlackEvent, User
from tests.unit.hub.hubdata import groups, put, settings, store

IDENTITIES = """
people:
  - name: Alice Smith
    accounts: ["git:email:alice@home.example", "github:login:alice"]
"""


def _accounts(s):
    put(s,
        # GitHub accounts
        User(source="github", source_id="1001", user_id="1001", source_user_id="1001",
             login="alice", display_name="Alice Smith", account_type="User"),
        User(source="github", source_id="1002", user_id="1002", source_user_id="1002",
             login="akim", display_name="Alex Kim", account_type="User"),
        User(source="github", source_id="49699333", user_id="49699333",
             source_user_id="49699333", login="dependabot[bot]", account_type="Bot"),
        User(source="github", source_id="19864447", user_id="19864447",
             source_user_id="19864447", login="web-flow", display_name="GitHub Web Flow",
             account_type="User"),
        # git identities
        User(source="git", source_id="email:alice@example.com", user_id="email:alice@example.com",
             source_user_id="email:alice@example.com", display_name="Alice Smith",
             email="alice@example.com"),
        User(source="git", source_id="email:alice@home.example",
             user_id="email:alice@home.example", source_user_id="email:alice@home.example",
             display_name="alice", email="alice@home.example"),
        User(source="git", source_id="email:1002+akim@users.noreply.github.com",
             user_id="email:1002+akim@users.noreply.github.com",
             source_user_id="email:1002+akim@users.noreply.github.com",
             display_name="Alex Kim", email="1002+akim@users.noreply.github.com"),
        User(source="git", source_id="email:noreply@github.com",
             user_id="email:noreply@github.com", source_user_id="email:noreply@github.com",
             display_name="GitHub", email="noreply@github.com"),
        User(source="git",
             source_id="email:49699333+dependabot[bot]@users.noreply.github.com",
             user_id="email:49699333+dependabot[bot]@users.noreply.github.com",
             source_user_id="email:49699333+dependabot[bot]@users.noreply.github.com",
             display_name="dependabot[bot]",
             email="49699333+dependabot[bot]@users.noreply.github.com"),
        # a second Alex Kim: another person, on Jira only
        User(source="jira", source_id="acc-1", user_id="acc-1", source_user_id="acc-1",
             display_name="Alice Smith", email="Alice@Example.com", account_type="atlassian"),
        User(source="jira", source_id="acc-2", user_id="acc-2", source_user_id="acc-2",
             display_name="Alex Kim", email="alex.kim@other.example",
             account_type="atlassian"),
        User(source="jira", source_id="app-1", user_id="app-1", source_user_id="app-1",
             display_name="Automation for Jira", account_type="app"),
        # Slack: alice by her profile email; a bot user that posts as a bot
        User(source="slack", source_id="U1", user_id="U1", source_user_id="U1",
             login="alice", display_name="alice", email="ALICE@example.com"),
        User(source="slack", source_id="U9", user_id="U9", source_user_id="U9",
             login="deploybot", display_name="deploybot"),
    )
    put(s,
        # a web merge: alice authored with her work address, web-flow committed
        Commit(source="github", source_id="7:" + "a" * 40, commit_id="a" * 40,
               repo="acme/shop", author_id="1001", committer_id="19864447",
               author_name="Alice Smith", author_email="alice@example.com",
               committer_name="GitHub", committer_email="noreply@github.com",
               message="SHOP-1 cart", timestamp="2026-03-01T10:00:00Z",
               updated_at="2026-03-01T10:00:00Z"),
        SlackEvent(source="slack", source_id="C1:1.0", event_id="C1:1.0", channel_id="C1",
                   user_id="U9", bot_id="B9", ts="1.0", timestamp="2026-03-01T00:00:00Z"))


def test_people_of_the_tricky_cases(tmp_path):
    s = store(tmp_path)
    _accounts(s)
    refresh(s, settings(tmp_path, identities=IDENTITIES))
    assert groups(s) == {
        # the identities file joins alice@home.example; the email joins git, Jira and Slack
        frozenset({"github:1001", "git:email:alice@example.com", "git:email:alice@home.example",
                   "jira:acc-1", "slack:U1"}),
        # the noreply address names GitHub account 1002
        frozenset({"github:1002", "git:email:1002+akim@users.noreply.github.com"}),
        # the same display name on Jira is not a join
        frozenset({"jira:acc-2"}),
        frozenset({"github:49699333",
                   "git:email:49699333+dependabot[bot]@users.noreply.github.com"}),
        # web-flow and the shared noreply@github.com join nobody
        frozenset({"github:19864447"}),
        frozenset({"git:email:noreply@github.com"}),
        frozenset({"jira:app-1"}),
        frozenset({"slack:U9"}),
    }
    people = {p["person_id"]: p for p in s.iter_records("people", source="hub")}
    bots = {frozenset(f"{a['source']}:{a['user_id']}" for a in p["accounts"])
            for p in people.values() if p["is_bot"]}
    assert bots == {frozenset({"github:49699333",
                               "git:email:49699333+dependabot[bot]@users.noreply.github.com"}),
                    frozenset({"github:19864447"}), frozenset({"jira:app-1"}),
                    frozenset({"slack:U9"})}

    ids = Identities.load(s)
    alice = make_person_id("git:email:alice@example.com")     # the smallest account key
    assert alice == "p_" + __import__("hashlib").sha256(
        b"git:email:alice@example.com").hexdigest()[:12]
    assert ids.person_id("github", "1001") == alice
    assert ids.person_id("jira", "acc-1") == alice
    assert ids.person_id("slack", "U1") == alice
    assert ids.person_id("git", "email:alice@home.example") == alice
    # a GitHub commit whose author has no account is keyed by email: found by email
    assert ids.person_id("github", "email:ALICE@example.com".lower()) == alice
    assert ids.person_of_email("Alice@Example.COM") == alice
    assert ids.person(alice)["display_name"] == "Alice Smith"
    assert ids.person(alice)["emails"] == ["alice@example.com", "alice@home.example"]
    assert ids.person_id("jira", "acc-2") != ids.person_id("github", "1002")
    assert ids.person_id("github", "nobody") is None
    assert ids.is_bot(ids.person_id("github", "19864447"))
    assert not ids.is_bot(alice)

    # names only suggest: the two Alex Kims are one suggestion, and stay two people
    hints = suggest(people.values())
    assert [(h["name"], sorted(h["accounts"])) for h in hints] == [
        ("alex kim", [["git:email:1002+akim@users.noreply.github.com", "github:1002"],
                      ["jira:acc-2"]])]


def test_without_the_identities_file_the_home_address_is_its_own_person(tmp_path):
    s = store(tmp_path)
    _accounts(s)
    refresh(s, settings(tmp_path))
    assert frozenset({"git:email:alice@home.example"}) in groups(s)
    # adding the file later merges: the absorbed person points at the one that holds it
    result = refresh(s, settings(tmp_path, identities=IDENTITIES))
    assert result.full      # the rules changed: everything is recomputed
    home = make_person_id("git:email:alice@home.example")
    ids = Identities.load(s)
    assert ids.person(home)["person_id"] == make_person_id("git:email:alice@example.com")
    stored = next(s.iter_records("people", filters={"person_id": home}))
    assert stored["merged_into"] == make_person_id("git:email:alice@example.com")
    assert stored["accounts"] == []


def test_split_keeps_a_shared_address_apart(tmp_path):
    s = store(tmp_path)
    put(s,
        User(source="git", source_id="email:team@acme.example",
             user_id="email:team@acme.example", source_user_id="email:team@acme.example",
             display_name="Team", email="team@acme.example"),
        User(source="jira", source_id="acc-7", user_id="acc-7", source_user_id="acc-7",
             display_name="Team Lead", email="team@acme.example"))
    refresh(s, settings(tmp_path))
    assert groups(s) == {frozenset({"git:email:team@acme.example", "jira:acc-7"})}
    refresh(s, settings(tmp_path, identities="split: ['email:team@acme.example']\n"))
    assert groups(s) == {frozenset({"git:email:team@acme.example"}), frozenset({"jira:acc-7"})}


def test_a_second_refresh_writes_nothing(tmp_path):
    s = store(tmp_path)
    _accounts(s)
    cfg = settings(tmp_path, identities=IDENTITIES)
    first = refresh(s, cfg)
    assert first.people["inserted"] == 8
    again = refresh(s, cfg)
    assert not again.full
    # nothing new: not even the stored people are read again
    assert again.people == {"inserted": 0, "updated": 0, "unchanged": 0}
    assert sum(again.read.values()) == 0
