"""What connectors' normalizers share: skipping a malformed item, deduplicating the records
one item gives, and the user of a git identity (`name <email>`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from dihub.errors import SkippableRecord
from dihub.models import Record, User
from dihub.models.records import git_identity_key

Make = Callable[..., Any]


def as_model(model: type[Record], **values: Any) -> Record:
    """`model(**values)`: the default `make` of the normalizers that take one. A sync
    passes dihub.models.plain.build instead, which stores the same documents without
    pydantic on the hot path."""
    return model(**values)


def skips_malformed(upstream: str, kind: str, ident: Callable[[dict], Any]) -> Callable:
    """Turn a missing/mistyped field into SkippableRecord (audited and skipped, not fatal),
    naming the item by `ident(raw)`."""

    def wrap(fn: Callable[..., list[Record]]) -> Callable[..., list[Record]]:
        @wraps(fn)
        def inner(raw: dict, *args: Any, **kwargs: Any) -> list[Record]:
            try:
                return fn(raw, *args, **kwargs)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                name = ident(raw) if isinstance(raw, dict) else None
                raise SkippableRecord(f"cannot read {upstream} {kind} {name or '?'}: "
                                      f"{type(exc).__name__} {exc}") from exc
        return inner
    return wrap


def dedupe(records: Iterable[Record | None]) -> list[Record]:
    """The records without None and without a second copy of one key, in order."""
    seen: set[str] = set()
    out: list[Record] = []
    for rec in records:
        if rec is not None and rec.key() not in seen:
            seen.add(rec.key())
            out.append(rec)
    return out


def source_id(user: Record | None) -> str | None:
    return user.source_id if user is not None else None


def git_identity_user(name: str | None, email: str | None, source: str) -> User | None:
    """A git `name <email>` identity as a user keyed `email:<lower-cased email>` (or
    `name:<name>`), the same key in every connector."""
    key = git_identity_key(name, email)
    if key is None:
        return None
    address = (email or "").strip().lower()
    return User(source=source, source_id=key, user_id=key, source_user_id=key,
                display_name=name or None, email=address or None)
