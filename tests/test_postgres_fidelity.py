"""PostgreSQL dumps that load and lose nothing: every object kind pg_dump carries comes back exactly.

One copy of the torture fixture (``tests/data/postgres/fidelity.sql``, every kind of object) is made for
the whole module and checked item by item; Pagila goes through the CLI. Databases that need roles, a
tablespace, an extension with configuration tables or a subscription get their own tests. "Exactly"
means ``pg_dump --schema-only`` cannot tell the copy from the source, the rows of every table hash alike,
sequences go on from the same values and large objects keep their OIDs, data, owners and comments.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from test_postgres_support import (
    DATA,
    FIDELITY,
    cli_round_trip,
    fingerprints,
    load_fixture,
    psql_load,
    schema_dump,
    sequences,
)

from synco_core.cli.main import cli
from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql import installer, unsupported
from synco_core.engines.postgresql.dumper import PostgresDumper
from synco_core.errors import ConfigError, DatabaseError
from synco_core.testing.services import (
    PostgresDatabases,
    drop_postgres_databases,
    postgres_admin_connection,
    postgres_url_for,
    unavailable,
    unique_name,
)
from synco_core.values import DumpOptions, DumpResult, InstallOptions, SanitizeRule

pytestmark = pytest.mark.postgres

PAGILA = DATA / "pagila" / "pagila.sql"


def dump(name: str, options: DumpOptions | None = None) -> tuple[bytes, DumpResult]:
    out = io.BytesIO()
    result = PostgresDumper(parse_database_url(postgres_url_for(name)), options or DumpOptions()).dump(out)
    return out.getvalue(), result


def install(name: str, data: bytes, result: DumpResult | None = None) -> None:
    installer.install(parse_database_url(postgres_url_for(name)), io.BytesIO(data),
                      InstallOptions(yes=True, manifest=result.tables if result else {}))


def assert_same(source: str, target: str) -> None:
    """The copy cannot be told from the source: schema, rows, sequence positions, large objects."""
    assert schema_dump(target) == schema_dump(source)
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert sequences(postgres_url_for(target)) == sequences(postgres_url_for(source))


def rows(name: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(postgres_url_for(name)) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture(scope="module")
def fidelity_copy() -> Iterator[tuple[str, str, bytes]]:
    """(source, target, dump): the fixture loaded, dumped with synco (secrets kept) and installed into a
    new database, once for the module. Tests that write to the copy roll back."""
    source, target = unique_name(), unique_name()
    admin = postgres_admin_connection()
    admin.execute(f'CREATE DATABASE "{source}"')
    admin.close()
    try:
        load_fixture(postgres_url_for(source), FIDELITY)
        data, result = dump(source, DumpOptions(secrets=True))
        install(target, data, result)
        yield source, target, data
    finally:
        drop_postgres_databases([source, target])


def test_every_object_kind_round_trips(fidelity_copy: tuple[str, str, bytes]) -> None:
    source, target, data = fidelity_copy
    assert_same(source, target)
    assert data.startswith(b"--\n-- synco PostgreSQL dump\n")


def test_the_same_database_gives_the_same_dump(fidelity_copy: tuple[str, str, bytes], tmp_path: Path) -> None:
    """The order is decided by the catalog alone, never by the iteration order of a set (which changes
    from one process to the next with the hash seed)."""
    source, _, data = fidelity_copy
    for seed in ("1", "2"):
        out = tmp_path / f"dump{seed}.sql"
        argv = [sys.executable, "-c", "from synco_core.cli.main import main; main()", "db", "dump",
                postgres_url_for(source), "--secrets", "-o", str(out)]
        done = subprocess.run(argv, env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert out.read_bytes() == data


def test_views_and_bodies_that_use_aggregates_load_and_answer_alike(fidelity_copy: tuple[str, str, bytes]) -> None:
    source, target, data = fidelity_copy
    # Plain, moving, with combine/serial/deserial functions, ordered-set and hypothetical-set aggregates.
    for name in ("group_concat(text)", "moving_sum(integer)", "big_sum(bigint)",
                 "pct_disc(double precision ORDER BY anyelement)",
                 'my_rank(VARIADIC "any" ORDER BY VARIADIC "any")'):
        assert f"CREATE AGGREGATE public.{name}".encode() in data
    query = "SELECT *, public.text_list() FROM public.aggregated"
    assert rows(target, query) == rows(source, query)
    assert rows(target, query)[0][2] == 7  # moving_sum over the fixture's "normal" column


def test_rules_keep_redirecting_writes(fidelity_copy: tuple[str, str, bytes]) -> None:
    _, target, _ = fidelity_copy
    with psycopg.connect(postgres_url_for(target)) as conn, conn.transaction(force_rollback=True):
        # INSTEAD with a condition, on a table: the 2024 payment lands in the child table.
        conn.execute("INSERT INTO public.payments VALUES (10, 5, '2024-07-01'), (11, 6, '2023-07-01')")
        assert conn.execute("SELECT id FROM ONLY public.payments WHERE id >= 10").fetchall() == [(11,)]
        assert conn.execute("SELECT id FROM public.payments_2024 WHERE id >= 10").fetchall() == [(10,)]
        # ALSO, on a table and on a view; INSTEAD on a view.
        conn.execute("UPDATE public.payments SET amount = amount + 1 WHERE id = 11")
        conn.execute("INSERT INTO public.payments_view VALUES (12, 7)")
        assert conn.execute("SELECT what FROM public.audit_log ORDER BY id DESC LIMIT 2").fetchall() == [
            ("view insert",), ("payment 11",)]
        # The disabled rule stays disabled: the DELETE happens.
        conn.execute("DELETE FROM public.payments WHERE id = 11")
        assert conn.execute("SELECT count(*) FROM public.payments WHERE id = 11").fetchone() == (0,)


def test_not_valid_constraints_stay_not_valid(fidelity_copy: tuple[str, str, bytes]) -> None:
    source, target, data = fidelity_copy
    query = """SELECT conname, convalidated FROM pg_constraint
               WHERE conname IN ('short_text_length', 'loose_qty_positive', 'loose_payment_fk') ORDER BY 1"""
    assert rows(target, query) == rows(source, query) == [
        ("loose_payment_fk", False), ("loose_qty_positive", False), ("short_text_length", False)]
    # The domain's NOT VALID check is its own statement, after the rows that break it.
    statement = (b"ALTER DOMAIN public.short_text ADD CONSTRAINT short_text_length CHECK ((length(VALUE) < 10)) "
                 b"NOT VALID;")
    assert statement in data and data.index(statement) > data.index(b"COPY public.loose ")
    assert b"CREATE DOMAIN public.short_text AS text;" in data


def test_members_added_to_built_in_operator_families(fidelity_copy: tuple[str, str, bytes]) -> None:
    """pg_dump leaves them out, so its schema comparison cannot see them: they are looked up here."""
    source, target, _ = fidelity_copy
    query = """SELECT amprocfamily, amproc::regprocedure::text FROM pg_amproc
               WHERE oid >= 16384 AND amprocfamily < 16384 ORDER BY 2"""
    assert rows(target, query) == rows(source, query) != []


def test_the_public_schema_keeps_its_comment(fidelity_copy: tuple[str, str, bytes]) -> None:
    source, target, _ = fidelity_copy
    query = "SELECT obj_description('public'::regnamespace, 'pg_namespace')"
    assert rows(target, query) == rows(source, query) == [("the application's schema",)]


def test_comments_on_partitions_clones_of_triggers(fidelity_copy: tuple[str, str, bytes]) -> None:
    """A partition's clone of its parent's trigger is made by the parent's statement, but may have a
    comment of its own (pg_dump leaves it out, and its schema comparison cannot see it)."""
    source, target, _ = fidelity_copy
    query = """SELECT tgrelid::regclass::text, tgname, obj_description(oid, 'pg_trigger') FROM pg_trigger
               WHERE NOT tgisinternal AND tgparentid <> 0 AND obj_description(oid, 'pg_trigger') IS NOT NULL
               ORDER BY 1"""
    assert rows(target, query) == rows(source, query) == [
        ("archive.events_click", "seen", "the click partition's clone"),
        ("archive.events_view_low", "seen", "a clone of a clone")]


def test_large_objects_keep_their_oids_data_and_comments(fidelity_copy: tuple[str, str, bytes]) -> None:
    _, target, data = fidelity_copy
    assert fingerprints(postgres_url_for(target))["<large objects>"][0] == 3
    assert rows(target, "SELECT oid, length(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid") == [
        (4242001, 20), (4242002, 1920000), (4242003, 0)]
    # Written in chunks of at most 1 MiB: memory does not grow with an object's size.
    assert data.count(b"SELECT pg_catalog.lo_put('4242002', ") == 2


def test_event_triggers_come_last_and_do_not_fire_while_loading(fidelity_copy: tuple[str, str, bytes]) -> None:
    source, target, data = fidelity_copy
    assert data.index(b"CREATE EVENT TRIGGER") > data.index(b"\n-- Comments\n")
    assert rows(target, "SELECT count(*) FROM public.ddl_log") == rows(source, "SELECT count(*) FROM public.ddl_log")
    query = "SELECT evtname, evtenabled FROM pg_event_trigger ORDER BY 1"
    assert rows(target, query) == [("log_ddl", "O"), ("quiet one", "D"), ("replica_only", "R")]


def test_user_mapping_secrets_stay_out_unless_asked(fidelity_copy: tuple[str, str, bytes],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    source, _, with_secrets = fidelity_copy
    assert b"password 'secret-pw'" in with_secrets
    with caplog.at_level(logging.WARNING, logger="synco_core.engines.postgresql.dumper"):
        data, _ = dump(source)
    assert b"secret-pw" not in data and b"CREATE USER MAPPING FOR PUBLIC SERVER films_server OPTIONS (\"user\" " \
        b"'reader');" in data
    assert any("password on films_server for public" in record.getMessage() for record in caplog.records)


@pytest.fixture(scope="module")
def pagila() -> Iterator[str]:
    """A database Pagila is loaded into, once for the module: the tests only dump it."""
    databases = PostgresDatabases()
    try:
        source = databases.create()
        load_fixture(postgres_url_for(source), PAGILA)
        yield source
    finally:
        databases.drop_all()


def test_pagila_round_trips_through_the_cli(pagila: str, postgres_database_factory: Callable[[], str],
                                            tmp_path: Path, plugin_manager: object) -> None:
    """Pagila's views call a custom aggregate; before, its dump did not load at all."""
    source, target = pagila, postgres_database_factory()
    assert "Dumped 21 tables, 46273 rows" in cli_round_trip(source, target, tmp_path / "pagila.sql")
    assert_same(source, target)
    assert rows(target, "SELECT count(*) FROM public.film_list") == [(997,)]


