"""A hostile dump acts on the database it is installed into, and on nothing else of the local server.

The dump comes from the session. Before the statement gates (engines/mysql/gate.py, engines/postgresql/
gate.py) the loaders sent every statement as it came, as the local user (root, postgres): a dump could
drop another database's tables, create a superuser, write files with INTO OUTFILE or run a shell command
with ``COPY ... FROM PROGRAM``. Each test loads a dump whose first part is harmless and whose last
statement attacks, and checks that the install failed and the attack left no trace.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.mysql.gate import StatementGate
from synco_core.engines.mysql.install import install as mysql_install
from synco_core.engines.postgresql import gate as postgres_gate
from synco_core.engines.postgresql.installer import install as postgres_install
from synco_core.engines.postgresql.script import strip_comments
from synco_core.errors import DatabaseError, SyncoError
from synco_core.testing.services import (
    PostgresDatabases,
    mysql_admin_connection,
    mysql_database,
    mysql_url_for,
    postgres_url_for,
)
from synco_core.values import InstallOptions

MYSQL_PREFIX = b"CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n"


@pytest.fixture(scope="module")
def victim() -> Iterator[str]:
    """Another database of the local server, with a table the user cares about. One for the module: every
    test only reads it (an attack that changed it fails the test that made it)."""
    with mysql_database() as name:
        with mysql_admin_connection(name) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE precious (x int)")
            cur.execute("INSERT INTO precious VALUES (42)")
        yield name


@pytest.fixture(scope="module")
def mysql_refusing_target() -> Iterator[str]:
    """The database the attacks are installed into, one for the module: each install is refused, which
    leaves it as it was, so that no test sees what another did to it."""
    with mysql_database() as name:
        yield name


@pytest.fixture(scope="module")
def postgres_refusing_target() -> Iterator[str]:
    """As mysql_refusing_target: a PostgreSQL database made once, creating one costs a copy of template1."""
    databases = PostgresDatabases()
    try:
        yield databases.create()
    finally:
        databases.drop_all()


def _precious(victim: str) -> list[int]:
    with mysql_admin_connection(victim) as conn, conn.cursor() as cur:
        cur.execute("SELECT x FROM precious")
        return [int(row[0]) for row in cur.fetchall()]


def _user_exists(name: str) -> bool:
    with mysql_admin_connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM mysql.user WHERE user=%s", (name,))
        return bool(cur.fetchone()[0])


MYSQL_ATTACKS = [
    # Comments between a name and its dot, which a synco dump's CREATE statements keep.
    "INSERT INTO t VALUES ((SELECT x FROM {victim}/**/.precious LIMIT 1))",
    "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW /* why */ DELETE FROM {victim} -- a\n.precious",
    "DROP TABLE {victim}.precious",
    "DELETE FROM `{victim}`.precious",
    "INSERT INTO {victim}.precious VALUES (1)",
    "INSERT INTO t SELECT x FROM {victim}.precious",
    "RENAME TABLE t TO {victim}.t",
    "/*!50000 */ USE {victim}",
    "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW DELETE FROM {victim}.precious",
    "CREATE PROCEDURE p() BEGIN DROP TABLE {victim} . precious; END",
    "CREATE EVENT e ON SCHEDULE AT CURRENT_TIMESTAMP DO DELETE FROM {victim}.precious",
    "CREATE VIEW v AS SELECT * FROM {victim}.precious;\nDELETE FROM v",
    "CREATE VIEW v AS SELECT * FROM {victim}.precious;\nINSERT INTO v VALUES (7)",
    "UPDATE mysql.user SET plugin='' WHERE 0",
    "CREATE USER '{user}'@'localhost'",
    "GRANT ALL ON *.* TO '{user}'@'%' IDENTIFIED BY 'x'",
    "SET GLOBAL max_connections=@@max_connections",
    "SET @@global.max_connections=@@max_connections",
    "SELECT 'x' INTO OUTFILE '{outfile}'",
    "SELECT 'x' INTO DUMPFILE '{outfile}'",
    "/*!50000 SELECT 'x' INTO OUTFILE '{outfile}' */",
    "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE t",
    "INSERT INTO t SELECT LENGTH(LOAD_FILE('/etc/hostname'))",
    "CREATE TABLE f (x int) ENGINE=CONNECT TABLE_TYPE=CSV FILE_NAME='{outfile}'",
    "CREATE TABLE d (x int) DATA DIRECTORY='/tmp'",
    "INSTALL SONAME 'ha_connect'",
    "CREATE FUNCTION sys_exec RETURNS int SONAME 'lib_mysqludf_sys.so'",
    "PREPARE s FROM 'DROP TABLE {victim}.precious'",
    "SET NAMES sjis",
    "KILL CONNECTION 999999999",
    "FLUSH PRIVILEGES",
]
#: Checked on the gate alone: run on the test server without the gate, they would harm it.
MYSQL_DESTRUCTIVE = [
    "SHUTDOWN",
    "SET PASSWORD FOR root@localhost = PASSWORD('x')",
    "ALTER USER root@localhost IDENTIFIED BY 'x'",
    "/*!50000 SHUTDOWN */",
    "CREATE PROCEDURE p() SHUTDOWN",
    "RESET MASTER",
    "CHANGE MASTER TO MASTER_HOST='evil.example'",
]


@pytest.mark.parametrize("attack", MYSQL_DESTRUCTIVE)
def test_mysql_gate_refuses_what_would_harm_the_server(attack: str) -> None:
    gate = StatementGate(["shop__synco_new", "shop"], ["shop", "shop__synco_new", "mysql", "other"])
    with pytest.raises(DatabaseError, match="refusing statement 3"):
        gate.check(attack.encode(), 3)


@pytest.mark.parametrize("attack", ['SET sql_mode = ANSI_QUOTES', 'SELECT 1 FROM "other"."t"',
                                    "SELECT 'a\\'; DROP TABLE other.t; -- '"])
def test_mysql_gate_reads_statements_every_way_the_server_may(attack: str) -> None:
    """ANSI_QUOTES and NO_BACKSLASH_ESCAPES change what is a string; the gate refuses under any reading."""
    gate = StatementGate(["shop"], ["shop", "other"])
    if attack.startswith("SET"):
        gate.check(attack.encode(), 1)
        return
    with pytest.raises(DatabaseError, match="database 'other'"):
        gate.check(attack.encode(), 1)


@pytest.mark.parametrize("header", [b"", b"-- synco MySQL/MariaDB dump (synco 0.1.0)\n"], ids=["script", "synco"])
@pytest.mark.parametrize("attack", MYSQL_ATTACKS)
def test_mysql_dump_reaches_nothing_beyond_its_database(attack: str, header: bytes, victim: str,
                                                        mysql_refusing_target: str) -> None:
    """Under synco's header too, whose CREATE statements keep their comments (routine bodies as stored)."""
    target = mysql_refusing_target
    user = "evil_" + uuid.uuid4().hex[:8]
    outfile = f"/tmp/synco-gate-{uuid.uuid4().hex}"
    statement = attack.format(victim=victim, user=user, outfile=outfile)
    dump = header + MYSQL_PREFIX + statement.encode() + b";\n"
    with pytest.raises(SyncoError, match="refusing statement"):
        mysql_install(parse_database_url(mysql_url_for(target)), io.BytesIO(dump), InstallOptions(yes=True))
    assert _precious(victim) == [42]
    assert not _user_exists(user)
    assert not Path(outfile).exists()


