"""PostgreSQL databases of many objects: the dump's locks stay one per table.

The server's lock table is shared by every session and holds about ``max_locks_per_transaction x
max_connections`` locks (6,400 on default settings); a transaction's locks are kept until it ends. A dump
that kept a lock on each sequence it read, on each TOAST table and its index it read values through, and on
each index the planner opened for a filtered or sanitised query ran out of it at a fraction of the tables
that one lock each allows (a database of 10,000 tables with a serial column each failed, after reading all
the rows, where 10,000 table locks alone fit). These tests count the locks the dump's session holds while
it writes its last section, on a database of every kind of object that takes one: they run in seconds, and
the count does not depend on the size.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql import dumper as dumper_module
from synco_core.engines.postgresql.dumper import PostgresDumper
from synco_core.errors import DatabaseError
from synco_core.testing.services import postgres_admin_connection, postgres_url_for
from synco_core.values import DumpOptions, DumpResult, SanitizeRule

pytestmark = pytest.mark.postgres

TABLES = 40


def _create(name: str) -> None:
    conn = postgres_admin_connection(name)
    try:
        for i in range(TABLES):
            # A serial (its sequence), values long enough to be TOASTed out of line, two indexes, a view.
            conn.execute(f"CREATE TABLE t_{i} (id serial PRIMARY KEY, email text UNIQUE, body text)")
            conn.execute(f"INSERT INTO t_{i} (email, body) SELECT 'u' || g || '@example.com', "
                         "(SELECT string_agg(md5(g::text || x::text), '') FROM generate_series(1, 400) x) "
                         "FROM generate_series(1, 3) g")
            conn.execute(f"CREATE VIEW v_{i} AS SELECT id, email FROM t_{i}")
        conn.execute("CREATE SEQUENCE loose_sequence")
        conn.execute("SELECT nextval('loose_sequence')")
    finally:
        conn.close()


def _locks_held_at_the_end(name: str, options: DumpOptions,
                           monkeypatch: pytest.MonkeyPatch) -> tuple[int, bytes, DumpResult]:
    """How many locks on the database's own objects the dump's session held while writing its last section,
    and the dump."""
    held: list[int] = []
    original: Callable[..., Any] = PostgresDumper._event_triggers

    def counting(self: PostgresDumper, w: Any, conn: psycopg.Connection[Any]) -> None:
        # The catalogue's own tables and indexes are a few dozen whatever the database holds.
        held.append(int(conn.execute(
            "SELECT count(*) FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c ON c.oid = l.relation "
            "WHERE l.pid = pg_catalog.pg_backend_pid() AND c.relnamespace <> 'pg_catalog'::regnamespace "
            "AND c.relnamespace <> 'information_schema'::regnamespace").fetchone()[0]))
        original(self, w, conn)

    monkeypatch.setattr(dumper_module.PostgresDumper, "_event_triggers", counting)
    out = io.BytesIO()
    result = PostgresDumper(parse_database_url(postgres_url_for(name)), options).dump(out)
    return held[0], out.getvalue(), result


@pytest.mark.parametrize("sanitised", [False, True], ids=["plain", "filtered-and-sanitised"])
def test_the_dump_holds_one_lock_per_table(postgres_database_factory: Callable[[], str],
                                           monkeypatch: pytest.MonkeyPatch, sanitised: bool) -> None:
    name = postgres_database_factory()
    _create(name)
    options = DumpOptions()
    if sanitised:
        # A filter and a sanitising expression make each COPY a query the planner opens the indexes for.
        options = DumpOptions(where={f"public.t_{i}": "email LIKE 'u%'" for i in range(TABLES)},
                              sanitize=[SanitizeRule(table=f"public.t_{i}", column="email", expression="'x' || id")
                                        for i in range(TABLES)])
    held, dump, result = _locks_held_at_the_end(name, options, monkeypatch)
    assert sum(manifest.rows for manifest in result.tables.values()) == 3 * TABLES
    assert (b"\tx1\t" in dump) is sanitised
    assert b"SELECT pg_catalog.setval('public.loose_sequence', 1, true);" in dump
    # Its tables and views (locked as it began, to keep them from being altered until it ends) and nothing per
    # sequence, TOAST table or index: those are let go once read.
    assert held == 2 * TABLES, f"the dump held {held} locks for {TABLES} tables and {TABLES} views"


def test_a_full_lock_table_is_named_with_what_to_raise(postgres_database_factory: Callable[[], str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's "out of shared memory" names only the memory; its hint (which a one-line error left out)
    names the setting. Filling the shared server's lock table would fail every other session on it, so the
    error is the server's own, raised where a dump of 20,000 tables met it."""
    name = postgres_database_factory()
    _create(name)
    hint = b"You might need to increase max_locks_per_transaction."

    def full(*_args: Any) -> None:
        raise psycopg.errors.OutOfMemory("out of shared memory",
                                         info={psycopg.pq.DiagnosticField.MESSAGE_HINT: hint})

    monkeypatch.setattr(dumper_module.PostgresDumper, "_setvals", full)
    with pytest.raises(DatabaseError) as caught:
        PostgresDumper(parse_database_url(postgres_url_for(name)), DumpOptions()).dump(io.BytesIO())
    message = str(caught.value)
    assert "\n" not in message
    assert "out of shared memory (the server's lock table is full" in message
    assert f"each of its {2 * TABLES} tables and views" in message
    settings = postgres_admin_connection()
    try:
        per, connections = (settings.execute(f"SHOW {setting}").fetchone()[0]
                            for setting in ("max_locks_per_transaction", "max_connections"))
    finally:
        settings.close()
    assert f"max_locks_per_transaction ({per}) x (max_connections ({connections}) + " in message
    assert message.endswith("raise max_locks_per_transaction on the server, which takes a restart)")
