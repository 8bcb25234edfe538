"""A PostgreSQL dump of a database another session changes while the dump begins.

The dump's snapshot is taken by its first catalogue query, and its tables are share-locked only once it
knows them. A ``TRUNCATE``, or an ``ALTER TABLE`` that rewrites a table, committed in between is not
MVCC-safe: the snapshot then reads the new file, and the table used to be dumped empty without a word
(so were the rows of a table swapped for a new one under the same name). The dump must hold one state of
the database: the one before such a change or the one after it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from test_postgres_support import fingerprints, schema_dump

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.engines.postgresql import catalog
from synco_core.errors import DatabaseError
from synco_core.testing.services import postgres_url_for
from synco_core.values import DumpOptions, InstallOptions

pytestmark = pytest.mark.postgres

#: What another session commits between the dump's snapshot and its locks; each keeps the total.
CHANGES = {
    "truncate and refill": "TRUNCATE savings; INSERT INTO savings VALUES (1, 300), (2, 200)",
    "a column type that rewrites": "ALTER TABLE savings ALTER COLUMN balance TYPE bigint",
    "a volatile default that rewrites": "ALTER TABLE savings ADD COLUMN token text DEFAULT md5(random()::text)",
    "a table swapped for a copy": "ALTER TABLE savings RENAME TO savings_old; "
                                  "CREATE TABLE savings (id int PRIMARY KEY, balance int NOT NULL); "
                                  "INSERT INTO savings SELECT * FROM savings_old; DROP TABLE savings_old",
    "a table dropped": "DROP TABLE savings",
    "a column added": "ALTER TABLE savings ADD COLUMN note text",
}


def _source(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE checking (id int PRIMARY KEY, balance int NOT NULL)")
        conn.execute("INSERT INTO checking VALUES (1, 250), (2, 250)")
        conn.execute("CREATE TABLE savings (id int PRIMARY KEY, balance int NOT NULL)")
        conn.execute("INSERT INTO savings VALUES (1, 250), (2, 250)")


def _committed_in_the_window(monkeypatch: pytest.MonkeyPatch, url: str, change: str, times: int) -> list[int]:
    """Have another session commit ``change`` right after the dump's snapshot, ``times`` times at most."""
    real = catalog.read_tables
    done: list[int] = []

    def read_then_change(conn: psycopg.Connection[Any]) -> list[catalog.Table]:
        tables = real(conn)
        if len(done) < times:
            with psycopg.connect(url) as other:
                other.execute(change)
            done.append(1)
        return tables

    monkeypatch.setattr(catalog, "read_tables", read_then_change)
    return done


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_before_the_locks_gives_the_state_before_or_after_it(
        change: str, postgres_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = postgres_url_for(postgres_database_factory()), postgres_url_for(postgres_database_factory())
    _source(source)
    before = fingerprints(source)
    done = _committed_in_the_window(monkeypatch, source, CHANGES[change], 1)
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(source), out, DumpOptions())
    assert done
    after = fingerprints(source)
    install_with_engine(parse_database_url(target), io.BytesIO(out.getvalue()),
                        InstallOptions(yes=True, manifest=result.tables))
    assert fingerprints(target) in (before, after)


