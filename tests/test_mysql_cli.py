"""``synco db dump`` / ``load`` / ``rollback`` with the MySQL engine, through the real CLI entry point,
and the engine's registration as the built-in plugin ``mysql``."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner
from test_mysql_support import (
    REMOTE_LOOKING_HOST,
    dump_bytes,
    error_line,
    kill_connections,
    load_with_client,
    query,
    snapshot,
    synco_process,
)

from synco_core.cli.main import cli
from synco_core.detection import detect
from synco_core.errors import ConfigError
from synco_core.install.plan import check_target
from synco_core.plugins import build_plugin_manager
from synco_core.testing.services import MYSQL_HOST, mysql_url_for, unavailable
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions

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


@pytest.mark.mysql
def test_local_hosts_from_synco_yml_and_force_remote_target(mysql_database_factory: Callable[[], str],
                                                            tmp_path: Path) -> None:
    if MYSQL_HOST != "127.0.0.1":
        unavailable("the remote-looking address stands for 127.0.0.1")
    source, target = mysql_database_factory(), mysql_database_factory()
    load_with_client(source, SOURCE)
    load_with_client(target, b"CREATE TABLE previous (a INT);")
    before = snapshot(target)
    dump = tmp_path / "dump.sql"
    dump.write_bytes(dump_bytes(source)[0])
    url = mysql_url_for(target).replace(f"@{MYSQL_HOST}:", f"@{REMOTE_LOOKING_HOST}:")
    project = tmp_path / "project"
    project.mkdir()

    refused = error_line(synco_process("db", "load", url, str(dump), "--yes", cwd=project))
    assert f"refusing to replace MySQL database {target!r} on {REMOTE_LOOKING_HOST}:" in refused
    assert snapshot(target) == before

    # --force-remote-target really lets it through: the load happens.
    forced = synco_process("db", "load", url, str(dump), "--yes", "--force-remote-target", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert query(target, "SELECT COUNT(*) FROM users") == [(2,)]

    # A host named in .synco.yml counts as this machine: rollback and load go ahead without the flag.
    (project / ".synco.yml").write_text(f"local_hosts: [{REMOTE_LOOKING_HOST}]\n")
    asked = error_line(synco_process("db", "rollback", url, cwd=project))
    assert f"not confirmed: there is no terminal to ask on; pass --yes to roll back MySQL database {target!r} on " \
           f"{REMOTE_LOOKING_HOST}:" in asked
    rolled = synco_process("db", "rollback", url, "--yes", cwd=project)
    assert rolled.returncode == 0, rolled.stderr
    assert snapshot(target) == before
    loaded = synco_process("db", "load", url, str(dump), "--yes", cwd=project)
    assert loaded.returncode == 0, loaded.stderr
    assert query(target, "SELECT COUNT(*) FROM users") == [(2,)]

    # synco install reads the same key through the detected project.
    (project / ".synco.yml").write_text(f"serve:\n  database: {url}\n")
    with pytest.raises(ConfigError, match="not on this machine"):
        check_target(detect(project))
    (project / ".synco.yml").write_text(f"serve:\n  database: {url}\nlocal_hosts: [{REMOTE_LOOKING_HOST}]\n")
    framework = detect(project)
    assert framework.settings["local_hosts"] == [REMOTE_LOOKING_HOST]
    check_target(framework)


@pytest.mark.mysql
def test_dump_routines_and_events_flags(mysql_url: str, tmp_path: Path) -> None:
    name = mysql_url.rsplit("/", 1)[1]
    load_with_client(name, b"""
CREATE TABLE t (a INT);
CREATE FUNCTION `twice`(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
CREATE EVENT `nightly` ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM t;
""")
    runner = CliRunner()
    plain, full, bare = tmp_path / "plain.sql", tmp_path / "full.sql", tmp_path / "bare.sql"
    assert runner.invoke(cli, ["db", "dump", mysql_url, "-o", str(plain)]).exit_code == 0
    result = runner.invoke(cli, ["db", "dump", mysql_url, "-o", str(full), "--routines", "--events"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["db", "dump", mysql_url, "-o", str(bare), "--no-routines"]).exit_code == 0
    # Routines by default, events on request (a copy would run them), neither with --no-routines.
    assert b"CREATE FUNCTION `twice`" in plain.read_bytes() and b"nightly" not in plain.read_bytes()
    assert b"CREATE FUNCTION `twice`" in full.read_bytes() and b"CREATE EVENT `nightly`" in full.read_bytes()
    assert b"twice" not in bare.read_bytes() and b"nightly" not in bare.read_bytes()


@pytest.mark.mysql
def test_dump_to_a_file_leaves_nothing_when_the_server_goes_away(mysql_url: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from synco_core.cli import db_cmd

    name = mysql_url.rsplit("/", 1)[1]
    load_with_client(name, b"CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(200));\n"
                           b"INSERT INTO big SELECT seq, REPEAT('x', 200) FROM seq_1_to_100000;")

    class Killing:
        """Passes writes on to the real output file, and kills the dump's connection after 1 MB."""

        def __init__(self, out: Any) -> None:
            self.out, self.size = out, 0

        def write(self, data: bytes) -> int:
            self.size += len(data)
            if self.size > 1_000_000 and self.size - len(data) <= 1_000_000:
                kill_connections(name)
            return int(self.out.write(data))

        def __getattr__(self, attribute: str) -> Any:
            return getattr(self.out, attribute)

    real = db_cmd.dump_with_engine
    monkeypatch.setattr(db_cmd, "dump_with_engine",
                        lambda database, out, options: real(database, Killing(out), options))
    target = tmp_path / "out" / "dump.sql"
    target.parent.mkdir()
    result = CliRunner().invoke(cli, ["db", "dump", mysql_url, "-o", str(target)])
    assert result.exit_code == 1 and f"dump of '{name}'" in result.output, result.output
    assert list(target.parent.iterdir()) == []  # neither dump.sql nor dump.sql.part
