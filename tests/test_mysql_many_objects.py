"""MySQL/MariaDB databases of many objects: messages name a few of them, never all on one line.

A Magento database holds hundreds of triggers and an ERP thousands of routines; a warning or refusal that
joined every name made one line of thousands. Each names the first twenty and counts the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from test_mysql_privileges import _admin, binlog_server  # noqa: F401 (the private MariaDB writing a binary log)
from test_mysql_support import dump_bytes, load_with_client

from synco_core.engines.mysql.preflight import check as check_install_target
from synco_core.errors import DatabaseError
from synco_core.values import DatabaseConfig, DumpOptions

pytestmark = pytest.mark.mysql

OBJECTS = 45


def test_routines_and_events_left_out_are_counted_past_twenty(
        mysql_url: str, caplog: pytest.LogCaptureFixture) -> None:
    name = mysql_url.rsplit("/", 1)[1]
    script = ["CREATE TABLE t (a INT);"]
    script += [f"CREATE PROCEDURE p_{i:02}() SELECT {i};" for i in range(OBJECTS)]
    script += [f"CREATE EVENT e_{i:02} ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM t;" for i in range(OBJECTS)]
    load_with_client(name, "\n".join(script).encode())
    with caplog.at_level("WARNING"):
        dump_bytes(name, DumpOptions(routines=False))
    [line] = [record.getMessage() for record in caplog.records if "left out of the dump" in record.getMessage()]
    assert "\n" not in line
    named = ", ".join(f"p_{i:02}" for i in range(20))
    assert f"routines {named} (and {OBJECTS - 20} more) (--no-routines)" in line
    assert f"events {named.replace('p_', 'e_')} (and {OBJECTS - 20} more) (--events dumps them)" in line
    assert "p_20" not in line and "e_20" not in line


def test_a_refusal_naming_the_targets_triggers_counts_past_twenty(
        binlog_server: DatabaseConfig, mysql_database_factory: Callable[[], str]) -> None:  # noqa: F811
    """The binary log refusal (tests/test_mysql_privileges.py) of a target with many triggers."""
    _admin(binlog_server, "CREATE DATABASE many", "CREATE TABLE many.t (a INT)",
           *(f"CREATE TRIGGER many.stamp_{i:02} BEFORE INSERT ON many.t FOR EACH ROW SET NEW.a = NEW.a"
             for i in range(OBJECTS)),
           "CREATE USER 'many'@'localhost' IDENTIFIED BY 'many'", "GRANT ALL ON many.* TO 'many'@'localhost'",
           "GRANT ALL ON `many\\_\\_synco\\_%`.* TO 'many'@'localhost'")
    user = dataclasses.replace(binlog_server, name="many", user="many", password="many")
    with pytest.raises(DatabaseError) as refused:
        check_install_target(user)
    message = str(refused.value)
    named = ", ".join(f"trigger stamp_{i:02}" for i in range(20))
    assert message.startswith(f"database 'many' holds {named} (and {OBJECTS - 20} more), and the server writes")
    assert "stamp_20" not in message
