"""Stores: the `Store` protocol, MongoDB (production) and SQLite (embedded default)."""

from dihub.store.base import QueryPage, Store, UpsertResult
from dihub.store.factory import (
    describe_configured_store,
    describe_store,
    open_configured_store,
    open_store,
    store_base_dir,
)

__all__ = ["QueryPage", "Store", "UpsertResult", "describe_configured_store", "describe_store",
           "open_configured_store", "open_store", "store_base_dir"]
