"""Every sanitising rule, ``where`` filter and ``keep_newest`` reads the source's values, on every engine.

MySQL and PostgreSQL put a table's rules into one SELECT over the source, so a rule reading another rule's
column (``login`` made from ``email``) reads the source's value, in whatever order the rules are listed,
and a filter reads the source's rows. SQLite applied them one statement after another to its copy: a rule
read the value an earlier rule had written (the mask, not the address), a rule or filter reading another
table read it masked or already filtered, and a ``where`` reading an excluded table found it empty. The
copies then differed by engine and by the order of the rules.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_sanitize_constraints import rows_of

from synco_core import DumpOptions, SanitizeRule
from synco_core.engines.dispatch import dump_with_engine
from synco_core.testing.services import database_from_script, install_into_empty_copy

ENGINES = [pytest.param("mysql", marks=pytest.mark.mysql), pytest.param("postgresql", marks=pytest.mark.postgres),
           "sqlite"]

SCHEMA = [
    "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(80), login VARCHAR(80), score INT NOT NULL)",
    "INSERT INTO users VALUES (1, 'ann@keep.example', 'ann', 10), (2, 'bob@drop.example', 'bob', 40), "
    "(3, 'cy@keep.example', 'cy', 30), (4, 'di@keep.example', 'di', 20)",
    "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT NOT NULL, note VARCHAR(80), amount INT NOT NULL)",
    "INSERT INTO orders VALUES (1, 1, 'n1', 5), (2, 2, 'n2', 6), (3, 3, 'n3', 7), (4, 4, 'n4', 8)",
    # Excluded: its rows are not copied, but a filter may still read them on the source.
    "CREATE TABLE vips (user_id INT PRIMARY KEY)",
    "INSERT INTO vips VALUES (1), (3), (4)",
]

#: Rules reading each other's columns, in the same table and across tables. A PostgreSQL dump reads under an
#: empty search_path (as pg_dump does): a table another table's rule reads is named with its schema there.
RULES = (
    SanitizeRule("users", "email", expression="UPPER(login)"),
    SanitizeRule("users", "login", expression="UPPER(email)"),
    SanitizeRule("users", "score", expression="0 - score"),
    SanitizeRule("orders", "note", expression="(SELECT u.email FROM {users} u WHERE u.id = orders.user_id)"),
    SanitizeRule("orders", "amount", expression="(SELECT u.score FROM {users} u WHERE u.id = orders.user_id)"),
)

OPTIONS = {
    # A where on a masked column, and a where reading an excluded table.
    "where": "email LIKE '%@keep.example' AND id IN (SELECT user_id FROM {vips})",
    # A where on another table's masked column and on its filtered rows.
    "orders": "user_id IN (SELECT u.id FROM {users} u WHERE u.email LIKE '%@drop.example' OR u.score >= 20)",
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("reverse", [False, True], ids=["listed", "reversed"])
def test_rules_and_filters_read_the_source_values(engine: str, reverse: bool, tmp_path: Path,
                                                  request: pytest.FixtureRequest) -> None:
    source = database_from_script(engine, SCHEMA, request, tmp_path / "source.db")
    names = {"users": "public.users", "vips": "public.vips"} if engine == "postgresql" else {"users": "users",
                                                                                              "vips": "vips"}
    rules = tuple(dataclasses.replace(rule, expression=rule.expression.format(**names))
                  for rule in (reversed(RULES) if reverse else RULES))
    where = {table: OPTIONS[key].format(**names) for table, key in (("users", "where"), ("orders", "orders"))}
    if reverse:
        where = dict(reversed(where.items()))
    options = DumpOptions(sanitize=rules, where=where, exclude_tables=("vips",),
                          # By the source's score (the rule negates it): users 4 and 3 (20, 30), not 1.
                          keep_newest={"users": ("score", 2)})
    dump = tmp_path / "dump"
    with dump.open("wb") as out:
        result = dump_with_engine(source, out, options)
    installed = install_into_empty_copy(source, dump, result, request, tmp_path / "copy.db")
    target = str(tmp_path / "copy.db") if engine == "sqlite" else installed.database
    assert rows_of(engine, target, "SELECT id, email, login, score FROM users ORDER BY id") == [
        (3, "CY", "CY@KEEP.EXAMPLE", -30), (4, "DI", "DI@KEEP.EXAMPLE", -20)]
    # Orders of users 2, 3 and 4 by the source's users (all of them, unfiltered and unmasked); the order of
    # user 2 stays although its user is filtered out (no foreign key says otherwise).
    assert rows_of(engine, target, "SELECT id, user_id, note, amount FROM orders ORDER BY id") == [
        (2, 2, "bob@drop.example", 40), (3, 3, "cy@keep.example", 30), (4, 4, "di@keep.example", 20)]
    assert rows_of(engine, target, "SELECT user_id FROM vips") == []
