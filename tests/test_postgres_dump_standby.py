"""A PostgreSQL dump read from a hot standby (a private primary and standby pair made by
tests/private_servers.py), as a replica kept for backups and reports is read.

The standby gives the dump its snapshot, but replaying the primary's changes may remove row versions that
snapshot still needs: once ``max_standby_streaming_delay`` has passed the standby ends the dump's query or
its connection ("conflict with recovery"). The dump failed in one line that said so, without a word on what
to do; it now says to run it again, or how to configure the standby (or to dump the primary).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from private_servers import postgresql, postgresql_standby

from synco_core.engines.dispatch import dump_with_engine
from synco_core.engines.postgresql import connect_database, dumper, inspect_database
from synco_core.errors import DatabaseError
from synco_core.values import DatabaseConfig, DumpOptions, SanitizeRule

pytestmark = pytest.mark.postgres


def _connect(server: DatabaseConfig, dbname: str = "app") -> psycopg.Connection[Any]:
    return psycopg.connect(host=server.host, port=server.port, user="postgres", dbname=dbname, autocommit=True)


def _caught_up(primary: DatabaseConfig, standby: DatabaseConfig) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with _connect(primary, "postgres") as conn:
        position = conn.execute("SELECT pg_catalog.pg_current_wal_lsn()::text").fetchone()
    assert position is not None
    deadline = time.monotonic() + 120
    with _connect(standby, "postgres") as conn:
        while True:
            row = conn.execute("SELECT pg_catalog.pg_last_wal_replay_lsn() >= %s::pg_lsn", (position[0],)).fetchone()
            if row is not None and row[0]:
                return
            assert time.monotonic() < deadline, "the standby replays the primary's changes"
            time.sleep(0.05)


def test_a_standby_is_dumped_and_a_conflict_with_recovery_says_what_to_do(
        pair: tuple[DatabaseConfig, DatabaseConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    primary, standby = pair
    with _connect(primary, "postgres") as conn:
        conn.execute("CREATE DATABASE conflicting")
    with _connect(primary, "conflicting") as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)")
        conn.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g")
    _caught_up(primary, standby)
    source = DatabaseConfig(engine="postgresql", name="conflicting", user="postgres", host=standby.host,
                            port=standby.port)
    assert dump_with_engine(source, io.BytesIO(), DumpOptions()).tables["t"].rows == 1000

    real = dumper.PostgresDumper._copy_table

    def primary_cleans_up_first(self: dumper.PostgresDumper, *args: Any, **kwargs: Any) -> Any:
        # Row versions the dump's snapshot still sees, removed on the primary and the removal replayed.
        with _connect(primary, "conflicting") as conn:
            conn.execute("UPDATE t SET v = v + 1")
            conn.execute("VACUUM t")
        _caught_up(primary, standby)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(dumper.PostgresDumper, "_copy_table", primary_cleans_up_first)
    with pytest.raises(DatabaseError) as raised:
        dump_with_engine(source, io.BytesIO(), DumpOptions())
    message = str(raised.value)
    assert "conflict with recovery" in message and "hot standby" in message and "run the dump again" in message
    assert "hot_standby_feedback" in message and "\n" not in message


def test_a_standby_names_the_exclusion_constraint_it_cannot_check(pair: tuple[DatabaseConfig, DatabaseConfig],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A rule on a column of an exclusion constraint is checked by building the constraint over the copied rows
    in a temporary table, which a standby cannot make: the dump goes on, naming the constraint in one warning
    line (a load refuses a conflicting copy, as it did before the check), and the snapshot it shares with the
    check's connection leaves the dump's own transaction as it was."""
    primary, standby = pair
    with _connect(primary, "postgres") as conn:
        conn.execute("CREATE DATABASE booked")
    with _connect(primary, "booked") as conn:
        conn.execute("CREATE EXTENSION btree_gist")
        conn.execute("CREATE TABLE bookings (id SERIAL PRIMARY KEY, room INT NOT NULL, during tsrange NOT NULL, "
                     "CONSTRAINT no_double_booking EXCLUDE USING gist (room WITH =, during WITH &&))")
        conn.execute("INSERT INTO bookings (room, during) VALUES (1, '[2024-01-01,2024-01-03)'), "
                     "(2, '[2024-01-02,2024-01-04)')")
    _caught_up(primary, standby)
    source = DatabaseConfig(engine="postgresql", name="booked", user="postgres", host=standby.host,
                            port=standby.port)
    rules = DumpOptions(sanitize=(SanitizeRule("bookings", "room", transform="fixed:7"),))
    with caplog.at_level(logging.WARNING):
        result = dump_with_engine(source, io.BytesIO(), rules)
    warnings = [record.getMessage() for record in caplog.records if "no_double_booking" in record.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0], caplog.text
    assert "bookings.room -> fixed:7" in warnings[0] and "read-only transaction" in warnings[0], warnings
    assert result.tables["bookings"].rows == 2


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[DatabaseConfig, DatabaseConfig]]:
    """A primary and its hot standby, which cancels a conflicting read at once."""
    with postgresql() as primary, postgresql_standby(primary, ["max_standby_streaming_delay=0"]) as standby:
        yield primary, standby


