"""Values of object identifier types (regclass, regtype, regproc, regprocedure, regoper) in a PostgreSQL dump.

``COPY`` writes such a value as the object's name and reads it back by looking the name up while the rows
load. Values naming objects that exist by then round-trip; a value naming an object created only after
the rows (a view, an index, a function read with the views), a TOAST table, or a ``regproc``/``regoper``
with an overloaded name, could never load (pg_dump's output fails on them too): the dump refuses in one
line naming each, and dumps the table once a filter or ``--exclude-table`` leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from test_postgres_support import fingerprints, schema_dump

from synco_core.cli.main import cli
from synco_core.testing.services import postgres_url_for

pytestmark = pytest.mark.postgres

LOADABLE = """
    CREATE TABLE t (id int PRIMARY KEY, note text);
    CREATE SEQUENCE s;
    CREATE TYPE comp AS (a int);
    CREATE VIEW early AS SELECT * FROM t;
    CREATE TABLE uses_early (x early);
    CREATE FUNCTION rowfn(t) RETURNS int LANGUAGE sql AS 'SELECT 1';
    CREATE DOMAIN classes AS regclass[];
    CREATE TABLE refs (k text PRIMARY KEY, c regclass, ty regtype, p regprocedure, rp regproc, o regoper, cs classes);
    INSERT INTO refs VALUES
      ('a', 't', 't', 'rowfn(t)', 'int4in', '||/', '{t,s,comp,pg_class,information_schema.tables,early}'),
      ('b', 's', 't[]', 'abs(int)', 'rowfn', NULL, '[0:1]={NULL,s}'),
      ('c', 4000000000, 'early', 'sum(int)', 'public.rowfn', NULL, NULL),
      ('d', 'early', 'comp[]', NULL, NULL, NULL, '{{t,t},{s,NULL}}');
"""

REFUSED = """
    CREATE TABLE t (id int PRIMARY KEY, note text);
    CREATE VIEW v AS SELECT * FROM t;
    CREATE MATERIALIZED VIEW mv AS SELECT * FROM t;
    CREATE FUNCTION after_views() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM v; END;
    CREATE DOMAIN classes AS regclass[];
    CREATE TABLE refs (id int, c regclass, ty regtype, p regprocedure, rp regproc, o regoper, cs classes);
    INSERT INTO refs VALUES (0, 't', 't', 'abs(int)', 'int4in', '||/', '{t}');
    INSERT INTO refs (id, p) VALUES (8, 'after_views()');
    INSERT INTO refs (id, c) VALUES (1, 'v'), (2, 't_pkey');
    INSERT INTO refs (id, ty) VALUES (3, 'mv[]');
    INSERT INTO refs (id, rp) VALUES (4, 'abs(int)'::regprocedure);
    INSERT INTO refs (id, o) VALUES (5, '+(int,int)'::regoperator);
    INSERT INTO refs (id, cs) SELECT 6, ARRAY[NULL, ('pg_toast.pg_toast_' || 't'::regclass::oid)::regclass];
    INSERT INTO refs (id, cs) VALUES (7, '{{t,NULL},{mv,t}}');
    CREATE TABLE fine (id int);
"""


def _source(factory: Callable[[], str], script: str) -> str:
    name = factory()
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        conn.execute(script)
    return name


def _dump(source: str, out: Path, *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(out), *options])
    return result.exit_code, result.output


def _load(target: str, dump: Path) -> None:
    result = CliRunner().invoke(cli, ["db", "load", postgres_url_for(target), str(dump), "--yes"])
    assert result.exit_code == 0, result.output


def test_values_naming_objects_that_exist_before_the_rows_round_trip(
        postgres_database_factory: Callable[[], str], tmp_path: Path) -> None:
    source = _source(postgres_database_factory, LOADABLE)
    target = postgres_database_factory()
    code, output = _dump(source, tmp_path / "dump.sql")
    assert code == 0, output
    _load(target, tmp_path / "dump.sql")
    assert schema_dump(target) == schema_dump(source)
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))


def test_values_that_could_not_load_back_are_refused_in_one_line(
        postgres_database_factory: Callable[[], str], tmp_path: Path) -> None:
    source = _source(postgres_database_factory, REFUSED)
    out = tmp_path / "dump.sql"
    code, output = _dump(source, out)
    assert code == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    for named in ("refs.c holds 'public.v' (a view, created after the rows)",
                  "refs.c holds 'public.t_pkey' (an index, created after the rows)",
                  "refs.ty holds 'public.mv[]' (a materialized view's row type, created after the rows)",
                  "refs.p holds 'public.after_views()' (a function created after the rows)",
                  "refs.rp holds 'pg_catalog.abs' (an overloaded name",
                  "refs.o holds 'pg_catalog.+' (an overloaded name",
                  "(a TOAST table, which a copy does not have)",
                  "refs.cs holds 'public.mv' (a materialized view, created after the rows)"):
        assert named in lines[0], (named, lines[0])
    assert not out.exists()

    # What a filter or --exclude-table leaves out is not looked at: the rest loads and is the same.
    for options, expected in ((["--where", "refs=id = 0"], 1), (["--exclude-table", "refs"], 0)):
        code, output = _dump(source, out, *options)
        assert code == 0, output
        target = postgres_database_factory()
        _load(target, out)
        assert schema_dump(target) == schema_dump(source)
        with psycopg.connect(postgres_url_for(target)) as conn:
            assert conn.execute("SELECT count(*) FROM refs").fetchone() == (expected,)