@pytest.mark.parametrize("dump", [
    # What real dumps hold: index hints with USE, a view reading another database (left as it is).
    b"CREATE TABLE t (id int, KEY k (id));\nINSERT INTO t VALUES (1);\nSELECT * FROM t USE INDEX (k);\n",
    b"CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n"
    b"CREATE VIEW v AS SELECT p.x FROM {victim}.precious p;\n",
    b"CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\nSET @@session.sql_mode='';\n"
    b"CREATE TABLE u (`user` varchar(10), `grant` int) ENGINE=InnoDB;\n",
])
def test_mysql_ordinary_dumps_still_load(dump: bytes, victim: str, mysql_database_factory: Callable[[], str]) -> None:
    target = mysql_database_factory()
    script = dump.replace(b"{victim}", victim.encode())
    mysql_install(parse_database_url(mysql_url_for(target)), io.BytesIO(script), InstallOptions(yes=True))
    assert _precious(victim) == [42]


POSTGRES_PREFIX = b"CREATE TABLE t (id int);\nCOPY t (id) FROM stdin;\n1\n\\.\n"
POSTGRES_ATTACKS = [
    "COPY t FROM PROGRAM 'touch {outfile}'",
    "COPY (SELECT 1) TO '{outfile}'",
    "COPY t FROM '/etc/hostname'",
    "CREATE ROLE {user} LOGIN SUPERUSER",
    "ALTER ROLE postgres RENAME TO {user}",
    "ALTER SYSTEM SET work_mem = '4MB'",
    "GRANT pg_execute_server_program TO PUBLIC",
    "SELECT pg_read_file('/etc/hostname')",
    "SELECT lo_export(lo_from_bytea(0, 'x'), '{outfile}')",
    "CREATE EXTENSION dblink",
    "CREATE EXTENSION file_fdw",
    "CREATE FUNCTION f() RETURNS int LANGUAGE c AS '/lib/x.so', 'f'",
    "CREATE FUNCTION f() RETURNS int LANGUAGE internal AS 'pg_read_file_off_len'",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE "
    "'COPY t FROM PROGRAM ''touch {outfile}'''; END $$;\nSELECT f()",
    "DO $body$ BEGIN PERFORM pg_terminate_backend(1); END $body$",
    "CREATE TABLESPACE ts LOCATION '/tmp'",
    "REASSIGN OWNED BY postgres TO postgres",
    "LOAD 'auto_explain'",
    "SET standard_conforming_strings = off",
    "SELECT set_config('standard_conforming_strings', 'off', false)",
    "CREATE LANGUAGE py HANDLER plpython3_call_handler",
    # Without a handler, CREATE LANGUAGE is CREATE EXTENSION of that name.
    "CREATE LANGUAGE plpython3u",
    "CREATE OR REPLACE TRUSTED PROCEDURAL LANGUAGE \"plperlu\"",
    "CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS 'import os'",
    "COPY t (id) FROM PROGRAM 'touch {outfile}' WITH (FORMAT text) -- FROM stdin\n",
    # A comment marker inside a string of a body hides nothing after it; a comment hides no code.
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ DECLARE x text := '--'; BEGIN "
    "EXECUTE 'ALTER SYSTEM SET work_mem = ''4MB'''; END $$",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN /* nothing */ EXECUTE "
    "'CREATE ROLE {user}'; END $$",
    # A name is what it names however it is spelt: quoted, with Unicode escapes (and another escape).
    "SELECT lo_from_bytea(4242, 'x');\nSELECT \"lo_export\"(4242, '{outfile}')",
    "SELECT lo_from_bytea(4242, 'x');\nSELECT pg_catalog.U&\"\\006Co_export\"(4242, '{outfile}')",
    "SELECT lo_from_bytea(4242, 'x');\nSELECT U&\"!006Co_export\" UESCAPE '!' (4242, '{outfile}')",
    "CREATE TABLE leak AS SELECT \"pg_read_file\"('/etc/hostname')",
    "CREATE EXTENSION \"dblink\"",
    "CREATE EXTENSION IF NOT EXISTS \"adminpack\"",
    "CREATE FUNCTION f() RETURNS int LANGUAGE \"c\" AS '/lib/x.so', 'f'",
    "CREATE FUNCTION f() RETURNS int LANGUAGE 'c' AS '/lib/x.so', 'f'",
    # A string is its value: escapes, and constants the server joins across a line break.
    "CREATE FUNCTION f(oid, text) RETURNS int LANGUAGE internal AS E'be\\x5flo_export';\n"
    "SELECT lo_from_bytea(4242, 'x');\nSELECT f(4242, '{outfile}')",
    "CREATE FUNCTION f(oid, text) RETURNS int LANGUAGE internal AS U&'be\\005Flo_export'",
    "CREATE FUNCTION f(oid, text) RETURNS int LANGUAGE internal AS 'be_lo_' -- joined\n 'export'",
    "DO $$ BEGIN EXECUTE E'ALTER\\x20SYSTEM SET work_mem = ''4MB'''; END $$",
    # Perl's $i-- is no comment: what follows it is code.
    "CREATE FUNCTION f() RETURNS int LANGUAGE plperl AS $$ $i--; spi_exec_query('ALTER SYSTEM SET work_mem = 1') $$",
    # x$$q$ is one name to the server; a splitter that reads a dollar quote in it hides code.
    "SELECT lo_from_bytea(4242, 'x');\nSELECT 1 AS x$$q$, lo_export(4242, '{outfile}') AS y$q$",
    # So is x$e: the string after it is a plain one, not an E'' string whose \' hides what follows.
    "CREATE TYPE x$e AS ENUM ('\\');\nSELECT lo_from_bytea(4242, 'x');\n"
    "SELECT x$e'\\', lo_export(4242, '{outfile}') --'\n",
    # A session the splitter would read otherwise than the server, however it was set.
    "SET standard_conforming_strings = 'off'",
    "SET standard_conforming_strings TO f",
    "SELECT set_config('standard_conforming_strings'::text, 'of', false)",
    "CREATE FUNCTION cfg(text, text, bool) RETURNS text LANGUAGE internal AS 'set_config_by_name';\n"
    "SELECT cfg('standard_conforming_strings', 'off', false)",
    "SELECT lo_from_bytea(4242, 'x');\nSET client_encoding = 'SJIS';\n"
    "SELECT E'\x81\\' || lo_export(4242, '{outfile}') --'",
    "SET NAMES 's-j-i-s'",
    # A superuser may write the catalogs, which makes a C function or a role out of any row.
    "UPDATE pg_catalog.pg_authid SET rolsuper = true WHERE rolname = '{user}'",
    "INSERT INTO \"pg_catalog\".\"pg_description\" VALUES (1, 1259, 0, 'x')",
    "CREATE FUNCTION g() RETURNS int LANGUAGE sql AS 'SELECT 1';\n"
    "UPDATE pg_proc SET prosrc = 'SELECT 2' WHERE proname = 'g'",
    "COPY pg_catalog.pg_description (objoid, classoid, objsubid, description) FROM stdin;\n"
    "1\t1259\t0\tx\n\\.\nSELECT 1",
    "SELECT pg_drop_replication_slot('{user}')",
    # A COPY's own clauses are code like any statement's: its WHERE runs for every row.
    "SELECT lo_from_bytea(4242, 'x');\nCOPY t (id) FROM stdin WHERE lo_export(4242, '{outfile}') > 0;\n5\n\\.\n"
    "SELECT 1",
    # Functions that run a string as a query are code, like EXECUTE in a body.
    "SELECT lo_from_bytea(4242, 'x');\n"
    "SELECT query_to_xml('SELECT lo_export(4242, ''{outfile}'')', true, true, '')",
    "SELECT lo_from_bytea(4242, 'x');\n"
    "SELECT ts_stat('SELECT to_tsvector(lo_export(4242, ''{outfile}'')::text)')",
    # A language is known by its name: C must not take a safe one's.
    "ALTER LANGUAGE plpgsql RENAME TO old_plpgsql;\nALTER LANGUAGE \"c\" RENAME TO plpgsql;\n"
    "CREATE FUNCTION f(text, text, bool) RETURNS bigint LANGUAGE plpgsql AS '$libdir/adminpack', 'write'",
]
#: Checked on the gate alone: run on the test server without the gate, they would harm it.
POSTGRES_DESTRUCTIVE = [
    "CREATE SUBSCRIPTION s CONNECTION 'dbname=postgres' PUBLICATION p WITH (connect = false)",
    "SELECT pg_create_physical_replication_slot('s', true)",
    "SELECT pg_catalog.\"pg_terminate_backend\"(pid) FROM pg_stat_activity",
    "DELETE FROM pg_database WHERE datname = 'postgres'",
    "MERGE INTO pg_catalog.pg_authid a USING (SELECT 1) s ON true WHEN MATCHED THEN DELETE",
    "GRANT SET ON PARAMETER work_mem TO PUBLIC",
    "GRANT CREATE ON TABLESPACE pg_default TO PUBLIC",
    "REVOKE ALL ON TABLESPACE pg_default FROM PUBLIC",
    "COMMENT ON ROLE postgres IS 'changed by a dump'",
    "SECURITY LABEL FOR selinux ON TABLESPACE pg_default IS 'x'",
    # A type named language is no LANGUAGE clause, but the clause after it still is one.
    "CREATE FUNCTION f() RETURNS SETOF language LANGUAGE c AS '/lib/x.so', 'f'",
    "CREATE FUNCTION f() RETURNS public.language AS '/lib/x.so', 'f' LANGUAGE c",
    "CREATE FUNCTION f() RETURNS int SET search_path = returns LANGUAGE c AS '/lib/x.so', 'f'",
]


