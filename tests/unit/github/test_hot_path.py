"""A sync reads GitHub bodies into shapes (only the keys the normalizers read) and builds
records as plain dicts (dihub.models.plain): the stored documents and signatures must be
byte for byte those of the full bodies through the pydantic models."""

from __future__ import annotations

import copy
import json
import random

import pytest

from dihub.connectors.github import shapes
from dihub.connectors.github.normalize import (
    normalize_commit,
    normalize_issue,
    normalize_pull_request,
)
from dihub.errors import SkippableRecord
from dihub.jsoncodec import decode_json, reading
from dihub.models import Commit, Issue, PullRequest, User
from dihub.models.documents import encode_document, signature, to_document
from dihub.models.plain import PlainRecord, build
from tests.simulators.github import Dataset

from .conftest import is_wrapper, pages

AT = "2026-01-01T00:00:00Z"
NORMALIZE = {"commits": normalize_commit, "pulls": normalize_pull_request,
             "issues": normalize_issue}
SHAPE = {"commits": shapes.COMMITS, "pulls": shapes.PULLS, "issues": shapes.ISSUES}
FIXTURES = [("commits", "rest/commits-list.rails_admin.octokit-rb.json"),
            ("commits", "rest/commits-list.openapi-example.json"),
            ("pulls", "rest/pulls-list-state-closed.octokit-rb.json"),
            ("pulls", "rest/pulls-list.docs-example.go-scm.json"),
            ("issues", "rest/issues-list-includes-prs.rails_admin.octokit-rb.json"),
            ("issues", "rest/issues-list.docs-example.go-scm.json"),
            ("issues", "rest/issues-list.paginated-5-pages.octokit-fixtures.json")]


def _bodies(rel: str) -> list[list]:
    data = pages(rel)
    if data and not is_wrapper(data[0]):
        return [data]                   # a plain payload list
    return [p["body"] for p in data]


def _stored(records) -> list[str]:
    return [encode_document(to_document(r, AT)) for r in records]


def _both(kind: str, body_text: bytes, plain_expected: bool = True):
    """(documents of the full body through the models, of the shaped body through build)"""
    full = decode_json(body_text)
    with reading(SHAPE[kind]):
        shaped = decode_json(body_text)
    if kind == "commits":
        args: tuple = ("github", "o/r", 42, "main")
    else:
        args = ("github", "o/r", 42)
    out_full, out_fast = [], []
    for a, b in zip(full, shaped, strict=True):
        try:
            want = NORMALIZE[kind](a, *args)
        except SkippableRecord as err:
            with pytest.raises(SkippableRecord) as got:
                NORMALIZE[kind](b, *args, make=build)
            assert str(got.value).split(":")[0] == str(err).split(":")[0]
            continue
        got_records = NORMALIZE[kind](b, *args, make=build)
        if plain_expected:
            assert all(type(r) is PlainRecord for r in got_records)
        out_full += _stored(want)
        out_fast += _stored(got_records)
    return out_full, out_fast


@pytest.mark.parametrize(("kind", "rel"), FIXTURES)
def test_recorded_bodies_store_the_same_bytes(kind, rel):
    n = 0
    for body in _bodies(rel):
        text = json.dumps(body).encode()
        with reading(SHAPE[kind]):
            shaped = decode_json(text)
        # the shape was used (a body that does not fit it is read whole)
        assert all(len(s) < len(f) for s, f in zip(shaped, body, strict=True))
        full, fast = _both(kind, text)
        assert full == fast
        n += len(body)
    assert n > 0


def test_simulated_bodies_store_the_same_bytes():
    data = Dataset.generate(("octo-org/repo-a",), commits_per_repo=300, prs_per_repo=80,
                            issues_per_repo=80, runs_per_repo=0, seed=5)
    repo = data.repo("octo-org/repo-a")
    for kind, rows in (("commits", repo.commits), ("pulls", repo.pulls),
                       ("issues", repo.issues + repo.pulls)):
        full, fast = _both(kind, json.dumps(rows, default=str).encode())
        assert full == fast and len(full) >= 80


def _mutations(item: dict, rng: random.Random):
    odd = [None, "", "x", 0, 1, 2**70, -1, 1.5, 1e-7, True, False, [], {}, ["a"], [1],
           {"id": "7"}, {"id": 7, "login": 3}, [{"id": 1}, None], "\ud800", "é日本😀"]
    keys = list(item)
    for _ in range(60):
        m = copy.deepcopy(item)
        target = m
        key = rng.choice(keys)
        if isinstance(m.get(key), dict) and m[key] and rng.random() < 0.5:
            target = m[key]
            key = rng.choice(list(target))
        target[key] = rng.choice(odd)
        yield m


