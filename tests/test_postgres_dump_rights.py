"""PostgreSQL dumps as the roles production servers give an application or a backup: not a superuser (real
PostgreSQL on 127.0.0.1).

A role pg_dump serves must be served too: the database's owner, and a read-only role with SELECT on the
tables and sequences. Every other test dumps as the superuser, which reads every catalogue: a dump reading
one only a superuser may read (``pg_user_mapping``) failed for every other role, and no test saw it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql import dump_database as dump
from synco_core.errors import DatabaseError
from synco_core.testing.services import (
    install_into_empty_copy,
    postgres_admin_connection,
    postgres_url_for,
    unique_name,
)
from synco_core.values import DatabaseConfig, DumpOptions

pytestmark = pytest.mark.postgres

#: One object of each kind an application's role may own without a superuser: what the dump reads from
#: the catalogues beside the rows.
SCHEMA = """
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('calm', 'busy');
CREATE DOMAIN app.positive AS integer CHECK (VALUE > 0);
CREATE TABLE app.item (id serial PRIMARY KEY, name text NOT NULL, mood app.mood, weight app.positive,
                       added date DEFAULT current_date);
CREATE INDEX item_name ON app.item (lower(name));
CREATE TABLE app.part (id int, k int NOT NULL) PARTITION BY RANGE (k);
CREATE TABLE app.part_low PARTITION OF app.part FOR VALUES FROM (0) TO (100);
CREATE SEQUENCE app.counter START 40 INCREMENT 3;
CREATE FUNCTION app.double(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT x * 2';
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.name := trim(NEW.name); RETURN NEW; END';
CREATE TRIGGER item_touch BEFORE INSERT ON app.item FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE AGGREGATE app.total(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '0');
CREATE VIEW app.heavy AS SELECT id, app.double(weight) AS twice FROM app.item;
CREATE MATERIALIZED VIEW app.summary AS SELECT app.total(weight) AS weight FROM app.item;
CREATE STATISTICS app.item_stats ON id, name FROM app.item;
CREATE TEXT SEARCH CONFIGURATION app.plain (COPY = pg_catalog.simple);
CREATE COLLATION app.german (provider = icu, locale = 'de-DE');
COMMENT ON TABLE app.item IS 'things';
INSERT INTO app.item (name, mood, weight) VALUES (' lamp ', 'calm', 3), ('desk', 'busy', 20);
INSERT INTO app.part VALUES (1, 5), (2, 50);
SELECT nextval('app.counter');
REFRESH MATERIALIZED VIEW app.summary;
"""


@pytest.fixture
def owned_source(postgres_database_factory: Callable[[], str]) -> Iterator[tuple[str, str]]:
    """(database, role): a database owned by a LOGIN role that is no superuser, its objects made by that role."""
    name = postgres_database_factory()
    role = unique_name("synco_test_rights")
    admin = postgres_admin_connection()
    try:
        admin.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
        admin.execute(f'ALTER DATABASE "{name}" OWNER TO "{role}"')
        with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
            conn.execute(f'ALTER SCHEMA public OWNER TO "{role}"')
        as_role = dataclasses.replace(parse_database_url(postgres_url_for(name)), user=role)
        with psycopg.connect(as_role.url(), autocommit=True) as conn:
            conn.execute(SCHEMA)
        yield name, role
    finally:
        with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
            conn.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'ALTER DATABASE "{name}" OWNER TO CURRENT_USER')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def _as(name: str, role: str) -> DatabaseConfig:
    return dataclasses.replace(parse_database_url(postgres_url_for(name)), user=role)


def _rows(name: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("app.item", "app.part", "app.summary", "app.heavy")} | {
            "counter": conn.execute("SELECT last_value, is_called FROM app.counter").fetchall()}


def _round_trip(source: DatabaseConfig, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    out = tmp_path / "dump.sql"
    with out.open("wb") as stream:
        result = dump(source, stream, DumpOptions())
    # Loaded by the administrator, as on a laptop: what is checked is what the role's dump carried.
    admin = parse_database_url(postgres_url_for(source.name))
    installed = install_into_empty_copy(admin, out, result, request, tmp_path / "unused.db")
    assert _rows(installed.database) == _rows(source.name)


def test_the_database_owner_dumps_every_object_it_owns(owned_source: tuple[str, str],
                                                       request: pytest.FixtureRequest, tmp_path: Path) -> None:
    name, role = owned_source
    _round_trip(_as(name, role), request, tmp_path)


def test_a_read_only_role_with_select_dumps_as_pg_dump_does(owned_source: tuple[str, str],
                                                            request: pytest.FixtureRequest, tmp_path: Path) -> None:
    name, owner = owned_source
    reader = unique_name("synco_test_reader")
    admin = postgres_admin_connection()
    admin.execute(f'CREATE ROLE "{reader}" LOGIN NOSUPERUSER')
    try:
        with psycopg.connect(_as(name, owner).url(), autocommit=True) as conn:
            conn.execute(f'GRANT USAGE ON SCHEMA app TO "{reader}"')
            conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA app TO "{reader}"')
            conn.execute(f'GRANT SELECT ON ALL SEQUENCES IN SCHEMA app TO "{reader}"')
        _round_trip(_as(name, reader), request, tmp_path)
        # A table the role may not read is named, as pg_dump names it, never left out of a complete-looking dump.
        with psycopg.connect(_as(name, owner).url(), autocommit=True) as conn:
            conn.execute("CREATE TABLE app.payroll (id int)")
        with (tmp_path / "second.sql").open("wb") as stream, pytest.raises(DatabaseError, match="payroll"):
            dump(_as(name, reader), stream, DumpOptions())
    finally:
        with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{reader}"')
        admin.execute(f'DROP ROLE IF EXISTS "{reader}"')
        admin.close()
