"""pg_dump's plain scripts through ``synco db load``, with what a splitter may get wrong and the psql
meta-commands they carry: the ``\\restrict`` / ``\\unrestrict`` pair of pg_dump 15.14+ (Debian's 15 writes it),
``\\connect`` of ``--create``, ``SET check_function_bodies = false`` before a function naming a table made after
it, dollar quotes inside dollar quotes, ``\\.`` and backslashes inside COPY rows.

The loader takes meta-commands as psql does where psql refuses: after ``\\restrict`` only ``\\unrestrict`` with the
same key (it took a ``\\connect`` there, where psql stops); and a script of two databases (``\\connect a`` ...
``\\connect b``, as pg_dumpall or two dumps put together) is refused naming both, where it was loaded into one
database, the two mixed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from test_postgres_support import pg_dump_plain, psql_load, schema_dump

from synco_core.cli.main import cli
from synco_core.testing.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, postgres_url_for, require_tool

pytestmark = pytest.mark.postgres

SOURCE = r"""
SET check_function_bodies = false;
CREATE FUNCTION newest() RETURNS integer LANGUAGE sql AS 'SELECT max(id) FROM later';
CREATE TABLE later (id integer PRIMARY KEY, note text, raw bytea);
INSERT INTO later VALUES (1, E'a\n\\.\nb', '\x5c2e'), (2, '\.', NULL), (3, E'\\.', '\x00'), (4, E'x\r\n\t\\N', NULL),
  (5, NULL, NULL);
CREATE FUNCTION nested() RETURNS text LANGUAGE plpgsql AS $outer$
BEGIN
  RETURN $inner$ it's ; $x$ $$ $inner$ || $$;$$ || $q$\.$q$;
END
$outer$;
CREATE FUNCTION quoted() RETURNS integer LANGUAGE sql AS 'SELECT 1; ';
"""


def rows(name: str) -> list[tuple[object, ...]]:
    with psycopg.connect(postgres_url_for(name)) as conn:
        return conn.execute("SELECT *, newest(), nested(), quoted() FROM later ORDER BY id").fetchall()


def load(name: str, script: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["db", "load", postgres_url_for(name), str(script), "--yes"])
    return result.exit_code, result.output


@pytest.mark.parametrize("create", [False, True], ids=["plain", "--create"])
def test_pg_dumps_plain_script_loads_as_psql_loads_it(create: bool, tmp_path: Path,
                                                      postgres_database_factory: Callable[[], str]) -> None:
    source, reference, target = (postgres_database_factory() for _ in range(3))
    (tmp_path / "source.sql").write_text(SOURCE)
    assert psql_load(source, tmp_path / "source.sql").returncode == 0
    script = tmp_path / "dump.sql"
    if create:
        subprocess.run([require_tool("pg_dump", "postgresql-client"), "-h", POSTGRES_HOST, "-p", str(POSTGRES_PORT),
                        "-U", POSTGRES_USER, "--create", "-f", str(script), source], check=True)
    else:
        pg_dump_plain(source, script)
    text = script.read_text()
    if "\\restrict" in text:
        # pg_dump 15.14, 16.10, 17.6 and later (Debian's 15 among them); an older one writes none, and its script
        # must load all the same.
        assert text.count("\\restrict ") == (2 if create else 1)
    assert "SET check_function_bodies = false;" in text
    # psql loads the plain script into the database it connects to (--create's names the source: not here).
    assert psql_load(reference, tmp_path / "source.sql").returncode == 0
    status, output = load(target, script)
    assert status == 0, output
    assert rows(target) == rows(reference) == rows(source)
    assert schema_dump(target) == schema_dump(source)


def meta_script(*middle: str) -> str:
    return "\n".join(["SET client_encoding = 'UTF8';", "\\restrict k1", "CREATE TABLE a (id integer);", *middle,
                      "CREATE TABLE b (id integer);", ""])


#: Each script, the loader's error, and whether psql refuses it for the same reason here (the others connect to
#: databases this server does not have before they get there).
REFUSED = [
    (["\\connect other"], "\\connect (line 4) after \\restrict", True),
    (["\\unrestrict k2"], "\\unrestrict (line 4) after \\restrict", True),
    (["\\set ON_ERROR_STOP 0"], "\\set (line 4) after \\restrict", True),
    (["\\unrestrict k1", "\\unrestrict k1"], "\\unrestrict (line 5) comes without a \\restrict", True),
    (["\\unrestrict k1", "\\connect first", "\\restrict k3", "\\connect second"], "\\connect (line 7) after \\restrict",
     False),
    (["\\unrestrict k1", "\\connect first", "\\connect second"], "connects to database second (line 6) after first",
     False),
]


@pytest.mark.parametrize(("middle", "message", "psql_too"), REFUSED)
def test_a_meta_command_psql_refuses_or_a_second_database_fails_the_load(
        middle: list[str], message: str, psql_too: bool, tmp_path: Path,
        postgres_database_factory: Callable[[], str]) -> None:
    reference, target = postgres_database_factory(), postgres_database_factory()
    script = tmp_path / "script.sql"
    script.write_text(meta_script(*middle))
    if psql_too:
        refused = psql_load(reference, script)
        assert refused.returncode != 0 and "restrict" in refused.stderr, refused.stderr
    status, output = load(target, script)
    assert status == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], output
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


def test_connecting_again_to_the_same_database_loads(tmp_path: Path,
                                                    postgres_database_factory: Callable[[], str]) -> None:
    target = postgres_database_factory()
    script = tmp_path / "script.sql"
    script.write_text(meta_script("\\unrestrict k1", "\\connect first", "\\restrict k3", "\\unrestrict k3",
                                  "\\connect - postgres", '\\connect -reuse-previous=on first'))
    status, output = load(target, script)
    assert status == 0, output