def test_children_keep_a_column_order_of_their_own(postgres_database_factory: Callable[[], str]) -> None:
    """A partition or inheriting table created on its own and attached keeps its column order (pg_dump
    writes INHERITS, which puts the parent's columns first)."""
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE base (id integer NOT NULL, note text, CONSTRAINT base_id_positive CHECK (id > 0));
            CREATE TABLE derived (extra integer) INHERITS (base);
            CREATE TABLE adopted (extra text, note text, id integer NOT NULL,
                                  CONSTRAINT base_id_positive CHECK (id > 0));
            ALTER TABLE adopted INHERIT base;
            INSERT INTO adopted VALUES ('x', 'adopted row', 3);
            CREATE TABLE events (id bigint NOT NULL, kind text NOT NULL, payload jsonb) PARTITION BY LIST (kind);
            CREATE TABLE events_click PARTITION OF events FOR VALUES IN ('click');
            CREATE TABLE events_late (payload jsonb, kind text NOT NULL, id bigint NOT NULL);
            ALTER TABLE events ATTACH PARTITION events_late FOR VALUES IN ('late');
            INSERT INTO events VALUES (1, 'click', NULL), (2, 'late', '{"late": true}');""")
    data, result = dump(source)
    install(target, data, result)
    assert_same(source, target)
    query = "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum"
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert [r[0] for r in conn.execute(query, ("adopted",))] == ["extra", "note", "id"]
        assert [r[0] for r in conn.execute(query, ("events_late",))] == ["payload", "kind", "id"]


def test_a_language_of_its_own_and_a_transform(postgres_database_factory: Callable[[], str]) -> None:
    """pg_dump writes a bare CREATE LANGUAGE that fails for a language no extension provides; synco writes
    its handler functions."""
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("CREATE TYPE public.celsius AS (degrees double precision)")
        conn.execute((DATA / "postgres" / "language.sql").read_text())
    data, result = dump(source)
    install(target, data, result)
    assert_same(source, target)
    assert rows(target, "SELECT public.same_answer()") == [(42,)]


# -- owners ------------------------------------------------------------------------------------------


@pytest.fixture
def roles() -> Iterator[Callable[[], str]]:
    """Creates uniquely named roles (NOLOGIN) and drops them afterwards.

    Request it before ``postgres_database_factory``: fixtures are torn down in reverse order, so the
    databases holding objects of these roles are gone when the roles are dropped.
    """
    created: list[str] = []

    def create() -> str:
        name = unique_name("synco_role")
        admin = postgres_admin_connection()
        admin.execute(f'CREATE ROLE "{name}" NOLOGIN')
        admin.close()
        created.append(name)
        return name

    yield create
    admin = postgres_admin_connection()
    try:
        for name in created:
            admin.execute(f'DROP ROLE IF EXISTS "{name}"')
    finally:
        admin.close()


def test_owners_of_everything_with_serial_and_identity_sequences(roles: Callable[[], str],
                                                                  postgres_database_factory: Callable[[], str],
                                                                  tmp_path: Path) -> None:
    app, reader, third = roles(), roles(), roles()
    source, target, with_psql = (postgres_database_factory() for _ in range(3))
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        for statement in f"""
            CREATE SCHEMA shop AUTHORIZATION "{app}";
            CREATE TABLE shop.orders (id serial PRIMARY KEY, code bigint GENERATED ALWAYS AS IDENTITY, note text);
            CREATE SEQUENCE shop.free_seq;
            ALTER TABLE shop.orders OWNER TO "{app}";
            ALTER SEQUENCE shop.free_seq OWNER TO "{app}";
            INSERT INTO shop.orders (note) VALUES ('one'), ('two');
            GRANT USAGE ON SCHEMA shop TO "{reader}";
            GRANT SELECT, INSERT ON shop.orders TO "{reader}" WITH GRANT OPTION;
            GRANT USAGE ON SEQUENCE shop.orders_id_seq TO "{reader}";
            GRANT UPDATE (note) ON shop.orders TO "{third}";
            SET ROLE "{reader}";
            GRANT SELECT ON shop.orders TO "{third}";
            RESET ROLE;
            CREATE FUNCTION shop.twice(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1 * 2';
            ALTER FUNCTION shop.twice(integer) OWNER TO "{app}";
            REVOKE ALL ON FUNCTION shop.twice(integer) FROM PUBLIC;
            CREATE AGGREGATE shop.total(integer) (SFUNC = int4pl, STYPE = integer);
            ALTER AGGREGATE shop.total(integer) OWNER TO "{app}";
            CREATE TYPE shop.state AS ENUM ('new', 'done');
            ALTER TYPE shop.state OWNER TO "{app}";
            CREATE VIEW shop.order_notes AS SELECT note FROM shop.orders;
            ALTER VIEW shop.order_notes OWNER TO "{app}";
            GRANT SELECT ON shop.order_notes TO "{reader}";
            GRANT SELECT (note) ON shop.order_notes TO "{third}";
            CREATE MATERIALIZED VIEW shop.order_codes AS SELECT id, code FROM shop.orders;
            ALTER MATERIALIZED VIEW shop.order_codes OWNER TO "{app}";
            GRANT SELECT (code) ON shop.order_codes TO "{reader}";
            COMMENT ON SCHEMA public IS 'ours';
            REVOKE USAGE ON SCHEMA public FROM PUBLIC;
            GRANT CREATE ON SCHEMA public TO "{reader}";
            ALTER DEFAULT PRIVILEGES FOR ROLE "{app}" IN SCHEMA shop GRANT SELECT ON TABLES TO "{reader}";
            ALTER DEFAULT PRIVILEGES FOR ROLE "{app}" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
            CREATE FOREIGN DATA WRAPPER plain_wrapper;
            CREATE SERVER plain_server FOREIGN DATA WRAPPER plain_wrapper;
            GRANT USAGE ON FOREIGN SERVER plain_server TO "{reader}";
            CREATE USER MAPPING FOR "{reader}" SERVER plain_server OPTIONS (user 'r');
            SELECT lo_create(4343001);
            ALTER LARGE OBJECT 4343001 OWNER TO "{app}";
            GRANT SELECT ON LARGE OBJECT 4343001 TO "{reader}";
            CREATE PUBLICATION orders_out FOR TABLE shop.orders;
            ALTER PUBLICATION orders_out OWNER TO "{app}";
            ALTER TABLE shop.orders ENABLE ROW LEVEL SECURITY;
            CREATE POLICY readers ON shop.orders FOR SELECT TO "{reader}" USING (true);
            """.split(";\n"):
            if statement.strip():
                conn.execute(statement)
    data, result = dump(source, DumpOptions(owners=True))
    install(target, data, result)
    assert_same(source, target)
    # psql reads the same script.
    (tmp_path / "owners.sql").write_bytes(data)
    loaded = psql_load(with_psql, tmp_path / "owners.sql")
    assert loaded.returncode == 0, loaded.stderr
    assert schema_dump(with_psql) == schema_dump(source)

    # Without --owners: no owners, grants or mapping for another role, and a policy naming a role is created
    # only where that role exists; where it does not, the dump still loads.
    plain, plain_result = dump(source)
    assert b"OWNER TO" not in plain and b"GRANT" not in plain and b"CREATE USER MAPPING" not in plain
    missing = postgres_database_factory()
    install(missing, plain.replace(reader.encode(), b"synco_no_such_role"), plain_result)
    assert rows(missing, "SELECT count(*) FROM pg_policy") == [(0,)]
    assert rows(missing, "SELECT count(*) FROM shop.orders") == [(2,)]


def test_materialized_views_hold_what_their_owners_see(roles: Callable[[], str],
                                                       postgres_database_factory: Callable[[], str],
                                                       tmp_path: Path) -> None:
    """With owners, a materialized view is filled as its owner (``REFRESH`` runs its query with the owner's
    rights, as pg_dump's refresh after owners and privileges does), under its policies: rows its owner's
    row security hides (``FORCE`` on its own table, or another owner's policies) stay out of the copy, and
    an owner that reads through a grant can read by then. One a check reads when it is made is filled then
    too."""
    app, reader = roles(), roles()
    source, target, with_psql = (postgres_database_factory() for _ in range(3))
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute(f"""
            GRANT CREATE ON SCHEMA public TO "{app}", "{reader}";
            CREATE TABLE secrets (id integer, visible boolean);
            INSERT INTO secrets SELECT n, n % 3 = 0 FROM generate_series(1, 10) n;
            ALTER TABLE secrets OWNER TO "{app}";
            ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
            ALTER TABLE secrets FORCE ROW LEVEL SECURITY;
            CREATE POLICY shown ON secrets USING (visible);
            CREATE POLICY low ON secrets FOR SELECT TO "{reader}" USING (id < 3);
            GRANT SELECT ON secrets TO "{reader}";
            SET ROLE "{app}";
            CREATE MATERIALIZED VIEW app_rows AS SELECT id FROM secrets;
            CREATE MATERIALIZED VIEW app_count AS SELECT count(*) AS n FROM app_rows;
            CREATE UNIQUE INDEX app_rows_id ON app_rows (id);
            CREATE MATERIALIZED VIEW app_unfilled AS SELECT id FROM secrets WITH NO DATA;
            SET ROLE "{reader}";
            CREATE MATERIALIZED VIEW reader_rows AS SELECT id FROM secrets;
            RESET ROLE;
            CREATE MATERIALIZED VIEW all_rows AS SELECT id FROM secrets;
            CREATE FUNCTION app_total() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC
                SELECT count(*) FROM app_rows; END;
            CREATE TABLE limited (x integer CONSTRAINT within CHECK (x <= app_total()));
            INSERT INTO limited VALUES (2);""")
    counts = "SELECT (SELECT count(*) FROM app_rows), (SELECT n FROM app_count), (SELECT count(*) FROM reader_rows), " \
             "(SELECT count(*) FROM all_rows)"
    assert rows(source, counts) == [(3, 3, 5, 10)]
    data, result = dump(source, DumpOptions(owners=True))
    install(target, data, result)
    assert_same(source, target)
    assert rows(target, counts) == [(3, 3, 5, 10)]
    (tmp_path / "owners.sql").write_bytes(data)
    loaded = psql_load(with_psql, tmp_path / "owners.sql")
    assert loaded.returncode == 0, loaded.stderr
    assert fingerprints(postgres_url_for(with_psql)) == fingerprints(postgres_url_for(source))


def test_security_labels_load_where_their_provider_is_missing(postgres_database_factory: Callable[[], str]) -> None:
    """A label needs its provider (sepgsql) loaded; a laptop has none, and the dump must load anyway."""
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("CREATE TABLE public.secret (id integer)")
        # No provider can be loaded here: the label is written into the catalog directly, as one would be.
        conn.execute("INSERT INTO pg_seclabel VALUES ('public.secret'::regclass, 'pg_class'::regclass, 0, 'selinux', "
                     "'system_u:object_r:sepgsql_table_t:s0')")
    data, result = dump(source)
    # Inside a block that runs it where the provider is loaded (hence the doubled quotes).
    assert b"SECURITY LABEL FOR selinux ON TABLE public.secret IS ''system_u:object_r:sepgsql_table_t:s0''" in data
    install(target, data, result)
    assert rows(target, "SELECT count(*) FROM public.secret") == [(0,)]


# -- a tablespace, an extension with configuration tables ----------------------------------------------


def test_tablespaces_are_used_where_the_loading_server_has_them(tmp_path: Path) -> None:
    admin = postgres_admin_connection()
    data_directory = Path(str(admin.execute("SHOW data_directory").fetchone()[0]))  # type: ignore[index]
    location = Path(tempfile.mkdtemp(prefix="synco-ts-"))
    space = unique_name("synco_ts")
    source, target, fallback = unique_name(), unique_name(), unique_name()
    try:
        try:
            info = data_directory.stat()
            os.chown(location, info.st_uid, info.st_gid)
        except OSError as exc:
            unavailable(f"cannot give {location} to the PostgreSQL server's user: {exc}")
        admin.execute(f"CREATE TABLESPACE \"{space}\" LOCATION '{location}'")
        admin.execute(f'CREATE DATABASE "{source}"')
        with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
            conn.execute(f'CREATE TABLE public.t (id integer PRIMARY KEY USING INDEX TABLESPACE "{space}", v text) '
                         f'TABLESPACE "{space}"')
            conn.execute(f'CREATE INDEX t_v ON public.t (v) TABLESPACE "{space}"')
            conn.execute("INSERT INTO public.t VALUES (1, 'a'), (2, 'b')")
            conn.execute(f'CREATE MATERIALIZED VIEW public.mv TABLESPACE "{space}" AS SELECT v FROM public.t')
        data, result = dump(source)
        install(target, data, result)
        assert_same(source, target)
        # A server without that tablespace (a laptop) puts everything in its default one.
        install(fallback, data.replace(f"'{space}'".encode(), b"'synco_no_such_tablespace'"), result)
        assert fingerprints(postgres_url_for(fallback)) == fingerprints(postgres_url_for(source))
        assert rows(fallback, "SELECT count(*) FROM pg_class WHERE reltablespace <> 0 AND relname IN "
                              "('t', 't_pkey', 't_v', 'mv')") == [(0,)]
    finally:
        drop_postgres_databases([source, target, fallback])
        admin.execute(f'DROP TABLESPACE IF EXISTS "{space}"')
        admin.close()
        shutil.rmtree(location, ignore_errors=True)


_EXTENSION = "synco_test_settings"
_EXTENSION_FILES = {
    f"{_EXTENSION}.control": "comment = 'synco tests: an extension with configuration tables'\n"
                             "default_version = '1.0'\nrelocatable = true\n",
    f"{_EXTENSION}--1.0.sql": """
CREATE TABLE settings (key text PRIMARY KEY, value text, builtin boolean NOT NULL DEFAULT false);
INSERT INTO settings VALUES ('schema_version', '1', true);
SELECT pg_catalog.pg_extension_config_dump('settings', 'WHERE NOT builtin');
CREATE TABLE journal (line text);
SELECT pg_catalog.pg_extension_config_dump('journal', '');
CREATE SEQUENCE settings_seq;
SELECT pg_catalog.pg_extension_config_dump('settings_seq', '');
""",
    # An extension that requires the other one, and whose name sorts before it.
    "synco_test_addon.control": "comment = 'synco tests: requires synco_test_settings'\n"
                                "default_version = '1.0'\nrelocatable = true\nrequires = 'synco_test_settings'\n",
    "synco_test_addon--1.0.sql": "CREATE VIEW setting_keys AS SELECT key FROM settings;\n",
    # Configuration tables referring to one another, as PostGIS topology's topology.layer refers to
    # topology.topology: each table's name sorts before the one it refers to, and the chain runs through
    # two schemas, so neither the order by name nor by schema loads them.
    "synco_test_layers.control": "comment = 'synco tests: configuration tables with foreign keys'\n"
                                 "default_version = '1.0'\nrelocatable = false\nschema = topo\n",
    "synco_test_layers--1.0.sql": """
CREATE TABLE topo.topology (id serial PRIMARY KEY, name text UNIQUE NOT NULL);
CREATE TABLE topo.layer (topology_id integer REFERENCES topo.topology (id), layer_id integer,
                         PRIMARY KEY (topology_id, layer_id));
CREATE TABLE public.a_feature (topology_id integer, layer_id integer, name text,
                               FOREIGN KEY (topology_id, layer_id) REFERENCES topo.layer);
SELECT pg_catalog.pg_extension_config_dump('topo.topology', '');
SELECT pg_catalog.pg_extension_config_dump('topo.layer', '');
SELECT pg_catalog.pg_extension_config_dump('public.a_feature', '');
CREATE TABLE topo.a_log (id integer GENERATED ALWAYS AS IDENTITY, line text);
SELECT pg_catalog.pg_extension_config_dump('topo.a_log', '');
""",
    # As postgis_tiger_geocoder does with tiger_data: the script creates a schema only when it is missing,
    # and gives it to the database (not a member of the extension), so a dump carries it as its own.
    "synco_test_datazone.control": "comment = 'synco tests: creates a schema of the database'\n"
                                   "default_version = '1.0'\nrelocatable = true\n",
    "synco_test_datazone--1.0.sql": """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'zone_data') THEN
    CREATE SCHEMA zone_data;
    ALTER EXTENSION synco_test_datazone DROP SCHEMA zone_data;
  END IF;
END $$;
CREATE FUNCTION zone_name() RETURNS text LANGUAGE sql AS $$ SELECT 'zone_data'::text $$;
""",
}


def install_test_extension() -> None:
    """Put the test extension's files into the server's extension directory (the server is local)."""
    admin = postgres_admin_connection()
    try:
        share = Path(str(admin.execute("SELECT setting FROM pg_config WHERE name = 'SHAREDIR'").fetchone()[0]))  # type: ignore[index]
        for name, text in _EXTENSION_FILES.items():
            path = share / "extension" / name
            try:
                if not path.exists() or path.read_text() != text:
                    path.write_text(text)
            except OSError as exc:
                unavailable(f"cannot install the test extension into {path.parent}: {exc}")
        if admin.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (_EXTENSION,)).fetchone() is None:
            unavailable(f"the PostgreSQL server does not see {share}/extension (not on this machine?)")
    finally:
        admin.close()


def test_rows_of_extension_configuration_tables(postgres_database_factory: Callable[[], str]) -> None:
    install_test_extension()
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION synco_test_addon CASCADE")
        conn.execute("INSERT INTO public.settings VALUES ('theme', 'dark', false)")
        conn.execute("INSERT INTO public.journal VALUES ('first'), ('second')")
        conn.execute("SELECT nextval('public.settings_seq') FROM generate_series(1, 3)")
    data, result = dump(source)
    # Only the rows the extension's condition selects: its own row comes with CREATE EXTENSION.
    assert result.tables["settings"].rows == 1 and result.tables["journal"].rows == 2
    assert data.index(b"CREATE EXTENSION IF NOT EXISTS synco_test_settings") < data.index(
        b"CREATE EXTENSION IF NOT EXISTS synco_test_addon")
    install(target, data, result)
    assert_same(source, target)
    assert rows(target, "SELECT key FROM public.setting_keys ORDER BY key") == [("schema_version",), ("theme",)]


def test_configuration_tables_referring_to_one_another_load_in_their_order(
        postgres_database_factory: Callable[[], str]) -> None:
    """Each table's rows are copied after those of the configuration tables it refers to: CREATE EXTENSION
    made the foreign keys, so the rows are checked as they arrive."""
    install_test_extension()
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA topo")
        conn.execute("CREATE EXTENSION synco_test_layers")
        conn.execute("INSERT INTO topo.topology (name) VALUES ('roads'), ('rivers')")
        conn.execute("INSERT INTO topo.layer VALUES (1, 1), (2, 1)")
        conn.execute("INSERT INTO public.a_feature VALUES (1, 1, 'A1'), (2, 1, 'Rhine')")
        conn.execute("INSERT INTO topo.a_log (line) VALUES ('created')")
    data, result = dump(source)
    install(target, data, result)
    # assert_same compares the sequences too: those behind the serial and identity columns, which are the
    # extension's own (not marked as configuration), go on where the source's are.
    assert_same(source, target)
    assert rows(target, "SELECT name FROM public.a_feature ORDER BY 1") == [("A1",), ("Rhine",)]
    with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
        conn.execute("INSERT INTO topo.topology (name) VALUES ('rails')")
        conn.execute("INSERT INTO topo.a_log (line) VALUES ('copied')")


def test_a_schema_an_extension_creates_for_the_database_loads(postgres_database_factory: Callable[[], str]) -> None:
    """The database's own schemas are created before the extensions: the extension's script, finding the
    schema there, leaves it alone."""
    install_test_extension()
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION synco_test_datazone")
        conn.execute("COMMENT ON SCHEMA zone_data IS 'the zones, ünïcödé'")
        conn.execute("CREATE TABLE zone_data.zones (id integer PRIMARY KEY, name text DEFAULT public.zone_name())")
        conn.execute("INSERT INTO zone_data.zones VALUES (1, DEFAULT), (2, NULL)")
    data, result = dump(source)
    install(target, data, result)
    assert_same(source, target)


def test_a_postgis_topology_round_trips(postgres_database_factory: Callable[[], str]) -> None:
    """PostGIS topology keeps its topologies and layers in configuration tables of the extension, a layer
    referring to its topology; geometry columns, spatial indexes and a user's spatial_ref_sys row come too."""
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis_topology'").fetchone() is None:
            unavailable("PostGIS topology is not installed on the PostgreSQL server (postgresql-15-postgis-3)")
        conn.execute("CREATE EXTENSION postgis_topology CASCADE")
        conn.execute("INSERT INTO public.spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
                     "VALUES (990001, 'synco', 990001, 'LOCAL_CS[\"synco\"]', '+proj=longlat +datum=WGS84')")
        conn.execute("CREATE TABLE public.places (id serial PRIMARY KEY, geom geometry(Point, 990001), "
                     "g geography(LineString, 4326))")
        conn.execute("CREATE INDEX places_geom ON public.places USING gist (geom)")
        conn.execute("INSERT INTO public.places (geom, g) VALUES ('SRID=990001;POINT(1 1)', "
                     "'SRID=4326;LINESTRING(8 47, 9 48)'), (NULL, NULL)")
        conn.execute("SELECT topology.CreateTopology('roads_topo', 4326, 0.000001)")
        conn.execute("CREATE TABLE public.roads (id serial PRIMARY KEY, name text)")
        conn.execute("SELECT topology.AddTopoGeometryColumn('roads_topo', 'public', 'roads', 'topo', 'LINE')")
        conn.execute("INSERT INTO public.roads (name, topo) VALUES "
                     "('A1', topology.toTopoGeom('SRID=4326;LINESTRING(0 0, 1 1, 2 1)', 'roads_topo', 1))")
    data, result = dump(source)
    install(target, data, result)
    assert_same(source, target)
    with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
        # The topology works in the copy: another road goes through the same layer.
        conn.execute("INSERT INTO public.roads (name, topo) VALUES "
                     "('A2', topology.toTopoGeom('SRID=4326;LINESTRING(1 1, 1 2)', 'roads_topo', 1))")
        assert conn.execute("SELECT count(*) FROM roads_topo.edge_data").fetchone() == (3,)
        # and a new topology gets an id of its own (pg_dump's copy would hand out 1 again).
        conn.execute("SELECT topology.CreateTopology('rails_topo', 4326)")


# -- what cannot be carried --------------------------------------------------------------------------


def add_subscription(name: str) -> None:
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        conn.execute("CREATE SUBSCRIPTION to_production CONNECTION 'host=127.0.0.1 port=1 dbname=prod password=pw' "
                     "PUBLICATION everything WITH (connect = false)")


def drop_subscription(name: str) -> None:
    """A database with a subscription cannot be dropped; without its slot it can be dropped offline."""
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        conn.execute("ALTER SUBSCRIPTION to_production DISABLE")
        conn.execute("ALTER SUBSCRIPTION to_production SET (slot_name = NONE)")
        conn.execute("DROP SUBSCRIPTION to_production")


def test_a_subscription_is_refused_unless_skipped(postgres_database_factory: Callable[[], str], tmp_path: Path,
                                                  plugin_manager: object) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    load_fixture(postgres_url_for(source), DATA / "chinook" / "Chinook_PostgreSql.sql")
    add_subscription(source)
    try:
        out = tmp_path / "dump.sql"
        refused = CliRunner().invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(out)])
        errors = [line for line in refused.output.splitlines() if line.startswith("Error:")]
        assert refused.exit_code == 1 and len(errors) == 1, refused.output
        assert "1 subscriptions" in errors[0] and "to_production" in errors[0] and "--skip-unsupported" in errors[0]
        assert not out.exists()
        skipped = CliRunner().invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(out),
                                           "--skip-unsupported"])
        assert skipped.exit_code == 0, skipped.output
        assert "to_production" in skipped.output and b"SUBSCRIPTION" not in out.read_bytes()
        loaded = CliRunner().invoke(cli, ["db", "load", postgres_url_for(target), str(out), "--yes"])
        assert loaded.exit_code == 0, loaded.output
        assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    finally:
        drop_subscription(source)


