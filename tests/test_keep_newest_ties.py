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
    # Without a key every column breaks ties on MySQL; SQLite's rowid (the last inserted kept) and PostgreSQL's
    # ctid are one per row.
    kept = sorted(row[0] for row in _rows(copy, "SELECT note FROM loose"))
    if engine == "mysql":
        assert kept == ["n0298", "n0299", "n0300"]
    elif engine == "sqlite":
        assert kept == sorted(f"n{n:04d}" for n in order[-3:])
    else:
        assert len(kept) == 3


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
