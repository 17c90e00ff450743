"""An example third-party dihub connector: the books of a small bookshelf web API.

It adds an entity of its own (`books`, keyed by `book_id`), reads the API page by
page with a bearer token, checkpoints the next page after each one, and retries
a failed request a few times. docs/writing-a-connector.md walks through it.

    GET {base_url}/books?page=N  ->  {"books": [{id, title, author, year, updated}],
                                      "next": N + 1 or null}
"""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar

import httpx

from dihub.connectors.base import Connector, Entity, SourceConfig
from dihub.connectors.stream import Page, Stream
from dihub.errors import AuthError, TemporaryError
from dihub.models import Record
from dihub.redact import register_secret


class Book(Record):
    """One book on the shelf."""

    entity: ClassVar[str] = "books"
    book_id: str
    title: str
    author: str | None = None
    year: int | None = None


class BookshelfConfig(SourceConfig):
    base_url: str
    token_env: str = "BOOKSHELF_TOKEN"      # the environment variable holding the token


ATTEMPTS = 5


def _get(client: httpx.Client, url: str, params: dict[str, Any]) -> httpx.Response:
    """One GET, retried on a dropped connection or a 5xx/429 (a short pause between)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = client.get(url, params=params)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 401:
            raise AuthError("bookshelf rejected the token (401)",
                            hint="Set the environment variable named by token_env.")
        if response is not None and response.status_code < 400:
            return response
        if attempt < ATTEMPTS:
            time.sleep(0.05 * attempt)
    raise TemporaryError(f"bookshelf: {url} kept failing after {ATTEMPTS} attempts")


def fetch_books(ctx, partition: str, state) -> Any:
    """Pages of books from the saved page on; each page's cursor is the next page."""
    token = os.environ.get(ctx.config.token_env, "")
    register_secret(token)          # never in a log line, an error or the audit log
    page = state.cursor or 1
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        while page:
            body = _get(client, f"{ctx.config.base_url}/books", {"page": page}).json()
            page = body.get("next")
            yield Page(body["books"], cursor=page or None)


def normalize_book(raw: dict[str, Any], ctx, partition: str) -> Book:
    return Book(source=ctx.source, source_id=str(raw["id"]), book_id=str(raw["id"]),
                title=raw["title"], author=raw.get("author"), year=raw.get("year"),
                updated_at=raw.get("updated"))


connector = Connector(
    name="bookshelf",
    description="Books of a bookshelf web API (an example plugin)",
    config_model=BookshelfConfig,
    streams={"books": Stream(name="books", entity="books", fetch=fetch_books,
                             normalize=normalize_book, cursor_field="page")},
    entities=(Entity(Book, key="book_id", columns=("book_id", "title", "author", "year")),),
)
