"""``synco db dump`` / ``load`` / ``rollback`` with the MySQL engine, through the real CLI entry point,
and the engine's registration as the built-in plugin ``mysql``."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner
from test_mysql_support import load_with_client, query, snapshot

from synco_core.cli.main import cli
from synco_core.plugins import build_plugin_manager
from synco_core.testing import mysql_url_for
from synco_core.types import DatabaseConfig, DumpOptions, InstallOptions

SOURCE = b"""
CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100), note TEXT);
INSERT INTO users VALUES (1, 'a@real.example', 'x;y'), (2, 'b@real.example', NULL);
CREATE TABLE logs (id INT PRIMARY KEY, msg VARCHAR(20));
INSERT INTO logs VALUES (1, 'noise');
"""


def test_registered_as_builtin_plugin() -> None:
    manager = build_plugin_manager(load_entrypoints=False)
    info = manager.infos["mysql"]
    assert info.builtin and info.module == "synco_core.engines.mysql"
    assert {"dump_database", "install_database", "rollback_database", "inspect_database"} <= set(info.hooks)
    other = DatabaseConfig(engine="postgresql", name="x")
    from synco_core.engines import mysql

    assert mysql.dump_database(other, io.BytesIO(), DumpOptions()) is None
    assert mysql.install_database(other, io.BytesIO(), InstallOptions()) is None
    assert mysql.rollback_database(other, InstallOptions()) is None
    assert mysql.inspect_database(other) is None


@pytest.mark.mysql
def test_dump_load_rollback_commands(mysql_database_factory: Callable[[], str], tmp_path: Path,
                                     plugin_manager: object) -> None:
    source = mysql_database_factory()
    load_with_client(source, SOURCE)
    target = mysql_database_factory()
    load_with_client(target, b"CREATE TABLE previous (a INT);")
    before = snapshot(target)
    runner = CliRunner()
    out = tmp_path / "dump.sql"
    result = runner.invoke(cli, ["db", "dump", mysql_url_for(source).replace("mysql://", "mariadb://"), "-o", str(out),
                                 "--exclude-table", "logs", "--where", "users=id < 10",
                                 "--sanitize", "users.email=CONCAT('user', id, '@example.invalid')"])
    assert result.exit_code == 0, result.output
    assert "Dumped 2 tables, 2 rows" in result.output
    data = out.read_bytes()
    assert b"real.example" not in data and b"noise" not in data

    # Compressed dumps are read as they are.
    compressed = tmp_path / "dump.sql.zst"
    compressed.write_bytes(zstandard.ZstdCompressor().compress(data))
    result = runner.invoke(cli, ["db", "load", mysql_url_for(target), str(compressed)])
    assert result.exit_code == 1 and "not confirmed" in result.output and "--yes" in result.output
    assert snapshot(target) == before

    result = runner.invoke(cli, ["db", "load", mysql_url_for(target), str(compressed), "--yes"])
    assert result.exit_code == 0, result.output
    assert "Loaded 2 tables, 2 rows" in result.output and "__synco_prev" in result.output
    assert query(target, "SELECT email FROM users ORDER BY id") == [("user1@example.invalid",),
                                                                  ("user2@example.invalid",)]

    result = runner.invoke(cli, ["db", "rollback", mysql_url_for(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert snapshot(target) == before


@pytest.mark.mysql
def test_cli_errors_are_one_line(mysql_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.sql"
    bad.write_bytes(b"CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1, 'unterminated")
    # A real process, so that what the user sees on stderr is what is checked.
    argv = [sys.executable, "-c", "from synco_core.cli.main import main; main()", "db", "load", mysql_url, str(bad),
            "--yes"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "truncated" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    name = mysql_url.rsplit("/", 1)[1]
    assert name + "__synco_new" not in {row[0] for row in query(name, "SHOW DATABASES")}
