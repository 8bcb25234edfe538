"""Session statements of a hand-written or mariadb-dump script (``SET sql_mode``, ``SET time_zone``, ``SET
FOREIGN_KEY_CHECKS``, the character set, ``DELIMITER``, ``/*!...*/`` conditional comments) are honoured wherever
they are in the script, whatever the sizes of the statements around them: a statement longer than the spool
bound (4 MiB without a size hint) is one like any other. The copy must hold what the mariadb client makes of
the same script."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_mysql_support import load_with_client, query, snapshot

from synco_core.cli.main import cli
from synco_core.engines.mysql.splitter import BIG_STATEMENT
from synco_core.testing.services import mysql_database, mysql_url_for

pytestmark = pytest.mark.mysql

#: Twice the spool bound: a statement holding it goes to the spool as it is read, however the reads fall.
BIG = b"x" * (2 * BIG_STATEMENT)

TABLES = (b"CREATE TABLE s (n INT AUTO_INCREMENT PRIMARY KEY, v TEXT) CHARACTER SET utf8mb4;\n"
          b"CREATE TABLE b (v LONGTEXT);\n"
          b"CREATE TABLE ts (c TIMESTAMP NULL);\n"
          b"CREATE TABLE parent (id INT PRIMARY KEY) ENGINE=InnoDB;\n"
          b"CREATE TABLE child (p INT, FOREIGN KEY (p) REFERENCES parent (id)) ENGINE=InnoDB;\n")

#: Under NO_BACKSLASH_ESCAPES ``'a\'`` is a whole string and ``;`` in ``'b;c'`` ends nothing; read with
#: backslash escapes, the string runs on and the script is cut at that ``;``.
RAW_STRINGS = b"INSERT INTO s (v) VALUES ('a\\'), ('b;c');\n"
#: The same text read the other way: with backslash escapes ``'c\';d'`` is one string; without, it ends at ``\'``.
ESCAPED_STRINGS = b"INSERT INTO s (v) VALUES ('c\\';d');\n"
BIG_INSERT = b"INSERT INTO b VALUES ('" + BIG + b"');\n"

CASES: dict[str, bytes] = {
    "sql_mode in a spooled SET, first": b"SET sql_mode = 'NO_BACKSLASH_ESCAPES', @big = '" + BIG + b"';\n"
                                        + RAW_STRINGS,
    "sql_mode in a spooled SET, last": b"SET @big = '" + BIG + b"', sql_mode = 'NO_BACKSLASH_ESCAPES';\n"
                                       + RAW_STRINGS,
    "sql_mode in a spooled conditional comment": b"/*!40101 SET @big = '" + BIG + b"', "
                                                 b"SQL_MODE = 'NO_BACKSLASH_ESCAPES' */;\n" + RAW_STRINGS,
    "sql_mode restored by a spooled SET": b"SET @old = @@sql_mode, sql_mode = 'NO_BACKSLASH_ESCAPES';\n"
                                          + RAW_STRINGS + b"SET @big = '" + BIG + b"', sql_mode = @old;\n"
                                          + ESCAPED_STRINGS,
    "sql_mode set by an expression": b"SET sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES');\n"
                                     + RAW_STRINGS,
    "sql_mode set by an expression, spooled": b"SET @big = '" + BIG + b"', sql_mode = "
                                              b"CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES');\n" + RAW_STRINGS,
    "sql_mode after a spooled INSERT": BIG_INSERT + b"SET sql_mode = 'NO_BACKSLASH_ESCAPES';\n" + RAW_STRINGS,
    "time_zone in a spooled SET": b"SET @big = '" + BIG + b"', time_zone = '+05:00';\n"
                                  b"INSERT INTO ts VALUES ('2020-01-01 00:00:00');\n",
    "FOREIGN_KEY_CHECKS in a spooled SET": b"SET @big = '" + BIG + b"', FOREIGN_KEY_CHECKS = 0;\n"
                                           b"INSERT INTO child VALUES (7);\n",
    "character set in a spooled SET": b"SET @big = '" + BIG + b"', character_set_client = latin1;\n"
                                      b"INSERT INTO s (v) VALUES ('caf\xe9');\n",
    "DELIMITER after a spooled INSERT": BIG_INSERT + b"DELIMITER //\n"
                                        b"CREATE PROCEDURE p() BEGIN SELECT 'a;b'; END//\nDELIMITER ;\n",
}

HEADERS = {"script": b"", "mariadb-dump": b"-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n"}


def rows(database: str) -> list[object]:
    return [query(database, "SELECT n, HEX(v) FROM s ORDER BY n"), query(database, "SELECT LENGTH(v) FROM b"),
            query(database, "SELECT UNIX_TIMESTAMP(c) FROM ts"), query(database, "SELECT p FROM child")]


@pytest.fixture(scope="module")
def client_copies() -> Iterator[Callable[[str], tuple[list[object], dict[str, Any]]]]:
    """What the mariadb client makes of a case's script: its rows and snapshot, loaded once for the module.
    A header is a comment line to the client, so both headers' scripts load alike there; it is synco that
    reads a mariadb-dump header as more than a comment."""
    made: dict[str, tuple[list[object], dict[str, Any]]] = {}
    with contextlib.ExitStack() as stack:
        def copy(case: str) -> tuple[list[object], dict[str, Any]]:
            if case not in made:
                reference = stack.enter_context(mysql_database())
                load_with_client(reference, TABLES + CASES[case] + b"INSERT INTO parent VALUES (1);\n")
                made[case] = rows(reference), snapshot(reference)
            return made[case]

        yield copy


@pytest.mark.parametrize("header", list(HEADERS))
@pytest.mark.parametrize("case", list(CASES))
def test_a_session_statement_is_honoured_whatever_the_sizes_around_it(
        case: str, header: str, tmp_path: Path, mysql_database_factory: Callable[[], str],
        client_copies: Callable[[str], tuple[list[object], dict[str, Any]]]) -> None:
    target = mysql_database_factory()
    script = HEADERS[header] + TABLES + CASES[case] + b"INSERT INTO parent VALUES (1);\n"
    expected, reference = client_copies(case)
    # Each case leaves a mark the client's reading of the script decides.
    assert any(expected[index] for index in (0, 2, 3)) or "DELIMITER" in case
    (tmp_path / "script.sql").write_bytes(script)
    result = CliRunner().invoke(cli, ["db", "load", mysql_url_for(target), str(tmp_path / "script.sql"), "--yes"])
    assert result.exit_code == 0, result.output
    assert rows(target) == expected
    assert snapshot(target) == reference