def test_a_table_rewritten_at_every_attempt_is_one_clear_error(postgres_database_factory: Callable[[], str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    source = postgres_url_for(postgres_database_factory())
    _source(source)
    _committed_in_the_window(monkeypatch, source, CHANGES["truncate and refill"], 100)
    with pytest.raises(DatabaseError) as raised:
        dump_with_engine(parse_database_url(source), io.BytesIO(), DumpOptions())
    message = str(raised.value)
    assert "public.savings" in message and "TRUNCATE" in message and "again" in message and "\n" not in message


#: What another session may hold in an open transaction that the dump has to wait for, and what it holds.
HOLDERS = {
    "LOCK TABLE": ("LOCK TABLE savings IN ACCESS EXCLUSIVE MODE", "public.savings"),
    "ALTER TABLE": ("ALTER TABLE savings ADD COLUMN note text", "public.savings"),
    "a view replaced": ("CREATE OR REPLACE VIEW totals AS SELECT sum(balance) AS total, 1 AS version FROM savings",
                        "public.totals"),
}


@pytest.mark.parametrize("holder", sorted(HOLDERS))
def test_a_lock_held_by_another_session_is_waited_for_a_bounded_time(
        holder: str, postgres_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration left in an open transaction used to have the dump wait without a word for as long as it
    lasted; it now gives up after a while, in one line naming what is held and by which session."""
    from synco_core.engines.postgresql import dumper

    monkeypatch.setattr(dumper, "LOCK_WAIT_SECONDS", 1)
    source = postgres_url_for(postgres_database_factory())
    _source(source)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("CREATE VIEW totals AS SELECT sum(balance) AS total FROM savings")
    statement, held = HOLDERS[holder]
    with psycopg.connect(source) as other:
        other.execute(statement)
        with pytest.raises(DatabaseError) as raised:
            dump_with_engine(parse_database_url(source), io.BytesIO(), DumpOptions())
        message = str(raised.value)
        assert f"{held}, which another session holds (pid {other.info.backend_pid}, idle in transaction)" in message
        assert "\n" not in message
        other.rollback()
    # With the transaction ended, the same dump goes through.
    dump_with_engine(parse_database_url(source), io.BytesIO(), DumpOptions())


#: What another session commits once the dump holds its locks, to objects no lock of the dump covers.
#: pg_get_functiondef(), format_type() and the like read the server's current catalogue, not the snapshot:
#: a function dropped meanwhile gave None (the dump failed with "'NoneType' object has no attribute
#: 'rstrip'"), a type renamed was created under its old name and used under its new one (the dump failed to
#: load), a sequence dropped or renamed failed the dump with PostgreSQL's line and no advice.
UNLOCKED = {
    "a function dropped": "DROP FUNCTION f(int) CASCADE",
    "a schema dropped": "DROP SCHEMA other CASCADE",
    "a type renamed": "ALTER TYPE mood RENAME TO feeling",
    "a sequence dropped": "DROP SEQUENCE s",
    "a sequence renamed": "ALTER SEQUENCE s RENAME TO s2",
    "a function replaced": "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 2'",
}


def _objects(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1'")
        conn.execute("CREATE SEQUENCE s")
        conn.execute("SELECT nextval('s')")
        conn.execute("CREATE TYPE mood AS ENUM ('calm', 'glad')")
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, m mood)")
        conn.execute("INSERT INTO t VALUES (1, 'glad')")
        conn.execute("CREATE SCHEMA other")
        conn.execute("CREATE FUNCTION other.g() RETURNS int LANGUAGE sql AS 'SELECT 1'")


@pytest.mark.parametrize("change", sorted(UNLOCKED))
def test_an_object_changed_once_the_dump_began_gives_one_state_or_one_clear_error(
        change: str, postgres_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    source_name, target_name = postgres_database_factory(), postgres_database_factory()
    source, target = postgres_url_for(source_name), postgres_url_for(target_name)
    _objects(source)
    before = schema_dump(source_name)
    real = catalog.read_sequences
    done: list[int] = []

    def change_then_read(conn: psycopg.Connection[Any]) -> list[catalog.Sequence]:
        if not done:
            with psycopg.connect(source, autocommit=True) as other:
                other.execute(UNLOCKED[change])
            done.append(1)
        return real(conn)

    monkeypatch.setattr(catalog, "read_sequences", change_then_read)
    out = io.BytesIO()
    try:
        result = dump_with_engine(parse_database_url(source), out, DumpOptions())
    except DatabaseError as exc:
        message = str(exc)
        assert "another session" in message and "again" in message and "\n" not in message, message
        return
    finally:
        assert done
    after = schema_dump(source_name)
    install_with_engine(parse_database_url(target), io.BytesIO(out.getvalue()),
                        InstallOptions(yes=True, manifest=result.tables))
    assert schema_dump(target_name) in (before, after)


@pytest.mark.parametrize("moment", ["read_tables", "read_sequences", "read_relations"])
def test_another_sessions_temporary_table_coming_and_going_does_not_stop_the_dump(
        moment: str, postgres_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Temporary tables (and their row types) are other sessions' own, made and dropped all the time: one
    that existed when the dump began and is dropped meanwhile is no change to what the dump reads. The dump
    printed the constraints and indexes of every table, theirs too, and one dropped after the snapshot had
    no definition left: the dump failed with "cache lookup failed for relation 61933"."""
    source = postgres_url_for(postgres_database_factory())
    _objects(source)
    with psycopg.connect(source, autocommit=True) as other:
        other.execute("CREATE TEMP TABLE scratch (id serial PRIMARY KEY, note text CHECK (note <> ''), "
                      "t int REFERENCES scratch (id), m mood)")
        other.execute("CREATE INDEX ON scratch (lower(note))")
        other.execute("CREATE TRIGGER stamp BEFORE UPDATE ON scratch FOR EACH ROW "
                      "EXECUTE FUNCTION suppress_redundant_updates_trigger()")
        other.execute("CREATE TEMP VIEW recent AS SELECT id, f(id) FROM scratch")
        other.execute("CREATE FUNCTION pg_temp.helper() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        other.execute("COMMENT ON TABLE scratch IS 'scratch'")
        real = getattr(catalog, moment)

        def drop_then_read(conn: psycopg.Connection[Any]) -> Any:
            other.execute("DROP TABLE IF EXISTS scratch CASCADE")
            other.execute("DROP FUNCTION IF EXISTS pg_temp.helper()")
            return real(conn)

        monkeypatch.setattr(catalog, moment, drop_then_read)
        result = dump_with_engine(parse_database_url(source), io.BytesIO(), DumpOptions())
    assert result.tables["t"].rows == 1