# What a synco install refuses to create, as it can reach beyond the database: each case creates such an
# object and one depending on it, (name the refusal names, a word of the dependent's definition).
_BEYOND_THE_DATABASE = {
    # FreeRADIUS's Cisco H.323 schema (Debian freeradius-postgresql, extras/cisco_h323_db_schema.sql, GPL-2+)
    # creates plpgsql's call handler again, in C, in its own schema.
    "routine in C": ("CREATE FUNCTION public.plpgsql_call_handler() RETURNS language_handler "
                     "AS '$libdir/plpgsql' LANGUAGE C;"
                     "CREATE FUNCTION public.handler_name() RETURNS text LANGUAGE sql "
                     "BEGIN ATOMIC SELECT 'public.plpgsql_call_handler'::regproc::text; END;",
                     "public.plpgsql_call_handler() (c)", "handler_name"),
    "language with a C handler of its own": (
        "CREATE FUNCTION public.own_handler() RETURNS language_handler AS '$libdir/plpgsql', "
        "'plpgsql_call_handler' LANGUAGE C;"
        "CREATE LANGUAGE plown HANDLER public.own_handler;"
        "CREATE FUNCTION public.in_own() RETURNS integer LANGUAGE plown AS $$ BEGIN RETURN 1; END $$;",
        "plown", "in_own"),
    "dblink": ("CREATE EXTENSION dblink; CREATE VIEW public.open_links AS SELECT public.dblink_get_connections();",
               "dblink", "open_links"),
    # An administrator's helper, in a language the install lets through, calling what it refuses by name.
    "routine calling pg_terminate_backend": (
        "CREATE FUNCTION public.kill_idle() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN "
        "PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle' AND false; RETURN 0; END $$;"
        "CREATE VIEW public.killed AS SELECT public.kill_idle() AS n;",
        "public.kill_idle()", "killed"),
    "view over the server's files": (
        "CREATE VIEW public.data_dir AS SELECT pg_catalog.pg_ls_dir('.') AS name WHERE false;"
        "CREATE VIEW public.data_dir_count AS SELECT count(*) FROM public.data_dir;",
        "public.data_dir", "data_dir_count"),
}


