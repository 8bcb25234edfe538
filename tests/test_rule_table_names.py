"""Every table name reaches its table through ``--exclude-table``, ``--where``, ``--sanitize`` and ``.synco.yml``,
on every engine, by one quoting rule (``synco_core.tablenames``).

Before, MySQL and SQLite took a rule's table name exactly as written, so the only spelling ``--where`` has for
a table ``a=b`` (``"a=b"``, quoted) named a table ``"a=b"``, quotes included, and was refused as unknown; and a
table holding a double quote could not be written in ``.synco.yml`` at all (``"q""t"`` is its only spelling
there). PostgreSQL stripped the quotes at both ends, so ``"q""t"`` failed there too.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli
from synco_core.tablenames import name_parts, quoted, readings
from synco_core.testing.services import (
    database_from_script,
    mysql_admin_connection,
    mysql_url_for,
    postgres_url_for,
)
from synco_core.values import DatabaseConfig

#: Names a rule's syntax could trip on: its separators (``=``, ``.``), quotes, a comma, spaces, non-ASCII.
ODD_NAMES = ["a=b", "a,b", "a.b", 'q"t', '"x"', "sp ace", " lead", "été", "日本", "a.b=c", 'x"="y', "plain"]


def _ident(engine: str, name: str) -> str:
    return f"`{name.replace('`', '``')}`" if engine == "mysql" else '"' + name.replace('"', '""') + '"'


def _odd_database(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, DatabaseConfig]:
    statements = []
    for index, name in enumerate(ODD_NAMES):
        statements.append(f"CREATE TABLE {_ident(engine, name)} (id INTEGER PRIMARY KEY, secret VARCHAR(40))")
        statements.append(f"INSERT INTO {_ident(engine, name)} VALUES (1, 'hidden{index}z'), (2, 'shown{index}z')")
    database = database_from_script(engine, statements, request, tmp_path / "odd.db")
    if engine == "sqlite":
        return f"sqlite:///{database.name}", database
    url = mysql_url_for(database.name) if engine == "mysql" else postgres_url_for(database.name)
    return url, database


def _dump(tmp_path: Path, url: str, *arguments: str) -> tuple[int, str]:
    out = tmp_path / f"dump-{uuid.uuid4().hex[:6]}.sql"
    outcome = CliRunner().invoke(cli, ["db", "dump", url, "--sql", "-o", str(out), *arguments])
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    return outcome.exit_code, (outcome.output if outcome.exit_code else text)


@pytest.mark.parametrize("engine", ["sqlite", "mysql", "postgresql"])
@pytest.mark.parametrize("option", ["--exclude-table", "--where", "--sanitize"])
def test_every_table_name_is_reached_by_its_quoted_form(engine: str, option: str, request: pytest.FixtureRequest,
                                                        tmp_path: Path) -> None:
    """The documented spelling (the whole name double-quoted, its quotes doubled) names each table on every
    engine, in every option; its first row must not be in the dump, its second must."""
    url, _ = _odd_database(engine, request, tmp_path)
    arguments: list[str] = []
    for name in ODD_NAMES:
        written = quoted(name)
        if option == "--exclude-table":
            arguments += [option, written]
        elif option == "--where":
            arguments += [option, f"{written}=id <> 1"]
        else:
            arguments += [option, f"{written}.secret=CASE WHEN id = 1 THEN 'masked' ELSE secret END"]
    status, text = _dump(tmp_path, url, *arguments)
    assert status == 0, text
    for index in range(len(ODD_NAMES)):
        assert f"hidden{index}z" not in text, ODD_NAMES[index]
        if option != "--exclude-table":
            assert f"shown{index}z" in text, ODD_NAMES[index]


@pytest.mark.parametrize("engine", ["sqlite", "mysql"])
def test_a_name_written_plainly_is_the_table_of_that_name(engine: str, request: pytest.FixtureRequest,
                                                          tmp_path: Path) -> None:
    """Without schemas, a name written as the database spells it (dots, quotes inside and all) still names it."""
    url, _ = _odd_database(engine, request, tmp_path)
    plain = [name for name in ODD_NAMES if name == name.strip()]
    arguments = [part for name in plain for part in ("--exclude-table", name)]
    status, text = _dump(tmp_path, url, *arguments)
    assert status == 0, text
    for name in plain:
        assert f"hidden{ODD_NAMES.index(name)}z" not in text, name


@pytest.mark.parametrize("engine", ["sqlite", "mysql", "postgresql"])
def test_a_name_reading_as_two_tables_is_refused_in_one_line(engine: str, request: pytest.FixtureRequest,
                                                              tmp_path: Path) -> None:
    '''``"x"`` names table ``x`` (its quotes read as quoting) and table ``"x"`` (as written): refused, never
    guessed; ``"""x"""`` names the second alone.'''
    url, _ = _odd_database(engine, request, tmp_path)
    create = f"CREATE TABLE {_ident(engine, 'x')} (id INTEGER PRIMARY KEY, secret VARCHAR(40))"
    if engine == "sqlite":
        lite = sqlite3.connect(url.removeprefix("sqlite:///"))
        with lite:
            lite.execute(create)
        lite.close()
    elif engine == "postgresql":
        # PostgreSQL picked the table named as written ("x"), silently: a rule meant for x left it raw.
        with psycopg.connect(url, autocommit=True) as pg:
            pg.execute(create)
    else:
        conn = mysql_admin_connection(url.rsplit("/", 1)[1])
        try:
            with conn.cursor() as cur:
                cur.execute(create)
        finally:
            conn.close()
    for option in (["--where", '"x"=id <> 1'], ["--sanitize", '"x".secret=NULL'], ["--exclude-table", '"x"']):
        status, output = _dump(tmp_path, url, *option)
        assert status == 1, option
        lines = output.strip().splitlines()
        assert len(lines) == 1 and "ambiguous" in lines[0] and "'x'" in lines[0] and "'\"x\"'" in lines[0], output
    status, text = _dump(tmp_path, url, "--where", '"""x"""=id <> 1')
    assert status == 0, text
    assert f"hidden{ODD_NAMES.index(chr(34) + 'x' + chr(34))}z" not in text


@pytest.mark.parametrize("engine", ["sqlite", "mysql", "postgresql"])
def test_an_unknown_quoted_name_is_refused_in_one_line(engine: str, request: pytest.FixtureRequest,
                                                        tmp_path: Path) -> None:
    url, _ = _odd_database(engine, request, tmp_path)
    status, output = _dump(tmp_path, url, "--where", '"a=nothing"=id > 1')
    assert status == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1 and "a=nothing" in lines[0], output


def test_synco_yml_names_reach_the_tables_of_a_database_without_schemas(tmp_path: Path,
                                                                         request: pytest.FixtureRequest) -> None:
    """``.synco.yml`` writes a name holding a quote only quoted (``"q""t"``): that, and every other quoted name,
    reaches its SQLite table."""
    from synco_generic.config import load_config

    from synco_core.engines.dispatch import dump_with_engine
    from synco_core.values import DumpOptions

    _, database = _odd_database("sqlite", request, tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    names = "\n".join(f"    - '{quoted(name).replace(chr(39), chr(39) * 2)}'" for name in ODD_NAMES)
    (project / ".synco.yml").write_text(f"serve:\n  exclude_tables:\n{names}\n", encoding="utf-8")
    config = load_config(project)
    assert config is not None
    out = tmp_path / "yml.sqlite"
    with out.open("wb") as stream:
        dump_with_engine(database, stream, DumpOptions(exclude_tables=config.exclude_tables, format="sql"))
    text = out.read_text(encoding="utf-8")
    for index, name in enumerate(ODD_NAMES):
        assert f"hidden{index}z" not in text, name


@pytest.mark.parametrize("name", [*ODD_NAMES, '""', "a..b", "\x01", "..", " "])
def test_the_quoted_form_of_a_name_reads_back_as_that_name_alone(name: str) -> None:
    """The property the rule rests on: ``quoted(name)`` parses to exactly ``name``, in one part."""
    assert name_parts(quoted(name)) == (name,)
    assert readings(quoted(name))[0] == name


@pytest.mark.parametrize("engine", ["sqlite", "mysql"])
def test_what_checks_and_plans_the_rules_finds_the_tables_the_engines_find(engine: str) -> None:
    """Strict mode, the filter of rules against the inventory (named databases, plugins' defaults) and ``serve
    --plan`` match a quoted name as the engines do: a table ``a=b`` written ``"a=b"`` was unclassified in strict
    mode, shown with all its rows in the plan, and its rules dropped as naming no table."""
    from synco_core.dumpoptions import present_in, strict_violations
    from synco_core.serve.plan import _table_plan
    from synco_core.values import DatabaseInventory, DumpOptions, SanitizeRule, TableInfo

    inventory = DatabaseInventory(engine=engine, server_version="1", tables=[
        TableInfo(name, ["id", "secret"]) for name in ODD_NAMES])
    half = len(ODD_NAMES) // 2
    options = DumpOptions(
        exclude_tables=tuple(quoted(name) for name in ODD_NAMES[:half]),
        sanitize=tuple(SanitizeRule(quoted(name), "secret", transform="null") for name in ODD_NAMES[half:]),
        keep=tuple(f"{quoted(name)}.id" for name in ODD_NAMES[half:]),
        where={quoted(name): "id > 1" for name in ODD_NAMES[half:]},
        strict=True)
    assert strict_violations(options, inventory) == []
    kept = present_in(options, inventory)
    assert set(kept.exclude_tables) == set(ODD_NAMES[:half])
    assert {rule.table for rule in kept.sanitize} == set(ODD_NAMES[half:])
    assert set(kept.where) == set(ODD_NAMES[half:])
    for name in ODD_NAMES[:half]:
        assert _table_plan(name, "table", 2, 100, options).rows == "none", name
    for name in ODD_NAMES[half:]:
        plan = _table_plan(name, "table", 2, 100, options)
        assert plan.rows == "filtered" and plan.sanitized == {"secret": "null"}, name


@pytest.mark.parametrize("engine", ["sqlite", "mysql", "postgresql"])
@pytest.mark.parametrize("kept", ['"x"', '"x".secret'])
def test_strict_modes_keep_reading_as_two_tables_is_refused_in_one_line(engine: str, kept: str) -> None:
    '''``keep: ['"x"']`` where tables ``x`` and ``"x"`` both exist declared both safe: strict mode then let the
    one not meant ship raw, since no engine reads ``keep``. Refused as the other rules are; ``"""x"""`` keeps
    the second alone and ``x`` is still refused as unclassified.'''
    from synco_core.dumpoptions import strict_violations
    from synco_core.errors import ConfigError
    from synco_core.values import DatabaseInventory, DumpOptions, TableInfo

    inventory = DatabaseInventory(engine=engine, server_version="1",
                                  tables=[TableInfo("x", ["id", "secret"]), TableInfo('"x"', ["id", "secret"])])
    with pytest.raises(ConfigError) as refused:
        strict_violations(DumpOptions(keep=(kept, "x.id", '"""x""".id'), strict=True), inventory)
    message = str(refused.value)
    assert "ambiguous" in message and "'x" in message and "'\"x\"" in message and "\n" not in message, message
    alone = kept.replace('"x"', '"""x"""')
    assert "x" in strict_violations(DumpOptions(keep=(alone, "x.id", '"""x""".id'), strict=True), inventory)[0]
