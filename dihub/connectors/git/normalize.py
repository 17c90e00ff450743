"""Pure: one parsed `git log` record → a Commit plus its author and committer as Users."""

from __future__ import annotations

from dihub.models import Commit, Record, User
from dihub.timeutil import to_iso


def git_user(source: str, name: str, email: str) -> User:
    """Git identities have no account id: the lower-cased email is the key."""
    key = f"email:{email.strip().lower()}"
    return User(source=source, source_id=key, user_id=key, source_user_id=key,
                login=None, display_name=name or None, email=email or None)


def normalize_commit(raw: dict[str, str], source: str, repo: str,
                     branch_of: dict[str, str] | None = None) -> list[Record]:
    author = git_user(source, raw["author_name"], raw["author_email"])
    committer = git_user(source, raw["committer_name"], raw["committer_email"])
    committed_at = to_iso(raw["committed_at"])
    reached_from = raw.get("source") or ""
    branch = (branch_of or {}).get(reached_from, reached_from) or None
    commit = Commit(
        source=source, source_id=raw["sha"], updated_at=committed_at,
        commit_id=raw["sha"], repo=repo, branch=branch,
        author_id=author.user_id, committer_id=committer.user_id,
        message=raw["message"].rstrip("\n"), timestamp=committed_at,
        authored_at=to_iso(raw["authored_at"]),
        parents=raw["parents"].split() if raw["parents"] else [],
    )
    return [commit, author, committer] if committer.source_id != author.source_id else [
        commit, author]
