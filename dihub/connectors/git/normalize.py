"""Pure: one parsed `git log` record → a Commit plus its author and committer as Users.

A git identity has no account id. It is keyed by its lower-cased email
(`email:<email>`), or, when the email is empty, by its name as written
(`name:<name>`), so identities without an email are never merged into one user
(an identity with neither has no user). The commit itself keeps each name and
email exactly as written.

A user's `updated_at` is the latest committer time of the commits it was seen in,
so `fetch git users --since X` finds everyone who committed or authored since X.
`seen` carries that maximum from one commit to the next; the stream starts it from
the stored users, so the value never moves back: a full refresh rewrites no user,
and a run with no new commits writes nothing.

`emitted` ({user key: (name, email, updated_at)} of the user last returned) lets a pass
return a user only when it differs from the one it returned last for that key: a team of
25 commits thousands of times, and each repeat would be built only for the engine to
find it unchanged (docs/architecture.md, "The pass": the same outcome, decided before
the record is built).
"""

from __future__ import annotations

from functools import lru_cache

from dihub.connectors.normalizing import Make, as_model
from dihub.models import Commit, Record, User
from dihub.models.records import git_identity_key
from dihub.timeutil import to_iso


def git_user(source: str, key: str, name: str, email: str, seen_at: str | None,
             make: Make = as_model, emitted: dict[str, tuple] | None = None
             ) -> User | None:
    """The User of the git identity `key` (git_identity_key(name, email)); None when
    `emitted` says it is the one returned last for its key (see the module's docstring)."""
    mark = (name, email, seen_at)
    if emitted is not None and emitted.get(key) == mark:
        return None
    user = make(User, source=source, source_id=key, user_id=key, source_user_id=key,
                login=None, display_name=name or None, email=email or None,
                updated_at=seen_at)
    if emitted is not None:
        emitted[key] = mark         # once built: a user that failed to build is not marked
    return user


def _short(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/remotes/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


@lru_cache(maxsize=4096)          # a few refs label every commit of a pass
def _labels(ref: str) -> tuple[str | None, str | None]:
    """(branch, tag) of the commits `ref` reached: a tag is not a branch, so a commit only
    a tag reaches has no branch, and its tag."""
    if ref.startswith("refs/tags/"):
        return None, _short(ref)
    return _short(ref) or None, None


def _latest(seen: dict[str, str] | None, key: str | None, at: str | None) -> str | None:
    """The latest of `at` and the time `key` was last seen in this pass; remembers it."""
    if seen is None or key is None or at is None:
        return at
    best = seen.get(key)
    if best is None or at > best:
        seen[key] = best = at
    return best


def normalize_commit(raw: dict[str, str], source: str, repo: str,
                     branch_of: dict[str, str] | None = None,
                     seen: dict[str, str] | None = None, make: Make = as_model,
                     emitted: dict[str, tuple] | None = None) -> list[Record]:
    """`seen` ({user key: latest time}) is shared by the commits of one pass; without it a
    user's `updated_at` is this commit's committer time. `make` builds each record
    (normalizing.as_model). With `emitted`, a user equal to the one last returned for its
    key is left out (see the module's docstring)."""
    committed_at = to_iso(raw["committed_at"])
    author_key = git_identity_key(raw["author_name"], raw["author_email"])
    committer_key = git_identity_key(raw["committer_name"], raw["committer_email"])
    # an identity with neither a name nor an email has no user (key None)
    author = None if author_key is None else git_user(
        source, author_key, raw["author_name"], raw["author_email"],
        _latest(seen, author_key, committed_at), make, emitted)
    committer = None if committer_key is None or committer_key == author_key else git_user(
        source, committer_key, raw["committer_name"], raw["committer_email"],
        _latest(seen, committer_key, committed_at), make, emitted)
    reached_from = raw.get("source") or ""
    branch, tag = _labels((branch_of or {}).get(reached_from, reached_from))
    commit = make(
        Commit, source=source, source_id=raw["sha"], updated_at=committed_at,
        commit_id=raw["sha"], repo=repo, branch=branch, tag=tag,
        author_id=author_key, committer_id=committer_key,
        author_name=raw["author_name"] or None, author_email=raw["author_email"] or None,
        committer_name=raw["committer_name"] or None,
        committer_email=raw["committer_email"] or None,
        message=raw["message"].rstrip("\n"), timestamp=committed_at,
        authored_at=to_iso(raw["authored_at"]),
        parents=raw["parents"].split() if raw["parents"] else [],
        additions=raw.get("additions"), deletions=raw.get("deletions"),
        files_changed=raw.get("files_changed"),     # from `git log --numstat`; not merges
    )
    return [commit, *(u for u in (author, committer) if u is not None)]