@pytest.mark.parametrize("attack", POSTGRES_DESTRUCTIVE)
def test_postgres_gate_refuses_what_would_harm_the_server(attack: str) -> None:
    text = attack.encode() + b";"
    with pytest.raises(DatabaseError, match="refusing the statement at line 3"):
        postgres_gate.check(text, strip_comments(text, mask=True), 3, set())


@pytest.mark.parametrize("attack", POSTGRES_ATTACKS)
def test_postgres_dump_reaches_nothing_beyond_its_database(attack: str, postgres_refusing_target: str) -> None:
    target = postgres_refusing_target
    user = "evil_" + uuid.uuid4().hex[:8]
    outfile = f"/tmp/synco-gate-{uuid.uuid4().hex}"
    dump = POSTGRES_PREFIX + attack.format(user=user, outfile=outfile).encode() + b";\n"
    with pytest.raises(SyncoError, match="refusing the statement"):
        postgres_install(parse_database_url(postgres_url_for(target)), io.BytesIO(dump), InstallOptions(yes=True))
    assert not Path(outfile).exists()
    with psycopg.connect(postgres_url_for("postgres")) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (user,)).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'").fetchone() == (1,)


def test_postgres_database_level_statements_are_skipped(postgres_database_factory: Callable[[], str]) -> None:
    target = postgres_database_factory()
    dump = POSTGRES_PREFIX + b"COMMENT ON DATABASE postgres IS 'changed by a dump';\n"
    postgres_install(parse_database_url(postgres_url_for(target)), io.BytesIO(dump), InstallOptions(yes=True))
    with psycopg.connect(postgres_url_for("postgres")) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                           "WHERE datname = 'postgres'").fetchone()
    assert row is not None and row[0] != "changed by a dump"


