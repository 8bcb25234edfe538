"""SQLite dump while the application holds the database file.

A writer in rollback-journal mode holds an exclusive lock from ``BEGIN EXCLUSIVE`` (or its first spill of a
big transaction to disk) to its commit, and a connection in ``locking_mode=EXCLUSIVE`` holds it for as long
as it is open; no reader gets in meanwhile. Python's online backup retries a busy step for ever, so the dump
used to wait without a word for as long as the application kept it (the connection's 30 s busy timeout
did not end it). It now gives up after a bounded wait, in one line. A writer that only holds the write lock
(``BEGIN IMMEDIATE``, or any write transaction in WAL mode) does not stop readers: the dump goes through and
holds what was committed.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine
from synco_core.engines.sqlite import dump as sqlite_dump
from synco_core.errors import DatabaseError
from synco_core.values import DumpOptions

#: (journal mode, what the application runs and keeps open, whether readers are shut out meanwhile).
HOLDS = {
    "rollback journal, BEGIN EXCLUSIVE": ("DELETE", ["BEGIN EXCLUSIVE", "INSERT INTO t VALUES (3, 'uncommitted')"],
                                          True),
    "rollback journal, exclusive locking mode": ("DELETE", ["PRAGMA locking_mode = EXCLUSIVE", "BEGIN",
                                                            "INSERT INTO t VALUES (3, 'uncommitted')", "COMMIT",
                                                            "BEGIN", "INSERT INTO t VALUES (4, 'uncommitted')"], True),
    "WAL, exclusive locking mode": ("WAL", ["PRAGMA locking_mode = EXCLUSIVE", "BEGIN",
                                            "INSERT INTO t VALUES (3, 'uncommitted')"], True),
    "rollback journal, BEGIN IMMEDIATE": ("DELETE", ["BEGIN IMMEDIATE", "INSERT INTO t VALUES (3, 'uncommitted')"],
                                          False),
    "WAL, open write transaction": ("WAL", ["BEGIN", "INSERT INTO t VALUES (3, 'uncommitted')"], False),
}


@contextlib.contextmanager
def application(path: Path, name: str) -> Iterator[None]:
    mode, statements, _ = HOLDS[name]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA journal_mode = {mode}")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        for statement in statements:
            conn.execute(statement)
        yield
    finally:
        conn.close()


@pytest.mark.parametrize("name", sorted(HOLDS))
def test_a_locked_source_is_waited_for_a_bounded_time(name: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_dump, "BUSY_SECONDS", 1)
    path = tmp_path / "app.db"
    with application(path, name):
        if HOLDS[name][2]:
            with pytest.raises(DatabaseError) as raised:
                dump_with_engine(parse_database_url(f"sqlite:///{path}"), io.BytesIO(), DumpOptions())
            message = str(raised.value)
            assert str(path) in message and "locked" in message and "\n" not in message
        else:
            result = dump_with_engine(parse_database_url(f"sqlite:///{path}"), io.BytesIO(), DumpOptions())
            # What was committed, without the open transaction's row.
            assert result.tables["t"].rows == 2
    # The application's file is as it left it.
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
