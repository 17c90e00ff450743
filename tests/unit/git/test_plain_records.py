"""A git sync builds its records as plain dicts (dihub.models.plain.build): the stored
documents and signatures must be byte for byte those of the pydantic models, for every
commit of a real `git log` (a generated repository with branches, tags and merges) and for
odd identities and messages."""

from __future__ import annotations

import pytest

from dihub.connectors.git.client import GitRepo
from dihub.connectors.git.normalize import normalize_commit
from dihub.models.documents import encode_document, to_document
from dihub.models.plain import PlainRecord, build
from tests.support.gitrepo import generate

AT = "2026-01-01T00:00:00Z"


def _stored(records) -> list[str]:
    return [encode_document(to_document(r, AT)) for r in records]


def test_every_commit_of_a_generated_history_stores_the_models_bytes(tmp_path):
    repo = GitRepo.open(generate(tmp_path / "repo", 300, branch_every=40, tag_every=90))
    heads = repo.heads(None)
    plain_seen: dict[str, str] = {}
    model_seen: dict[str, str] = {}
    n = 0
    for raw in repo.log(list(heads.values()), []):
        got = normalize_commit(dict(raw), "git", "repo", None, plain_seen, build)
        want = normalize_commit(dict(raw), "git", "repo", None, model_seen)
        assert all(type(r) is PlainRecord for r in got)
        assert _stored(got) == _stored(want)
        n += 1
    assert n == 300


@pytest.mark.parametrize("changes", [
    dict(author_email="", committer_email=""),               # keyed by name
    dict(author_name="", author_email=""),                  # no author user at all
    dict(message="caf\u00e9 \U0001F600\n\n\tbody\r\n"),      # non-ASCII, control chars
    dict(message="bad \ufffd byte"),                        # what git log decoding replaced
    dict(parents="1111111111111111111111111111111111111111 "
                 "2222222222222222222222222222222222222222"),
    dict(committed_at="2026-01-02T10:00:00+05:30"),          # an offset: stored in UTC
    dict(additions=2 ** 70),                                # beyond 64 bits: the model
])
def test_odd_commits_store_the_models_bytes(changes):
    raw = {"sha": "a" * 40, "parents": "b" * 40, "source": "refs/heads/main",
           "author_name": "Ada", "author_email": "Ada@Example.COM",
           "authored_at": "2026-01-01T00:00:00Z", "committer_name": "Bob",
           "committer_email": "bob@example.com", "committed_at": "2026-01-02T10:00:00Z",
           "message": "work\n", "additions": 3, "deletions": 1, "files_changed": 2,
           **changes}
    got = normalize_commit(dict(raw), "git", "repo", None, {}, build)
    want = normalize_commit(dict(raw), "git", "repo", None, {})
    assert _stored(got) == _stored(want)
    assert [to_document(r, AT)["raw_signature"] for r in got] == \
        [to_document(r, AT)["raw_signature"] for r in want]
