"""Store.find_by / find_by_prefix: a record by an indexed field besides `_id` (a commit
by its sha, keyset.KEYED_FIELDS), on every backend; what the hub's links look up."""

from __future__ import annotations

import pytest

from dihub.errors import UsageError

A = "a1" + "0" * 38
A2 = "a1" + "0" * 37 + "1"
B = "b2" + "0" * 38


def _commits(make_record):
    return [make_record(f"1:{A}", commit_id=A, parents=[B]),
            make_record(f"2:{A}", source="gl", commit_id=A, parents=[B]),
            make_record(A2, source="git", commit_id=A2, parents=[]),
            make_record(B, source="git", commit_id=B, parents=[]),
            make_record("no-sha", source="git", message="no commit_id field"),
            # another entity with the same field value is not a commit
            make_record("x", entity="builds", commit_id=A)]


def _ids(docs):
    return sorted(d["_id"] for d in docs)


def test_find_by_gives_every_copy_of_each_value(store, make_record):
    store.upsert_many(_commits(make_record))
    assert _ids(store.find_by("commits", "commit_id", [A])) == [
        f"gh:commits:1:{A}", f"gl:commits:2:{A}"]
    got = store.find_by("commits", "commit_id", iter([B, A2, B, "c" * 40]))
    assert _ids(got) == [f"git:commits:{A2}", f"git:commits:{B}"]
    doc = next(d for d in got if d["commit_id"] == B)
    assert doc["parents"] == [] and doc["raw_signature"] == f"sig-{B}"
    assert store.find_by("commits", "commit_id", []) == []


def test_find_by_follows_updates_and_many_values(store, make_record):
    store.upsert_many([make_record(f"c{i:04d}", commit_id=f"{i:040x}") for i in range(1203)])
    store.upsert_many([make_record("c0007", "2026-01-02T00:00:00Z", signature="moved",
                                   commit_id="f" * 40)])
    wanted = [f"{i:040x}" for i in range(0, 1203, 2)]
    got = store.find_by("commits", "commit_id", wanted)
    assert sorted(d["commit_id"] for d in got) == sorted(w for w in wanted
                                                          if w != f"{7:040x}")
    assert _ids(store.find_by("commits", "commit_id", ["f" * 40])) == ["gh:commits:c0007"]
    assert store.find_by("commits", "commit_id", [f"{7:040x}"]) == []


def test_find_by_prefix_gives_the_matches_up_to_a_limit(store, make_record):
    store.upsert_many(_commits(make_record))
    assert _ids(store.find_by_prefix("commits", "commit_id", "a1000", 10)) == [
        f"gh:commits:1:{A}", f"git:commits:{A2}", f"gl:commits:2:{A}"]
    assert len(store.find_by_prefix("commits", "commit_id", "a1", 2)) == 2
    assert _ids(store.find_by_prefix("commits", "commit_id", B[:7], 10)) == [
        f"git:commits:{B}"]
    assert store.find_by_prefix("commits", "commit_id", "a2", 10) == []
    assert store.find_by_prefix("commits", "commit_id", "A1", 10) == []   # exact case


@pytest.mark.parametrize("entity,field", [("commits", "message"), ("builds", "commit_id"),
                                          ("issues", "number"),
                                          ("records", "commit_id")])
def test_only_indexed_fields_can_be_looked_up(store, entity, field):
    with pytest.raises(UsageError):
        store.find_by(entity, field, ["x"])
    with pytest.raises(UsageError):
        store.find_by_prefix(entity, field, "x", 10)


def test_issues_pull_requests_and_builds_by_their_keys(store, make_record):
    store.upsert_many([
        make_record("10001", source="jira", entity="issues", issue_id="ENG-1"),
        make_record("10002", source="jira", entity="issues", issue_id="ENG-12"),
        make_record("7:5", entity="issues", issue_id="5", project_key="acme/shop"),
        make_record("8:5", entity="issues", issue_id="5", project_key="acme/web"),
        make_record("7:5", entity="pull_requests", number=5, repo="acme/shop"),
        make_record("7:50", entity="pull_requests", number=50, repo="acme/shop"),
        make_record("7:555:1", entity="builds", run_id="555"),
        make_record("7:555:2", entity="builds", run_id="555"),
        make_record("7:556:1", entity="builds", run_id="556")])
    assert _ids(store.find_by("issues", "issue_id", ["ENG-1", "ENG-2"])) == [
        "jira:issues:10001"]
    assert _ids(store.find_by("issues", "issue_id", ["5"])) == [
        "gh:issues:7:5", "gh:issues:8:5"]
    assert _ids(store.find_by_prefix("issues", "issue_id", "ENG-1", 10)) == [
        "jira:issues:10001", "jira:issues:10002"]
    # numbers are integers; a digit string is the same number, anything else none
    assert _ids(store.find_by("pull_requests", "number", [5])) == ["gh:pull_requests:7:5"]
    assert _ids(store.find_by("pull_requests", "number", ["50", "5x", 5.0, True])) == [
        "gh:pull_requests:7:50"]
    assert _ids(store.find_by("builds", "run_id", ["555"])) == [
        "gh:builds:7:555:1", "gh:builds:7:555:2"]
    assert store.find_by("builds", "run_id", [555]) == []       # run ids are text
    with pytest.raises(UsageError):
        store.find_by_prefix("pull_requests", "number", "5", 10)
