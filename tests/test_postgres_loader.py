"""The psql-free script reader: statement splitting and COPY blocks, whatever the read size (no server needed)."""

from __future__ import annotations

import io

import pytest

from synco_core.engines.postgresql import script
from synco_core.engines.postgresql.script import ScriptReader, TruncatedDump, copy_target

SCRIPT = (
    b"--\n-- PostgreSQL database dump\n--\n\n"
    b"\\restrict abcDEF123\n\n"
    b"SET standard_conforming_strings = on;\n"
    b"/* a block comment /* nested; */ still comment; */\n"
    b"CREATE TABLE \"semi;colon\" (\"a\"\"b\" text DEFAULT 'it''s; fine', c text DEFAULT E'esc\\'aped; \\\\');\n"
    b"CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $body$\nBEGIN\n"
    b"  RETURN $$x;y$$; -- ; inside\nEND;\n$body$;\n"
    b"CREATE OR REPLACE FUNCTION public.g(x integer)\n RETURNS integer\n LANGUAGE sql\nBEGIN ATOMIC\n"
    b" SELECT CASE WHEN (x > 0) THEN 1 ELSE 0 END AS s;\n SELECT 'end; begin' AS \"END\"; -- end;\nEND;\n"
    b"CREATE PROCEDURE p(\"begin\" int, begin int) LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;\n"
    b"SELECT 1 AS begin;\n"
    b"CREATE RULE \"r(\" AS\n    ON DELETE TO public.v DO INSTEAD ( DELETE FROM public.a\n  WHERE (a.id = old.id);\n"
    b" DELETE FROM public.b WHERE (b.note = ')' /* ) */); -- );\n NOTIFY \"(\";\n);\n"
    b"SELECT 1);\n"
    b"SELECT $1, a$b FROM t WHERE x = 'a--b' -- trailing ; comment\n  AND y = '/*';\n"
    b"COPY public.t (a, b) FROM stdin;\n"
    b"1\tx\\.y\n2\t\\\\.\n3\tlast\n"
    b"\\.\n"
    b"COPY \"Sales\".\"Order\" FROM stdin;\n"
    b"\\.\n"
    b"\\connect - postgres\n"
    b"SELECT 'done';\n"
    b"\n--\n-- PostgreSQL database dump complete\n--\n\n"
    b"\\unrestrict abcDEF123\n"
)

EXPECTED = [
    ("meta", b"\\restrict abcDEF123"),
    ("sql", b"SET standard_conforming_strings = on;"),
    ("sql", b"CREATE TABLE \"semi;colon\" (\"a\"\"b\" text DEFAULT 'it''s; fine', "
            b"c text DEFAULT E'esc\\'aped; \\\\');"),
    ("sql", b"CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $body$\nBEGIN\n  RETURN $$x;y$$; -- ; inside\n"
            b"END;\n$body$;"),
    # SQL-standard bodies: the ";" inside BEGIN ATOMIC ... END do not end the statement.
    ("sql", b"CREATE OR REPLACE FUNCTION public.g(x integer)\n RETURNS integer\n LANGUAGE sql\nBEGIN ATOMIC\n"
            b" SELECT CASE WHEN (x > 0) THEN 1 ELSE 0 END AS s;\n SELECT 'end; begin' AS \"END\"; -- end;\nEND;"),
    ("sql", b"CREATE PROCEDURE p(\"begin\" int, begin int) LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;"),
    ("sql", b"SELECT 1 AS begin;"),
    # A rule of several actions: the ";" inside its parentheses do not end it (psql counts them too).
    ("sql", b"CREATE RULE \"r(\" AS\n    ON DELETE TO public.v DO INSTEAD ( DELETE FROM public.a\n"
            b"  WHERE (a.id = old.id);\n DELETE FROM public.b WHERE (b.note = ')' /* ) */); -- );\n"
            b" NOTIFY \"(\";\n);"),
    # A ")" too many is let go, as psql lets it go: the next ";" ends the statement.
    ("sql", b"SELECT 1);"),
    ("sql", b"SELECT $1, a$b FROM t WHERE x = 'a--b' -- trailing ; comment\n  AND y = '/*';"),
    ("sql", b"COPY public.t (a, b) FROM stdin;"),
    ("copy", b"1\tx\\.y\n2\t\\\\.\n3\tlast\n"),
    ("sql", b"COPY \"Sales\".\"Order\" FROM stdin;"),
    ("copy", b""),
    ("meta", b"\\connect - postgres"),
    ("sql", b"SELECT 'done';"),
    ("meta", b"\\unrestrict abcDEF123"),
]


def read_all(data: bytes) -> tuple[list[tuple[str, bytes]], ScriptReader]:
    reader = ScriptReader(io.BytesIO(data))
    items: list[tuple[str, bytes]] = []
    while True:
        item = reader.next_item()
        if item is None:
            return items, reader
        kind, text, _ = item
        items.append((kind, text.strip()))
        if kind == "sql" and text.rstrip().endswith(b"FROM stdin;"):
            items.append(("copy", b"".join(reader.copy_data())))


@pytest.mark.parametrize("read_size", [1, 2, 3, 5, 7, 64, 1 << 20])
def test_statements_and_copy_blocks_survive_any_read_size(read_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(script, "READ_SIZE", read_size)
    items, reader = read_all(SCRIPT)
    assert items == EXPECTED
    assert reader.complete()


@pytest.mark.parametrize("cut", [b"3\tlast\n", b"RETURN $$x;y", b"ELSE 0 END AS s;", b"c text DEFAULT E'esc",
                                 b"/* a block comment /*"])
def test_truncation_inside_anything_is_reported(cut: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(script, "READ_SIZE", 5)
    with pytest.raises(TruncatedDump, match="truncated"):
        read_all(SCRIPT[: SCRIPT.index(cut) + len(cut)])


def test_a_dump_without_its_last_line_is_incomplete() -> None:
    _, reader = read_all(SCRIPT[: SCRIPT.index(b"\n--\n-- PostgreSQL database dump complete")])
    assert not reader.complete()


def test_copy_target_names_the_manifest_key() -> None:
    assert copy_target(b"COPY public.track (a) FROM stdin;") == "track"
    assert copy_target(b'COPY "Sales"."Order" ("Id") FROM stdin;') == "Sales.Order"
    assert copy_target(b"COPY Archive.Events FROM stdin;") == "archive.events"
    assert copy_target(b'COPY "we""ird" FROM stdin;') == 'we"ird'


@pytest.mark.parametrize(("data", "message"), [(b"PGDMP\x01\x0e\x00", "pg_dump archive"),
                                              (b"\x28\xb5\x2f\xfd\x00\x00", "zstd"),
                                              (b"age-encryption.org/v1\n-> X25519", "encrypted")])
def test_binary_inputs_get_a_clear_error(data: bytes, message: str) -> None:
    from synco_core.errors import DatabaseError

    with pytest.raises(DatabaseError, match=message):
        read_all(data)
