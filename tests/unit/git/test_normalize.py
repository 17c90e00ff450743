"""The git normalizer: identities as written, keys that never merge people, users' updated_at."""

from __future__ import annotations

from dihub.connectors.git.normalize import normalize_commit
from dihub.models import Commit, User
from dihub.models.records import git_identity_key


def raw(sha="a" * 40, *, an="Ada Lovelace", ae="Ada@Example.COM", cn=None, ce=None,
        at="2026-01-02T10:00:00+01:00", msg="work\n"):
    return {"sha": sha, "parents": "", "source": "main", "author_name": an,
            "author_email": ae, "authored_at": "2026-01-01T00:00:00Z",
            "committer_name": an if cn is None else cn,
            "committer_email": ae if ce is None else ce, "committed_at": at, "message": msg}


def split(records):
    commit, *users = records
    assert isinstance(commit, Commit) and all(isinstance(u, User) for u in users)
    return commit, {u.user_id: u for u in users}


def test_commit_keeps_names_and_emails_as_written():
    commit, users = split(normalize_commit(
        raw(an="Ada Lovelace", ae="Ada@Example.COM", cn="GitHub", ce="noreply@github.com"),
        "git", "repo"))
    assert (commit.author_name, commit.author_email) == ("Ada Lovelace", "Ada@Example.COM")
    assert (commit.committer_name, commit.committer_email) == ("GitHub", "noreply@github.com")
    assert commit.author_id == "email:ada@example.com"
    assert commit.committer_id == "email:noreply@github.com"
    assert set(users) == {"email:ada@example.com", "email:noreply@github.com"}
    assert users["email:ada@example.com"].email == "Ada@Example.COM"
    doc = commit.to_doc()
    assert doc["author_email"] == "Ada@Example.COM" and doc["committer_name"] == "GitHub"


def test_empty_email_is_keyed_by_name_and_never_merges_people():
    one = split(normalize_commit(raw("1" * 40, an="Alice", ae=""), "git", "r"))
    two = split(normalize_commit(raw("2" * 40, an="Bob", ae=""), "git", "r"))
    again = split(normalize_commit(raw("3" * 40, an="Alice", ae=""), "git", "r"))
    assert one[0].author_id == "name:Alice" and two[0].author_id == "name:Bob"
    assert again[0].author_id == one[0].author_id
    assert list(one[1]) == ["name:Alice"] and list(two[1]) == ["name:Bob"]
    alice = one[1]["name:Alice"]
    assert alice.email is None and alice.display_name == "Alice"
    assert one[0].author_name == "Alice" and one[0].author_email is None
    # names are kept as written: a different spelling is a different identity
    assert split(normalize_commit(raw(an="alice", ae=""), "git", "r"))[0].author_id == \
        "name:alice"


def test_identity_with_neither_name_nor_email_has_no_user():
    commit, users = split(normalize_commit(raw(an="", ae="", cn="Bob", ce="bob@x.org"),
                                           "git", "r"))
    assert commit.author_id is None and commit.author_name is None
    assert commit.committer_id == "email:bob@x.org"
    assert list(users) == ["email:bob@x.org"]


def test_key_is_shared_with_the_github_connector():
    assert git_identity_key("X", " Me@Host.org ") == "email:me@host.org"
    assert git_identity_key(" Some One ", "") == "name:Some One"
    assert git_identity_key(None, None) is None


def test_user_updated_at_is_the_latest_commit_time_seen_in_the_pass():
    seen: dict[str, str] = {}
    # oldest first as git reads them, but with a committer date that goes backwards
    times = ["2026-01-01T10:00:00Z", "2026-03-01T10:00:00Z", "2026-02-01T10:00:00Z"]
    got = [split(normalize_commit(raw(str(i) * 40, at=t), "git", "r", seen=seen))
           for i, t in enumerate(times)]
    stamps = [users["email:ada@example.com"].updated_at for _, users in got]
    assert stamps == ["2026-01-01T10:00:00Z", "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"]
    assert [c.updated_at for c, _ in got] == times        # the commits keep their own time
    # without a pass-wide memory: this commit's committer time
    alone = split(normalize_commit(raw(at="2026-01-02T10:00:00+01:00"), "git", "r"))[1]
    assert alone["email:ada@example.com"].updated_at == "2026-01-02T09:00:00Z"


def test_author_and_committer_are_dated_independently():
    seen: dict[str, str] = {}
    normalize_commit(raw("1" * 40, an="A", ae="a@x", cn="C", ce="c@x",
                         at="2026-05-01T00:00:00Z"), "git", "r", seen=seen)
    _, users = split(normalize_commit(raw("2" * 40, an="A", ae="a@x", cn="D", ce="d@x",
                                          at="2026-04-01T00:00:00Z"), "git", "r", seen=seen))
    assert users["email:a@x"].updated_at == "2026-05-01T00:00:00Z"
    assert users["email:d@x"].updated_at == "2026-04-01T00:00:00Z"
    assert seen == {"email:a@x": "2026-05-01T00:00:00Z", "email:c@x": "2026-05-01T00:00:00Z",
                    "email:d@x": "2026-04-01T00:00:00Z"}


def _last_differs(stream):
    """What the engine keeps of a pass's users: each one that differs from the last one
    given for its key (docs/architecture.md, "The pass")."""
    last, kept = {}, []
    for user in stream:
        doc = user.to_doc()
        if last.get(user.user_id) != doc:
            kept.append(doc)
        last[user.user_id] = doc
    return kept


def test_emitted_leaves_out_only_users_the_engine_would_drop():
    # newest first as git reads them: the same people again and again, a renamed one
    # (same email: one user) going back to the old name, an empty email keyed by name,
    # a later commit that is older (seen keeps the newest time) and one that is newer
    commits = [raw("1" * 40, an="Ada", ae="ada@x", cn="Bob", ce="bob@x",
                   at="2026-05-01T00:00:00Z"),
               raw("2" * 40, an="Ada", ae="ada@x", cn="Bob", ce="bob@x",
                   at="2026-04-01T00:00:00Z"),
               raw("3" * 40, an="Ada L.", ae="ADA@x", cn="Bob", ce="bob@x",
                   at="2026-03-01T00:00:00Z"),
               raw("4" * 40, an="Ada", ae="ada@x", cn="Cy", ce="",
                   at="2026-02-01T00:00:00Z"),
               raw("5" * 40, an="Ada", ae="ada@x", cn="Cy", ce="",
                   at="2026-01-01T00:00:00Z"),
               raw("6" * 40, an="Bob", ae="bob@x", at="2026-06-01T00:00:00Z"),
               raw("7" * 40, an="", ae="", cn="Bob", ce="bob@x",
                   at="2026-06-02T00:00:00Z")]
    every, fewer = [], []
    seen_all: dict[str, str] = {}
    seen_some: dict[str, str] = {}
    emitted: dict[str, tuple] = {}
    for c in commits:
        every += normalize_commit(dict(c), "git", "r", seen=seen_all)[1:]
        fewer += normalize_commit(dict(c), "git", "r", seen=seen_some, emitted=emitted)[1:]
    assert len(every) == 12 and len(fewer) == 7
    assert [u.to_doc() for u in fewer] == _last_differs(every)
    # what a store keeps (the last of each key) is the same either way
    assert {u.user_id: u.to_doc() for u in fewer} == {u.user_id: u.to_doc() for u in every}
    assert {u.user_id: u.display_name for u in fewer} == {
        "email:ada@x": "Ada", "email:bob@x": "Bob", "name:Cy": "Cy"}