def test_postgres_routines_whose_comments_name_dangerous_words_still_load(
        postgres_database_factory: Callable[[], str]) -> None:
    """What a routine's comments say is never run: an application's "-- create user rows" or a note on
    ALTER SYSTEM must not make its install fail (the body's strings are still searched, above)."""
    target = postgres_database_factory()
    dump = POSTGRES_PREFIX + (
        b"CREATE FUNCTION signup(name text) RETURNS int LANGUAGE plpgsql AS $$\n"
        b"BEGIN\n"
        b"  -- Create user rows here; never CREATE ROLE or DROP USER from the app.\n"
        b"  /* ALTER SYSTEM is the DBA's job; COPY FROM PROGRAM is not used; see the dblink docs */\n"
        b"  INSERT INTO t VALUES (length(name));\n"
        b"  RETURN 1;\n"
        b"END $$;\n"
        b"CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS 'SELECT x * 2 -- drop user? no';\n"
        b"COMMENT ON FUNCTION signup(text) IS 'Create user accounts; DROP USER is done elsewhere';\n")
    postgres_install(parse_database_url(postgres_url_for(target)), io.BytesIO(dump), InstallOptions(yes=True))
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert conn.execute("SELECT signup('abc'), twice(4)").fetchone() == (1, 8)