@pytest.mark.parametrize(("kind", "rel"), [FIXTURES[0], FIXTURES[2], FIXTURES[4]])
def test_odd_values_store_what_the_models_store(kind, rel):
    """Values of other types than GitHub's, anywhere in an item: the shaped body falls back
    to the whole body, build falls back to the model; the bytes (or the skip) are the same."""
    rng = random.Random(16)
    item = _bodies(rel)[0][0]
    for m in _mutations(item, rng):
        text = json.dumps([m], ensure_ascii=False).encode("utf-8", "surrogatepass")
        try:
            decode_json(text)
        except ValueError:
            continue
        full, fast = _both(kind, text, plain_expected=False)
        assert full == fast


def test_a_body_of_another_form_is_read_whole():
    text = b'{"message": "Not Found", "documentation_url": "x"}'
    with reading(shapes.COMMITS):
        assert decode_json(text) == {"message": "Not Found", "documentation_url": "x"}
    with reading(shapes.PULLS):
        assert decode_json(b'[{"number": "7", "user": "octocat", "x": 1}]') == [
            {"number": "7", "user": "octocat", "x": 1}]
    assert decode_json(b'[{"x": 1}]') == [{"x": 1}]      # outside `reading`: no shape


@pytest.mark.parametrize(("model", "values"), [
    (PullRequest, {"source": "s", "source_id": "1", "number": "7", "repo": "r",
                   "state": "open"}),                               # str for an int
    (PullRequest, {"source": "s", "source_id": "1", "number": True, "repo": "r",
                   "state": "open"}),                               # bool for an int
    (PullRequest, {"source": "s", "source_id": "1", "number": 1, "repo": "r",
                   "state": "open", "draft": 0}),                   # int for a bool
    (Commit, {"source": "s", "source_id": "1", "commit_id": "c", "repo": "r",
              "additions": 2**70}),                                 # beyond 64 bits
    (Issue, {"source": "s", "source_id": "1", "issue_id": "1", "story_points": 3}),
    (Issue, {"source": "s", "source_id": "1", "issue_id": "1", "story_points": 1e-7}),
    (Issue, {"source": "s", "source_id": "1", "issue_id": "1",
             "transitions": [{"timestamp": AT, "to_status": "done"}]}),
    (Issue, {"source": "s", "source_id": "1", "issue_id": "1", "labels": ("a", "b")}),
])
def test_values_pydantic_would_convert_are_built_by_the_model(model, values):
    got = build(model, **values)
    assert type(got) is model
    assert encode_document(to_document(got, AT)) == \
        encode_document(to_document(model(**values), AT))


@pytest.mark.parametrize(("model", "values"), [
    (PullRequest, {"source": "s", "source_id": "1", "repo": "r", "state": "open"}),
    (PullRequest, {"source": "s", "source_id": "1", "number": 1, "repo": "r",
                   "state": "open", "nonsense": 1}),
    (User, {"source": "s", "source_id": "1", "user_id": 1, "source_user_id": "1"}),
])
def test_what_the_model_refuses_build_refuses(model, values):
    with pytest.raises(ValueError):
        build(model, **values)


def test_plain_documents_omit_what_the_models_omit():
    commit = dict(source="s", source_id="1", commit_id="c", repo="r")
    issue = dict(source="s", source_id="1", issue_id="1", story_points=2.5, labels=["x"])
    for model, values in ((Commit, commit), (Issue, issue), (Commit, {**commit, "tag": "v1"}),
                          (User, dict(source="s", source_id="1", user_id="1",
                                      source_user_id="1", account_type=None))):
        plain = build(model, **values)
        assert type(plain) is PlainRecord
        want = model(**values)
        assert list(plain.to_doc()) == list(want.to_doc())
        assert encode_document(to_document(plain, AT)) == \
            encode_document(to_document(want, AT))
        assert plain.key() == want.key() and plain.source_id == want.source_id
        assert to_document(plain, AT)["raw_signature"] == signature(want.to_doc())
    assert "tag" not in build(Commit, **commit).to_doc()
    assert "sprint_changes" not in build(Issue, **issue).to_doc()


def test_an_account_mentioned_again_is_one_shared_record_with_the_models_document():
    values = dict(source="s", source_id="7", user_id="7", source_user_id="7", login="octo",
                  display_name=None, account_type="User")
    first, again = build(User, **values), build(User, **dict(values))
    assert type(first) is PlainRecord and again is first
    assert build(User, **{**values, "login": "octo2"}) is not first     # other values
    docs = [to_document(r, AT) for r in (first, again)]
    want = encode_document(to_document(User(**values), AT))
    assert [encode_document(d) for d in docs] == [want, want]
    docs[0]["login"] = "changed"                # a stored copy is the caller's to change
    assert encode_document(to_document(again, AT)) == want


def test_equal_values_of_other_types_are_not_given_the_shared_record():
    class Login(str):
        pass

    values = dict(source="s", source_id="8", user_id="8", source_user_id="8", login="octo")
    shared = build(User, **values)
    odd = build(User, **{**values, "login": Login("octo")})    # == "octo", not a str
    assert odd is not shared and type(odd) is User
    with pytest.raises(ValueError):                             # 8 == 8.0, not a str
        build(User, **{**values, "source_id": 8.0})
