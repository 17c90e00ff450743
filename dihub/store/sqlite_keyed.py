"""The embedded store's indexes on `keyset.KEYED_FIELDS` (a commit's sha, an issue's key...).

A partial expression index per keyed field: only the entity's rows are in it. The
commits' keys are hashes (shas), so each record a transaction inserts dirties about one
page of that index, and a first load of a long history wrote 40% more with it than
without it (the section "git connector: cost against history size" of BENCHMARKS.md).
So a process that writes most of an entity's rows loads them without its keyed indexes
and builds them again once,
sorted, when it is next needed: before this process's first keyed lookup, at `close()`,
or, after a crash, at the first write of the next process that opens the file. Meanwhile
keyed lookups, in this process or another, read the entity's rows without the index:
slower, never wrong (docs/architecture.md, "The embedded store").
"""

from __future__ import annotations

import sqlite3

from dihub.store.keyset import KEYED_FIELDS, keyed_pairs

# A process drops an entity's keyed indexes once it has inserted this many of its rows and at
# least as many as the entity held before; the rebuild then reads at most twice what the
# process wrote.
BULK_MIN = 10_000


def index_name(entity: str, field: str) -> str:
    return f"records_by_{entity}_{field}"


def create_sql(entity: str, field: str) -> str:
    return (f"CREATE INDEX IF NOT EXISTS {index_name(entity, field)} ON records "
            f"(json_extract(doc, '$.{field}')) WHERE entity = '{entity}'")


SCHEMA = "".join(f"{create_sql(entity, field)};\n" for entity, field in keyed_pairs())


def is_missing_index(exc: sqlite3.OperationalError) -> bool:
    """An `INDEXED BY` naming an index another process dropped since it was looked up."""
    return str(exc).startswith("no such index")


class KeyedIndexes:
    """One store's view of its keyed indexes. Every method runs under the store's lock."""

    def __init__(self) -> None:
        self._names: set[str] | None = None      # the file's index names, read once
        self._inserted: dict[str, int] = {}      # rows of each keyed entity this process inserted
        self._next_check: dict[str, int] = {}
        self.dropped: set[str] = set()           # entities whose indexes this process dropped

    def forget(self) -> None:
        self._names = None

    def select(self, conn: sqlite3.Connection, entity: str, field: str) -> str:
        """`SELECT doc ... WHERE <the indexed expression>`. SQLite's planner, left alone,
        prefers the entity's time index and reads every row of the entity: name the index
        where it exists (an older read-only file, or one being loaded, lacks it)."""
        index = index_name(entity, field)
        if self._names is None:
            self._names = {name for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index'")}
        hint = f"INDEXED BY {index} " if index in self._names else ""
        return (f"SELECT doc FROM records {hint}WHERE entity = '{entity}' "
                f"AND json_extract(doc, '$.{field}')")

    def ensure(self, conn: sqlite3.Connection) -> None:
        """Create any keyed index the file lacks (inside a write transaction)."""
        for entity, field in keyed_pairs():
            conn.execute(create_sql(entity, field))
        self.dropped.clear()
        self._names = None

    def inserted(self, conn: sqlite3.Connection, counts: dict[str, int]) -> None:
        """After a batch's inserts, in its write transaction: drop the index of an entity
        this process is loading (see the module's docstring)."""
        for entity, n in counts.items():
            if entity not in KEYED_FIELDS or entity in self.dropped or not n:
                continue
            done = self._inserted[entity] = self._inserted.get(entity, 0) + n
            if done < self._next_check.get(entity, BULK_MIN):
                continue
            (held,) = conn.execute("SELECT count(*) FROM records WHERE entity = ?",
                                   (entity,)).fetchone()
            if held - done <= done:
                for field in KEYED_FIELDS[entity]:
                    conn.execute(f"DROP INDEX IF EXISTS {index_name(entity, field)}")
                self.dropped.add(entity)
                self._names = None
            else:       # look again when the process has written twice as many
                self._next_check[entity] = 2 * done
