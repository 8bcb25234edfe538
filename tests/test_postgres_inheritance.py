"""Inheriting tables come back with their columns' order and inheritance (``attislocal``, ``attinhcount``)
exactly, whatever order their columns came in (``synco_core/engines/postgresql/inheritance.py``).

Each history is run in a new database, dumped and installed into another; then the copy cannot be told
from the source by ``pg_dump --schema-only``, by the rows, by the catalog's columns and constraints, nor by
what dropping each parent's columns does to the children afterwards.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import psycopg
import pytest
from test_postgres_support import fingerprints, schema_dump

from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql import installer
from synco_core.engines.postgresql.dumper import PostgresDumper
from synco_core.testing.services import postgres_url_for
from synco_core.values import DumpOptions, InstallOptions

pytestmark = pytest.mark.postgres

COLUMNS = """
    SELECT c.relname, a.attname, a.attislocal, a.attinhcount, a.attnotnull, a.attstattarget, a.attcollation
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0
      AND NOT a.attisdropped
    ORDER BY c.relname, a.attnum"""
CONSTRAINTS = """
    SELECT c.relname, con.conname, con.conislocal, con.coninhcount, con.connoinherit
    FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
    WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1, 2"""
#: Every column of every parent (plain inheritance), for dropping them one by one.
PARENT_COLUMNS = """
    SELECT DISTINCT p.relname, a.attname
    FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
    JOIN pg_attribute a ON a.attrelid = p.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE p.relkind = 'r' ORDER BY 1, 2"""

HISTORIES = {
    # The fuzzer's finding: the parent gains a column after its child was made.
    "parent gains a column": """
        CREATE TABLE parent (a integer, b text);
        CREATE TABLE child (d integer) INHERITS (parent);
        ALTER TABLE parent ADD COLUMN e integer;
        INSERT INTO child VALUES (1, 'b', 2, 3);""",
    # Two parents, a column both give (attinhcount 2), columns declared again by the child (its own and
    # inherited), a grandchild and a later sibling, NOT NULL and settings of the child's own on a column it
    # got from a parent, collations, columns dropped from parents and children, checks of the parent's,
    # the child's, both, from two parents, and NO INHERIT.
    "families": """
        CREATE TABLE base (id integer NOT NULL, gone text, note text, CONSTRAINT base_positive CHECK (id > 0),
                           CONSTRAINT base_only CHECK (id < 1000) NO INHERIT);
        CREATE TABLE other (id integer, label text NOT NULL, CONSTRAINT labelled CHECK (label <> ''),
                            CONSTRAINT both_small CHECK (id < 5000));
        ALTER TABLE base ADD CONSTRAINT both_small CHECK (id < 5000);
        CREATE TABLE child (own text, note text, CONSTRAINT child_own CHECK (own <> 'x'),
                            CONSTRAINT labelled CHECK (label <> '')) INHERITS (base, other);
        CREATE TABLE grandchild (deep integer) INHERITS (child);
        ALTER TABLE base ADD COLUMN later integer NOT NULL DEFAULT 7;
        ALTER TABLE base DROP COLUMN gone;
        ALTER TABLE other ADD COLUMN shared integer;
        ALTER TABLE child ADD COLUMN mine numeric;
        ALTER TABLE base ADD COLUMN shared integer;
        ALTER TABLE child DROP COLUMN own;
        ALTER TABLE grandchild ALTER COLUMN later SET STATISTICS 50;
        ALTER TABLE ONLY grandchild ALTER COLUMN shared SET NOT NULL;
        ALTER TABLE other ADD COLUMN tail text COLLATE "C";
        CREATE TABLE sibling () INHERITS (base);
        ALTER TABLE grandchild ADD COLUMN redeclared integer;
        ALTER TABLE child ADD COLUMN redeclared integer;
        INSERT INTO grandchild (id, label, deep, later, shared, tail, redeclared) VALUES (1, 'l', 2, 3, 4, 't', 5);
        INSERT INTO child (id, label, note, mine) VALUES (5, 'm', 'n', 1.5);
        INSERT INTO sibling (id, note) VALUES (6, 's');""",
    # A child that declares the parent's column itself before the parent gains it (merged: its own and
    # inherited), beside one that gets it from the parent; and a child made to inherit later.
    "declared before the parent has it": """
        CREATE TABLE root (a integer);
        CREATE TABLE early (x text) INHERITS (root);
        CREATE TABLE plain () INHERITS (root);
        ALTER TABLE early ADD COLUMN b integer NOT NULL;
        ALTER TABLE root ADD COLUMN b integer;
        CREATE TABLE adopted (z text, b integer, a integer);
        ALTER TABLE adopted INHERIT root;
        ALTER TABLE root ADD COLUMN c date;""",
    # Partitions: attached ones and ones made before their parent gained a column.
    "partitions": """
        CREATE TABLE ev (id bigint NOT NULL, kind text NOT NULL, payload jsonb) PARTITION BY LIST (kind);
        CREATE TABLE ev_a PARTITION OF ev FOR VALUES IN ('a');
        CREATE TABLE ev_same (id bigint NOT NULL, kind text NOT NULL, payload jsonb);
        ALTER TABLE ev ATTACH PARTITION ev_same FOR VALUES IN ('same');
        ALTER TABLE ev ADD COLUMN late integer;
        CREATE TABLE ev_sub PARTITION OF ev FOR VALUES IN ('sub') PARTITION BY LIST (id);
        CREATE TABLE ev_sub1 (id bigint NOT NULL, kind text NOT NULL, payload jsonb, late integer, x integer);
        ALTER TABLE ev_sub1 DROP COLUMN x;
        ALTER TABLE ev_sub ATTACH PARTITION ev_sub1 FOR VALUES IN (1);
        INSERT INTO ev VALUES (1, 'sub', NULL, 2), (2, 'a', '{}', NULL);""",
}


def catalog(name: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with psycopg.connect(postgres_url_for(name)) as conn:
        return conn.execute(COLUMNS).fetchall(), conn.execute(CONSTRAINTS).fetchall()


def assert_alike(source: str, target: str) -> None:
    assert catalog(target) == catalog(source)
    assert schema_dump(target) == schema_dump(source)
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))


@pytest.mark.parametrize("history", list(HISTORIES))
def test_inheriting_tables_keep_their_column_order_and_inheritance(
        history: str, postgres_database_factory: Callable[[], str]) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute(HISTORIES[history])
        parent_columns = conn.execute(PARENT_COLUMNS).fetchall()
    out = io.BytesIO()
    result = PostgresDumper(parse_database_url(postgres_url_for(source)), DumpOptions()).dump(out)
    installer.install(parse_database_url(postgres_url_for(target)), io.BytesIO(out.getvalue()),
                      InstallOptions(yes=True, manifest=result.tables))
    assert_alike(source, target)
    # An inherited column goes with its parent's; one of the child's own stays; a column a table inherits
    # cannot be dropped from it.
    for table, column in parent_columns:
        assert drop(target, table, column) == drop(source, table, column), f"dropping {table}.{column}"
        assert catalog(target) == catalog(source), f"after dropping {table}.{column}"


def drop(name: str, table: str, column: str) -> str | None:
    """``ALTER TABLE table DROP COLUMN column`` in database ``name``: the SQLSTATE of its refusal, if any."""
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        try:
            conn.execute(f'ALTER TABLE "{table}" DROP COLUMN IF EXISTS "{column}"')
        except psycopg.Error as exc:
            return exc.sqlstate
    return None
