"""``synco db dump``'s ``--sanitize TABLE.COLUMN=SQL`` and ``--where TABLE=SQL`` name any table and column.

A part of a name that holds a dot (or an ``=``) is double-quoted, as in ``.synco.yml``: ``users."x.y"=NULL``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from synco_core.cli.db_cmd import build_dump_options
from synco_core.cli.main import cli
from synco_core.errors import ConfigError


@pytest.mark.parametrize(("argument", "table", "column"), [
    ("users.email=NULL", "users", "email"),
    ('users."x.y"=NULL', "users", "x.y"),
    ('a.b."c.d"=NULL', "a.b", "c.d"),
    ('"a.b"."c""d"=NULL', '"a.b"', 'c"d'),
    ('q"t.c=NULL', 'q"t', "c"),
    ('t."a=b"=NULL', "t", "a=b"),
    ("sch.t.c=x = 'y'", "sch.t", "c"),
])
def test_a_sanitising_rule_names_any_column(argument: str, table: str, column: str) -> None:
    """The column was what followed the last dot, and the expression what followed the first ``=``: a column
    ``x.y`` could not be sanitised at all (``unknown table 'users.x'``)."""
    (rule,) = build_dump_options((), (), (argument,)).sanitize
    assert (rule.table, rule.column) == (table, column)
    assert rule.expression == argument.split("=", 1)[1] if '"a=b"' not in argument else rule.expression == "NULL"


def test_a_filter_names_a_quoted_table_holding_an_equals_sign() -> None:
    assert build_dump_options((), ('"a=b"=id > 1', 'q"t=x = 1'), ()).where == {'"a=b"': "id > 1", 'q"t': "x = 1"}


@pytest.mark.parametrize("argument", ["users=NULL", '"x.y"=NULL', "=NULL", "users.email"])
def test_what_names_no_column_is_refused_in_one_line(argument: str) -> None:
    with pytest.raises(ConfigError, match="expects TABLE"):
        build_dump_options((), (), (argument,))


def test_a_column_whose_name_holds_a_dot_is_sanitised_in_the_dump(tmp_path: Path) -> None:
    source = tmp_path / "app.db"
    lite = sqlite3.connect(source)
    with lite:
        lite.execute('CREATE TABLE "a.b" (id INTEGER PRIMARY KEY, "e.mail" TEXT, "q""t" TEXT)')
        lite.execute("INSERT INTO \"a.b\" VALUES (1, 'secret-mail', 'secret-quote')")
    lite.close()
    dump = tmp_path / "dump.sql"
    outcome = CliRunner().invoke(cli, ["db", "dump", f"sqlite:///{source}", "--sql", "-o", str(dump),
                                       "--sanitize", "a.b.\"e.mail\"='x'", "--sanitize", "a.b.q\"t='y'"])
    assert outcome.exit_code == 0, outcome.output
    text = dump.read_text(encoding="utf-8")
    assert "secret" not in text and "'x'" in text and "'y'" in text
