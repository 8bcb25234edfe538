"""MariaDB's errors 1030 (ER_GET_ERRNO: the storage engine failed) and 1180 (ER_ERROR_DURING_COMMIT) reach the user
as one line naming what failed, the system's error and what it means on the server.

Before, their raw words were the whole message: ``install into 'app' on 127.0.0.1:3306 failed: (1180) Got error
1 "Operation not permitted" during COMMIT`` (a full tmpdir on the server, see test_install_server_disk_full),
``(1030) Got error 30 "Read-only file system" from storage engine InnoDB`` (a read-only data directory).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from click.testing import CliRunner

from synco_core.cli.main import cli
from synco_core.engines.mysql import swap
from synco_core.engines.mysql.connect import describe
from synco_core.testing.services import mysql_admin_connection, mysql_url_for

#: Errors of the system beneath the storage engine: with a known cause, and without (168: InnoDB's own).
ERRNOS = [(1, "Operation not permitted"), (5, "Input/output error"), (13, "Permission denied"),
          (28, "No space left on device"), (30, "Read-only file system"), (122, "Disk quota exceeded"),
          (168, "Unknown (generic) error from engine"), (-1, "Internal error")]


def _messages(code: int, errno: int, words: str) -> list[str]:
    """Every way MariaDB and MySQL word ``code``: with the system's words quoted, dashed, or none."""
    if code == 1180:
        return [f'Got error {errno} "{words}" during COMMIT', f"Got error {errno} - '{words}' during COMMIT",
                f"Got error {errno} during COMMIT"]
    return [f'Got error {errno} "{words}" from storage engine InnoDB',
            f'Got error {errno} "{words}" from storage engine',
            f"Got error {errno} - '{words}' from storage engine", f"Got error {errno} from storage engine Aria"]


@pytest.mark.parametrize("code", [1030, 1180])
@pytest.mark.parametrize(("errno", "words"), ERRNOS)
def test_a_storage_engine_failure_is_one_line_naming_what_failed(code: int, errno: int, words: str) -> None:
    for message in _messages(code, errno, words):
        line = describe(pymysql.err.OperationalError(code, message))
        assert "\n" not in line and "Got error" not in line, line
        assert line.startswith(f"({code}) ") and f"error {errno}" in line, line
        assert ("could not commit" in line) == (code == 1180) and "storage engine" in line, line
        if f"'{words}'" in message or f'"{words}"' in message:
            assert words in line, line
        if errno in (28, 30):
            assert ("full" if errno == 28 else "read-only") in line, line


@pytest.fixture
def live_database() -> Iterator[str]:
    name = f"synco_test_names_edge_{uuid.uuid4().hex[:10]}"
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"CREATE TABLE `{name}`.mine (id INT PRIMARY KEY, t TEXT)")
            cur.execute(f"INSERT INTO `{name}`.mine VALUES (1, 'local')")
    finally:
        conn.close()
    yield name
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            for (database,) in cur.fetchall():
                if database.startswith(name) or database.startswith(f"__synco_{name}") or name in database:
                    cur.execute(f"DROP DATABASE `{database}`")
    finally:
        conn.close()


@pytest.mark.parametrize("code", [1030, 1180])
def test_an_install_whose_commit_fails_says_so_in_one_line(code: int, live_database: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    message = ('Got error 1 "Operation not permitted" during COMMIT' if code == 1180
               else 'Got error 30 "Read-only file system" from storage engine InnoDB')

    def failing(*_: object, **__: object) -> None:
        raise pymysql.err.OperationalError(code, message)

    monkeypatch.setattr(swap, "install", failing)
    dump = tmp_path / "dump.sql"
    dump.write_text("CREATE TABLE mine (id INT PRIMARY KEY, t TEXT);\nINSERT INTO mine VALUES (2, 'remote');\n",
                    encoding="utf-8")
    outcome = CliRunner().invoke(cli, ["db", "load", mysql_url_for(live_database), str(dump), "--yes"])
    assert outcome.exit_code == 1, outcome.output
    lines = outcome.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), outcome.output
    assert "Got error" not in lines[0] and f"({code})" in lines[0], lines[0]
    assert ("could not commit" in lines[0]) if code == 1180 else ("read-only" in lines[0]), lines[0]
    conn = mysql_admin_connection(live_database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, t FROM mine")
            assert cur.fetchall() == ((1, "local"),)
    finally:
        conn.close()
