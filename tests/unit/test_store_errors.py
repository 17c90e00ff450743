"""Store failures reach the user as clear dihub errors with the right exit code."""

from __future__ import annotations

import pytest
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from dihub.errors import EXIT_FAILURE, EXIT_TEMPFAIL, FatalError
from dihub.metrics_export import write_textfile
from dihub.store.errors import store_error
from dihub.store.sqlite import SQLiteStore


def test_unreachable_mongodb_is_temporary():
    err = store_error(ServerSelectionTimeoutError("db:27017: [Errno 111] Connection refused, "
                                                  "Timeout: 10s, Topology Description: ..."))
    assert err.exit_code == EXIT_TEMPFAIL
    assert "unreachable: db:27017: [Errno 111] Connection refused" in str(err)
    assert "Topology" not in str(err)
    assert store_error(OperationFailure("bad")).exit_code == EXIT_FAILURE
    assert store_error(ValueError("not a store error")) is None


def test_unopenable_sqlite_path_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = SQLiteStore(blocker / "sub" / "dihub.db")
    with pytest.raises(FatalError, match="cannot open the embedded store .*sub/dihub.db"):
        store.count("users")


def test_unwritable_textfile_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FatalError, match="cannot write the metrics textfile"):
        write_textfile(blocker / "dir" / "dihub.prom", "x 1\n")
