"""``keep_newest`` with many rows sharing the ordering value picks the same rows every time, on every engine:
the newest by the column, ties broken by the primary key (highest first), or by every column without one.

MySQL's ``ORDER BY col DESC LIMIT n`` had no tie-break, so its copy checks and its dump (separate queries)
could pick different rows among the ties. The ordering column was also written bare where a sanitised column of
the same name was in the select list, which MySQL and PostgreSQL read as the rewritten value: the checks (and
PostgreSQL's copy) kept the newest rows by the masked value, not by the source's.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.errors import ConfigError
from synco_core.testing.services import database_from_script
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions, SanitizeRule

ENGINES = [pytest.param("mysql", marks=pytest.mark.mysql), pytest.param("postgresql", marks=pytest.mark.postgres),
           "sqlite"]
ROWS = 300
KEEP = 40
#: Two rows are newer than the rest, which all share one timestamp.
NEWER = {7, 150}


def _rows(database: DatabaseConfig, sql: str) -> list[tuple[Any, ...]]:
    if database.engine == "sqlite":
        with contextlib.closing(sqlite3.connect(database.name)) as lite:
            return [tuple(row) for row in lite.execute(sql).fetchall()]
    if database.engine == "mysql":
        from synco_core.engines.mysql.connect import connect as mysql_connect

        conn = mysql_connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return [tuple(row) for row in cur.fetchall()]
        finally:
            conn.close()
    from synco_core.engines.postgresql.connection import connect as pg_connect

    with pg_connect(database) as pg:
        return [tuple(row) for row in pg.execute(sql).fetchall()]


def _copy(engine: str, source: DatabaseConfig, options: DumpOptions, request: pytest.FixtureRequest,
          tmp_path: Path) -> DatabaseConfig:
    out = io.BytesIO()
    result = dump_with_engine(source, out, options)
    target = database_from_script(engine, [], request, tmp_path / "copy.db")
    install_with_engine(target, io.BytesIO(out.getvalue()), InstallOptions(yes=True, manifest=result.tables,
                                                                           format=result.format))
    return target


@pytest.mark.parametrize("engine", ENGINES)
def test_ties_are_broken_by_the_primary_key(engine: str, request: pytest.FixtureRequest, tmp_path: Path,
                                            plugin_manager: object) -> None:
    # The rows go in out of key order, so the order they are stored in says nothing about which to keep.
    order = sorted(range(1, ROWS + 1), key=lambda n: (n * 7919) % ROWS)
    values = ", ".join(f"({n}, 'note {n}', {9 if n in NEWER else 5})" for n in order)
    notes = ", ".join(f"('n{n:04d}', 5)" for n in order)
    source = database_from_script(engine, [
        "CREATE TABLE events (id INTEGER PRIMARY KEY, note VARCHAR(40), created INTEGER)",
        f"INSERT INTO events (id, note, created) VALUES {values}",
        "CREATE TABLE loose (note VARCHAR(40), created INTEGER)",
        f"INSERT INTO loose (note, created) VALUES {notes}",
    ], request, tmp_path / "source.db")
    copy = _copy(engine, source, DumpOptions(keep_newest={"events": ("created", KEEP), "loose": ("created", 3)}),
                 request, tmp_path)
    expected = sorted(NEWER | set(range(ROWS, ROWS - (KEEP - len(NEWER)), -1)))
    assert [row[0] for row in _rows(copy, "SELECT id FROM events ORDER BY id")] == expected
    # Without a key every column breaks ties on MySQL; SQLite's rowid and PostgreSQL's ctid keep the last inserted.
    kept = sorted(row[0] for row in _rows(copy, "SELECT note FROM loose"))
    if engine == "mysql":
        assert kept == ["n0298", "n0299", "n0300"]
    else:
        assert kept == sorted(f"n{n:04d}" for n in order[-3:])


@pytest.mark.parametrize("engine", ENGINES)
def test_newest_by_the_source_value_when_the_column_is_sanitised(engine: str, request: pytest.FixtureRequest,
                                                                 tmp_path: Path, plugin_manager: object) -> None:
    """The ordering column rewritten (negated) and a NOT NULL column emptied on the newest row only: the dump
    keeps the newest row by the source's value, so the checks must refuse it; they looked at the oldest row,
    newest by the rewritten value, and passed a dump whose load failed after the download."""
    source = database_from_script(engine, [
        "CREATE TABLE events (id INTEGER PRIMARY KEY, note VARCHAR(40) NOT NULL, created INTEGER)",
        "INSERT INTO events (id, note, created) VALUES (1, 'old', 1), (2, 'new', 2)",
    ], request, tmp_path / "source.db")
    rules = (SanitizeRule("events", "created", expression="0 - created"),
             SanitizeRule("events", "note", expression="CASE WHEN id = 2 THEN NULL ELSE note END"))
    with pytest.raises(ConfigError, match="note"):
        _copy(engine, source, DumpOptions(keep_newest={"events": ("created", 1)}, sanitize=rules), request, tmp_path)
    # Without the NULL, the row kept is the newest by the source's value, its column masked.
    rules = (rules[0],)
    copy = _copy(engine, source, DumpOptions(keep_newest={"events": ("created", 1)}, sanitize=rules), request,
                 tmp_path)
    assert _rows(copy, "SELECT id, note, created FROM events") == [(2, "new", -2)]


#: Two values a case-insensitive collation holds equal, and two that differ only beyond MariaDB's default
#: max_sort_length (1024 bytes of each value's sort key).
PAIRS = {"case": ("bob", "Bob"), "long": ("x" * 1500 + "b", "x" * 1500 + "a")}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("pair", list(PAIRS))
@pytest.mark.parametrize("reverse", [False, True], ids=["greatest first", "greatest last"])
def test_values_alike_to_the_collation_or_the_sort_length_are_told_apart(
        engine: str, pair: str, reverse: bool, request: pytest.FixtureRequest, tmp_path: Path,
        plugin_manager: object) -> None:
    """keep_newest by a text column whose values differ only in case (MySQL's case-insensitive collation holds
    them equal) or only after their first 1024 bytes (MySQL sorted by no more): MySQL fell back to the
    primary key, or without one found the rows tied on every column and kept whichever the plan gave; the
    copy checks and the dump could keep different rows. Now the values' bytes decide, as PostgreSQL's
    deterministic collation (C here) and SQLite's BINARY do, whatever order the rows were inserted in; without a
    key, SQLite and PostgreSQL keep the last inserted of rows tied on the column, MySQL the greatest by bytes."""
    greatest, other = PAIRS[pair]
    values = [other, greatest] if reverse else [greatest, other]
    source = database_from_script(engine, [
        "CREATE TABLE named (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "INSERT INTO named (id, name) VALUES " + ", ".join(f"({n}, '{v}')" for n, v in enumerate(values, 1)),
        "CREATE TABLE loose (name TEXT NOT NULL, created INTEGER NOT NULL)",
        "INSERT INTO loose (name, created) VALUES " + ", ".join(f"('{v}', 5)" for v in values),
    ], request, tmp_path / "source.db")
    copy = _copy(engine, source, DumpOptions(keep_newest={"named": ("name", 1), "loose": ("created", 1)}),
                 request, tmp_path)
    assert _rows(copy, "SELECT name FROM named") == [(greatest,)]
    assert _rows(copy, "SELECT name FROM loose") == [(greatest if engine == "mysql" else values[-1],)]
