"""The source database's own encoding, locale and settings in a PostgreSQL copy.

A load that creates the database gives it the source's encoding, LC_COLLATE, LC_CTYPE and ICU locale (the
default collation decides which partition a text row belongs to, and how text sorts); an existing target
keeps its own, and a server that cannot create the source's uses its defaults, each with a warning. It
also gets the source's ``ALTER DATABASE ... SET`` settings that change nothing beyond a session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from test_postgres_support import fingerprints, schema_dump

from synco_core.cli.main import cli
from synco_core.testing.services import (
    drop_postgres_databases,
    postgres_admin_connection,
    postgres_url_for,
    unique_name,
)

pytestmark = pytest.mark.postgres

TEXT_PARTITIONS = """
    CREATE TABLE names (n text) PARTITION BY RANGE (n);
    CREATE TABLE names_a PARTITION OF names FOR VALUES FROM ('a') TO ('c');
    CREATE TABLE names_rest PARTITION OF names DEFAULT;
    INSERT INTO names VALUES ('apple'), ('B'), ('banana'), ('Zed'), ('Ähre'), ('ÿ');
    CREATE TABLE sorted (n text PRIMARY KEY);
    INSERT INTO sorted VALUES ('a'), ('B'), ('c'), ('é');
"""


def _properties(name: str) -> tuple[object, ...]:
    with psycopg.connect(postgres_url_for("postgres")) as conn:
        row = conn.execute("SELECT pg_encoding_to_char(encoding), datcollate, datctype, datlocprovider, daticulocale "
                           "FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert row is not None
    return tuple(row)


@pytest.fixture
def created() -> Iterator[Callable[[str], str]]:
    """Creates throw-away databases with the given options (returns their names); all dropped afterwards."""
    names: list[str] = []

    def create(options: str) -> str:
        name = unique_name()
        conn = postgres_admin_connection()
        conn.execute(f'CREATE DATABASE "{name}" {options}')
        conn.close()
        names.append(name)
        return name

    yield create
    drop_postgres_databases(names)


def _fill(name: str, script: str) -> None:
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        conn.execute("SET client_encoding = 'UTF8'")
        conn.execute(script)


def _dump(source: str, out: Path) -> None:
    result = CliRunner().invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(out)])
    assert result.exit_code == 0, result.output


def _load(target: str, dump: Path) -> None:
    result = CliRunner().invoke(cli, ["db", "load", postgres_url_for(target), str(dump), "--yes"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("options", [
    "LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8' TEMPLATE template0",
    "ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
])
def test_a_database_the_load_creates_gets_the_sources_encoding_and_locale(
        options: str, created: Callable[[str], str], tmp_path: Path) -> None:
    """Made with the server's defaults, the ICU copy routed 'B' outside the partition it came from (the load
    failed), and the LATIN1 copy held its text as UTF-8."""
    source = created(options)
    _fill(source, TEXT_PARTITIONS)
    _dump(source, tmp_path / "dump.sql")
    target = unique_name()
    try:
        _load(target, tmp_path / "dump.sql")
        assert _properties(target) == _properties(source)
        assert schema_dump(target) == schema_dump(source)
        assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    finally:
        drop_postgres_databases([target])


def test_a_locale_the_server_cannot_create_falls_back_to_its_defaults(
        created: Callable[[str], str], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = created("LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8' TEMPLATE template0")
    _fill(source, "CREATE TABLE sorted (n text PRIMARY KEY); INSERT INTO sorted VALUES ('a'), ('B');")
    dump = tmp_path / "dump.sql"
    _dump(source, dump)
    data = dump.read_bytes()
    assert b'"collate": "C.UTF-8"' in data.split(b"\n\n", 1)[0]
    dump.write_bytes(data.replace(b'"collate": "C.UTF-8"', b'"collate": "xx_NOPE.UTF-8"', 1))
    target = unique_name()
    try:
        with caplog.at_level(logging.WARNING):
            _load(target, dump)
        assert "cannot create the dump's source's encoding UTF8, LC_COLLATE xx_NOPE.UTF-8" in caplog.text
        assert _properties(target)[0] == "UTF8"
        with psycopg.connect(postgres_url_for(target)) as conn:
            assert conn.execute("SELECT count(*) FROM sorted").fetchone() == (2,)
    finally:
        drop_postgres_databases([target])


def test_an_existing_target_keeps_its_own_locale_with_a_warning(
        created: Callable[[str], str], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = created("LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8' TEMPLATE template0")
    _fill(source, "CREATE TABLE sorted (n text PRIMARY KEY); INSERT INTO sorted VALUES ('a'), ('B');")
    target = created("ENCODING 'UTF8' LOCALE 'C.UTF-8' TEMPLATE template0")
    before = _properties(target)
    _dump(source, tmp_path / "dump.sql")
    with caplog.at_level(logging.WARNING):
        _load(target, tmp_path / "dump.sql")
    assert _properties(target) == before
    assert "keeps its own encoding UTF8, LC_COLLATE C.UTF-8, LC_CTYPE C.UTF-8" in caplog.text
    assert "ICU locale en" in caplog.text


@pytest.mark.parametrize("encoding", ["LATIN1", "WIN1252", "SQL_ASCII"])
def test_an_existing_target_whose_encoding_cannot_hold_the_sources_text_becomes_the_sources(
        encoding: str, created: Callable[[str], str], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A LATIN1 local database and a UTF-8 source holding a character beyond LATIN1: the COPY failed, after
    the whole download. The install creates a new database anyway, and one with the target's encoding could
    not hold the text: it gets the source's, with one warning line. SQL_ASCII stores UTF-8 bytes as they are
    and keeps its own; a source in the target's own encoding keeps it too (the next test)."""
    source = created("ENCODING 'UTF8' LOCALE 'C.UTF-8' TEMPLATE template0")
    _fill(source, "CREATE TABLE t (v text PRIMARY KEY); INSERT INTO t VALUES ('café'), ('5 €'), ('日本');")
    target = created(f"ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    _dump(source, tmp_path / "dump.sql")
    with caplog.at_level(logging.WARNING):
        _load(target, tmp_path / "dump.sql")
    holds = encoding == "SQL_ASCII"
    assert _properties(target)[0] == (encoding if holds else "UTF8")
    assert (f"becomes UTF8: its own encoding {encoding} cannot hold all of the text of the dump's source"
            in caplog.text) is not holds
    with psycopg.connect(postgres_url_for(target)) as conn:
        conn.execute("SET client_encoding = 'UTF8'")
        values = {bytes(v).decode() if isinstance(v, bytes) else v
                  for (v,) in conn.execute("SELECT v FROM t").fetchall()}
    assert values == {"café", "5 €", "日本"}


def test_an_existing_target_in_the_sources_encoding_keeps_it(created: Callable[[str], str], tmp_path: Path) -> None:
    """The same encoding on both sides: the target keeps its own (once, not with each encoding above: it
    depends on none of them)."""
    latin = created("ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    _fill(latin, "CREATE TABLE t (v text); INSERT INTO t VALUES ('café');")
    _dump(latin, tmp_path / "latin.sql")
    other = created("ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    _load(other, tmp_path / "latin.sql")
    assert _properties(other)[0] == "LATIN1"


def test_a_database_the_load_creates_gets_the_sources_settings(
        created: Callable[[str], str], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Without its ``search_path`` the copy of a database whose tables sit in ``app`` answered no query the
    application sends; settings that reach beyond a session (a library every session would load) or that
    would change how the copy is used (read only) are left out and named."""
    source = created("")
    _fill(source, "CREATE SCHEMA app; CREATE TABLE app.things (id int); INSERT INTO app.things VALUES (1);")
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        for setting in ("search_path = app, public", "TimeZone = 'Asia/Tokyo'", "app.tenant = 'o''brien'",
                        "statement_timeout = '5min'", "default_transaction_read_only = on"):
            conn.execute(f'ALTER DATABASE "{source}" SET {setting}')
    dump = tmp_path / "dump.sql"
    _dump(source, dump)
    data = dump.read_bytes()
    # A hostile session may write any header: what it names is only ever one of the carried settings.
    dump.write_bytes(data.replace(b'"default_transaction_read_only=on"',
                                  b'"default_transaction_read_only=on", "session_preload_libraries=evil"', 1))
    target = unique_name()
    try:
        with caplog.at_level(logging.WARNING):
            _load(target, dump)
        assert ("is created without these settings of the dump's source: default_transaction_read_only, "
                "session_preload_libraries") in caplog.text
        with psycopg.connect(postgres_url_for(target)) as conn:
            assert conn.execute("SELECT count(*) FROM things").fetchone() == (1,)
            assert conn.execute("SELECT current_setting('TimeZone'), current_setting('app.tenant'), "
                                "current_setting('statement_timeout'), "
                                "current_setting('default_transaction_read_only')").fetchone() == (
                "Asia/Tokyo", "o'brien", "5min", "off")
    finally:
        drop_postgres_databases([target])


#: Every byte but NUL, and sequences a UTF-8 reader takes for a surrogate or an over-long form.
_ALL_BYTES = bytes(range(1, 256)) + b"\xed\xb2\x80\xc0\xaf\xf4\x90\x80\x80"
_SQL_ASCII_SOURCE = (
    b'CREATE TABLE "t\xff\xe9" ("c\xfe" text, n int, arr text[]);'
    b"INSERT INTO \"t\xff\xe9\" VALUES (E'a\\xffb', 1, ARRAY[E'\\xfe\\x80']), ('caf\xc3\xa9', 2, NULL), "
    b"(convert_from(decode('" + _ALL_BYTES.hex().encode() + b"', 'hex'), 'SQL_ASCII'), 3, NULL);"
    b"COMMENT ON TABLE \"t\xff\xe9\" IS E'note \\xfe';"
    b"CREATE VIEW \"v\xfd\" AS SELECT E'\\xfd\\xfc'::text AS x, \"c\xfe\" FROM \"t\xff\xe9\";"
    b"CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'r\xe9sum\xe9 \xff'::text $$;"
)
#: Every name, comment, definition and value of the database as the bytes it holds.
_RAW_BYTES = """
    SELECT 'class', encode(convert_to(c.relname::text, 'SQL_ASCII'), 'hex'),
           encode(convert_to(coalesce(obj_description(c.oid, 'pg_class'), ''), 'SQL_ASCII'), 'hex'),
           encode(convert_to(coalesce(pg_get_viewdef(c.oid), ''), 'SQL_ASCII'), 'hex')
    FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v')
    UNION ALL SELECT 'column', encode(convert_to(a.attname::text, 'SQL_ASCII'), 'hex'), '', ''
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0
    UNION ALL SELECT 'function', p.proname, encode(convert_to(p.prosrc, 'SQL_ASCII'), 'hex'), ''
    FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
    UNION ALL SELECT 'row', r.n::text, encode(convert_to(r.c, 'SQL_ASCII'), 'hex'),
           encode(convert_to(coalesce(r.arr::text, ''), 'SQL_ASCII'), 'hex')
    FROM (SELECT n, arr, "c\xfe" AS c FROM "t\xff\xe9") r
    ORDER BY 1, 2, 3"""


def _raw(name: str) -> list[tuple[bytes, ...]]:
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        conn.execute("SET client_encoding = 'SQL_ASCII'")
        result = conn.pgconn.exec_(_RAW_BYTES.encode("latin-1"))
        assert result.status == psycopg.pq.ExecStatus.TUPLES_OK, result.error_message
        return [tuple(bytes(result.get_value(row, col) or b"") for col in range(4)) for row in range(result.ntuples)]


@pytest.mark.parametrize("wide", [False, True])
def test_a_sql_ascii_source_comes_back_byte_for_byte(
        wide: bool, created: Callable[[str], str], tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A SQL_ASCII database holds any byte in its names, comments, bodies and rows: the dump failed on the
    first that was not UTF-8 ("invalid byte sequence for encoding UTF8: 0xff"). As with pg_dump, the dump
    is in the source's own encoding; a new database and a SQL_ASCII one get the same bytes back, and a UTF-8
    one, which could not hold them, becomes SQL_ASCII with one warning line before anything is loaded."""
    if wide:
        # Every row is written in pieces, every value of more than one byte cut into pieces of four.
        from synco_core.engines.postgresql import widerows
        monkeypatch.setattr(widerows, "may_have_wide_rows", lambda *_: True)
        monkeypatch.setattr(widerows, "WIDE_ROW", -1)
        monkeypatch.setattr(widerows, "CHUNK", 4)
    source = created("ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("SET client_encoding = 'SQL_ASCII'")
        result = conn.pgconn.exec_(_SQL_ASCII_SOURCE)
        assert result.status == psycopg.pq.ExecStatus.COMMAND_OK, result.error_message
    expected = _raw(source)
    assert any(_ALL_BYTES.hex().encode() in value for row in expected for value in row)
    _dump(source, tmp_path / "dump.sql")
    assert b'"encoding": "SQL_ASCII"' in (tmp_path / "dump.sql").read_bytes().split(b"\n\n", 1)[0]

    new = unique_name()
    try:
        _load(new, tmp_path / "dump.sql")
        assert _properties(new)[0] == "SQL_ASCII"
        assert _raw(new) == expected
    finally:
        drop_postgres_databases([new])
    same = created("ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    _load(same, tmp_path / "dump.sql")
    assert _raw(same) == expected
    utf8 = created("ENCODING 'UTF8' LOCALE 'C.UTF-8' TEMPLATE template0")
    with caplog.at_level(logging.WARNING):
        _load(utf8, tmp_path / "dump.sql")
    assert (f"PostgreSQL database '{utf8}' becomes SQL_ASCII: its own encoding UTF8 cannot hold the bytes of a "
            "SQL_ASCII source that are not text in it") in caplog.text
    assert _properties(utf8)[0] == "SQL_ASCII"
    assert _raw(utf8) == expected


def test_the_tables_and_text_of_a_sql_ascii_database_are_read_as_text(created: Callable[[str], str]) -> None:
    """A session left in a SQL_ASCII database's own encoding got every name and value from psycopg as bytes:
    listing the tables for ``synco serve`` failed (TypeError), and a plugin's reads got bytes."""
    from synco_core.dburl import parse_database_url
    from synco_core.engines.postgresql import connect_database, inspect_database

    source = created("ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("SET client_encoding = 'SQL_ASCII'")
        result = conn.pgconn.exec_(b"CREATE TABLE plain (v text); INSERT INTO plain VALUES ('caf\xc3\xa9 \xff');"
                                   b'CREATE TABLE "t\xe9" (v text)')
        assert result.status == psycopg.pq.ExecStatus.COMMAND_OK, result.error_message
    database = parse_database_url(postgres_url_for(source))
    inventory = inspect_database(database)
    assert inventory is not None
    assert sorted(table.name for table in inventory.tables) == ["plain", "t\udce9"]
    assert [table.columns for table in inventory.tables] == [["v"], ["v"]]
    reader = connect_database(database)
    assert reader is not None
    try:
        rows = list(reader.rows("SELECT v FROM plain"))
    finally:
        reader.close()
    assert rows == [("café \udcff",)]
