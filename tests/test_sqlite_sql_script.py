"""The SQL form of a SQLite dump (``--sql``) rebuilds databases nobody here designed, exactly.

Each database is dumped as a script, loaded by the install (which verifies the manifest) and by Python's
``executescript``; both must give the same schema, the same rows with the same storage classes and rowids,
and the same ``user_version``, ``application_id`` and encoding.
"""

from __future__ import annotations

import contextlib
import io
import math
import random
import sqlite3
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.errors import DatabaseError
from synco_core.values import DumpOptions, InstallOptions


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def snapshot(path: Path) -> dict[str, object]:
    """Schema, pragmas, and per table every row with each value's typeof(), bytes (hex) and value (a REAL's
    hex() is its text to 15 digits), rowid first."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        conn.text_factory = bytes
        found: dict[str, object] = {
            "schema": conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY 1, 2").fetchall(),
            "pragmas": [conn.execute(f"PRAGMA {p}").fetchone()[0]
                        for p in ("user_version", "application_id", "encoding")],
        }
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall():
            name = table.decode()
            columns = [row[1].decode() for row in conn.execute(f"PRAGMA table_xinfo({_quote(name)})")]
            values = ", ".join(f"typeof({_quote(c)}), hex({_quote(c)}), {_quote(c)}" for c in columns)
            try:
                rows = conn.execute(f"SELECT rowid, {values} FROM {_quote(name)} ORDER BY rowid").fetchall()
            except sqlite3.OperationalError:
                rows = conn.execute(f"SELECT {values} FROM {_quote(name)}").fetchall()
            found[name] = rows
    return found


def virtual_tables(conn: sqlite3.Connection) -> None:
    conn.executescript(r'''
        CREATE VIRTUAL TABLE docs USING fts5(title, body);
        INSERT INTO docs VALUES ('hello', 'world wide'), ('foo', 'bar baz');
        CREATE VIRTUAL TABLE docs4 USING fts4(content);
        INSERT INTO docs4 VALUES ('alpha beta'), ('gamma');
        CREATE TABLE art (body TEXT);
        INSERT INTO art (rowid, body) VALUES (10, 'one two'), (20, 'three');
        CREATE VIRTUAL TABLE art_fts USING fts5(body, content='art');
        INSERT INTO art_fts(art_fts) VALUES ('rebuild');
        CREATE TRIGGER art_ai AFTER INSERT ON art BEGIN
            INSERT INTO art_fts (rowid, body) VALUES (new.rowid, new.body);
        END;
        CREATE VIEW three AS SELECT rowid FROM art_fts WHERE art_fts MATCH 'three';
        CREATE VIRTUAL TABLE bare USING fts5(x, content='');
        INSERT INTO bare (rowid, x) VALUES (1, 'contentless one');
        CREATE VIRTUAL TABLE boxes USING rtree(id, minX, maxX, minY, maxY);
        INSERT INTO boxes VALUES (1, 0, 10, 0, 10), (2, -5.5, 5.5, 1, 2);
    ''')


def odd_names(conn: sqlite3.Connection) -> None:
    conn.executescript(r'''
        CREATE TABLE "it's ""quoted""" ("col ""q""" INTEGER PRIMARY KEY AUTOINCREMENT, "sp ace" TEXT);
        INSERT INTO "it's ""quoted""" VALUES (41, 'a');
        CREATE TABLE "表 'x'" (id INTEGER PRIMARY KEY AUTOINCREMENT, "🙂" TEXT);
        INSERT INTO "表 'x'" VALUES (3, 'smile');
        CREATE TABLE "select" ("from", "order" STRING, "group" "FLOATING POINT", x INTEGERX);
        INSERT INTO "select" VALUES (1, '012', '1.50', '12');
    ''')


def odd_values(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE m (v)")
    conn.execute("CREATE TABLE r (v REAL)")
    for value in (float("inf"), float("-inf"), -0.0, 5e-324, 1.7976931348623157e308, 2**63 - 1, -2**63,
                  "a\x00b", "\x00", "x\x00", "crlf\r\n", "\r", "it's", "", b"", bytes(range(256))):
        conn.execute("INSERT INTO m VALUES (?)", (value,))
    for value in (float("inf"), float("-inf"), 1e-310):
        conn.execute("INSERT INTO r VALUES (?)", (value,))


def reals(conn: sqlite3.Connection) -> None:
    # Doubles of every exponent, sign and mantissa (random bit patterns, NaN aside: SQLite stores NULL), and
    # ones with more digits than a double's 15, in a REAL column and in one with no type. SQLite's reading
    # of a decimal literal is not exact everywhere (8.669279501873125e-302 became ...124e-302 in 3.40).
    generator = random.Random(15)
    values = [8.669279501873125e-302, 7.276634624838602e-305, 0.30000000000000004, 1 / 3, 2.0**53 + 2,
              123456789.12345678, 1e23, 1e22, 19.99, 0.1, 5e-324, 2.2250738585072014e-308, -1.5e-310]
    while len(values) < 1200:
        value = struct.unpack("<d", generator.getrandbits(64).to_bytes(8, "little"))[0]
        if not math.isnan(value):
            values.append(value)
    conn.execute("CREATE TABLE f (r REAL, m)")
    conn.executemany("INSERT INTO f VALUES (?, ?)", [(value, value) for value in values])


def rows_breaking_checks(conn: sqlite3.Connection) -> None:
    # Rows a CHECK now refuses are production's all the same: written under ignore_check_constraints, or
    # before the CHECK was added (by a tool editing sqlite_master, as some migration tools do).
    conn.execute("CREATE TABLE k (id INTEGER PRIMARY KEY, v INT CHECK (v > 0), w TEXT, CHECK (w <> 'bad'))")
    conn.execute("CREATE TABLE s (v INT CHECK (v > 0)) STRICT")
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute("INSERT INTO k VALUES (1, -5, 'ok'), (2, 5, 'bad')")
    conn.execute("INSERT INTO s VALUES (0)")
    conn.execute("PRAGMA ignore_check_constraints = OFF")


def header_fields(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA user_version = 75")
    conn.execute("PRAGMA application_id = -123456")
    conn.execute("CREATE TABLE t (a)")


def utf16(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA encoding = 'UTF-16le'")
    conn.execute("CREATE TABLE t (a TEXT)")
    conn.execute("INSERT INTO t VALUES ('héllo'), ('日本')")


#: Text SQLite stores in a UTF-16 database as it is given, though it is not UTF-16: a high surrogate before
#: a character (SQLite's UTF-8 took the two for one pair), a lone low one, one at the end, one beside NUL,
#: and a valid pair, as UTF-16LE bytes made into TEXT.
NOT_UTF16 = ["00D84100", "00DC4200", "410000D8", "00D80000", "3DD800DE"]


def utf16_invalid(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA encoding = 'UTF-16le'")
    conn.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, t TEXT)")
    conn.execute("CREATE TABLE n (t)")
    conn.execute("CREATE TABLE w (k PRIMARY KEY, t) WITHOUT ROWID")
    for number, stored in enumerate(NOT_UTF16):
        text = f"CAST(X'{stored}' AS TEXT)"
        conn.execute(f"INSERT INTO r (t) VALUES ({text})")
        conn.execute(f"INSERT INTO n (rowid, t) VALUES ({number + 10}, {text})")
        conn.execute(f"INSERT INTO w VALUES ({number}, {text})")
        # Long: read through BLOB I/O where the piece size is made tiny.
        conn.execute(f"INSERT INTO r (t) VALUES (CAST(X'{stored * 5}' AS TEXT))")


def rowids(conn: sqlite3.Connection) -> None:
    # Without an INTEGER PRIMARY KEY the rowid is the table's own, and may be referred to (FTS content).
    conn.executescript(r'''
        CREATE TABLE t (a); INSERT INTO t (rowid, a) VALUES (5, 'x'), (17, 'y'), (-3, 'z');
        CREATE TABLE keyed (a TEXT PRIMARY KEY, b); INSERT INTO keyed (rowid, a, b) VALUES (40, 'k', 'v');
        CREATE TABLE shadowed (rowid TEXT, b); INSERT INTO shadowed (_rowid_, rowid, b) VALUES (9, 'r', 'b');
    ''')


def long_values(conn: sqlite3.Connection) -> None:
    # Over the piece size (made tiny below): read and written through BLOB I/O, in every kind of table.
    conn.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, t TEXT, b BLOB, g AS (length(b)))")
    conn.execute("CREATE TABLE n (t, b)")
    conn.execute("CREATE TABLE w (k PRIMARY KEY, b) WITHOUT ROWID")
    for text in ("it's a \"long\" one\r\n", "nul\x00inside", "日本語のテキスト"):
        raw = bytes(range(256)) + text.encode()
        conn.execute("INSERT INTO r (t, b) VALUES (?, ?)", (text, raw))
        conn.execute("INSERT INTO n (rowid, t, b) VALUES (?, ?, ?)", (len(text) * 7, text, raw))
        conn.execute("INSERT INTO w VALUES (?, ?)", (text, raw))


@pytest.mark.parametrize("piece", [3, 1 << 20])
def test_sql_script_of_long_values(tmp_path: Path, plugin_manager: object, monkeypatch: pytest.MonkeyPatch,
                                   piece: int) -> None:
    from synco_core.engines.sqlite import fingerprint as fingerprint_module

    monkeypatch.setattr(fingerprint_module, "PIECE", piece)
    test_sql_script_rebuilds_the_database(tmp_path, plugin_manager, long_values)


@pytest.mark.parametrize("piece", [3, 1 << 20])
def test_sql_script_of_text_that_is_not_utf16_in_a_utf16_database(
        tmp_path: Path, plugin_manager: object, monkeypatch: pytest.MonkeyPatch, piece: int) -> None:
    """Such text came back changed (a lone high surrogate and the character after it as one character beyond
    the BMP; a long one as UTF-8 bytes read as UTF-16); now every value comes back byte for byte, short or long,
    in a table with or without a rowid."""
    from synco_core.engines.sqlite import fingerprint as fingerprint_module

    monkeypatch.setattr(fingerprint_module, "PIECE", piece)
    test_sql_script_rebuilds_the_database(tmp_path, plugin_manager, utf16_invalid)
    with contextlib.closing(sqlite3.connect(tmp_path / "target.db")) as conn:
        assert [row[0] for row in conn.execute("SELECT hex(t) FROM w ORDER BY k")] == NOT_UTF16


@pytest.mark.parametrize("build", [virtual_tables, odd_names, odd_values, reals, rows_breaking_checks,
                                   header_fields, utf16, utf16_invalid,
                                   rowids],
                         ids=lambda build: build.__name__)
def test_sql_script_rebuilds_the_database(tmp_path: Path, plugin_manager: object,
                                          build: Callable[[sqlite3.Connection], None]) -> None:
    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        build(conn)
        conn.commit()
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(f"sqlite:///{source}"), out, DumpOptions(format="sql"))
    script = out.getvalue()
    assert not script.startswith(b"SQLite format 3")
    target = tmp_path / "target.db"
    install_with_engine(parse_database_url(f"sqlite:///{target}"), io.BytesIO(script),
                        InstallOptions(format="sql", yes=True, manifest=result.tables))
    expected = snapshot(source)
    assert snapshot(target) == expected
    # The script is plain SQL for any client, read as text (universal newlines) too.
    other = tmp_path / "executescript.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.executescript(script.decode("utf-8").replace("\r\n", "\n"))
    assert snapshot(other) == expected


def schema_edited_over_rows(conn: sqlite3.Connection) -> None:
    # A tool that changes a column's type or adds NOT NULL by editing sqlite_master (no table rebuild)
    # leaves rows the new declaration refuses: text that the column's type would make a number, a NULL,
    # text in a STRICT INTEGER column. SQLite reads and writes the table as ever.
    conn.executescript('''
        CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT, z TEXT);
        INSERT INTO t VALUES (1, '12', NULL), (2, 'abc', 'set');
        CREATE TABLE s (a TEXT) STRICT; INSERT INTO s VALUES ('x');
        PRAGMA writable_schema = ON;
        UPDATE sqlite_master SET sql = 'CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, z TEXT NOT NULL)'
            WHERE name = 't';
        UPDATE sqlite_master SET sql = 'CREATE TABLE s (a INTEGER) STRICT' WHERE name = 's';
        PRAGMA writable_schema = OFF;
    ''')


def test_values_their_schema_refuses_are_refused_by_the_sql_form_in_one_line(tmp_path: Path,
                                                                            plugin_manager: object) -> None:
    """A script cannot load them (the load failed on NOT NULL, or its verification on the converted text)."""
    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        schema_edited_over_rows(conn)
    with pytest.raises(DatabaseError) as caught:
        dump_with_engine(parse_database_url(f"sqlite:///{source}"), io.BytesIO(), DumpOptions(format="sql"))
    message = str(caught.value)
    assert "\n" not in message and "without --sql" in message
    assert all(name in message for name in ("t.n", "t.z", "s.a")), message


#: Values a column's type (edited in sqlite_master) would change on INSERT, which SQLite 3.40's
#: integrity_check does not report: a number under TEXT, a whole REAL under INTEGER or NUMERIC, numeric text
#: under NUMERIC or REAL (spaces and leading zeros too). Each is refused; the values beside them, which the
#: types keep, are not.
CONVERTED = [("TEXT", "5"), ("TEXT", "2.5"), ("INTEGER", "3.0"), ("NUMERIC", "-4.0"), ("INT", "-0.0"),
             ("INTEGER", "-9223372036854774784.0"), ("NUMERIC", "'7'"),
             ("DATE", "' 007 '"), ("REAL", "'1.5'"), ("VARCHAR(9)", "1e300")]
KEPT = [("TEXT", "'5'"), ("INTEGER", "3.5"), ("NUMERIC", "'2020-01-01'"), ("REAL", "'1.5x'"), ("BOOLEAN", "1"),
        ("DATETIME", "'2020-01-01 10:00'"), ("", "'7'"), ("INTEGER", "1e300"),
        ("INTEGER", "-9223372036854775808.0"), ("INTEGER", "9223372036854775808.0")]


@pytest.mark.parametrize("declared, value", CONVERTED + KEPT)
def test_values_their_column_type_would_convert_are_refused_by_the_sql_form(
        tmp_path: Path, plugin_manager: object, declared: str, value: str) -> None:
    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source, isolation_level=None)) as conn:
        conn.executescript(f'''
            CREATE TABLE "o k" (id INTEGER PRIMARY KEY, "c 1" BLOB); INSERT INTO "o k" VALUES (1, {value});
            PRAGMA writable_schema = ON;
            UPDATE sqlite_master SET sql = 'CREATE TABLE "o k" (id INTEGER PRIMARY KEY, "c 1" {declared})';
            PRAGMA writable_schema = OFF;
        ''')
    out = io.BytesIO()
    if (declared, value) in CONVERTED:
        with pytest.raises(DatabaseError, match=r"without --sql") as caught:
            dump_with_engine(parse_database_url(f"sqlite:///{source}"), out, DumpOptions(format="sql"))
        assert "o k.c 1" in str(caught.value)
        return
    result = dump_with_engine(parse_database_url(f"sqlite:///{source}"), out, DumpOptions(format="sql"))
    target = tmp_path / "target.db"
    install_with_engine(parse_database_url(f"sqlite:///{target}"), io.BytesIO(out.getvalue()),
                        InstallOptions(format="sql", yes=True, manifest=result.tables))
    assert snapshot(target) == snapshot(source)


@pytest.mark.parametrize("build", [rows_breaking_checks, schema_edited_over_rows], ids=lambda build: build.__name__)
def test_rows_their_schema_refuses_are_carried_as_the_file_and_rolled_back(
        tmp_path: Path, plugin_manager: object, build: Callable[[sqlite3.Connection], None]) -> None:
    """PRAGMA integrity_check reports rows a CHECK, NOT NULL or the column's type refuses, which are no
    damage: the dump refused the file ('would not load'), the install and the rollback such a database."""
    from synco_core.engines.dispatch import rollback_with_engine

    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        build(conn)
        conn.commit()
    target = tmp_path / "target.db"
    database = parse_database_url(f"sqlite:///{target}")
    for _ in range(2):  # the second install keeps the first copy, which the rollback puts back
        out = io.BytesIO()
        result = dump_with_engine(parse_database_url(f"sqlite:///{source}"), out, DumpOptions())
        assert out.getvalue().startswith(b"SQLite format 3")
        install_with_engine(database, io.BytesIO(out.getvalue()),
                            InstallOptions(format="sqlite", yes=True, manifest=result.tables))
        assert snapshot(target) == snapshot(source)
    rollback_with_engine(database, InstallOptions(yes=True))
    assert snapshot(target) == snapshot(source)
