"""Extensions on a laptop's PostgreSQL that has other versions of them than production, or none.

Production keeps the version an extension was created at until someone runs ``ALTER EXTENSION ... UPDATE``
(``hstore`` 1.4 on a database made years ago); the laptop's packages give other defaults, other releases
(PostGIS 3.3 against production's 3.4), or no such extension at all. The copy must have production's
version where the laptop has it, say so where it does not, and refuse in one line, the local database
untouched, when the extension is missing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import psycopg
import pytest
from test_postgres_fidelity import dump, install, rows

from synco_core.errors import DatabaseError
from synco_core.testing.services import postgres_url_for, unavailable

pytestmark = pytest.mark.postgres

#: Extensions created at versions older than the server's defaults (hstore 1.8, citext 1.6) in two schemas, and
#: one whose name needs quoting, each used by a table.
OLD_VERSIONS = """
CREATE EXTENSION hstore VERSION '1.4';
CREATE EXTENSION "uuid-ossp";
CREATE SCHEMA ext;
CREATE EXTENSION citext WITH SCHEMA ext VERSION '1.4';
CREATE TABLE t (id int PRIMARY KEY, h hstore, u uuid DEFAULT uuid_generate_v4(), c ext.citext);
INSERT INTO t VALUES (1, 'a=>1', '00000000-0000-0000-0000-000000000001', 'Ana');
"""

VERSIONS = "SELECT extname, extversion FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql' ORDER BY 1"


def _available(version: str, extension: str) -> None:
    with psycopg.connect(postgres_url_for("postgres")) as conn:
        if conn.execute("SELECT 1 FROM pg_catalog.pg_available_extension_versions WHERE name = %s AND version = %s",
                        (extension, version)).fetchone() is None:
            unavailable(f"this server has no {extension} {version} (PostgreSQL 15's contrib has)")


@pytest.fixture
def production(postgres_database_factory: Callable[[], str]) -> tuple[str, bytes]:
    for extension, version in (("hstore", "1.4"), ("citext", "1.4")):
        _available(version, extension)
    source = postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute(OLD_VERSIONS)
    data, _ = dump(source)
    return source, data


def test_the_copy_gets_productions_versions(production: tuple[str, bytes],
                                            postgres_database_factory: Callable[[], str]) -> None:
    """The dump wrote ``CREATE EXTENSION`` without a version, so the copy got the laptop's default (hstore 1.8
    for production's 1.4, with the operators and functions 1.8 has): the copy now has production's."""
    source, data = production
    target = postgres_database_factory()
    install(target, data)
    assert rows(target, VERSIONS) == rows(source, VERSIONS) == [("citext", "1.4"), ("hstore", "1.4"),
                                                                 ("uuid-ossp", "1.1")]
    assert rows(target, "SELECT h -> 'a', c::text FROM t") == [("1", "Ana")]


def test_a_version_the_laptop_lacks_gets_its_own_with_a_warning(
        production: tuple[str, bytes], postgres_database_factory: Callable[[], str],
        caplog: pytest.LogCaptureFixture) -> None:
    """Production's release is not on the laptop (another PostGIS): the install goes on with the laptop's
    default version, and says so naming both, instead of failing on a version it could not have."""
    _, data = production
    target = postgres_database_factory()
    with caplog.at_level(logging.WARNING):
        install(target, data.replace(b"EXTENSION IF NOT EXISTS hstore WITH SCHEMA public VERSION '1.4'",
                                     b"EXTENSION IF NOT EXISTS hstore WITH SCHEMA public VERSION '9.9'"))
    default = rows("postgres", "SELECT default_version FROM pg_available_extensions WHERE name = 'hstore'")[0][0]
    assert ("hstore", default) in rows(target, VERSIONS)
    assert [record.getMessage() for record in caplog.records if "hstore" in record.getMessage()] == [
        f"extension hstore: production runs version 9.9, which this PostgreSQL server does not have; the copy gets "
        f"version {default}, whose objects may differ (install version 9.9 where the server runs to have "
        "production's)"]


@pytest.mark.parametrize("statement", [
    b"CREATE EXTENSION IF NOT EXISTS synco_no_such_extension WITH SCHEMA public VERSION '3.4.2'",
    # As synco's dumps wrote it before they named the version, and a name that needs quoting.
    b'CREATE EXTENSION IF NOT EXISTS "synco no-such" WITH SCHEMA public',
])
def test_an_extension_the_laptop_lacks_is_named_and_nothing_changes(
        production: tuple[str, bytes], postgres_database_factory: Callable[[], str], statement: bytes) -> None:
    """PostGIS not installed on the laptop: the install stopped on the server's 'extension "postgis" is not
    available' (its hint, on another line, lost). Now one line names the extension and what to do; the
    local database keeps its content."""
    _, data = production
    target = postgres_database_factory()
    with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
        conn.execute("CREATE TABLE mine (x int); INSERT INTO mine VALUES (7)")
    broken = re.sub(rb"CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public[^;]*", statement, data)
    assert broken != data
    name = "synco_no_such_extension" if b"VERSION" in statement else "synco no-such"
    version = " (production runs version 3.4.2)" if b"VERSION" in statement else ""
    with pytest.raises(DatabaseError, match=rf"^the dump needs the extension {re.escape(name + version)}, "
                                            r"which this PostgreSQL server does not have: install it on the machine "
                                            r"the server runs on .* then install again; the local database was not "
                                            r"changed$"):
        install(target, broken)
    assert rows(target, "SELECT x FROM mine") == [(7,)]