def _database(primary: DatabaseConfig, standby: DatabaseConfig, name: str) -> DatabaseConfig:
    """A database on the primary with a table ``t`` of 20,000 rows and an empty ``u``, as the standby has it."""
    with _connect(primary, "postgres") as conn:
        conn.execute(f"CREATE DATABASE {name}")
    with _connect(primary, name) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL) WITH (autovacuum_enabled = off)")
        conn.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 20000) g")
        conn.execute("CREATE TABLE u (id int PRIMARY KEY)")
        # Rows at the table's end, deleted and vacuumed away before the dump, leaving empty pages that the next
        # VACUUM cuts off the file: no snapshot needs them, and hot_standby_feedback would not hold that back.
        conn.execute("DELETE FROM t WHERE id > 1000")
        conn.execute("VACUUM (TRUNCATE false) t")
    _caught_up(primary, standby)
    return DatabaseConfig(engine="postgresql", name=name, user="postgres", host=standby.host, port=standby.port)


#: What the primary does while the dump reads the standby: each takes an exclusive lock on a table the dump
#: holds, which the standby replays (hot_standby_feedback would keep none of them from happening).
EXCLUSIVE_ON_THE_PRIMARY = {
    "a column added": "ALTER TABLE t ADD COLUMN x int",
    "a table truncated": "TRUNCATE u",
    "the end of a table vacuumed away": "VACUUM t",
}