def test_postgres_names_strings_and_settings_of_real_dumps_still_load(
        postgres_database_factory: Callable[[], str]) -> None:
    """The gate reads names and strings by their values, and the session as the server reports it: what
    dumps and applications write with them still loads (pg_dump's encoding header, names with dollars,
    a column called language, a string constant over two lines, temporary tables in a body)."""
    target = postgres_database_factory()
    dump = POSTGRES_PREFIX + (
        b"SET client_encoding = 'LATIN1';\n" + "CREATE TABLE café (x$$y int, \"language\" text);\n"
        "COMMENT ON TABLE café IS 'naïve';\n".encode("latin-1") + b"SET client_encoding = 'UTF8';\n"
        b"SET standard_conforming_strings = on;\n"
        b"CREATE FUNCTION langs() RETURNS TABLE (id int, language text) LANGUAGE 'sql' AS 'SELECT 1, ''en''';\n"
        b"CREATE FUNCTION scratch() RETURNS int LANGUAGE plpgsql AS $$\n"
        b"BEGIN CREATE TEMP TABLE IF NOT EXISTS tmp (a int); UPDATE pg_temp.tmp SET a = 1;\n"
        b"  RETURN length('joined ' -- across lines\n 'constant'); END $$;\n"
        b"INSERT INTO \"caf\xc3\xa9\" VALUES (1, U&'\\0065n');\n"
        b"CREATE TABLE crosstab_results (x int);\nCOMMENT ON TABLE crosstab_results IS 'read by pg_read_file? no';\n")
    postgres_install(parse_database_url(postgres_url_for(target)), io.BytesIO(dump), InstallOptions(yes=True))
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert conn.execute("SELECT x$$y, language, obj_description('café'::regclass) FROM café").fetchone() == (
            1, "en", "naïve")
        assert conn.execute("SELECT (langs()).language, scratch()").fetchone() == ("en", 15)


