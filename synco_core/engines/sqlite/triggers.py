"""Taking a database's triggers out while synco itself changes its rows, and putting them back as they were.

The dump's rules (filters, sanitising) run as ``DELETE`` and ``UPDATE`` statements on a copy of the file, and
the install's value rewriter as ``UPDATE`` statements on the loaded file. The database's own triggers would
run for them: Sakila's stamp ``last_update`` on every row a rule touched, an audit trigger adds rows production
does not have, an append-only table's ``RAISE(ABORT)`` stops the dump, and a hostile file's code runs although
a database file is data. The server engines change rows as they read or load them, before or without their
triggers, so none of that happens there either.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection, Iterator

from synco_core.engines.sqlite.common import quote


@contextlib.contextmanager
def triggers_taken_out(conn: sqlite3.Connection, keep: Collection[str] = ()) -> Iterator[None]:
    """Drop every trigger but those named in ``keep`` for the block, and create them again after it, in the
    order they were made. Run inside the caller's transaction: if the block fails, its rollback puts them
    back."""
    triggers = [(str(name), str(sql)) for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql NOT NULL ORDER BY rowid")
        if str(name) not in keep]
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {quote(name)}")
    yield
    for _, sql in triggers:
        conn.execute(sql)
