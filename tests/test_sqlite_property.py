"""Property test: random values of every storage class, in columns of every declared type, survive dump ->
install exactly, as the database file and as SQL, in each text encoding.

SQLite stores a value in a storage class the declared type only suggests (text in an INTEGER column,
integers in a TEXT one when they came as blobs, ...), so the values are drawn per storage class and put
into columns of every affinity, STRICT and WITHOUT ROWID tables included, with rowids that leave gaps.
The copy is compared by each value's storage class and Python value (``-0.0`` and ``0.0`` differ by
``repr``) and by its bytes as stored (``CAST(.. AS BLOB)``).
"""

from __future__ import annotations

import contextlib
import io
import math
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.values import DumpOptions, InstallOptions

DECLARED = ["", "INTEGER", "INT", "TEXT", "VARCHAR(3)", "REAL", "FLOAT", "NUMERIC", "DECIMAL(10,2)", "BOOLEAN",
            "DATETIME", "BLOB", "ANY", "WHATEVER"]
#: The values an application can store: every storage class, the numbers at their limits, text SQLite's
#: parser or a text-mode reader would cut or change.
VALUES = (st.none()
          | st.integers(-2**63, 2**63 - 1) | st.sampled_from([-2**63, 2**63 - 1, 0, -1])
          | st.floats(allow_nan=False) | st.sampled_from([-0.0, 5e-324, -5e-324, 2.0**63, -2.0**63, 1e308])
          | st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
          | st.sampled_from(["", "\x00", "a\x00b", "\r\n", "\r", "12", " 12", "1e5", "-0", "0x10", "1.0", "'", "''",
                             "9223372036854775808", "NaN", "Inf", "\u2028\uffff\U0010ffff"])
          | st.binary(max_size=12))


@st.composite
def databases(draw: st.DrawFn) -> tuple[str, list[str], bool, list[tuple[int, list[Any]]]]:
    """An encoding, column types, whether the table is STRICT, and rows with their rowids."""
    encoding = draw(st.sampled_from(["UTF-8", "UTF-16le", "UTF-16be"]))
    types = draw(st.lists(st.sampled_from(DECLARED), min_size=1, max_size=4))
    strict = draw(st.booleans())
    rowids = draw(st.lists(st.integers(-2**63, 2**63 - 1), unique=True, max_size=6))
    rows = [(rowid, draw(st.lists(VALUES, min_size=len(types), max_size=len(types)))) for rowid in rowids]
    return encoding, types, strict, rows


def _strict_type(declared: str) -> str:
    return {"INTEGER": "INTEGER", "INT": "INT", "TEXT": "TEXT", "REAL": "REAL", "BLOB": "BLOB"}.get(declared, "ANY")


def _create(path: Path, encoding: str, types: list[str], strict: bool, rows: list[tuple[int, list[Any]]]) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA encoding = '{encoding}'")
        columns = ", ".join(f"c{index} {_strict_type(declared) if strict else declared}"
                            for index, declared in enumerate(types))
        suffix = " STRICT" if strict else ""
        conn.execute(f"CREATE TABLE r ({columns}){suffix}")
        conn.execute(f"CREATE TABLE w (k INTEGER PRIMARY KEY, {columns}) WITHOUT ROWID")
        conn.execute("CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT, v)")
        marks = ", ".join("?" * len(types))
        for rowid, values in rows:
            for table, key in (("r", "rowid"), ("w", "k")):
                try:
                    conn.execute(f"INSERT INTO {table} ({key}, {', '.join(f'c{i}' for i in range(len(types)))}) "
                                 f"VALUES (?, {marks})", (rowid, *values))
                except sqlite3.IntegrityError:  # a STRICT column refused the value's storage class
                    conn.execute(f"INSERT INTO {table} ({key}) VALUES (?)", (rowid,))
            conn.execute("INSERT INTO a (id, v) VALUES (?, ?)", (rowid, values[0]))
        conn.execute("DELETE FROM a WHERE id = (SELECT max(id) FROM a)")  # sqlite_sequence stays ahead
        conn.commit()


def _contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.text_factory = bytes
        found = {}
        for table in ("r", "w", "a", "sqlite_sequence"):
            names = [str(row[1], "utf-8") if isinstance(row[1], bytes) else row[1]
                     for row in conn.execute(f"PRAGMA table_info({table})")]
            key = "rowid, " if table == "r" else ""
            values = ", ".join(f"typeof({name}), {name}, CAST({name} AS BLOB)" for name in names)
            found[table] = [tuple(repr(value) for value in row)
                            for row in conn.execute(f"SELECT {key}{values} FROM {table} ORDER BY 1, 2")]
        found["encoding"] = [tuple(conn.execute("PRAGMA encoding").fetchone())]
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(database=databases(), form=st.sampled_from(["sql", "native"]))
@example(database=("UTF-8", ["REAL", "", "TEXT"], False, [(-2**63, [-0.0, -0.0, "a\x00\r\nb"]),
                                                            (2**63 - 1, [5e-324, math.inf, b"\x00"])]), form="sql")
@example(database=("UTF-16le", ["INTEGER", "ANY", "BLOB"], True, [(1, ["x", -math.inf, b""]),
                                                                   (3, [-2**63, "\U0010ffff\x00", "t"])]), form="sql")
def test_every_value_round_trips_exactly(tmp_path_factory: Any,
                                         database: tuple[str, list[str], bool, list[tuple[int, list[Any]]]],
                                         form: str) -> None:
    folder = tmp_path_factory.mktemp("values")
    source, target = folder / "source.db", folder / "target.db"
    _create(source, *database)
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(f"sqlite:///{source}"), out,
                              DumpOptions(format="sql" if form == "sql" else "native"))
    install_with_engine(parse_database_url(f"sqlite:///{target}"), io.BytesIO(out.getvalue()),
                        InstallOptions(format="sql" if form == "sql" else "sqlite", yes=True, manifest=result.tables))
    assert _contents(target) == _contents(source)
