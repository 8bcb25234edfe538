"""Row filters, ``keep_newest`` and sanitising expressions reach the database exactly as written.

A condition or expression may hold ``%`` (WordPress's ``option_name NOT LIKE '\\_transient\\_%'``),
``%s``, ``{}``, ``$1``, ``?``, quotes, backslashes, dollar quotes and a trailing ``--`` comment: none of it
may be taken for a parameter placeholder, a format field or the end of synco's own SQL, on any shape of
table (with an integer key, without a key, partitioned, inheriting, ``WITHOUT ROWID``). PostgreSQL and
SQLite here; the MySQL engine has its own tests.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.testing.services import postgres_url_for
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions, SanitizeRule

#: Every row's note; the filter keeps those not starting with "_transient_" (and not the '%s' one).
NOTES = ["_transient_a", "_transient_b", "keep %s {} $1 ? ' \" \\ me", "plain", "_transientX", "50% off"]
KEPT = {"keep %s {} $1 ? ' \" \\ me", "plain", "_transientX", "50% off"}


def postgres_condition() -> str:
    """LIKE with backslash escapes, a dollar-quoted string holding quotes, and a trailing comment."""
    return ("note NOT LIKE '\\_transient\\_%' AND note <> $q$it's %s {} $1 ? \"x\"$q$ "
            "AND note <> '{0} %(name)s ?' -- the end, with a ) and a ; in it")


def sqlite_condition() -> str:
    return ("note NOT LIKE '\\_transient\\_%' ESCAPE '\\' AND note <> 'it''s %s {} $1 ? \"x\"' "
            "AND note <> '{0} %(name)s ?' -- the end, with a ) and a ; in it")


#: A sanitising expression with the same hazards: each note becomes "masked %s {} $1 ? ' \ <id>".
MASK = "'masked %s {} $1 ? '' \\ ' || id -- trailing ) comment"


#: The column keep_newest orders by: its name is as hostile as the conditions.
AT = "at %s {}"


def masked(identifier: int) -> str:
    return f"masked %s {{}} $1 ? ' \\ {identifier}"


POSTGRES_TABLES = """
CREATE TABLE keyed (id integer PRIMARY KEY, note text, "at %s {}" integer);
CREATE TABLE unkeyed (id integer, note text, "at %s {}" integer);
CREATE TABLE parted (id integer, note text, "at %s {}" integer) PARTITION BY RANGE (id);
CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (MINVALUE) TO (4);
CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (4) TO (MAXVALUE);
CREATE TABLE parent (id integer, note text, "at %s {}" integer);
CREATE TABLE child (extra integer) INHERITS (parent);
"""


@pytest.mark.postgres
def test_postgres_filters_and_expressions_reach_the_server_verbatim(postgres_database_factory: Callable[[], str],
                                                                     plugin_manager: object) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute(POSTGRES_TABLES)
        for table in ("keyed", "unkeyed", "parted", "parent", "child"):
            for number, note in enumerate(NOTES, start=1):
                conn.execute(f"INSERT INTO {table} VALUES (%s, %s, %s)", (number, note, number))
    condition = postgres_condition()
    options = DumpOptions(
        where={table: condition for table in ("keyed", "unkeyed", "parted", "parent")},
        # keep_newest on a partitioned and an inheritance parent also filters through the condition.
        keep_newest={"parted": (AT, 3), "parent": (AT, 5)},
        sanitize=tuple(SanitizeRule(table, "note", expression=MASK) for table in ("unkeyed", "parent")),
    )
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(postgres_url_for(source)), out, options)
    install_with_engine(parse_database_url(postgres_url_for(target)), io.BytesIO(out.getvalue()),
                        InstallOptions(yes=True, manifest=result.tables))
    kept_ids = sorted(number for number, note in enumerate(NOTES, start=1) if note in KEPT)
    with psycopg.connect(postgres_url_for(target)) as conn:
        def notes(table: str) -> list[tuple[int, str]]:
            return conn.execute(f"SELECT id, note FROM {table} ORDER BY id, note").fetchall()  # type: ignore[return-value]

        assert notes("keyed") == [(i, NOTES[i - 1]) for i in kept_ids]
        assert notes("unkeyed") == [(i, masked(i)) for i in kept_ids]
        # The newest 3 of the kept rows of parted, wherever they live.
        assert notes("parted") == [(i, NOTES[i - 1]) for i in kept_ids[-3:]]
        # parent and child together: the newest 5 of the rows the parent's condition keeps, all masked.
        kept_parent = sorted([(i, masked(i)) for i in kept_ids] + [(i, masked(i)) for i in kept_ids])[-5:]
        assert sorted(notes("parent")) == kept_parent


SQLITE_TABLES = """
CREATE TABLE keyed (id INTEGER PRIMARY KEY, note TEXT, "at %s {}" INTEGER);
CREATE TABLE unkeyed (id INTEGER, note TEXT, "at %s {}" INTEGER);
CREATE TABLE no_rowid (id INTEGER, part TEXT, note TEXT, "at %s {}" INTEGER, PRIMARY KEY (part, id)) WITHOUT ROWID;
"""


@pytest.mark.parametrize("sql", [False, True], ids=["database-file", "sql-script"])
def test_sqlite_filters_and_expressions_reach_sqlite_verbatim(tmp_path: Path, sql: bool,
                                                              plugin_manager: object) -> None:
    source = tmp_path / "source.db"
    with sqlite3.connect(source) as conn:
        conn.executescript(SQLITE_TABLES)
        for table in ("keyed", "unkeyed", "no_rowid"):
            for number, note in enumerate(NOTES, start=1):
                if table == "no_rowid":
                    conn.execute("INSERT INTO no_rowid VALUES (?, ?, ?, ?)", (number, f"p{number % 2}", note, number))
                else:
                    conn.execute(f"INSERT INTO {table} VALUES (?, ?, ?)", (number, note, number))
    condition = sqlite_condition()
    options = DumpOptions(
        where={table: condition for table in ("keyed", "unkeyed", "no_rowid")},
        keep_newest={"no_rowid": (AT, 2), "keyed": (AT, 3)},
        sanitize=(SanitizeRule("unkeyed", "note", expression=MASK),
                  SanitizeRule("no_rowid", "part", transform="email")),
        format="sql" if sql else "native",
    )
    out = io.BytesIO()
    result = dump_with_engine(DatabaseConfig(engine="sqlite", name=str(source)), out, options)
    target = tmp_path / "target.db"
    install_with_engine(DatabaseConfig(engine="sqlite", name=str(target)), io.BytesIO(out.getvalue()),
                        InstallOptions(yes=True, manifest=result.tables, format=result.format))
    kept_ids = sorted(number for number, note in enumerate(NOTES, start=1) if note in KEPT)
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT id, note FROM keyed ORDER BY id").fetchall() == [
            (i, NOTES[i - 1]) for i in kept_ids[-3:]]
        assert conn.execute("SELECT id, note FROM unkeyed ORDER BY id").fetchall() == [(i, masked(i)) for i in kept_ids]
        rows = conn.execute("SELECT id, part, note FROM no_rowid ORDER BY id").fetchall()
        assert [(i, note) for i, _, note in rows] == [(i, NOTES[i - 1]) for i in kept_ids[-2:]]
        # email on a WITHOUT ROWID table: unique per row through its primary key.
        assert len({part for _, part, _ in rows}) == 2 and all(part.endswith("@example.invalid") for _, part, _ in rows)
