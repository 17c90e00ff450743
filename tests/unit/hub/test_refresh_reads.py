"""What a refresh reads and keeps: the changed records as a stream (none of them held once
linked), commits looked up by sha (never every stored commit), and lookups without the
records' whole documents. A git commit's `#123` takes its repository from the same commit
synced from GitHub."""

from __future__ import annotations

import weakref
from typing import Any

from dihub.hub import Dataset, refresh
from dihub.hub.dataset import LOOKUP_KEYS
from dihub.models.records import Commit, Issue, PullRequest
from tests.unit.hub.hubdata import put, settings, settled_clock, store
from tests.unit.hub.test_links import CFG, _base

SHAS = [f"{i:02x}" * 20 for i in range(1, 41)]


def _git(sha: str, message: str) -> Commit:
    return Commit(source="git", source_id=sha, commit_id=sha, repo="shop", branch="main",
                  message=message, timestamp="2026-03-02T10:00:00Z",
                  updated_at="2026-03-02T10:00:00Z")


class _Doc(dict):
    """A record as read, which can be watched (weakref) for when it is let go."""


class Watched:
    """A store that counts the whole-store reads of records (`iter_records`) per entity,
    the shas looked up and the other keyed lookups (`find_by`), and the most changed
    records (`iter_ingested_since`) alive at once."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.scans: dict[str, int] = {}
        self.looked_up: list[str] = []       # the shas asked of find_by
        self.keyed: list[tuple[str, str, Any]] = []     # every other find_by value
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

    def find_by(self, entity, field, values):
        values = list(values)
        if entity == "commits":
            self.looked_up.extend(values)
        else:
            self.keyed.extend((entity, field, v) for v in values)
        return self.inner.find_by(entity, field, values)

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


def test_no_refresh_reads_every_commit(tmp_path):
    s = store(tmp_path)
    put(s, *(_git(sha, f"fix #{i} and ENG-{i}") for i, sha in enumerate(SHAS, 1)))
    only_git = settings(tmp_path).model_copy(update={"sources": {
        "git": {"connector": "git", "repo": "."}}})
    watched = Watched(s)
    refresh(watched, only_git)
    assert "commits" not in watched.scans and watched.looked_up == []
    # ENG-1 and #1 are looked up by key and number, not by reading every issue
    assert not {"issues", "pull_requests", "builds"} & watched.scans.keys()
    assert ("issues", "issue_id", "ENG-7") in watched.keyed

    # with a GitHub source configured, a `#12` of a git commit needs that copy's repo:
    # each commit looks up its own sha, and nothing reads every commit
    watched = Watched(s)
    refresh(watched, settings(tmp_path), full=True)
    assert not {"commits", "issues", "pull_requests", "builds"} & watched.scans.keys()
    assert sorted(watched.looked_up) == sorted(SHAS)


def test_issues_pull_requests_and_builds_are_looked_up_by_key(tmp_path):
    s = store(tmp_path)
    _base(s)
    watched = Watched(s)
    result = refresh(watched, settings(tmp_path, CFG))
    assert result.links["inserted"] == 14          # the links of test_links, every kind
    # Jira keys, `#5`/`#7` and a run id through the store's indexes; "UTF-8", "SHA-256"
    # (projects longer than none here) need no list of every issue's project either
    assert not {"commits", "issues", "pull_requests", "builds"} & watched.scans.keys()
    assert {("issues", "issue_id", "ENG-1"), ("issues", "issue_id", "5"),
            ("pull_requests", "number", 7), ("builds", "run_id", "555")} <= set(watched.keyed)


def _chain(prefix: str, n: int, parent: str | None, day: int) -> list[Commit]:
    out = []
    for i in range(n):
        sha = f"{prefix}{i:06x}".ljust(40, "0")
        out.append(Commit(source="git", source_id=sha, commit_id=sha, repo="shop",
                          message=f"change {i}", parents=[parent] if parent else [],
                          timestamp=f"2025-{1 + day // 28:02d}-{1 + day % 28:02d}T"
                                    f"{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                          updated_at="2026-03-02T10:00:00Z"))
        parent = sha
    return out


def test_a_changed_pull_request_looks_at_its_commits_not_at_the_history(tmp_path,
                                                                       monkeypatch):
    settled_clock(monkeypatch)
    s = store(tmp_path)
    main = _chain("aa", 3000, None, 0)
    branch = _chain("bb", 4, main[2990].commit_id, 100)
    ahead = _chain("cc", 3, main[-1].commit_id, 101)
    merge = Commit(source="git", source_id="dd" * 20, commit_id="dd" * 20, repo="shop",
                   parents=[ahead[-1].commit_id, branch[-1].commit_id],
                   timestamp="2025-06-01T00:00:00Z", updated_at="2026-03-02T10:00:00Z")
    put(s, *main, *branch, *ahead, merge, at="2026-03-01T00:00:00Z")
    refresh(s, settings(tmp_path))
    pr = PullRequest(source="github", source_id="7:7", number=7, repo="acme/shop",
                     state="merged", merged_at="2025-06-01T00:00:00Z",
                     head_sha=branch[-1].commit_id, merge_commit_sha="dd" * 20,
                     updated_at="2026-03-03T00:00:00Z")
    put(s, pr, at="2026-03-03T00:00:00Z")
    watched = Watched(s)
    refresh(watched, settings(tmp_path))
    assert "commits" not in watched.scans
    assert len(set(watched.looked_up)) < 30            # of 3,008 stored commits
    brought = {d["to_id"] for d in s.iter_records("links", source="hub")
               if d["kind"] == "pr_commit"}
    assert brought == {f"git:commits:{c.commit_id}" for c in branch}


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
