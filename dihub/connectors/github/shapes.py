"""The parts of GitHub's listing bodies that the streams and normalizers read.

A response body is read into these shapes (`dihub.jsoncodec.reading`): the keys named
here come out as the json module reads them, every other key (URLs, the head and base
repositories of a pull request, reactions, `_links`, ...) is skipped without being built,
which is most of a body's size and of the time to read it. A body in which a named key
has another type than the one here (say `user` is a string) is read whole instead, so a
malformed item reaches the normalizer exactly as GitHub sent it and is skipped there as
before. Keep these in step with what normalize.py, commits.py and updated.py read.
"""

from __future__ import annotations

from typing import Any, TypedDict


class User(TypedDict, total=False):         # normalize.normalize_user
    id: Any
    login: Any
    name: Any
    type: Any


class GitPerson(TypedDict, total=False):    # commit.author / commit.committer
    name: Any
    email: Any
    date: Any


class GitCommit(TypedDict, total=False):
    author: GitPerson | None
    committer: GitPerson | None
    message: Any


class Parent(TypedDict, total=False):
    sha: Any


class Commit(TypedDict, total=False):       # GET /repos/{o}/{r}/commits
    id: Any
    sha: Any
    commit: GitCommit | None
    author: User | None
    committer: User | None
    parents: list[Parent] | None
    stats: Any
    files: Any


class Compare(TypedDict, total=False):      # GET /repos/{o}/{r}/compare/{base}...{head}
    total_commits: Any
    commits: list[Commit]


class Label(TypedDict, total=False):
    name: Any


class Ref(TypedDict, total=False):          # a pull request's head and base
    sha: Any
    ref: Any


class Pull(TypedDict, total=False):         # GET /repos/{o}/{r}/pulls
    id: Any
    number: Any
    title: Any
    state: Any
    draft: Any
    user: User | None
    created_at: Any
    updated_at: Any
    merged_at: Any
    closed_at: Any
    head: Ref | None
    base: Ref | None
    merge_commit_sha: Any
    body: Any
    labels: list[Label | str] | None
    assignees: list[User | None] | None
    requested_reviewers: list[User | None] | None
    requested_teams: Any


class Issue(TypedDict, total=False):        # GET /repos/{o}/{r}/issues
    id: Any
    number: Any
    title: Any
    state: Any
    state_reason: Any
    pull_request: Any
    user: User | None
    assignee: User | None
    assignees: list[User | None] | None
    labels: list[Label | str] | None
    created_at: Any
    updated_at: Any
    closed_at: Any


COMMITS = list[Commit]
COMPARE = Compare
PULLS = list[Pull]
ISSUES = list[Issue]