#: The form of CREATE LANGUAGE without a handler, which PostgreSQL runs as CREATE EXTENSION (IF NOT EXISTS
#: with OR REPLACE): what pg_dump 8.4 and 9.0 wrote, and application scripts (Gammu's SMSD schema) still do.
LEGACY_CREATE_LANGUAGE = [
    "CREATE OR REPLACE PROCEDURAL LANGUAGE plpgsql",
    "CREATE OR REPLACE LANGUAGE plpgsql",
    "CREATE OR REPLACE TRUSTED PROCEDURAL LANGUAGE \"plpgsql\"",
    "create or replace procedural language plpgsql -- as pg_dump 9.0 wrote it\n",
]


@pytest.mark.parametrize("statement", LEGACY_CREATE_LANGUAGE)
def test_postgres_create_language_of_a_trusted_extension_loads(
        statement: str, postgres_database_factory: Callable[[], str]) -> None:
    """A CREATE LANGUAGE without a handler names no handler that could reach beyond the database: the server
    creates the extension of that name, as CREATE EXTENSION would, and the gate judges it as one (refused by
    name above, or by what it made, tests/test_postgres_extensions.py). It was refused as 'a language with
    this handler', so Gammu's schema and old dumps did not load."""
    target = postgres_database_factory()
    dump = POSTGRES_PREFIX + statement.encode() + (
        b";\nCREATE FUNCTION stamp() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 7; END $$;\n")
    postgres_install(parse_database_url(postgres_url_for(target)), io.BytesIO(dump), InstallOptions(yes=True))
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert conn.execute("SELECT stamp()").fetchone() == (7,)


def test_postgres_routines_returning_a_table_named_language_load(postgres_database_factory: Callable[[], str]) -> None:
    """LedgerSMB's ``person__list_languages() RETURNS SETOF language AS $$ ... $$ language sql``: the gate read
    the type's name as a LANGUAGE clause (``language AS``), refused the routine, and the dumper with it."""
    target = postgres_database_factory()
    dump = POSTGRES_PREFIX + (
        b"CREATE TABLE language (code varchar(6) PRIMARY KEY, description text);\n"
        b"INSERT INTO language VALUES ('en', 'English'), ('de', 'German');\n"
        b"CREATE FUNCTION list_languages() RETURNS SETOF language AS\n"
        b"$$ SELECT * FROM language ORDER BY description ASC $$ language sql;\n"
        b"CREATE FUNCTION first_language() RETURNS public.language LANGUAGE sql STABLE\n"
        b"AS $$ SELECT * FROM language ORDER BY code LIMIT 1 $$;\n"
        b"CREATE FUNCTION english() RETURNS \"language\" IMMUTABLE LANGUAGE plpgsql AS\n"
        b"$$ BEGIN RETURN ROW('en', 'English')::language; END $$;\n")
    postgres_install(parse_database_url(postgres_url_for(target)), io.BytesIO(dump), InstallOptions(yes=True))
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert conn.execute("SELECT array_agg(code) FROM list_languages()").fetchone() == (["en", "de"],)
        assert conn.execute("SELECT (first_language()).code, (english()).description").fetchone() == ("de", "English")