@pytest.mark.parametrize("case", list(_BEYOND_THE_DATABASE))
def test_what_an_install_refuses_is_refused_by_the_dump_unless_skipped(
        case: str, postgres_database_factory: Callable[[], str], tmp_path: Path) -> None:
    """A dump the install's gate must refuse is never written: the dump names the objects, and with
    --skip-unsupported leaves them out with everything that depends on them, and loads."""
    script, named, dependent = _BEYOND_THE_DATABASE[case]
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'dblink'").fetchone() is None:
            unavailable("the PostgreSQL server has no contrib extensions (dblink)")
        conn.execute("CREATE TABLE public.kept (id integer PRIMARY KEY, v text)")
        conn.execute("INSERT INTO public.kept VALUES (1, 'ünï'), (2, NULL)")
        conn.execute(script)
    out = tmp_path / "dump.sql"
    refused = CliRunner().invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(out)])
    errors = [line for line in refused.output.splitlines() if line.startswith("Error:")]
    assert refused.exit_code == 1 and len(errors) == 1, refused.output
    assert named in errors[0] and "--skip-unsupported" in errors[0]
    assert not out.exists()
    skipped = CliRunner().invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(out), "--skip-unsupported"])
    assert skipped.exit_code == 0, skipped.output
    assert named in skipped.output and dependent in skipped.output
    assert dependent.encode() not in out.read_bytes()
    loaded = CliRunner().invoke(cli, ["db", "load", postgres_url_for(target), str(out), "--yes"])
    assert loaded.exit_code == 0, loaded.output
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))


