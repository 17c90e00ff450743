"""Stores: the `Store` protocol, MongoDB (production) and SQLite (embedded default)."""

from dihub.store.base import QueryPage, Store, UpsertResult
from dihub.store.factory import open_store

__all__ = ["QueryPage", "Store", "UpsertResult", "open_store"]
