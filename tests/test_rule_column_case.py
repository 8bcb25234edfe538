"""A rule's column (``--sanitize``, ``.synco.yml``'s ``sanitize`` and ``keep_newest``) finds the column the
engine itself finds under that name: SQLite whatever its ASCII case, MySQL whatever its case, PostgreSQL an
unquoted name folded to lower case; and, on every engine, the column spelt exactly so.

Before, every engine took the column exactly as written, so ``--sanitize "t.EMAIL='x'"`` on a column ``email``
was refused as an unknown column, though ``SELECT EMAIL FROM t`` reads it on all three. The test asks each engine
which column a spelling reads (an unquoted ``SELECT``) and holds the rules to that answer, for every spelling;
a framework plugin's default rules (kept or dropped against the database's inventory) too: on PostgreSQL a
default rule ``users.EMAIL`` was dropped as naming no column, leaving ``email`` raw.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import psycopg
import pymysql
import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli
from synco_core.dumpoptions import present_in
from synco_core.engines.dispatch import dump_with_engine, inspect_with_engine
from synco_core.testing.services import (
    database_from_script,
    mysql_admin_connection,
    mysql_url_for,
    postgres_admin_connection,
    postgres_url_for,
)
from synco_core.values import DatabaseConfig, DumpOptions, SanitizeRule

#: Each column, and its two rows' values: the second row is the newest by every column.
COLUMNS = {"email": ("mail1z", "mail2z"), "Stamp": (7771, 7772), "été": ("acc1z", "acc2z"), "ÉCHO": ("e1z", "e2z")}


def _spellings(name: str) -> list[str]:
    return list(dict.fromkeys([name, name.lower(), name.upper(), name.swapcase(), name.title()]))


def _ident(engine: str, name: str) -> str:
    return f"`{name}`" if engine == "mysql" else f'"{name}"'


def _database(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, DatabaseConfig]:
    columns = ", ".join(f"{_ident(engine, c)} {'INTEGER' if c == 'Stamp' else 'VARCHAR(40)'}" for c in COLUMNS)
    rows = ", ".join("(" + ", ".join([str(row + 1)] + [repr(v[row]) for v in COLUMNS.values()]) + ")"
                     for row in range(2))
    database = database_from_script(engine, [f"CREATE TABLE t (id INTEGER PRIMARY KEY, {columns})",
                                             f"INSERT INTO t VALUES {rows}"], request, tmp_path / "case.db")
    if engine == "sqlite":
        return f"sqlite:///{database.name}", database
    url = mysql_url_for(database.name) if engine == "mysql" else postgres_url_for(database.name)
    return url, database


def _engine_reads(engine: str, database: DatabaseConfig, spelling: str) -> str | None:
    """The column the engine reads for ``spelling`` written unquoted, None when it finds none."""
    statement = f"SELECT {spelling} FROM t ORDER BY id"
    try:
        if engine == "sqlite":
            lite = sqlite3.connect(database.name)
            try:
                values = tuple(row[0] for row in lite.execute(statement))
            finally:
                lite.close()
        elif engine == "mysql":
            conn = mysql_admin_connection(database.name)
            try:
                with conn.cursor() as cur:
                    cur.execute(statement)
                    values = tuple(row[0] for row in cur.fetchall())
            finally:
                conn.close()
        else:
            with postgres_admin_connection(database.name) as pg:
                values = tuple(row[0] for row in pg.execute(statement).fetchall())
    except (sqlite3.OperationalError, pymysql.err.OperationalError, psycopg.errors.UndefinedColumn):
        return None
    return next(name for name, expected in COLUMNS.items() if values == expected)


@pytest.mark.parametrize("engine", ["sqlite", "mysql", "postgresql"])
def test_a_rule_column_reaches_the_column_the_engine_reads(engine: str, request: pytest.FixtureRequest,
                                                            tmp_path: Path) -> None:
    url, database = _database(engine, request, tmp_path)
    inventory = inspect_with_engine(database)
    assert inventory is not None
    for name in COLUMNS:
        for spelling in _spellings(name):
            reached = name if spelling == name else _engine_reads(engine, database, spelling)
            # A framework plugin's default rule is kept for the column the engine reads, spelt as it is spelt.
            default = DumpOptions(sanitize=(SanitizeRule("t", spelling, "NULL"),))
            assert [rule.column for rule in present_in(default, inventory).sanitize] == (
                [reached] if reached is not None else []), spelling
            out = tmp_path / f"dump-{uuid.uuid4().hex[:6]}.sql"
            outcome = CliRunner().invoke(cli, ["db", "dump", url, "--sql", "-o", str(out),
                                               "--sanitize", f"t.{spelling}=NULL"])
            if reached is None:
                assert outcome.exit_code == 1, (spelling, outcome.output)
                lines = outcome.output.strip().splitlines()
                assert len(lines) == 1 and "column" in lines[0] and spelling in lines[0], (spelling, outcome.output)
                assert not out.exists()
                continue
            assert outcome.exit_code == 0, (spelling, outcome.output)
            text = out.read_text(encoding="utf-8")
            for column, values in COLUMNS.items():
                for value in values:
                    assert (str(value) in text) == (column != reached), (spelling, column, text)
            # keep_newest (.synco.yml only) finds the same column: the newest row by it is the second.
            kept = tmp_path / f"newest-{uuid.uuid4().hex[:6]}.sql"
            with kept.open("wb") as stream:
                dump_with_engine(database, stream, DumpOptions(keep_newest={"t": (spelling, 1)}, format="sql"))
            text = kept.read_text(encoding="utf-8")
            assert "mail1z" not in text and "mail2z" in text, (spelling, text)