def test_serve_refuses_or_skips_like_db_dump(postgres_database_factory: Callable[[], str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from test_e2e_sanitize import symfony_project

    source = postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("CREATE TABLE public.t (id integer PRIMARY KEY)")
    add_subscription(source)
    try:
        monkeypatch.chdir(symfony_project(tmp_path / "app", source))
        refused = CliRunner().invoke(cli, ["serve", "--keep", "--only", "dbDump"])
        assert refused.exit_code == 1 and "to_production" in refused.output, refused.output
        served = CliRunner().invoke(cli, ["serve", "--keep", "--only", "dbDump", "--skip-unsupported"])
        assert served.exit_code == 0, served.output
    finally:
        drop_subscription(source)


def test_what_depends_on_a_skipped_object_is_left_out_too(pagila: str, postgres_database_factory: Callable[[], str],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Were aggregates not carried, Pagila's group_concat and the three views calling it would be left out,
    named, and the rest would load."""
    source, target = pagila, postgres_database_factory()
    monkeypatch.setattr(unsupported, "REFUSED", [unsupported.Refusal("aggregates", "as a test", """
        SELECT 'pg_proc', p.oid, p.oid::regprocedure::text FROM pg_proc p
        WHERE p.prokind = 'a' AND p.oid >= 16384""")])
    with pytest.raises(DatabaseError, match=r"1 aggregates \(as a test\): public\.group_concat\(text\); pass "
                                            r"--skip-unsupported"):
        dump(source)
    with caplog.at_level(logging.WARNING, logger="synco_core.engines.postgresql.dumper"):
        data, result = dump(source, DumpOptions(skip_unsupported=True))
    messages = " ".join(record.getMessage() for record in caplog.records)
    for view in ("view public.actor_info", "view public.film_list", "view public.nicer_but_slower_film_list"):
        assert view in messages
    assert b"CREATE AGGREGATE" not in data and b"CREATE VIEW public.film_list" not in data
    install(target, data, result)
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert rows(target, "SELECT count(*) FROM pg_views WHERE schemaname = 'public'") == [(4,)]


# -- shapes real databases have ----------------------------------------------------------------------


def round_trip(source_sql: str, postgres_database_factory: Callable[[], str],
               options: DumpOptions | None = None) -> tuple[str, str, bytes]:
    """(source, target, dump): ``source_sql`` run in a new database, dumped and installed into another."""
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute(source_sql)
    data, result = dump(source, options)
    install(target, data, result)
    return source, target, data


def test_domain_checks_and_generated_columns_whose_functions_read_other_tables(
        postgres_database_factory: Callable[[], str]) -> None:
    """A domain CHECK or a generated column calling a function whose body reads a table (SQL, SQL-standard,
    PL/pgSQL) loads, with the values of the source: the server inlines a SQL body when it adds the check or
    creates the column (the load failed on ``relation "z.codes" does not exist``, as pg_dump's does), and
    COPY runs the function on each row (against a lookup table not loaded yet, a check fails and a
    generated value is computed from nothing). The tables that use them sort before the lookup table."""
    source, target, _ = round_trip("""
        CREATE SCHEMA z;
        CREATE TABLE z.codes (code text PRIMARY KEY, label text NOT NULL);
        INSERT INTO z.codes VALUES ('ok', 'Okay'), ('no', 'Nope');
        CREATE FUNCTION sql_known(text) RETURNS boolean LANGUAGE sql STABLE
            AS $$ SELECT EXISTS (SELECT 1 FROM z.codes WHERE code = $1) $$;
        CREATE FUNCTION plpgsql_known(text) RETURNS boolean LANGUAGE plpgsql STABLE
            AS $$ BEGIN RETURN EXISTS (SELECT 1 FROM z.codes WHERE code = $1); END $$;
        CREATE FUNCTION sql_label(text) RETURNS text LANGUAGE sql IMMUTABLE
            AS $$ SELECT label FROM z.codes WHERE code = $1 $$;
        CREATE FUNCTION atomic_label(c text) RETURNS text LANGUAGE sql IMMUTABLE
            BEGIN ATOMIC SELECT label FROM z.codes WHERE code = c; END;
        CREATE FUNCTION plpgsql_label(text) RETURNS text LANGUAGE plpgsql IMMUTABLE
            AS $$ BEGIN RETURN (SELECT label FROM z.codes WHERE code = $1); END $$;
        CREATE DOMAIN known_code AS text CONSTRAINT known CHECK (sql_known(VALUE));
        CREATE DOMAIN checked_code AS text CONSTRAINT checked CHECK (plpgsql_known(VALUE)) NOT NULL;
        CREATE DOMAIN known_again AS known_code CHECK (length(VALUE) = 2);
        CREATE TABLE a_uses (
            c known_code,
            d checked_code,
            e known_again[],
            by_sql text GENERATED ALWAYS AS (sql_label(c)) STORED,
            by_atomic text GENERATED ALWAYS AS (atomic_label(c)) STORED,
            by_plpgsql text GENERATED ALWAYS AS (plpgsql_label(d)) STORED);
        INSERT INTO a_uses (c, d, e) VALUES ('ok', 'no', '{ok,no}'), ('no', 'ok', NULL);""",
        postgres_database_factory)
    assert_same(source, target)
    assert rows(target, "SELECT c, by_sql, by_atomic, by_plpgsql FROM a_uses ORDER BY c") == [
        ("no", "Nope", "Nope", "Okay"), ("ok", "Okay", "Okay", "Nope")]
    query = ("SELECT conname, convalidated FROM pg_constraint WHERE contypid <> 0 "
             "AND contypid::regtype::text NOT LIKE '%.%' ORDER BY 1")
    assert rows(target, query) == rows(source, query) == [("checked", True), ("known", True),
                                                          ("known_again_check", True)]


def test_checks_indexes_and_materialized_views_whose_functions_read_views(
        postgres_database_factory: Callable[[], str]) -> None:
    """A check, an index or a materialized view calling a function whose body (SQL or PL/pgSQL, which
    pg_depend does not look into) reads a view or a materialized view is created after the views: a check
    or index made before them failed to load (``relation "public.zz_view" does not exist``, the SQL body
    inlined when the index is made or the rows checked), and so did a materialized view filled before
    the one its function reads (as pg_dump's script does)."""
    source, target, _ = round_trip("""
        CREATE TABLE base (id integer, v integer);
        INSERT INTO base VALUES (1, 10), (2, 20);
        CREATE VIEW zz_view AS SELECT id, v FROM base;
        CREATE MATERIALIZED VIEW zz_counted AS SELECT count(*) AS n FROM base;
        CREATE FUNCTION sql_max() RETURNS integer LANGUAGE sql STABLE AS $$ SELECT max(v) FROM public.zz_view $$;
        CREATE FUNCTION plpgsql_max() RETURNS integer LANGUAGE plpgsql STABLE
            AS $$ BEGIN RETURN (SELECT max(v) FROM public.zz_view); END $$;
        CREATE FUNCTION shifted(integer) RETURNS integer LANGUAGE sql IMMUTABLE
            AS $$ SELECT max(v) + $1 FROM public.zz_view $$;
        CREATE FUNCTION counted() RETURNS bigint LANGUAGE plpgsql STABLE
            AS $$ BEGIN RETURN (SELECT n FROM public.zz_counted); END $$;
        CREATE FUNCTION atomic_max() RETURNS integer LANGUAGE sql STABLE BEGIN ATOMIC SELECT public.sql_max(); END;
        CREATE TABLE aa_checked (x integer CHECK (x <= sql_max()), y integer CHECK (y <= plpgsql_max()),
                                 z integer CHECK (z <= atomic_max()));
        INSERT INTO aa_checked VALUES (5, 6, 7);
        CREATE INDEX aa_checked_shifted ON aa_checked (shifted(x));
        CREATE INDEX aa_checked_partial ON aa_checked (y) WHERE y < shifted(0);
        CREATE MATERIALIZED VIEW aa_computed AS SELECT counted() AS n, sql_max() AS m;""",
        postgres_database_factory)
    assert_same(source, target)
    assert rows(target, "SELECT n, m FROM aa_computed") == [(2, 20)]


def test_tables_with_no_column_to_copy(postgres_database_factory: Callable[[], str]) -> None:
    """Rows of a table with no columns (or only generated or dropped ones) are still rows; ``COPY t ()``
    is a syntax error, with or without a filter."""
    fixture = """
        CREATE TABLE zero_cols ();
        INSERT INTO zero_cols DEFAULT VALUES; INSERT INTO zero_cols DEFAULT VALUES;
        CREATE TABLE only_generated (g integer GENERATED ALWAYS AS (42) STORED);
        INSERT INTO only_generated DEFAULT VALUES;
        CREATE TABLE dropped_all (a integer); INSERT INTO dropped_all VALUES (1); ALTER TABLE dropped_all DROP a;
        CREATE TABLE zero_parent (); CREATE TABLE zero_child () INHERITS (zero_parent);
        INSERT INTO zero_child DEFAULT VALUES;"""
    source, target, data = round_trip(fixture, postgres_database_factory)
    assert b"COPY public.zero_cols FROM stdin;\n\n\n\\.\n" in data
    assert_same(source, target)
    filtered = round_trip(fixture, postgres_database_factory,
                          DumpOptions(where={"zero_cols": "false", "only_generated": "true"}))[1]
    assert rows(filtered, "SELECT (SELECT count(*) FROM zero_cols), (SELECT count(*) FROM only_generated)") == [(0, 1)]


def test_partition_indexes_keep_their_names_and_attachments(postgres_database_factory: Callable[[], str]) -> None:
    """A partition's index or key made before it was attached keeps its own name, a parent index that only
    some partitions have stays so (and invalid), at every level of sub-partitioning."""
    source, target, _ = round_trip("""
        CREATE TABLE ev (id integer NOT NULL, kind text NOT NULL, at date, PRIMARY KEY (id, kind))
            PARTITION BY LIST (kind);
        CREATE TABLE ev_a (id integer NOT NULL, kind text NOT NULL, at date,
                           CONSTRAINT ev_a_own_pk PRIMARY KEY (id, kind));
        CREATE INDEX ev_a_at_own ON ev_a (at);
        ALTER TABLE ev ATTACH PARTITION ev_a FOR VALUES IN ('a');
        CREATE TABLE ev_b PARTITION OF ev FOR VALUES IN ('b', 'c') PARTITION BY LIST (kind);
        CREATE TABLE ev_b1 PARTITION OF ev_b FOR VALUES IN ('b');
        CREATE TABLE ev_b2 PARTITION OF ev_b FOR VALUES IN ('c');
        CREATE INDEX ev_at ON ev (at);
        CREATE INDEX ev_id_only ON ONLY ev (id);
        CREATE INDEX ev_a_id_own ON ev_a (id);
        ALTER INDEX ev_id_only ATTACH PARTITION ev_a_id_own;
        CREATE INDEX ev_b_id_own ON ONLY ev_b (id);
        ALTER INDEX ev_id_only ATTACH PARTITION ev_b_id_own;
        CREATE INDEX ev_b1_id_own ON ev_b1 (id);
        ALTER INDEX ev_b_id_own ATTACH PARTITION ev_b1_id_own;
        CREATE UNIQUE INDEX ev_uq ON ev (id, kind, at);
        COMMENT ON INDEX ev_a_at_own IS 'a partition''s own index';
        COMMENT ON CONSTRAINT ev_a_own_pk ON ev_a IS 'a partition''s own key';
        INSERT INTO ev VALUES (1, 'a', '2020-01-01'), (2, 'b', NULL), (3, 'c', '2021-01-01');""",
                                   postgres_database_factory)
    assert_same(source, target)
    validity = "SELECT relname, indisvalid FROM pg_index JOIN pg_class ON oid = indexrelid WHERE relname LIKE 'ev%' " \
               "ORDER BY 1"
    assert rows(target, validity) == rows(source, validity)
    assert ("ev_id_only", False) in rows(target, validity)
    assert rows(target, "SELECT obj_description('ev_a_at_own'::regclass)") == [("a partition's own index",)]


def test_partition_indexes_with_foreign_partitions_stay_valid(postgres_database_factory: Callable[[], str]) -> None:
    """A foreign partition has no index: a parent index made ONLY and attached would stay invalid, so it
    is made for every partition at once and still adopts the partitions' own indexes by name."""
    source, target, _ = round_trip("""
        CREATE EXTENSION postgres_fdw;
        CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'nowhere');
        CREATE TABLE n (id integer, k integer, j integer) PARTITION BY LIST (k);
        CREATE TABLE n1 PARTITION OF n FOR VALUES IN (1) PARTITION BY LIST (j);
        CREATE TABLE n11 PARTITION OF n1 FOR VALUES IN (1);
        CREATE FOREIGN TABLE n12 PARTITION OF n1 FOR VALUES IN (2) SERVER remote;
        CREATE TABLE n2 (j integer, k integer, id integer);
        CREATE INDEX n2_own ON n2 (id);
        ALTER TABLE n ATTACH PARTITION n2 FOR VALUES IN (2);
        CREATE INDEX n11_own ON n11 (id);
        CREATE INDEX n_id ON n (id);
        CREATE FOREIGN TABLE n3 PARTITION OF n FOR VALUES IN (3) SERVER remote;
        CREATE INDEX n_k ON n (k);
        INSERT INTO n VALUES (1, 1, 1), (2, 2, 2);""", postgres_database_factory)
    assert_same(source, target)
    validity = "SELECT relname, indisvalid FROM pg_index JOIN pg_class ON oid = indexrelid ORDER BY 1"
    assert rows(target, validity) == rows(source, validity)
    assert all(valid for _, valid in rows(target, validity))


def test_clustered_on_a_key_or_a_materialized_view_index(postgres_database_factory: Callable[[], str]) -> None:
    """CLUSTER ON is kept for the index of a primary key or unique constraint and for a materialized view's."""
    source, target, _ = round_trip("""
        CREATE TABLE by_key (id integer PRIMARY KEY);
        CLUSTER by_key USING by_key_pkey;
        CREATE TABLE by_unique (id integer, code text UNIQUE);
        ALTER TABLE by_unique CLUSTER ON by_unique_code_key;
        CREATE TABLE by_index (id integer);
        CREATE INDEX by_index_id ON by_index (id);
        ALTER TABLE by_index CLUSTER ON by_index_id;
        CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a;
        CREATE INDEX mv_a ON mv (a);
        ALTER MATERIALIZED VIEW mv CLUSTER ON mv_a;""", postgres_database_factory)
    assert_same(source, target)
    assert rows(target, "SELECT relname FROM pg_index JOIN pg_class ON oid = indexrelid WHERE indisclustered "
                        "ORDER BY 1") == [("by_index_id",), ("by_key_pkey",), ("by_unique_code_key",), ("mv_a",)]


def test_partitions_keep_the_enabled_state_of_their_trigger_clones(
        postgres_database_factory: Callable[[], str]) -> None:
    """A partition's clone of its parent's trigger may be disabled, enabled where the parent's is disabled,
    or fire on replicas only, at any level of sub-partitioning."""
    source, target, _ = round_trip("""
        CREATE TABLE p (id integer, k text) PARTITION BY LIST (k);
        CREATE TABLE p_a PARTITION OF p FOR VALUES IN ('a');
        CREATE TABLE p_b PARTITION OF p FOR VALUES IN ('b') PARTITION BY RANGE (id);
        CREATE TABLE p_b1 PARTITION OF p_b FOR VALUES FROM (0) TO (100);
        CREATE TABLE p_b2 PARTITION OF p_b FOR VALUES FROM (100) TO (200);
        CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER on_insert BEFORE INSERT ON p FOR EACH ROW EXECUTE FUNCTION trg();
        CREATE TRIGGER on_update BEFORE UPDATE ON p FOR EACH ROW EXECUTE FUNCTION trg();
        CREATE TRIGGER on_delete AFTER DELETE ON p FOR EACH ROW EXECUTE FUNCTION trg();
        ALTER TABLE ONLY p_a DISABLE TRIGGER on_insert;
        ALTER TABLE ONLY p_b1 ENABLE REPLICA TRIGGER on_insert;
        ALTER TABLE p DISABLE TRIGGER on_update;
        ALTER TABLE ONLY p_b2 ENABLE TRIGGER on_update;
        ALTER TABLE ONLY p_b ENABLE ALWAYS TRIGGER on_delete;
        INSERT INTO p VALUES (1, 'a'), (2, 'b'), (150, 'b');""", postgres_database_factory)
    assert_same(source, target)
    states = "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2"
    assert rows(target, states) == rows(source, states)


def test_views_keep_column_defaults_and_types_of_their_row_type(postgres_database_factory: Callable[[], str]) -> None:
    """An updatable view's column defaults (what an INSERT through it fills in) are kept; a composite type
    or domain built on a view's row type, and the functions that use them, are created after the view."""
    source, target, _ = round_trip("""
        CREATE SEQUENCE ticket_seq;
        CREATE TABLE ticket (id integer PRIMARY KEY, state text NOT NULL, opened timestamptz NOT NULL);
        CREATE FUNCTION default_state() RETURNS text LANGUAGE sql IMMUTABLE RETURN 'new';
        CREATE VIEW open_ticket AS SELECT id, state, opened FROM ticket WHERE state <> 'closed';
        ALTER VIEW open_ticket ALTER COLUMN id SET DEFAULT nextval('ticket_seq');
        ALTER VIEW open_ticket ALTER COLUMN state SET DEFAULT default_state();
        ALTER VIEW open_ticket ALTER COLUMN opened SET DEFAULT now();
        CREATE TYPE ticket_note AS (ticket open_ticket, note text);
        CREATE DOMAIN checked_ticket AS open_ticket CHECK ((VALUE).id > 0);
        CREATE FUNCTION first_note() RETURNS ticket_note LANGUAGE sql
            AS $$ SELECT ROW(t, 'first')::ticket_note FROM open_ticket t LIMIT 1 $$;
        INSERT INTO open_ticket DEFAULT VALUES;""", postgres_database_factory)
    assert_same(source, target)
    with psycopg.connect(postgres_url_for(target)) as conn:
        conn.execute("INSERT INTO open_ticket DEFAULT VALUES")
        assert conn.execute("SELECT id, state FROM ticket ORDER BY id").fetchall() == [(1, "new"), (2, "new")]
        assert conn.execute("SELECT (first_note()).note").fetchall() == [("first",)]


def test_comments_on_the_indexes_of_keys(postgres_database_factory: Callable[[], str]) -> None:
    """The index of a primary key, unique or exclusion constraint has a comment of its own, on plain tables
    and at every level of a partitioned one."""
    source, target, _ = round_trip("""
        CREATE TABLE plain (id integer PRIMARY KEY, code text UNIQUE, during tstzrange,
                            EXCLUDE USING gist (during WITH &&));
        COMMENT ON INDEX plain_pkey IS 'the key''s index';
        COMMENT ON INDEX plain_code_key IS 'unique';
        COMMENT ON INDEX plain_during_excl IS 'exclusion';
        CREATE TABLE acc (id integer, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
        CREATE TABLE acc_us PARTITION OF acc FOR VALUES IN ('us') PARTITION BY HASH (id);
        CREATE TABLE acc_us0 PARTITION OF acc_us FOR VALUES WITH (MODULUS 1, REMAINDER 0);
        COMMENT ON INDEX acc_pkey IS 'top';
        COMMENT ON INDEX acc_us_pkey IS 'middle';
        COMMENT ON INDEX acc_us0_pkey IS 'leaf';""", postgres_database_factory)
    assert_same(source, target)
    assert rows(target, "SELECT obj_description('acc_us_pkey'::regclass)") == [("middle",)]


def test_columns_typed_as_a_views_row_type(postgres_database_factory: Callable[[], str]) -> None:
    """A table column (or a composite type, domain, function or column default the tables need) may use a
    view's row type, and views come after the data: such a view is created first as a placeholder with its
    columns' exact types and collations and replaced by its definition after the data, even when that
    needs a primary key (GROUP BY over it), another view, or the very table that uses it."""
    source, target, data = round_trip("""
        CREATE SCHEMA rpt;
        CREATE COLLATION rpt.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
        CREATE TABLE customer (id integer PRIMARY KEY, name text COLLATE rpt.ci, region varchar(10));
        CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer REFERENCES customer, amount numeric(10,2));
        CREATE VIEW rpt.by_customer WITH (security_barrier) AS
            SELECT c.id, c.name, c.region, sum(o.amount) AS total
            FROM customer c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id;
        ALTER VIEW rpt.by_customer ALTER COLUMN region SET DEFAULT 'eu';
        CREATE VIEW rpt.wrapped AS SELECT b AS inner_row, b.total * 2 AS doubled FROM rpt.by_customer b;
        CREATE VIEW rpt.no_columns AS SELECT;
        CREATE TYPE rpt.note AS (c rpt.by_customer, txt text);
        CREATE DOMAIN rpt.known_customer AS rpt.by_customer CHECK ((VALUE).id > 0);
        CREATE FUNCTION rpt.score(b rpt.by_customer) RETURNS numeric LANGUAGE sql IMMUTABLE
            RETURN coalesce((b).total, 0) + 1;
        CREATE FUNCTION rpt.customers() RETURNS bigint LANGUAGE sql STABLE
            BEGIN ATOMIC SELECT count(*) FROM rpt.by_customer; END;
        CREATE TABLE snapshot (x rpt.by_customer, xs rpt.by_customer[], w rpt.wrapped, nt rpt.note,
                               kc rpt.known_customer, e rpt.no_columns,
                               score numeric GENERATED ALWAYS AS (rpt.score(x)) STORED,
                               n bigint DEFAULT rpt.customers());
        CREATE TABLE looped (id integer PRIMARY KEY, label text);
        CREATE VIEW looped_view AS SELECT id, label FROM looped GROUP BY id;
        ALTER TABLE looped ADD COLUMN previous looped_view;
        CREATE TABLE by_range (k integer, r looped_view) PARTITION BY RANGE (k);
        CREATE TABLE by_range_1 PARTITION OF by_range FOR VALUES FROM (0) TO (10);
        INSERT INTO customer VALUES (1, 'a', 'eu'), (2, 'b', 'us');
        INSERT INTO orders VALUES (1, 1, 10.5), (2, 1, 2), (3, 2, 7);
        INSERT INTO snapshot (x, xs, w, nt, kc)
            SELECT v, ARRAY[v, v], w, ROW(v, 'n'::text)::rpt.note, v
            FROM rpt.by_customer v JOIN rpt.wrapped w ON (w.inner_row).id = v.id;
        INSERT INTO looped VALUES (1, 'one', NULL), (2, 'two', ROW(1, 'one'));
        INSERT INTO by_range VALUES (1, ROW(2, 'two'));
        COMMENT ON COLUMN rpt.by_customer.total IS 'sum';""", postgres_database_factory)
    assert b"CREATE OR REPLACE VIEW rpt.by_customer WITH (security_barrier=true) AS" in data
    assert_same(source, target)
    for name in (source, target):
        assert rows(name, "SELECT total FROM rpt.by_customer ORDER BY id") == [(12.5,), (7,)]
        assert rows(name, "SELECT rpt.customers(), count(*) FILTER (WHERE n = 2) FROM snapshot") == [(2, 2)]


def test_columns_typed_as_a_materialized_views_row_type(postgres_database_factory: Callable[[], str],
                                                        tmp_path: Path) -> None:
    """A materialized view whose row type a column uses is created before the tables without its rows
    (reading views as placeholders) and refreshed after the data; an unpopulated one stays so. One whose
    own definition needs a key cannot be created before the rows: the dump refuses, naming both."""
    source, target, data = round_trip("""
        CREATE TABLE customer (id integer PRIMARY KEY, name text);
        CREATE VIEW grouped AS SELECT id, name FROM customer GROUP BY id;
        CREATE MATERIALIZED VIEW shouting AS SELECT g.id, upper(g.name) AS loud, g AS whole FROM grouped g;
        CREATE UNIQUE INDEX shouting_id ON shouting (id);
        ALTER MATERIALIZED VIEW shouting ALTER COLUMN loud SET STATISTICS 20;
        CREATE MATERIALIZED VIEW not_yet AS SELECT id FROM customer WITH NO DATA;
        CREATE TABLE kept (s shouting, n not_yet, ss shouting[]);
        INSERT INTO customer VALUES (1, 'a'), (2, 'b');
        REFRESH MATERIALIZED VIEW shouting;
        INSERT INTO kept SELECT s, NULL, ARRAY[s] FROM shouting s;""", postgres_database_factory)
    assert b"REFRESH MATERIALIZED VIEW public.shouting;" in data
    assert_same(source, target)
    assert rows(target, "SELECT loud, (whole).name FROM shouting ORDER BY id") == [("A", "a"), ("B", "b")]
    assert rows(target, "SELECT relname, relispopulated FROM pg_class WHERE relkind = 'm' ORDER BY 1") == \
        [("not_yet", False), ("shouting", True)]

    refused = postgres_database_factory()
    with psycopg.connect(postgres_url_for(refused), autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE customer (id integer PRIMARY KEY, name text);
            CREATE MATERIALIZED VIEW by_key AS SELECT id, name FROM customer GROUP BY id;
            CREATE TABLE uses (b by_key);""")
    with pytest.raises(DatabaseError, match=re.escape("materialized view public.by_key is needed before the rows, "
                                                      "but needs constraint customer_pkey ON public.customer")):
        dump(refused)


def test_checks_and_indexes_calling_a_function_that_reads_a_view(postgres_database_factory: Callable[[], str]) -> None:
    """A check constraint, partial or expression index calling a SQL-standard function that reads a view is
    created after the view (checked earlier, every row would fail or the function would not exist yet),
    also when a column default makes the function itself come before the data."""
    source, target, data = round_trip("""
        CREATE TABLE codes (code text PRIMARY KEY);
        INSERT INTO codes VALUES ('a'), ('b');
        CREATE VIEW active_codes AS SELECT code FROM codes GROUP BY code;
        CREATE FUNCTION is_code(c text) RETURNS boolean LANGUAGE sql IMMUTABLE
            BEGIN ATOMIC SELECT EXISTS (SELECT 1 FROM active_codes WHERE code = c); END;
        CREATE TABLE uses (d text CHECK (is_code(d)), e text);
        CREATE INDEX uses_e ON uses ((is_code(e)));
        CREATE UNIQUE INDEX uses_d ON uses (d) WHERE is_code(d);
        ALTER TABLE uses ADD CONSTRAINT no_twice EXCLUDE USING btree (e WITH =) WHERE (is_code(e));
        INSERT INTO uses VALUES ('a', 'b'), ('b', 'x');
        CREATE TABLE both_ways (c text DEFAULT CASE WHEN is_code('a') THEN 'a' END CHECK (is_code(c)));
        INSERT INTO both_ways DEFAULT VALUES;
        COMMENT ON CONSTRAINT both_ways_c_check ON both_ways IS 'checked against the view';""",
                                      postgres_database_factory)
    assert data.index(b"ADD CONSTRAINT both_ways_c_check") > data.index(b"CREATE OR REPLACE VIEW public.active_codes")
    assert_same(source, target)
    assert rows(target, "SELECT count(*) FROM uses WHERE is_code(e)") == [(1,)]


def test_operators_no_definition_can_name_come_from_their_own_schema(
        postgres_database_factory: Callable[[], str]) -> None:
    """``IS DISTINCT FROM`` and ``NULLIF`` print no operator, and under the dump's empty search_path the
    server took ``text``'s for ``citext`` values (through the cast): a trigger's case-insensitive WHEN, a
    unique index, a policy, a view, a rule, a generated column, a column default, a SQL-standard body and
    a domain CHECK all turned case-sensitive (pg_dump has the same fault). Each object is created with the
    operators' schema in the path."""
    if not _has_extension("citext"):
        unavailable("the citext extension is not installed (apt-get install postgresql-contrib)")
    source, target, _ = round_trip("""
        CREATE EXTENSION citext;
        CREATE TABLE acc (id int PRIMARY KEY, email citext, alias citext,
          same boolean GENERATED ALWAYS AS (email IS NOT DISTINCT FROM alias) STORED);
        CREATE UNIQUE INDEX acc_nullif ON acc ((NULLIF(email, alias)));
        CREATE INDEX acc_partial ON acc (id) WHERE email IS DISTINCT FROM 'NOBODY@x.org';
        CREATE VIEW acc_v AS SELECT id, NULLIF(email, 'a@x.org') AS e, email IS DISTINCT FROM alias AS d FROM acc;
        CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER acc_t BEFORE UPDATE ON acc FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email)
          EXECUTE FUNCTION noop();
        ALTER TABLE acc ENABLE ROW LEVEL SECURITY;
        CREATE POLICY p ON acc USING (email IS DISTINCT FROM 'blocked@x.org');
        CREATE RULE r AS ON DELETE TO acc WHERE OLD.email IS DISTINCT FROM 'keep@x.org' DO ALSO
          DELETE FROM acc WHERE false;
        CREATE DOMAIN mail AS citext CHECK (NULLIF(VALUE, '') IS NOT NULL);
        CREATE TABLE defaults (id int, d citext DEFAULT NULLIF('A'::citext, 'a'),
          CONSTRAINT c CHECK (d IS DISTINCT FROM 'NOPE'));
        CREATE VIEW joined AS SELECT a.id FROM acc a JOIN acc b USING (email) WHERE a.email IN (SELECT alias FROM acc);
        CREATE FUNCTION same(a citext, b citext) RETURNS boolean LANGUAGE sql BEGIN ATOMIC
          SELECT a IS NOT DISTINCT FROM b; END;
        INSERT INTO acc (id, email, alias) VALUES (1, 'A@x.org', 'a@X.org'), (2, 'C@x.org', 'D@x.org');
    """, postgres_database_factory)
    assert_same(source, target)
    assert rows(target, "INSERT INTO defaults (id) VALUES (1) RETURNING d, same('X', 'x')") == [(None, True)]
    assert rows(target, "SELECT id, same, e, d FROM acc_v JOIN acc USING (id) ORDER BY id") == [
        (1, True, None, False), (2, False, "C@x.org", True)]
    with psycopg.connect(postgres_url_for(target)) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO acc (id, email, alias) VALUES (3, 'c@X.org', 'z')")


def _loads_by_install_and_psql_as_the_source(source: str, data: bytes, result: DumpResult,
                                             factory: Callable[[], str], search_path: str) -> None:
    """The dump loads through synco's install and through psql alike, each copy with the source's schema and
    rows (read with ``search_path``, where the objects' functions need it)."""
    target, by_psql = factory(), factory()
    install(target, data, result)
    with tempfile.NamedTemporaryFile(suffix=".sql") as script:
        script.write(data)
        script.flush()
        loaded = psql_load(by_psql, Path(script.name))
    assert loaded.returncode == 0, loaded.stderr
    with_path = f"?options=-csearch_path%3D{search_path}"
    for copy in (target, by_psql):
        assert schema_dump(copy) == schema_dump(source)
        assert fingerprints(postgres_url_for(copy) + with_path) == fingerprints(postgres_url_for(source) + with_path)


def test_extension_functions_whose_bodies_need_their_schemas(postgres_database_factory: Callable[[], str]) -> None:
    """earthdistance's ``ll_to_earth`` is a SQL function whose body names ``cube`` and ``earth``
    unqualified, as its script was run with its own schema and cube's in the path. Loaded under the dump's
    empty path, every object that runs it failed (``type "earth" does not exist``; pg_dump's output too):
    an index, a check, a NOT VALID check, a domain check, a generated column and a domain inside an array of
    a composite (both evaluated by ``COPY``), a materialized view, and an index through a SQL-standard
    function that calls it. Each is created, or its rows loaded, with those schemas in the path."""
    for name in ("cube", "earthdistance"):
        if not _has_extension(name):
            unavailable(f"the {name} extension is not installed (apt-get install postgresql-contrib)")
    path = "public, geo, ext"
    source = postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{source}" SET search_path = {path}')
    source_sql = f"""
        SET search_path = {path};
        CREATE SCHEMA ext; CREATE SCHEMA geo;
        CREATE EXTENSION cube WITH SCHEMA ext;
        CREATE EXTENSION earthdistance WITH SCHEMA geo;
        CREATE DOMAIN near AS float8[]
          CHECK (earth_distance(ll_to_earth(VALUE[1], VALUE[2]), ll_to_earth(52.5, 13.4)) < 1e6);
        CREATE TABLE places (id int PRIMARY KEY, lat float8, lon float8,
          e earth GENERATED ALWAYS AS (ll_to_earth(lat, lon)) STORED, nb near,
          CHECK (earth_distance(ll_to_earth(lat, lon), ll_to_earth(0, 0)) >= 0));
        INSERT INTO places (id, lat, lon, nb) VALUES (1, 52.5, 13.4, '{{52.4,13.3}}'), (2, -33.9, 151.2, NULL);
        CREATE INDEX places_earth ON places USING gist (ll_to_earth(lat, lon));
        CREATE MATERIALIZED VIEW dists AS SELECT id, earth_distance(ll_to_earth(lat, lon), ll_to_earth(0, 0)) AS d
          FROM places;
        CREATE TABLE unchecked (lat float8, lon float8);
        INSERT INTO unchecked VALUES (1, 2);
        ALTER TABLE unchecked ADD CONSTRAINT far CHECK (earth_distance(ll_to_earth(lat, lon), ll_to_earth(0, 0)) > 1e9)
          NOT VALID;
        CREATE FUNCTION km(lat float8, lon float8) RETURNS float8 LANGUAGE sql IMMUTABLE
          RETURN earth_distance(ll_to_earth(lat, lon), ll_to_earth(0, 0)) / 1000;
        CREATE TABLE spots (id int, lat float8, lon float8);
        INSERT INTO spots VALUES (1, 10, 10);
        CREATE INDEX spots_km ON spots (km(lat, lon));
        CREATE TYPE visit AS (name text, at near);
        CREATE TABLE visits (id int, v visit[], r float8 GENERATED ALWAYS AS (km(1, 2)) STORED);
        INSERT INTO visits (id, v) VALUES (1, ARRAY[ROW('x', '{{52.5,13.5}}')::visit]);"""
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute(source_sql)
    data, result = dump(source)
    _loads_by_install_and_psql_as_the_source(source, data, result, postgres_database_factory, "public,geo,ext")


@pytest.mark.parametrize("filtered", [False, True], ids=["whole", "filtered"])
def test_tables_indexed_by_such_functions_are_queried_under_their_path(
        filtered: bool, postgres_database_factory: Callable[[], str]) -> None:
    """The planner reads a table's indexes for any query on it and inlines ``ll_to_earth`` from their
    expressions, parsing its body under the session's path: once the index existed, everything after it
    that queried the table failed under the dump's empty path (``type "earth" does not exist``): a foreign
    key's validation, a materialized view reading the table without calling the function, and on the
    source the dump's own ``COPY (SELECT ...)`` of a filtered or sanitised table. MusicBrainz indexes its
    artists so; every application with ``earthdistance`` as the documentation shows it does too."""
    for name in ("cube", "earthdistance"):
        if not _has_extension(name):
            unavailable(f"the {name} extension is not installed (apt-get install postgresql-contrib)")
    source = postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("""
            CREATE EXTENSION cube; CREATE EXTENSION earthdistance;
            CREATE TABLE place (id int PRIMARY KEY, name text NOT NULL, lat float8, lon float8);
            CREATE INDEX place_earth ON place USING gist (ll_to_earth(lat, lon)) WHERE lat IS NOT NULL;
            CREATE TABLE visit (id int PRIMARY KEY, place_id int REFERENCES place (id));
            CREATE TABLE region (id int PRIMARY KEY, at int REFERENCES place (id), lat float8, lon float8);
            CREATE INDEX region_earth ON region USING gist (ll_to_earth(lat, lon));
            CREATE TABLE trip (id int, region_id int REFERENCES region (id));
            INSERT INTO place VALUES (1, 'Paris', 48.85, 2.35), (2, 'Nowhere', NULL, NULL), (3, 'Oslo', 59.9, 10.7);
            INSERT INTO visit VALUES (1, 1), (2, 3);
            INSERT INTO region VALUES (1, 1, 48.8, 2.3);
            INSERT INTO trip VALUES (1, 1);
            CREATE TABLE layer (id int, rel regclass, kind regtype, lat float8, lon float8);
            CREATE INDEX layer_earth ON layer USING gist (ll_to_earth(lat, lon));
            INSERT INTO layer VALUES (1, 'trip', 'place', 1, 2), (2, NULL, NULL, 3, 4);
            CREATE VIEW named AS SELECT id, name FROM place;
            CREATE MATERIALIZED VIEW names AS SELECT name FROM named ORDER BY name;""")
    options = DumpOptions(where={"place": "id <> 2"}, sanitize=(
        SanitizeRule("place", "name", expression="upper(name)"),
        SanitizeRule("region", "lat", expression="round(lat)"))) if filtered else None
    data, result = dump(source, options)
    if filtered:
        with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
            conn.execute("DELETE FROM place WHERE id = 2")
            conn.execute("UPDATE place SET name = upper(name)")
            conn.execute("UPDATE region SET lat = round(lat)")
            conn.execute("REFRESH MATERIALIZED VIEW names")
    _loads_by_install_and_psql_as_the_source(source, data, result, postgres_database_factory, "public")


def test_a_table_with_such_indexes_and_regclass_values_is_not_filtered_into_a_dump_that_fails(
        postgres_database_factory: Callable[[], str]) -> None:
    """Read through a query, such a table needs its indexes' path, under which COPY writes a ``regclass``
    value unqualified (``trip``), which the load, under the empty path, does not find: filtering or
    sanitising it is refused in one line; read whole (plain ``COPY``, which plans nothing) it is carried."""
    for name in ("cube", "earthdistance"):
        if not _has_extension(name):
            unavailable(f"the {name} extension is not installed (apt-get install postgresql-contrib)")
    source = postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("""
            CREATE EXTENSION cube; CREATE EXTENSION earthdistance;
            CREATE TABLE trip (id int);
            CREATE TABLE layer (id int, rel regclass, lat float8, lon float8);
            CREATE INDEX layer_earth ON layer USING gist (ll_to_earth(lat, lon));
            INSERT INTO layer VALUES (1, 'trip', 1, 2);""")
    with pytest.raises(ConfigError, match=r"^table layer cannot be filtered or sanitised: .* regclass column rel"):
        dump(source, DumpOptions(where={"layer": "id > 0"}))
    data, result = dump(source)
    assert b"public.trip" in data
    _loads_by_install_and_psql_as_the_source(source, data, result, postgres_database_factory, "public")


def test_own_functions_whose_bodies_need_the_databases_path(postgres_database_factory: Callable[[], str]) -> None:
    """The common ``immutable_unaccent(text)`` wrapper (a SQL body calling ``unaccent(...)`` unqualified)
    and a plpgsql function calling it unqualified were written for the application's path, here the
    database's own (``app, public``). Under the dump's empty path, the generated column, index, check and
    domain check that call them failed to load (pg_dump's output too). They are created, and the rows of a
    table whose ``COPY`` runs one loaded, with the source database's path in ``search_path``."""
    if not _has_extension("unaccent"):
        unavailable("the unaccent extension is not installed (apt-get install postgresql-contrib)")
    source = postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{source}" SET search_path = app, public')
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("""
            CREATE EXTENSION unaccent;
            CREATE SCHEMA app;
            CREATE FUNCTION immutable_unaccent(text) RETURNS text LANGUAGE sql IMMUTABLE
              AS $$ SELECT unaccent('unaccent', $1) $$;
            CREATE FUNCTION norm(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE
              AS $$ BEGIN RETURN lower(immutable_unaccent(t)); END $$;
            CREATE DOMAIN plain_word AS text CHECK (VALUE = norm(VALUE));
            CREATE TABLE people (id int PRIMARY KEY, name text CHECK (norm(name) <> ''), tag plain_word,
              slug text GENERATED ALWAYS AS (norm(name)) STORED);
            CREATE INDEX people_name ON people (immutable_unaccent(name));
            INSERT INTO people (id, name, tag) VALUES (1, 'Émile Zola', 'ecrivain'), (2, 'Ça', NULL);""")
    data, result = dump(source)
    assert b"SET search_path = pg_catalog, app, public;\nCOPY app.people" in data
    _loads_by_install_and_psql_as_the_source(source, data, result, postgres_database_factory, "app,public")


def test_hash_partitions_on_enums_load_through_their_root(postgres_database_factory: Callable[[], str]) -> None:
    """An enum value hashes by its OID, which the copy's type gets anew (and a regclass value, loaded by
    name): the loaded database routes a row of a table hash-partitioned on one (or on an array of one, or a
    domain over one, at any level of the tree) to another partition, and COPY into the partition it came
    from failed ("violates partition constraint"). Every partition of such a tree is loaded through the
    tree's root; the manifest covers the tree as a whole, and a filter on one partition still applies to
    its rows."""
    fixture = """
        CREATE TYPE color AS ENUM ('red', 'green', 'blue', 'cyan', 'black');
        CREATE DOMAIN shade AS color;
        CREATE TABLE things (id int, c color, PRIMARY KEY (id, c)) PARTITION BY HASH (c);
        CREATE TABLE things_0 PARTITION OF things FOR VALUES WITH (MODULUS 3, REMAINDER 0);
        CREATE TABLE things_1 PARTITION OF things FOR VALUES WITH (MODULUS 3, REMAINDER 1);
        CREATE TABLE things_2 (c color NOT NULL, note text, id int NOT NULL);
        ALTER TABLE things_2 DROP COLUMN note;
        ALTER TABLE things ATTACH PARTITION things_2 FOR VALUES WITH (MODULUS 3, REMAINDER 2);
        INSERT INTO things SELECT i, (enum_range(NULL::color))[1 + i % 5] FROM generate_series(1, 50) i;
        CREATE TABLE events (region text, tags shade[], n int) PARTITION BY LIST (region);
        CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu') PARTITION BY HASH (tags);
        CREATE TABLE events_eu_0 PARTITION OF events_eu FOR VALUES WITH (MODULUS 2, REMAINDER 0);
        CREATE TABLE events_eu_1 PARTITION OF events_eu FOR VALUES WITH (MODULUS 2, REMAINDER 1);
        CREATE TABLE events_us PARTITION OF events FOR VALUES IN ('us');
        INSERT INTO events SELECT CASE WHEN i % 3 = 0 THEN 'us' ELSE 'eu' END,
          ARRAY[(enum_range(NULL::color))[1 + i % 5], (enum_range(NULL::color))[1 + i % 2]]::shade[], i
          FROM generate_series(1, 60) i;
        CREATE TABLE by_class (c regclass, n int) PARTITION BY HASH (c);
        CREATE TABLE by_class_0 PARTITION OF by_class FOR VALUES WITH (MODULUS 2, REMAINDER 0);
        CREATE TABLE by_class_1 PARTITION OF by_class FOR VALUES WITH (MODULUS 2, REMAINDER 1);
        INSERT INTO by_class SELECT c, 1 FROM unnest(ARRAY['things', 'things_0', 'things_1', 'things_2', 'events',
          'events_eu', 'events_us']::regclass[]) c;
        CREATE TABLE plain (k int, c color) PARTITION BY HASH (k);
        CREATE TABLE plain_0 PARTITION OF plain FOR VALUES WITH (MODULUS 1, REMAINDER 0);
        INSERT INTO plain VALUES (1, 'red');"""
    source, target, data = round_trip(fixture, postgres_database_factory)
    assert data.count(b"COPY public.things (id, c) FROM stdin;") == 2
    assert data.count(b"COPY public.things (c, id) FROM stdin;") == 1  # things_2's own column order
    assert data.count(b"COPY public.events (region, tags, n) FROM stdin;") == 2
    assert b"COPY public.events_us (region, tags, n) FROM stdin;" in data  # not under the hashed branch
    assert b"COPY public.plain_0 (k, c) FROM stdin;" in data
    assert schema_dump(target) == schema_dump(source)
    trees = ("things", "events", "by_class")

    def whole(name: str) -> list[tuple[object, ...]]:
        return [rows(name, f"SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {tree} t")[0]
                for tree in trees]

    assert whole(target) == whole(source)
    outside = {key: value for key, value in fingerprints(postgres_url_for(source)).items()
               if not key.startswith(tuple(f"public.{tree}" for tree in trees))}
    assert {key: value for key, value in fingerprints(postgres_url_for(target)).items() if key in outside} == outside

    filtered = round_trip(fixture, postgres_database_factory, DumpOptions(where={"events_eu_1": "n > 30"}))
    assert rows(filtered[1], "SELECT count(*) FROM events") == rows(
        filtered[0], "SELECT count(*) FROM events WHERE tableoid <> 'events_eu_1'::regclass OR n > 30")


def _has_extension(name: str) -> bool:
    with psycopg.connect(postgres_url_for("postgres")) as conn:
        return conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (name,)).fetchone() is not None
