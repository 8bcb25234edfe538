"""Schema scripts written by hand, as applications ship them (Debian's ZoneMinder, FreeRADIUS, Cacti), through
``synco db load``: another ``DELIMITER`` (``//``, ``$$``), and plain statements before a routine in what the
client sends as one multi-statement query. The copy holds what the mariadb client makes of the script."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_mysql_splitter import multi_statement_script, split
from test_mysql_support import dump_bytes, install_bytes, load_with_client, query, snapshot

from synco_core.cli.main import cli
from synco_core.testing.services import mysql_url_for
from synco_core.values import DumpOptions

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


#: Comments inside routine bodies, as ulogd2's mysql-ulogd2-flat.sql has them (``\t-- IPv4 address in IPv6
#: form`` on a line of its own), and every other place a comment may take in a body: the server stores the
#: body as the client sent it, comments removed.
COMMENTED_BODIES = (
    b"DELIMITER $$\n"
    b"CREATE FUNCTION f(_in INT) RETURNS INT DETERMINISTIC\nBEGIN\n"
    b"\t-- a comment on a line of its own\n"
    b"\tIF _in > 0 THEN -- after code\n"
    b"\t\tRETURN _in/* glued */+1;\n"
    b"\tEND IF; # a hash comment\n"
    b"\tRETURN 2 /* spaced */ - 1 /* ends the line */\n"
    b"\t/* spans\n\t   lines */ ;\n"
    b"END$$\n"
    b"CREATE PROCEDURE p() BEGIN/* a *//* b */SELECT 1;/* c */-- d\nSELECT 2; END$$\n"
    b"DELIMITER ;\n"
    b"CREATE TRIGGER t_ins BEFORE INSERT ON t FOR EACH ROW -- why\n"
    b"SET NEW.a = NEW.a /* twice */ * 2;\n"
)


def test_comments_inside_routine_bodies_are_removed_as_the_client_removes_them(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """The client drops a ``--`` or ``#`` comment and keeps the line break after it, and drops a ``/* */``
    comment, putting a space in its place only where a letter would otherwise follow it at once. The loader put
    a space for every comment, so a routine's stored text differed from the client's by blanks (``SHOW CREATE
    FUNCTION``, a later dump of the copy)."""
    reference, target = mysql_database_factory(), mysql_database_factory()
    script = TABLES + COMMENTED_BODIES
    load_with_client(reference, script)
    (tmp_path / "schema.sql").write_bytes(script)
    result = CliRunner().invoke(cli, ["db", "load", mysql_url_for(target), str(tmp_path / "schema.sql"), "--yes"])
    assert result.exit_code == 0, result.output
    assert objects(target) == objects(reference)
    assert [name for _, name, _ in objects(target)] == ["f", "p", "t_ins"]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 8])
def test_comments_are_removed_alike_wherever_the_reads_cut_the_script(chunk_size: int) -> None:
    """Whether a space takes a comment's place depends on the bytes after it, which a read may not hold yet."""
    assert split(COMMENTED_BODIES, chunk_size) == split(COMMENTED_BODIES)
    assert split(COMMENTED_BODIES)[0].endswith(b"BEGIN\n\t\n\tIF _in > 0 THEN \n\t\tRETURN _in +1;\n\tEND IF; \n"
                                                b"\tRETURN 2  - 1 \n\t ;\nEND")


def test_comments_in_a_routine_made_by_an_application_survive_a_synco_dump(
        mysql_database_factory: Callable[[], str]) -> None:
    """A routine an application made through its connector keeps its comments in its stored body (only the
    mariadb client strips them). synco's own dump carries the body as SHOW CREATE gives it, and its load sent
    it through the client's comment stripping: the copy's routines, triggers and events lost their comments."""
    source, target = mysql_database_factory(), mysql_database_factory()
    for statement in (
            "CREATE TABLE t (a INT)",
            "CREATE PROCEDURE p() BEGIN\n  -- why this is done\n  SELECT 1 /* the one */; # done\nEND",
            "CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1/* glued */+1",
            "CREATE TRIGGER t_ins BEFORE INSERT ON t FOR EACH ROW -- doubled\nSET NEW.a = NEW.a * 2",
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO /* nightly */ DELETE FROM t WHERE a < 0"):
        query(source, statement)
    data, _ = dump_bytes(source, DumpOptions(events=True))
    install_bytes(target, data)
    assert snapshot(target) == snapshot(source)
    assert b"-- why this is done" in query(target, "SHOW CREATE PROCEDURE p")[0][2].encode()


def test_a_routine_past_the_spool_bound_after_plain_statements_loads_as_the_client_loads_it(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """A delimited text longer than 4 MiB (a procedure with a big literal, after ``DROP PROCEDURE IF EXISTS``
    in the same text) went to the spool whole: the loader sent the DROP and the CREATE as one statement, which
    the server refused."""
    reference, target = mysql_database_factory(), mysql_database_factory()
    value = b"0123456789" * 700_000
    script = (TABLES + b"DELIMITER ;;\nDROP PROCEDURE IF EXISTS p; DROP TRIGGER IF EXISTS t_ins;\n"
              b"CREATE PROCEDURE p() BEGIN SELECT '" + value + b"'; -- why ;;\n SELECT ';;'; END ;;\n"
              b"CREATE TRIGGER t_ins BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;;\nDELIMITER ;\n")
    load_with_client(reference, script)
    (tmp_path / "schema.sql").write_bytes(script)
    result = CliRunner().invoke(cli, ["db", "load", mysql_url_for(target), str(tmp_path / "schema.sql"), "--yes"])
    assert result.exit_code == 0, result.output
    assert objects(target) == objects(reference)
    assert [name for _, name, _ in objects(target)] == ["p", "t_ins"]
