"""The optional `reviews` stream: pull request reviews (state, reviewer, submitted_at).

Off by default: it runs only when `reviews` is in the source's `streams:` (`--all` passes
over it otherwise). A review updates its pull request's `updated_at`, so a pass asks
GET /repos/{o}/{r}/pulls/{number}/reviews (100 a page) only for the pull requests stored
by the `pull_requests` stream and updated since the last pass, oldest first. Cost: one
request per pull request updated since the last pass (plus one per further 100 reviews),
and none when nothing changed. Sync `pull_requests` before `reviews`.

A pull request's reviews do not change with the order they are read in, so the pass
reads `http.concurrency` pull requests' reviews at once and writes each as it arrives.
The cursor moves only past pull requests whose reviews, and those of every older one,
are written, and never into a run of pull requests updated in the same second not all
written; those written beyond it are named in it (dihub/connectors/each_updated.py): a
stopped pass reads again at most the pull requests that were in flight.

Cursor: {"updated": the `updated_at` up to which every pull request's reviews are stored,
"done": {number: updated_at} of those stored beyond it, while a pass is under way}.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dihub.connectors.each_updated import pages_for_each
from dihub.connectors.github.client import (
    PER_PAGE,
    GitHubClient,
    GitHubSession,
    cached_repo,
    repo_info,
)
from dihub.connectors.github.normalize import _dedupe, _id, _skips_malformed, normalize_user
from dihub.connectors.stream import Page
from dihub.http import NotFound
from dihub.models import Record, Review, SyncState
from dihub.timeutil import to_iso

PR_NUMBER = "_dihub_pr_number"


def enabled(ctx: GitHubSession) -> bool:
    return "reviews" in (getattr(ctx.config, "streams", None) or [])


def review_partitions(ctx: GitHubSession) -> list[str]:
    from dihub.connectors.github.client import repo_partitions

    if not enabled(ctx):
        ctx.log.info("%s: the reviews stream is off; add `reviews` to the source's "
                     "`streams:` to sync it", ctx.source)
        return []
    return repo_partitions(ctx)


def review_pages(ctx: GitHubSession, partition: str, state: SyncState) -> Iterator[Page]:
    gh = GitHubClient(ctx, partition)
    try:
        repo = repo_info(ctx, gh, partition)
        cursor = state.cursor.get("updated") if isinstance(state.cursor, dict) else None
        since = cursor or ctx.config.start_date
        # (updated_at, number) only: a first pass over thousands of pull requests holds
        # no documents
        pulls = sorted((p["updated_at"], p["number"])
                       for p in ctx.store.iter_records("pull_requests", source=ctx.source,
                                                       since=since,
                                                       filters={"repo": repo.full_name})
                       if p.get("updated_at") and (cursor is None or p["updated_at"] > cursor))
        # not a progress total: the engine counts reviews, not pull requests
        ctx.log.info("%s/reviews: %d pull requests of %s updated since the last pass",
                     ctx.source, len(pulls), partition)
        url = f"/repos/{repo.full_name}/pulls/{{}}/reviews"
        yield from pages_for_each(pulls, lambda n: _reviews_of(gh, url.format(n), n),
                                  ctx.http_concurrency, state.cursor)
    finally:
        gh.audit_requests("reviews", "reviews", partition)


def _reviews_of(gh: GitHubClient, url: str, number: int) -> tuple[list[dict[str, Any]], int]:
    """Every review of pull request `number` (none when it is gone), and the bytes read."""
    items: list[dict[str, Any]] = []
    size = 0
    try:
        for _, resp in gh.pages(url, {"per_page": PER_PAGE}):
            size += resp.size
            items += [{**r, PR_NUMBER: number} for r in resp.data or []]
    except NotFound:
        return [], size         # the pull request is gone: nothing to read
    return items, size


@_skips_malformed("review")
def normalize_review(raw: dict[str, Any], source: str, repo: str, repo_id: str | int,
                     number: int) -> list[Record]:
    """A review from GET /pulls/{number}/reviews; its reviewer as a user."""
    rid = str(raw["id"])
    reviewer = normalize_user(raw.get("user"), source)
    submitted = to_iso(raw.get("submitted_at"))
    review = Review(
        source=source, source_id=f"{repo_id}:{rid}", review_id=rid, repo=repo,
        number=int(number), pull_request_id=f"{source}:pull_requests:{repo_id}:{number}",
        reviewer_id=_id(reviewer), state=raw.get("state"), submitted_at=submitted,
        commit_id=raw.get("commit_id"), updated_at=submitted)
    return _dedupe([review, reviewer])


def normalize(raw: dict[str, Any], ctx: GitHubSession, partition: str):
    repo = cached_repo(ctx, partition)
    return normalize_review(raw, ctx.source, repo.full_name, repo.id, raw[PR_NUMBER])
