"""Names the server accepts and a statement could trip on: line breaks, quotes, ``%``, in databases too.

Each name must come back as itself through the dump, the load, the swap (with its journal) and the
rollback, and never act as SQL of its own: a table named ``x<newline>DELETE FROM victim; --`` is a table.
The databases are named ``synco_test_odd_identifiers_...`` and dropped, with those named after them.
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from collections.abc import Callable, Iterator

import pytest
from test_mysql_support import config

from synco_core.engines.mysql import qualify
from synco_core.engines.mysql.dump import dump
from synco_core.engines.mysql.install import install, rollback
from synco_core.testing.services import mysql_admin_connection
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions

PREFIX = "synco_test_odd_identifiers_"
#: A line break followed by a statement: were it to end a comment line of the dump, it would run.
INJECTED = "\nDELETE FROM victim;\n-- x"


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@pytest.fixture(name="odd_databases")
def odd_databases_fixture() -> Iterator[Callable[[str], str]]:
    """Makes names ``PREFIX<random>_<suffix>`` (the database is not created); every database whose name
    starts with one of them is dropped afterwards, the scratch and kept copies with it."""
    stems: list[str] = []

    def name(suffix: str) -> str:
        stems.append(f"{PREFIX}{uuid.uuid4().hex[:8]}_")
        return stems[-1] + suffix

    yield name
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            for (database,) in cur.fetchall():
                if any(database.startswith(stem) for stem in stems):
                    cur.execute(f"DROP DATABASE {quoted(database)}")
    finally:
        conn.close()


def run(database: str | None, *statements: str) -> list[tuple[object, ...]]:
    conn = mysql_admin_connection(database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return list(cur.fetchall())
    finally:
        conn.close()


def database(name: str) -> DatabaseConfig:
    return dataclasses.replace(config("unused"), name=name)


def dump_of(name: str) -> bytes:
    out = io.BytesIO()
    dump(database(name), out, DumpOptions())
    return out.getvalue()


def load(name: str, data: bytes) -> None:
    install(database(name), io.BytesIO(data), InstallOptions(yes=True))


def tables(name: str) -> list[str]:
    rows = run(None, f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {_literal(name)} "
                     "AND TABLE_NAME NOT LIKE '\\_\\_synco%'")
    return sorted(str(row[0]) for row in rows)


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def test_a_line_break_in_a_name_stays_inside_the_name(odd_databases: Callable[[str], str]) -> None:
    """The dump named tables, sequences and the database in ``--`` comment lines as they were: a line
    break ended the comment, the name's next line was a statement, and loading ran it (or failed on it)."""
    source, target = odd_databases("src" + INJECTED), odd_databases("dst")
    run(None, f"CREATE DATABASE {quoted(source)} CHARACTER SET utf8mb4")
    run(source, "CREATE TABLE victim (id INT PRIMARY KEY)", "INSERT INTO victim VALUES (1), (2)",
        f"CREATE TABLE {quoted('t' + INJECTED)} (id INT)", f"CREATE SEQUENCE {quoted('s' + INJECTED)}",
        # A view naming the source database: the load points it at the target, found by the source's name.
        f"CREATE VIEW v AS SELECT id FROM {quoted(source)}.victim")
    data = dump_of(source)
    load(target, data)
    load(target, data)  # into the existing database: the swap, and a kept copy
    assert tables(target) == tables(source) == sorted(["s" + INJECTED, "t" + INJECTED, "v", "victim"])
    assert run(target, "SELECT COUNT(*) FROM victim") == [(2,)]
    [(definition,)] = run(None, "SELECT VIEW_DEFINITION FROM information_schema.VIEWS WHERE "
                                f"TABLE_SCHEMA = {_literal(target)}")
    assert quoted(target) in str(definition) and "src" not in str(definition)
    rollback(database(target), InstallOptions(yes=True))
    assert run(target, "SELECT COUNT(*) FROM victim") == [(2,)]


@pytest.mark.parametrize("suffix", ["per%cent", "%s%%", "back`tick", 'say "hi" %d'])
def test_a_target_named_with_percent_or_quotes_is_replaced_and_rolled_back(odd_databases: Callable[[str], str],
                                                                           suffix: str) -> None:
    """The swap's journal was written with a statement naming the kept copy that PyMySQL formats with %:
    a target named ``shop%`` failed with ``TypeError: not enough arguments for format string`` half-way
    through the swap."""
    source, target = odd_databases("src"), odd_databases(suffix)
    run(None, f"CREATE DATABASE {quoted(source)} CHARACTER SET utf8mb4")
    run(source, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    load(target, dump_of(source))
    run(target, "INSERT INTO t VALUES (2)")
    load(target, dump_of(source))
    assert run(target, "SELECT id FROM t") == [(1,)]
    rollback(database(target), InstallOptions(yes=True))
    assert run(target, "SELECT id FROM t ORDER BY id") == [(1,), (2,)]


@pytest.mark.parametrize("suffix", ["back`tick", 'say "hi"', "both`\"]"])
def test_objects_naming_a_source_whose_name_holds_a_quote_point_at_the_target(odd_databases: Callable[[str], str],
                                                                              suffix: str) -> None:
    """The loader looked for the source's name as it is in the statement's bytes, where a back-tick in it is
    doubled (`` `a``b` ``): routines, views and triggers naming ``a`b`` were not pointed at the target, and
    the load was refused for naming another database."""
    source, target = odd_databases(suffix), odd_databases("dst")
    run(None, f"CREATE DATABASE {quoted(source)} CHARACTER SET utf8mb4")
    here = quoted(source)
    run(source, "CREATE TABLE t (id INT PRIMARY KEY, n INT)", "INSERT INTO t VALUES (1, 0)",
        f"CREATE VIEW v AS SELECT id FROM {here}.t",
        f"CREATE FUNCTION f () RETURNS INT RETURN (SELECT COUNT(*) FROM {here}.t)",
        f"CREATE PROCEDURE p () SELECT id FROM {here}.t",
        f"CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW SET NEW.n = (SELECT {here}.f())")
    load(target, dump_of(source))
    there = _literal(target)
    definitions = run(None, f"SELECT VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {there} "
                            "UNION ALL SELECT ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE "
                            f"ROUTINE_SCHEMA = {there} UNION ALL SELECT ACTION_STATEMENT FROM "
                            f"information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {there}")
    assert len(definitions) == 4
    assert all(quoted(target) in str(text) and suffix not in str(text) for (text,) in definitions), definitions
    run(target, "UPDATE t SET n = 5")
    assert run(target, "SELECT n FROM t") == [(1,)]


@pytest.mark.parametrize(("statement", "old", "mode", "expected"), [
    (b"SELECT * FROM `a``b`.t", "a`b", qualify.Mode(), b"SELECT * FROM `c`.t"),
    (b'SELECT * FROM "a""b".t', 'a"b', qualify.Mode(ansi_quotes=True), b'SELECT * FROM "c".t'),
    (b"SELECT * FROM [a]]b].t", "a]b", qualify.Mode(brackets=True), b"SELECT * FROM [c].t"),
    ("SELECT * FROM `café`.t".encode("latin-1"), "café", qualify.Mode(charset="latin1"), b"SELECT * FROM `c`.t"),
])
def test_a_qualifier_is_found_however_the_statement_writes_the_name(statement: bytes, old: str,
                                                                      mode: qualify.Mode, expected: bytes) -> None:
    assert qualify.may_name(statement, old)
    assert qualify.requalify(statement, old, "c", mode) == (expected, False)
