"""A routine, trigger or event is stored with the sql_mode of the session that created it: loaded from a script
with ``synco db load``, it gets the one the mariadb client gives it (the server's default, or the script's own
``SET sql_mode``), never the loader's; and an event the time zone it gives it (the server's, or the script's).

Before, the loader's session mode (``NO_AUTO_VALUE_ON_ZERO``, set for the rows of a script without a dump's
header) was stored with every routine, trigger and event of a hand-written script, whose behaviour then
differed from production's (no ``STRICT_TRANS_TABLES`` in a function's INSERT, ``||`` read otherwise), and
every event got the loader's time zone ``+00:00`` instead of the server's (``SYSTEM``). The
test loads each script with the client and with synco and compares what the server stored for each object.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_mysql_support import load_with_client, query

from synco_core.cli.main import cli
from synco_core.testing.services import mysql_url_for

pytestmark = pytest.mark.mysql


OBJECTS = (b"CREATE TABLE t (a INT);\n"
           b"DELIMITER //\n"
           b"CREATE PROCEDURE p() BEGIN INSERT INTO t VALUES (1); END //\n"
           b"CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC RETURN x + 1 //\n"
           b"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = NEW.a + 1 //\n"
           b"CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM t //\n"
           b"DELIMITER ;\n")

#: What the script sets before its objects: nothing (the server's default), a mode of its own, the loader's own
#: mode written by the script (which it must keep), and one set again between two objects.
PREAMBLES = {
    "none": b"",
    "its own": b"SET sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT';\n",
    "the loader's": b"SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';\n",
    "a dump header": b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n",
    "empty": b"SET @@session.sql_mode = '';\n",
    "a time zone": b"SET time_zone = '+05:00';\n",
    "both": b"SET sql_mode = 'ANSI', time_zone = '-03:00';\n",
}


def stored_modes(database: str) -> list[tuple[object, ...]]:
    """What the server stored with each object: its sql_mode, an event's time zone, the character set and
    collation of the session."""
    return query(database, "SELECT 'routine', ROUTINE_NAME, SQL_MODE, '', CHARACTER_SET_CLIENT, "
                           "COLLATION_CONNECTION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s "
                           "UNION ALL SELECT 'trigger', TRIGGER_NAME, SQL_MODE, '', CHARACTER_SET_CLIENT, "
                           "COLLATION_CONNECTION FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s "
                           "UNION ALL SELECT 'event', EVENT_NAME, SQL_MODE, TIME_ZONE, CHARACTER_SET_CLIENT, "
                           "COLLATION_CONNECTION FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s "
                           "ORDER BY 1, 2", (database, database, database))


@pytest.mark.parametrize("preamble", list(PREAMBLES))
def test_objects_of_a_script_are_stored_with_the_sql_mode_the_client_gives_them(
        preamble: str, tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    reference, target = mysql_database_factory(), mysql_database_factory()
    script = PREAMBLES[preamble] + OBJECTS
    load_with_client(reference, script)
    (tmp_path / "schema.sql").write_bytes(script)
    result = CliRunner().invoke(cli, ["db", "load", mysql_url_for(target), str(tmp_path / "schema.sql"), "--yes"])
    assert result.exit_code == 0, result.output
    expected = stored_modes(reference)
    assert len(expected) == 4
    assert stored_modes(target) == expected


def test_a_mode_set_between_two_objects_is_the_second_ones(tmp_path: Path,
                                                           mysql_database_factory: Callable[[], str]) -> None:
    reference, target = mysql_database_factory(), mysql_database_factory()
    script = OBJECTS.replace(b"CREATE TRIGGER", b"SET sql_mode = 'ANSI', time_zone = '+02:00' //\nCREATE TRIGGER")
    load_with_client(reference, script)
    (tmp_path / "schema.sql").write_bytes(script)
    result = CliRunner().invoke(cli, ["db", "load", mysql_url_for(target), str(tmp_path / "schema.sql"), "--yes"])
    assert result.exit_code == 0, result.output
    assert stored_modes(target) == stored_modes(reference)
