"""Backends the contract suite runs against.

`sqlite` (a real file) and `mongomock` always run; `mongodb` runs against a real
server when DIHUB_TEST_MONGODB_URI is set (e.g. mongodb://localhost:27017; `.ci/run`
starts FerretDB for it), each test in its own database, dropped afterwards. A test
marked `@pytest.mark.ferretdb_difference("why")` skips that leg on FerretDB only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from dihub.store.mongo import MongoStore
from dihub.store.sqlite import SQLiteStore
from tests.support.ferretdb import uri_is_ferretdb

MONGODB_URI_ENV = "DIHUB_TEST_MONGODB_URI"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ferretdb_difference(reason): skip the real-server leg when the server is FerretDB "
        "(.ci/run's), for a documented difference from MongoDB; sqlite and mongomock run")


@dataclass
class Backend:
    """Opens any number of stores on one shared storage (file or database)."""

    name: str
    factory: Callable[..., Any]
    uri: str | None = None       # the real server's URI (with its database), if any
    opened: list[Any] = field(default_factory=list)

    def open(self, **options: Any) -> Any:
        """A store on the shared storage; `options` go to the store (e.g. `clock=`)."""
        store = self.factory(**options)
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()


def with_database(uri: str, database: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def patch_mongomock_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    """mongomock 4.3 predates pymongo 4.9, whose ReplaceOne/UpdateOne pass `sort=` to the
    bulk builder. Accept it when it is None (dihub never sorts a replace); refuse otherwise."""
    import inspect

    from mongomock.collection import BulkOperationBuilder

    for name in ("add_replace", "add_update"):
        original = getattr(BulkOperationBuilder, name)
        if "sort" in inspect.signature(original).parameters:
            continue

        def compat(self, *args, _original=original, sort=None, **kwargs):
            if sort is not None:
                raise NotImplementedError("mongomock cannot sort a bulk replace/update")
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(BulkOperationBuilder, name, compat)


@pytest.fixture
def mongomock_client(monkeypatch: pytest.MonkeyPatch) -> Any:
    import mongomock

    patch_mongomock_bulk(monkeypatch)
    return mongomock.MongoClient()


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
def backend(request: pytest.FixtureRequest, tmp_path) -> Iterator[Backend]:
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if request.param == "sqlite":
        path = tmp_path / "data" / "dihub.db"
        be = Backend("sqlite", lambda **kw: SQLiteStore(path, **kw))
    elif request.param == "mongomock":
        client = request.getfixturevalue("mongomock_client")
        be = Backend("mongomock",
                     lambda **kw: MongoStore("mongodb://localhost/dihub_test", client=client,
                                             **kw))
    else:
        uri = os.environ.get(MONGODB_URI_ENV)
        if not uri:
            pytest.skip(f"set {MONGODB_URI_ENV} to run the contract against a real MongoDB")
        import pymongo

        difference = request.node.get_closest_marker("ferretdb_difference")
        if difference is not None and uri_is_ferretdb(uri):
            pytest.skip(f"FerretDB differs from MongoDB here: {difference.args[0]}")
        database = f"dihub_test_{uuid.uuid4().hex[:16]}"
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
        be = Backend("mongodb", lambda **kw: MongoStore(with_database(uri, database),
                                                        client=client, **kw))
        be.uri = with_database(uri, database)

        def cleanup() -> None:
            client.drop_database(database)
            client.close()
    try:
        yield be
    finally:
        be.close_all()
        cleanup()


@pytest.fixture
def store(backend: Backend) -> Any:
    return backend.open()


def record(source_id: str, updated_at: str | None = "2026-01-01T00:00:00Z", *,
           source: str = "gh", entity: str = "commits", signature: str | None = None,
           ingested_at: str = "2026-02-01T00:00:00Z", **fields: Any) -> dict[str, Any]:
    """A record as the engine hands it to the store."""
    doc = {
        "_id": f"{source}:{entity}:{source_id}", "source": source, "entity": entity,
        "source_id": source_id, "updated_at": updated_at, "ingested_at": ingested_at,
        "raw_signature": signature or f"sig-{source_id}",
    }
    doc.update(fields)
    return doc


@pytest.fixture
def make_record() -> Callable[..., dict[str, Any]]:
    return record