@pytest.mark.parametrize("change", sorted(EXCLUSIVE_ON_THE_PRIMARY))
def test_a_lock_replayed_from_the_primary_is_named_as_such(change: str, pair: tuple[DatabaseConfig, DatabaseConfig],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The standby ends a read holding a table the primary locked exclusively, once max_standby_streaming_delay
    has passed: the message said the primary had removed rows the read needed and to set hot_standby_feedback,
    which changes nothing here. It now says what the primary did and what helps."""
    primary, standby = pair
    source = _database(primary, standby, f"app_lock_{sorted(EXCLUSIVE_ON_THE_PRIMARY).index(change)}")
    real = dumper.PostgresDumper._copy_table

    def primary_changes_first(self: dumper.PostgresDumper, *args: Any, **kwargs: Any) -> Any:
        with _connect(primary, source.name) as conn:
            conn.execute(EXCLUSIVE_ON_THE_PRIMARY[change])
        _caught_up(primary, standby)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(dumper.PostgresDumper, "_copy_table", primary_changes_first)
    with pytest.raises(DatabaseError) as raised:
        dump_with_engine(source, io.BytesIO(), DumpOptions())
    message = str(raised.value)
    assert "conflict with recovery" in message and "\n" not in message, message
    assert "exclusive lock" in message and "primary" in message and "max_standby_streaming_delay" in message, message
    assert "hot_standby_feedback = on" not in message, message


def test_a_lock_the_primary_holds_is_named_as_the_primarys(pair: tuple[DatabaseConfig, DatabaseConfig],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration's open transaction on the primary holds its exclusive lock on the standby too (the standby's
    recovery process takes it until the transaction ends there): the dump waited for it and then named "another
    session" by the pid of that process, which is no session and no process of the primary's."""
    primary, standby = pair
    source = _database(primary, standby, "app_held")
    monkeypatch.setattr(dumper, "LOCK_WAIT_SECONDS", 1)
    with psycopg.connect(host=primary.host, port=primary.port, user="postgres", dbname=source.name) as migration:
        migration.execute("LOCK TABLE u IN ACCESS EXCLUSIVE MODE")
        with _connect(primary, "postgres") as conn:
            conn.execute("SELECT pg_catalog.pg_switch_wal()")  # the lock's record, not yet flushed, goes out
        _caught_up(primary, standby)
        with pytest.raises(DatabaseError) as raised:
            dump_with_engine(source, io.BytesIO(), DumpOptions())
    message = str(raised.value)
    assert "public.u" in message and "\n" not in message, message
    assert "primary" in message and "another session holds" not in message, message


@pytest.mark.parametrize("level", ["database", "role"])
def test_a_standby_whose_sessions_default_to_serializable_is_read(level: str,
                                                                 pair: tuple[DatabaseConfig, DatabaseConfig]) -> None:
    """``default_transaction_isolation = 'serializable'`` (set for the database or the role, as some
    applications want it) makes a hot standby refuse every query: "cannot use serializable mode in a hot
    standby". The dump, the inventory and a plugin's reader failed on their first query, as pg_dump does; they
    read a standby in REPEATABLE READ, which the dump's snapshot uses anyway."""
    primary, standby = pair
    source = _database(primary, standby, f"app_serializable_{level}")
    setting = "SET default_transaction_isolation = 'serializable'"
    with _connect(primary, "postgres") as conn:
        conn.execute(f"ALTER DATABASE {source.name} {setting}" if level == "database" else
                     f"ALTER ROLE postgres IN DATABASE {source.name} {setting}")
    _caught_up(primary, standby)
    with _connect(standby, source.name) as conn, pytest.raises(psycopg.errors.FeatureNotSupported):
        conn.execute("SELECT 1")  # the setting holds on the standby
    assert dump_with_engine(source, io.BytesIO(), DumpOptions()).tables["t"].rows == 1000
    assert {table.name for table in inspect_database(source).tables} == {"t", "u"}
    reader = connect_database(source)
    assert reader is not None
    with reader:
        assert list(reader.rows("SELECT count(*) FROM t")) == [(1000,)]


def test_a_conflict_while_the_dump_starts_says_what_to_do_too(pair: tuple[DatabaseConfig, DatabaseConfig],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A conflict with recovery while the dump takes its snapshot and its locks (many tables take a while) gave
    the server's words alone: the dump learnt it read a standby only once it had begun."""
    from synco_core.engines.postgresql import catalog

    primary, standby = pair
    source = _database(primary, standby, "app_starting")
    real = catalog.read_tables

    def primary_cleans_up_first(conn: psycopg.Connection[Any]) -> list[catalog.Table]:
        # Row versions the dump's snapshot, just taken, still sees, removed on the primary and the removal replayed.
        with _connect(primary, source.name) as other:
            other.execute("UPDATE t SET v = v + 1")
            other.execute("VACUUM t")
        _caught_up(primary, standby)
        return real(conn)

    monkeypatch.setattr(catalog, "read_tables", primary_cleans_up_first)
    with pytest.raises(DatabaseError) as raised:
        dump_with_engine(source, io.BytesIO(), DumpOptions())
    message = str(raised.value)
    assert "conflict with recovery" in message and "hot standby" in message and "run the dump again" in message
    assert "\n" not in message, message


#: Sanitising expressions and filters the dump's read-only transaction (and a standby) refuses, or that name what
#: the server does not know: (rule or filter, its text, the server's words, what the message shows of it). A
#: filter on ``accounts``, whose rows ``logins`` points at, is read first by the foreign key's check; one on
#: ``logins`` first by its COPY.
REFUSED_RULES = {
    "nextval": ("rule", "'user' || nextval('public.ids')", "read-only transaction", "accounts.email -> "),
    "a function that writes": ("rule", "public.noted(email)", "read-only transaction", "accounts.email -> "),
    "a function that does not exist": ("rule", "public.nowhere(email)", "does not exist", "accounts.email -> "),
    "a filter calling nextval": ("accounts", "nextval('public.ids') > 0", "read-only transaction", "where nextval("),
    "a filter with a function that writes": ("logins", "public.noted(note) IS NOT NULL", "read-only transaction",
                                             "where public.noted("),
    "a filter with a function that does not exist": ("accounts", "public.nowhere(email)", "does not exist",
                                                     "where public.nowhere("),
}


@pytest.mark.parametrize("case", sorted(REFUSED_RULES))
def test_a_rule_the_server_refuses_is_named_with_its_table(case: str,
                                                            pair: tuple[DatabaseConfig, DatabaseConfig]) -> None:
    """A sanitising rule or a filter calling nextval() or a function that writes cannot run in the dump's
    read-only transaction, the only kind a standby has: the dump failed with the server's words alone ("cannot
    execute nextval() in a read-only transaction"), naming neither the rule nor the filter."""
    primary, standby = pair
    source = _database(primary, standby, f"app_rule_{sorted(REFUSED_RULES).index(case)}")
    with _connect(primary, source.name) as conn:
        conn.execute("CREATE SEQUENCE ids")
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL)")
        conn.execute("INSERT INTO accounts VALUES (1, 'a@example.com')")
        conn.execute("CREATE TABLE logins (id int PRIMARY KEY, account int REFERENCES accounts, note text)")
        conn.execute("INSERT INTO logins VALUES (1, 1, 'first')")
        conn.execute("CREATE FUNCTION noted(v text) RETURNS text LANGUAGE plpgsql AS "
                     "$$ BEGIN CREATE TEMP TABLE IF NOT EXISTS seen (v text); INSERT INTO seen VALUES (v); "
                     "RETURN v; END $$")
    _caught_up(primary, standby)
    kind, expression, said, shown = REFUSED_RULES[case]
    options = (DumpOptions(sanitize=(SanitizeRule("accounts", "email", expression),)) if kind == "rule" else
               DumpOptions(where={kind: expression}))
    with pytest.raises(DatabaseError) as raised:
        dump_with_engine(source, io.BytesIO(), options)
    message = str(raised.value)
    assert shown in message and said in message and "\n" not in message, message
    assert ("a rule or filter may not write" in message) == (said == "read-only transaction"), message
