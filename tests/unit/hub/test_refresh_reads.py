"""What a refresh reads and keeps: the changed records as a stream (none of them held once
linked), the index of every commit only when a link needs it, and that index without the
commits' whole documents. A git commit's `#123` takes its repository from the same commit
synced from GitHub."""

from __future__ import annotations

import weakref
from typing import Any

from dihub.hub import Dataset, refresh
from dihub.hub.dataset import LOOKUP_KEYS
from dihub.models.records import Commit, Issue
from tests.unit.hub.hubdata import put, settings, store

SHAS = [f"{i:02x}" * 20 for i in range(1, 41)]


def _git(sha: str, message: str) -> Commit:
    return Commit(source="git", source_id=sha, commit_id=sha, repo="shop", branch="main",
                  message=message, timestamp="2026-03-02T10:00:00Z",
                  updated_at="2026-03-02T10:00:00Z")


class _Doc(dict):
    """A record as read, which can be watched (weakref) for when it is let go."""


class Watched:
    """A store that counts the whole-store reads of records (`iter_records`) per entity,
    and the most changed records (`iter_ingested_since`) alive at once."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.scans: dict[str, int] = {}
        self.alive = self.most_alive = 0

    def iter_records(self, entity, *args, **kwargs):
        self.scans[entity] = self.scans.get(entity, 0) + 1
        return self.inner.iter_records(entity, *args, **kwargs)

    def iter_ingested_since(self, *args, **kwargs):
        for doc in self.inner.iter_ingested_since(*args, **kwargs):
            doc = _Doc(doc)
            self.alive += 1
            weakref.finalize(doc, self._gone)
            self.most_alive = max(self.most_alive, self.alive)
            yield doc

    def _gone(self) -> None:
        self.alive -= 1

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_changed_records_are_consumed_one_at_a_time(tmp_path):
    s = store(tmp_path)
    put(s, *(_git(sha, f"ENG-{i + 1} change") for i, sha in enumerate(SHAS)))
    watched = Watched(s)
    result = refresh(watched, settings(tmp_path))
    assert result.read["commits"] == len(SHAS) and result.linked_records == len(SHAS)
    # a record is let go once it is linked; the most alive at once are the first of each
    # stream (read ahead, to know whether any changed) and the one being linked: a
    # first refresh after a big sync holds none of the others
    assert 1 <= watched.most_alive <= 3


def test_a_git_only_config_never_indexes_every_commit(tmp_path):
    s = store(tmp_path)
    put(s, *(_git(sha, f"fix #{i} and ENG-{i}") for i, sha in enumerate(SHAS, 1)))
    only_git = settings(tmp_path).model_copy(update={"sources": {
        "git": {"connector": "git", "repo": "."}}})
    watched = Watched(s)
    refresh(watched, only_git)
    assert "commits" not in watched.scans          # no GitHub/GitLab copy to look for

    # with a GitHub source configured, a `#12` of a git commit needs that copy's repo
    watched = Watched(s)
    refresh(watched, settings(tmp_path), full=True)
    assert watched.scans.get("commits") == 1


def test_a_git_commit_links_hash_refs_through_its_github_copy(tmp_path):
    s = store(tmp_path)
    sha = SHAS[0]
    put(s, _git(sha, "Fix the cart (#12)"),
        Commit(source="github", source_id=f"7:{sha}", commit_id=sha, repo="acme/shop",
               message="Fix the cart (#12)", timestamp="2026-03-02T10:00:00Z",
               updated_at="2026-03-02T10:00:00Z"),
        Issue(source="github", source_id="7:12", issue_id="12", project_key="acme/shop",
              summary="cart", updated_at="2026-03-01T00:00:00Z"))
    refresh(s, settings(tmp_path))
    targets = {(d["from_id"], d["to_id"]) for d in s.iter_records("links", source="hub")
               if d["kind"] == "mentions_issue"}
    assert (f"git:commits:{sha}", "github:issues:7:12") in targets
    assert (f"github:commits:7:{sha}", "github:issues:7:12") in targets


def test_lookups_hold_only_the_keys_a_link_needs(tmp_path):
    s = store(tmp_path)
    put(s, _git(SHAS[0], "a long message " * 100))
    found = Dataset(s, settings(tmp_path)).commits_by_sha(SHAS[0])
    assert len(found) == 1 and set(found[0]) <= set(LOOKUP_KEYS)
    assert found[0]["_id"] == f"git:commits:{SHAS[0]}" and "message" not in found[0]