SQLITE_PREFIX = b"CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT);\nINSERT INTO t VALUES (1, 'kept');\n"
SQLITE_ATTACKS = [
    "ATTACH DATABASE '{outfile}' AS x;\nCREATE TABLE x.keys (line TEXT);\n"
    "INSERT INTO x.keys VALUES (char(10) || 'ssh-ed25519 AAAA attacker' || char(10));",
    "ATTACH '{outfile}' AS \"x\"",
    "VACUUM INTO '{outfile}'",
    "VACUUM main INTO '{outfile}'",
    "SELECT load_extension('{outfile}')",
    "SELECT fts3_tokenizer('simple', x'0000000000000000')",
    "PRAGMA temp_store_directory = '/tmp'",
    "PRAGMA main.journal_mode = OFF;\nPRAGMA mmap_size = 1",
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT load_extension('x'); END;\nINSERT INTO t VALUES (2, 'x')",
    "DETACH DATABASE temp",
]


@pytest.mark.parametrize("attack", SQLITE_ATTACKS)
def test_sqlite_script_reaches_nothing_beyond_its_database(attack: str, tmp_path: Path) -> None:
    """An SQL script from a session may write nothing beyond the database it is loaded into: no ATTACH (a
    file at any path, with text the attacker chose), no VACUUM INTO, no extensions or pointers, no pragma
    a dump does not need. The target is left as it was."""
    from synco_core.engines.sqlite.install import install_database
    from synco_core.values import DatabaseConfig

    target = tmp_path / "app.sqlite"
    sqlite3_connect(target, "CREATE TABLE precious (v); INSERT INTO precious VALUES (42);")
    outfile = tmp_path / f"planted-{uuid.uuid4().hex}"
    script = SQLITE_PREFIX + attack.format(outfile=outfile).encode() + b";\n"
    with pytest.raises(SyncoError, match="refusing the statement ending at line"):
        install_database(DatabaseConfig(engine="sqlite", name=str(target)), io.BytesIO(script),
                         InstallOptions(format="sql", yes=True))
    assert not outfile.exists()
    assert sqlite3_connect(target, "SELECT v FROM precious") == [(42,)]


def test_sqlite_dumps_with_virtual_tables_and_pragmas_still_load(tmp_path: Path) -> None:
    """What dumps write (synco's own, the sqlite3 shell's .dump, Python's iterdump) passes the gate."""
    from synco_core.engines.sqlite.install import install_database
    from synco_core.values import DatabaseConfig

    source = tmp_path / "source.sqlite"
    sqlite3_connect(source, "PRAGMA user_version = 7; CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT, v); "
                            "INSERT INTO a (v) VALUES ('x'), ('y'); CREATE VIRTUAL TABLE f USING fts5(body); "
                            "INSERT INTO f VALUES ('hello world'); CREATE INDEX a_v ON a (v); ANALYZE;")
    import sqlite3 as sqlite

    from synco_core.engines.sqlite.sqlscript import write_script

    own = io.BytesIO()
    with contextlib.closing(sqlite.connect(source)) as conn:
        write_script(conn, own)
        # Python's iterdump, without its virtual table (which it cannot dump so that it loads).
        conn.execute("DROP TABLE f")
        shell_like = "PRAGMA foreign_keys=OFF;\n" + "\n".join(conn.iterdump()) + "\n"
    for number, script in enumerate((own.getvalue(), shell_like.encode())):
        target = tmp_path / f"copy{number}.sqlite"
        install_database(DatabaseConfig(engine="sqlite", name=str(target)), io.BytesIO(script),
                         InstallOptions(format="sql", yes=True))
        assert sqlite3_connect(target, "SELECT v FROM a ORDER BY id") == [("x",), ("y",)]
    assert sqlite3_connect(tmp_path / "copy0.sqlite", "SELECT body FROM f WHERE f MATCH 'hello'") == \
        [("hello world",)]


def sqlite3_connect(path: Path, script: str) -> list[tuple[object, ...]]:
    """Run ``script`` on the SQLite database ``path``; the rows of its last statement when it reads."""
    import sqlite3 as sqlite

    conn = sqlite.connect(path)
    try:
        if script.lstrip().upper().startswith("SELECT"):
            return list(conn.execute(script))
        conn.executescript(script)
        conn.commit()
        return []
    finally:
        conn.close()
