"""Schema scripts written by hand, as applications ship them (Debian's ZoneMinder, FreeRADIUS, Cacti), through
``synco db load``: another ``DELIMITER`` (``//``, ``$$``), and plain statements before a routine in what the
client sends as one multi-statement query. The copy holds what the mariadb client makes of the script."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_mysql_splitter import multi_statement_script
from test_mysql_support import load_with_client, query

from synco_core.cli.main import cli
from synco_core.testing.services import mysql_url_for

pytestmark = pytest.mark.mysql

TABLES = b"CREATE TABLE t (a INT);\nCREATE TABLE u (n INT, `k;` TEXT);\nINSERT INTO t VALUES (1);\n"


def objects(database: str) -> list[tuple[object, ...]]:
    return query(database, "SELECT 'trigger', TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS "
                           "WHERE TRIGGER_SCHEMA = %s UNION ALL SELECT 'routine', ROUTINE_NAME, ROUTINE_DEFINITION "
                           "FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s ORDER BY 1, 2",
                 (database, database))


@pytest.mark.parametrize("delimiter", [b"//", b"$$"])
def test_a_hand_written_script_loads_as_the_client_loads_it(delimiter: bytes, tmp_path: Path,
                                                            mysql_database_factory: Callable[[], str]) -> None:
    reference, target = mysql_database_factory(), mysql_database_factory()
    script = TABLES + multi_statement_script(delimiter)[0]
    load_with_client(reference, script)
    (tmp_path / "schema.sql").write_bytes(script)
    result = CliRunner().invoke(cli, ["db", "load", mysql_url_for(target), str(tmp_path / "schema.sql"), "--yes"])
    assert result.exit_code == 0, result.output
    assert objects(target) == objects(reference)
    assert [name for _, name, _ in objects(target)] == ["p", "t_upd"]
