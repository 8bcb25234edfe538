"""Third-party PostgreSQL extensions from Debian packages, as applications use them, through a synco dump
and load: ``pg_dump --schema-only`` cannot tell the copy from the source, the rows hash alike, and the
extension goes on working in the copy.

Each test needs its extension's Debian package on the server (``postgresql-15-<name>``); without it the
test is skipped, and fails under ``CI=true``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from test_postgres_fidelity import assert_same, dump, install, rows
from test_postgres_support import fingerprints

from synco_core.errors import DatabaseError
from synco_core.testing.services import postgres_url_for, unavailable
from synco_core.values import DumpOptions

pytestmark = pytest.mark.postgres


def create_extension(name: str, extension: str, package: str) -> psycopg.Connection[object]:
    conn = psycopg.connect(postgres_url_for(name), autocommit=True)
    if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (extension,)).fetchone() is None:
        conn.close()
        unavailable(f"the PostgreSQL extension {extension} is not installed on the server ({package})")
    conn.execute(f"CREATE EXTENSION {extension} CASCADE")
    return conn  # type: ignore[return-value]


def test_periods_system_versioned_tables_and_period_keys_round_trip(
        postgres_database_factory: Callable[[], str]) -> None:
    """periods keeps its periods, keys and system-versioned tables in configuration tables. Two of them
    name what only exists after the rows: ``system_versioning`` the ``*_with_history`` view (regclass) and
    the ``*__as_of`` functions returning its rows (regprocedure), ``for_portion_views`` a view. And its
    event triggers check every DDL statement against that configuration: a period foreign key whose
    triggers are not made yet stops the load at the next ``ALTER TABLE`` (so does ``pg_dump``'s script).
    Every kind of periods object is made here: application and system-time periods, unique and foreign
    period keys, a FOR PORTION OF view, system versioning with history rows."""
    source, target, plain = postgres_database_factory(), postgres_database_factory(), postgres_database_factory()
    with create_extension(source, "periods", "postgresql-15-periods") as conn:
        conn.execute("CREATE TABLE price (id int, price numeric, valid_from date, valid_to date)")
        conn.execute("SELECT periods.add_period('price', 'validity', 'valid_from', 'valid_to')")
        conn.execute("SELECT periods.add_unique_key('price', ARRAY['id'], 'validity')")
        conn.execute("INSERT INTO price VALUES (1, 10, '2024-01-01', '2024-06-01'), "
                     "(1, 12, '2024-06-01', '2025-01-01')")
        conn.execute("CREATE TABLE rate (id int PRIMARY KEY, r numeric, valid_from date, valid_to date)")
        conn.execute("SELECT periods.add_period('rate', 'validity', 'valid_from', 'valid_to')")
        conn.execute("SELECT periods.add_for_portion_view('rate', 'validity')")
        conn.execute("INSERT INTO rate VALUES (1, 1, '2024-01-01', '2025-01-01')")
        conn.execute("CREATE TABLE emp (id int PRIMARY KEY, name text, salary numeric)")
        conn.execute("SELECT periods.add_system_time_period('emp')")
        conn.execute("SELECT periods.add_system_versioning('emp')")
        conn.execute("INSERT INTO emp (id, name, salary) VALUES (1, 'Ann', 100), (2, 'Bob', 200)")
        conn.execute("UPDATE emp SET salary = 150 WHERE id = 1")
        conn.execute("DELETE FROM emp WHERE id = 2")
        conn.execute("CREATE TABLE assignment (id int, price_id int, valid_from date, valid_to date)")
        conn.execute("SELECT periods.add_period('assignment', 'validity', 'valid_from', 'valid_to')")
        conn.execute("SELECT periods.add_foreign_key('assignment', ARRAY['price_id'], 'validity', "
                     "'price_id_validity')")
        conn.execute("INSERT INTO assignment VALUES (1, 1, '2024-02-01', '2024-08-01')")
    # With the owners and privileges: periods revokes and grants on the view and functions it makes.
    data, result = dump(source, DumpOptions(owners=True))
    install(target, data, result)
    assert_same(source, target)
    # Without them (the default) the same rows load, the objects owned by the loading role.
    data, result = dump(source)
    install(plain, data, result)
    assert fingerprints(postgres_url_for(plain)) == fingerprints(postgres_url_for(source))
    configuration = ("SELECT (SELECT count(*) FROM periods.periods), (SELECT count(*) FROM periods.system_versioning),"
                     " (SELECT count(*) FROM periods.for_portion_views), (SELECT count(*) FROM periods.foreign_keys)")
    assert rows(target, configuration) == rows(source, configuration) == [(4, 1, 1, 1)]
    with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
        # System versioning goes on: the update writes a history row, and the as-of function reads it.
        conn.execute("UPDATE emp SET salary = 175 WHERE id = 1")
        assert conn.execute("SELECT count(*) FROM emp_history").fetchone() == (3,)
        assert conn.execute("SELECT salary FROM emp__as_of('-infinity') ").fetchall() == []
        # The period foreign key is enforced, and the extension knows the objects it made: dropping the
        # versioning drops the view and functions its configuration names.
        with pytest.raises(psycopg.Error, match="assignment_price_id_validity"):
            conn.execute("INSERT INTO assignment VALUES (2, 1, '2023-01-01', '2023-02-01')")
        assert conn.execute("SELECT periods.drop_system_versioning('emp', purge => true)").fetchone() == (True,)
        assert conn.execute("SELECT to_regclass('public.emp_with_history')").fetchone() == (None,)


# (extension, its Debian package, a statement of a hostile dump running code through it once created)
_UNTRUSTED = {
    "plr": ("postgresql-15-plr", "SELECT public.install_rcmd('file.create(\"{marker}\")');\n"),
    "plsh": ("postgresql-15-plsh", None),
}


@pytest.mark.parametrize("extension", sorted(_UNTRUSTED))
def test_extensions_of_untrusted_languages_are_refused_whatever_their_name(
        extension: str, postgres_database_factory: Callable[[], str], request: pytest.FixtureRequest) -> None:
    """The gate knew untrusted languages by their name (``pl...u``); PL/R's ``plr`` and ``plsh`` are
    untrusted too, and PL/R's ``install_rcmd(text)`` runs R code as the server: a hostile dump creating the
    extension and calling it wrote a file on the laptop through ``synco db load``. The loader now asks the
    server, after every statement that runs an extension's script, whether it made an untrusted language
    (its script is the server's own), and the dumper refuses such an extension by its language, in one
    line (``--skip-unsupported``: left out), so that no synco dump holds one."""
    package, hostile = _UNTRUSTED[extension]
    source, target = postgres_database_factory(), postgres_database_factory()
    with create_extension(source, extension, package) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(DatabaseError, match=rf"has objects a dump cannot carry: 1 extensions .*: {extension}; pass "
                                            "--skip-unsupported"):
        dump(source)
    data, result = dump(source, DumpOptions(skip_unsupported=True))
    assert f"EXTENSION IF NOT EXISTS {extension}".encode() not in data
    install(target, data, result)
    assert rows(target, "SELECT count(*) FROM t") == [(1,)]

    # The server runs as another user, who cannot enter pytest's folders (0700): a marker there could never
    # be written, and the checks below could not fail.
    folder = Path(tempfile.mkdtemp(prefix="synco-server-writes-here-"))
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    folder.chmod(0o777)
    marker = folder / "ran"
    using = hostile.format(marker=marker) if hostile else ""
    create = f"CREATE EXTENSION IF NOT EXISTS {extension} WITH SCHEMA public"
    # The statement put together at run time, where no text check sees it.
    built = create.replace("CREATE EXTENSION", "CREATE ' || 'EXTENSION")
    maker = f"CREATE FUNCTION public.make_it() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE '{built}'; END $$;\n"
    # Created by the statement itself, or by a routine a statement runs (then used by the next statement);
    # a DO block or routine seen creating it could use it within itself, and is refused before it runs.
    ways = {f"{create};\n{using}": "the statement at line 1 of the dump created the untrusted language",
            f"{maker}SELECT public.make_it();\n{using}": "the statement at line 2 of the dump created the untrusted "
                                                          "language",
            f"DO $$ BEGIN EXECUTE '{create}'; END $$;\n{using}": "at line 1 of the dump: a DO block creating an "
                                                               "extension",
            # Without a handler, CREATE LANGUAGE runs CREATE EXTENSION of that name, in a DO block too.
            f"CREATE OR REPLACE LANGUAGE {extension};\n{using}": "the statement at line 1 of the dump created the "
                                                                "untrusted language",
            f"DO $$ BEGIN EXECUTE 'CREATE LANGUAGE {extension}'; {using.replace('SELECT', 'PERFORM')} END $$;\n":
                "at line 1 of the dump: a DO block creating an extension",
            # A routine that creates it and uses it in one call, before the loader could look.
            "CREATE FUNCTION public.make_and_use() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
            f"EXECUTE '{create}'; {using.replace('SELECT', 'PERFORM')} END $$;\nSELECT public.make_and_use();\n":
                "at line 1 of the dump: a routine creating an extension"}
    before = fingerprints(postgres_url_for(target))
    for script, refusal in ways.items():
        with pytest.raises(DatabaseError, match=re.escape(refusal)):
            install(target, (script + "CREATE TABLE after_it (id int);\n").encode())
        assert not marker.exists()
        assert fingerprints(postgres_url_for(target)) == before
