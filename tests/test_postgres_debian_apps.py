"""A real application's PostgreSQL schema from Debian's packages (tests/data/davical, see its SOURCE.md),
installed as the application installs it (psql, file by file), through ``synco db dump`` and ``synco db load``:
``pg_dump --schema-only`` cannot tell the copy from the source, every table and sequence checksums the same,
and the copy behaves as the source: DAViCal's ``dav_principal`` view takes writes through its rules of
several actions each (``DO INSTEAD ( INSERT ...; INSERT ...; )``). The loader took the first ``;`` inside
those parentheses for the end of the statement, and the dump failed to load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from test_postgres_support import cli_round_trip, fingerprints, psql_load, schema_dump, sequences

from synco_core.testing.services import postgres_url_for

pytestmark = pytest.mark.postgres

DAVICAL = Path(__file__).parent / "data" / "davical"
#: The order DAViCal's create-database.sh and update-davical-database load them in.
DAVICAL_FILES = ["awl-tables.sql", "schema-management.sql", "davical.sql", "supported_locales.sql",
                 "caldav_functions.sql", "rrule_functions.sql", "dav_principal.sql", "base-data.sql"]


def load_davical(name: str) -> None:
    for file in DAVICAL_FILES:
        result = psql_load(name, DAVICAL / file)
        assert result.returncode == 0, f"{file}: {result.stderr}"


def run(name: str, *statements: str) -> list[tuple[object, ...]]:
    """The statements in one transaction, rolled back; the rows of the last one."""
    with psycopg.connect(postgres_url_for(name)) as conn:
        rows: list[tuple[object, ...]] = []
        for statement in statements:
            cursor = conn.execute(statement)
            rows = cursor.fetchall() if cursor.description else []
        conn.rollback()
    return rows


WRITES_THROUGH_THE_VIEW = (
    "INSERT INTO dav_principal (username, password, fullname, email, type_id, displayname) "
    "VALUES ('ann', '**x', 'Ann Ü', 'ann@example.com', 1, 'Ann')",
    "UPDATE dav_principal SET fullname = 'Ann B', displayname = 'Ann (B); x' WHERE username = 'ann'",
    "INSERT INTO dav_principal (username, password, fullname, email, type_id) "
    "VALUES ('bob', '**y', 'Bob', 'bob@example.com', 2)",
    "DELETE FROM dav_principal WHERE username = 'bob'",
    "SELECT u.username, u.fullname, p.displayname, u.user_no = p.user_no FROM usr u "
    "JOIN principal p USING (user_no) ORDER BY 1",
)


def test_davical_round_trips_and_its_rules_still_write(postgres_database_factory: Callable[[], str],
                                                       tmp_path: Path, plugin_manager: object) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    load_davical(source)
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute(WRITES_THROUGH_THE_VIEW[0])  # rows made by the rules, kept in the source
    assert "Dumped 34 tables" in cli_round_trip(source, target, tmp_path / "davical.sql")
    assert schema_dump(target) == schema_dump(source)
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert sequences(postgres_url_for(target)) == sequences(postgres_url_for(source))
    expected = [("admin", "DAViCal Administrator", "DAViCal Administrator", True), ("ann", "Ann B", "Ann (B); x", True)]
    assert run(source, *WRITES_THROUGH_THE_VIEW[1:]) == expected
    assert run(target, *WRITES_THROUGH_THE_VIEW[1:]) == expected


@pytest.mark.parametrize("command", [b"\\echo NOTE: Creating prerequisites", b"\\i sql/modules/Blacklisted.sql.inc",
                                     b"\\ir other.sql"])
def test_a_script_for_psql_alone_is_refused_in_one_line(command: bytes, postgres_database_factory: Callable[[], str],
                                                        tmp_path: Path) -> None:
    """Bucardo's schema (``\\echo``) and LedgerSMB's modules (``\\i``) are written for psql: the load names the
    meta-command and its line, and leaves the target as it was."""
    from click.testing import CliRunner

    from synco_core.cli.main import cli

    target = postgres_database_factory()
    with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int)")
    (tmp_path / "schema.sql").write_bytes(b"CREATE TABLE t (id int);\n" + command + b"\nCREATE TABLE u (id int);\n")
    result = CliRunner().invoke(cli, ["db", "load", postgres_url_for(target), str(tmp_path / "schema.sql"), "--yes"])
    assert result.exit_code == 1
    name = command.split()[0].decode()
    assert result.output.strip().splitlines() == [
        f"Error: the dump uses the psql meta-command {name} (line 2), which synco's loader does not support"]
    assert run(target, "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'") == [("kept",)]
