"""Hostile names and comments: identifiers with ``--``, ``/*``, ``;``, quotes, ``$`` or newlines round-trip.

The loader splits a script as psql does: a quoted identifier, a string or a dollar-quoted body is one
token whatever it holds. Checked as a property of the splitter alone (no server: many examples), then end
to end against the server with hostile names on every kind of object.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_postgres_support import fingerprints, schema_dump, sequences

from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql import installer
from synco_core.engines.postgresql.catalog import Quoter, literal, manifest_key
from synco_core.engines.postgresql.dumper import PostgresDumper
from synco_core.engines.postgresql.script import ScriptReader, copy_target, strip_comments
from synco_core.testing.services import postgres_url_for
from synco_core.values import DumpOptions, InstallOptions

#: Pieces that mean something to a statement splitter, and ordinary characters around them.
HOSTILE = ["--", "/*", "*/", ";", "'", '"', "$$", "$1", "$a$", "\n", "\\", "E'", " ", ".", "é", "\t", "\\.",
           "FROM stdin", "BEGIN", "END", "COPY", "(", ")", ");", "(;"]
names = st.lists(st.sampled_from(HOSTILE) | st.text(alphabet="abcXYZ_019", min_size=1, max_size=3),
                 min_size=1, max_size=6).map("".join).filter(lambda name: len(name.encode()) <= 63)
quote = Quoter(["select", "end", "begin", "copy", "from"])


def split(script: bytes) -> list[tuple[str, bytes]]:
    reader = ScriptReader(io.BytesIO(script))
    items: list[tuple[str, bytes]] = []
    while (item := reader.next_item()) is not None:
        kind, text, _ = item
        items.append((kind, text.strip()))
        if kind == "sql" and strip_comments(text, mask=True).upper().startswith(b"COPY"):
            items.append(("copy", b"".join(reader.copy_data())))
    return items


@settings(max_examples=300, deadline=None)
@given(schema=names, table=names, column=names, comment=names, body=names)
def test_the_splitter_keeps_hostile_names_and_comments_whole(schema: str, table: str, column: str, comment: str,
                                                             body: str) -> None:
    qualified = quote.qualified(schema, table)
    block_comment = comment.replace("*/", "").replace("/*", "")
    line_comment = comment.splitlines()[0] if comment.strip() else "x"
    statements = [
        f"CREATE TABLE {qualified} ({quote(column)} text DEFAULT {literal(comment)});",
        f"COMMENT ON COLUMN {qualified}.{quote(column)} IS {literal(comment)};",
        f"CREATE FUNCTION {quote.qualified(schema, column)}() RETURNS text LANGUAGE sql\n"
        f"BEGIN ATOMIC\n SELECT {literal(body)} AS {quote(column)};\n SELECT {quote(column)} FROM {qualified};\nEND;",
        f"SELECT {literal(body)} AS {quote(table)} -- {comment.splitlines()[0] if comment.strip() else 'x'}\n;",
        # A rule of several actions, as pg_get_ruledef writes it (DAViCal's dav_principal view has three): the
        # ";" inside its parentheses do not end it, whatever parentheses the names, strings and comments hold.
        f"CREATE RULE {quote(column)} AS\n    ON UPDATE TO {qualified} DO INSTEAD ( UPDATE {qualified} "
        f"SET {quote(column)} = ({literal(body)} || (new.{quote(column)}))\n  WHERE (({quote(column)}) = "
        f"old.{quote(column)}); /* {block_comment} */\n NOTIFY {quote(table)}, {literal(comment)};\n"
        f" SELECT $${body.replace('$', '')}$$ AS {quote(column)}; -- {line_comment}\n);",
    ]
    copy = f"COPY {qualified} ({quote(column)}) FROM stdin;"
    data = b"a\\tb\n\\\\.\n"
    script = ("\n".join(statements) + "\n" + copy + "\n").encode() + data + b"\\.\nSELECT 1;\n"
    items = split(script)
    assert items == [("sql", s.encode()) for s in statements] + [("sql", copy.encode()), ("copy", data),
                                                                  ("sql", b"SELECT 1;")]
    # The manifest key the loader reads off the COPY statement is the one the dumper wrote.
    assert copy_target(strip_comments(copy.encode())) == manifest_key(schema, table)


@given(name=names)
@settings(max_examples=200, deadline=None)
def test_only_real_copy_statements_are_taken_for_copy(name: str) -> None:
    """A name that holds ``COPY ... FROM stdin`` does not make a statement a COPY."""
    statement = f"CREATE TABLE {quote(name)} ({quote('x FROM stdin')} text);".encode()
    assert not strip_comments(statement, mask=True).upper().startswith(b"COPY")
    assert b"FROM STDIN" not in strip_comments(statement, mask=True).upper()


FIXED = ["a--b", "a/*b", "semi;colon", "it's", 'say "hi"', "new\nline", "dollar$$sign", "back\\slash", "$1",
         "tab\tname", "a.b", "END", "BEGIN ATOMIC", "COPY x FROM stdin", "\\."]


def _create(conn: psycopg.Connection[object], schema: str, table: str, column: str, comment: str) -> None:
    s, t, c = quote(schema), quote.qualified(schema, table), quote(column)
    conn.execute(f"CREATE SCHEMA {s}")
    conn.execute(f"CREATE TABLE {t} (id serial PRIMARY KEY, {c} text DEFAULT {literal(comment)} NOT NULL, "
                 f"CONSTRAINT {quote(comment[:50] or 'k')} CHECK ({c} <> ''))")
    conn.execute(f"INSERT INTO {t} ({c}) VALUES ({literal(comment)}), (DEFAULT)")
    conn.execute(f"CREATE INDEX {quote(column + '_i')} ON {t} ({c})")
    conn.execute(f"CREATE VIEW {quote.qualified(schema, column)} AS SELECT {c} AS {quote(comment[:60] or 'v')} "
                 f"FROM {t}")
    conn.execute(f"CREATE FUNCTION {quote.qualified(schema, table + '_f')}() RETURNS bigint LANGUAGE sql STABLE "
                 f"BEGIN ATOMIC SELECT count({c}) FROM {t}; END")
    conn.execute(f"CREATE FUNCTION {quote.qualified(schema, table + '_t')}() RETURNS trigger LANGUAGE plpgsql "
                 f"AS $$ BEGIN RETURN NEW; END $$")
    conn.execute(f"CREATE TRIGGER {quote(comment[:50] or 't')} BEFORE INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION "
                 f"{quote.qualified(schema, table + '_t')}()")
    conn.execute(f"COMMENT ON TABLE {t} IS {literal(comment)}")
    conn.execute(f"COMMENT ON COLUMN {t}.{c} IS {literal(comment)}")


def _round_trip(factory: Callable[[], str], objects: list[tuple[str, str, str, str]]) -> None:
    source, target = factory(), factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        for schema, table, column, comment in objects:
            _create(conn, schema, table, column, comment)
    out = io.BytesIO()
    result = PostgresDumper(parse_database_url(postgres_url_for(source)), DumpOptions()).dump(out)
    installer.install(parse_database_url(postgres_url_for(target)), io.BytesIO(out.getvalue()),
                      InstallOptions(yes=True, manifest=result.tables))
    assert schema_dump(target) == schema_dump(source)
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert sequences(postgres_url_for(target)) == sequences(postgres_url_for(source))


@pytest.mark.postgres
def test_hostile_identifiers_round_trip(postgres_database_factory: Callable[[], str]) -> None:
    objects = [(f"s {name}", name, f"c {name}", f"comment: {name}") for name in FIXED]
    _round_trip(postgres_database_factory, objects)


@pytest.mark.postgres
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schema=names, table=names, column=names, comment=names)
def test_generated_hostile_identifiers_round_trip(postgres_database_factory: Callable[[], str], schema: str,
                                                  table: str, column: str, comment: str) -> None:
    # Distinct names for the objects that share a namespace (the server folds nothing inside quotes).
    _round_trip(postgres_database_factory, [(schema, "t" + table, "c" + column, comment)])


@pytest.mark.postgres
@settings(max_examples=300, deadline=None)
@given(name=names | st.sampled_from(["t\n", "users\n", "a_1\n", "x\r\n", "é\n"]))
def test_the_server_reads_every_quoted_name_back_as_it_was(name: str) -> None:
    """A name ending in a line break was written bare (``^...$`` matches before a final newline), so
    ``"users\\n"`` loaded as ``users``: another table, or a clash with the real one."""
    with psycopg.connect(postgres_url_for("postgres")) as conn:
        cursor = conn.execute(f"SELECT 1 AS {quote(name)}, 2 AS {quote.qualified('public', name)[7:]}")
        assert cursor.description is not None
        assert [column.name for column in cursor.description] == [name, name]


@pytest.mark.postgres
def test_names_ending_in_a_line_break_round_trip(postgres_database_factory: Callable[[], str]) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute('CREATE TABLE "t\n" (id int); CREATE TABLE t (id int); INSERT INTO "t\n" VALUES (1);'
                     'INSERT INTO t VALUES (2); CREATE SCHEMA "s\n"; CREATE TABLE "s\n"."c\n" ("x\n" int)')
    out = io.BytesIO()
    result = PostgresDumper(parse_database_url(postgres_url_for(source)), DumpOptions()).dump(out)
    installer.install(parse_database_url(postgres_url_for(target)), io.BytesIO(out.getvalue()),
                      InstallOptions(yes=True, manifest=result.tables))
    assert schema_dump(target) == schema_dump(source)
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
