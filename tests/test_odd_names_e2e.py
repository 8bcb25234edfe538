"""End to end with odd names: ``serve`` a MariaDB database named with a ``%`` and a line break, whose table
and column names hold quotes, a hyphen, letters beyond ASCII and a line break followed by a statement,
sanitised by ``.synco.yml`` rules naming them; ``receive --install`` into a database named with ``%`` and
a back-tick, twice (the second swaps, keeping a copy); ``synco db rollback``.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from test_e2e_install import receive_install
from test_e2e_sanitize import serve_keep
from test_mysql_odd_names import INJECTED, odd_databases_fixture, quoted, run  # noqa: F401

from synco_core.cli.main import cli
from synco_core.testing.services import MYSQL_HOST, MYSQL_PORT, MYSQL_USER

pytestmark = pytest.mark.mysql

TABLE = "order-items" + INJECTED
COLUMN = 'e-mail "été"'


def project(root: Path, database: str, sanitize: dict[str, Any] | None = None) -> Path:
    root.mkdir()
    (root / "public").mkdir()
    url = f"mysql://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{urllib.parse.quote(database, safe='')}"
    config: dict[str, Any] = {"serve": {"name": "Odd", "web_root": "public", "database": {"url": url}}}
    if sanitize is not None:
        config["sanitize"] = sanitize
    (root / ".synco.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return root


def test_odd_names_are_served_sanitised_installed_and_rolled_back(
        tmp_path: Path, odd_databases: Any, web_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    source_db, target_db = odd_databases("%s\nDELETE FROM victim;"), odd_databases("dst%`x")
    run(None, f"CREATE DATABASE {quoted(source_db)} CHARACTER SET utf8mb4",
        f"CREATE DATABASE {quoted(target_db)} CHARACTER SET utf8mb4")
    run(source_db, "CREATE TABLE victim (id INT PRIMARY KEY)", "INSERT INTO victim VALUES (1), (2)",
        f"CREATE TABLE {quoted(TABLE)} (id INT PRIMARY KEY, {quoted(COLUMN)} VARCHAR(80))",
        f"INSERT INTO {quoted(TABLE)} VALUES (1, 'ann@real.example'), (2, 'ben@real.example')")
    run(target_db, "CREATE TABLE local_only (id INT PRIMARY KEY)", "INSERT INTO local_only VALUES (7)")
    # A part holding a double quote is double-quoted, its quotes doubled (see docs/configuration.md).
    column = '"' + COLUMN.replace('"', '""') + '"'
    source = project(tmp_path / "source", source_db, {
        "strict": True, "columns": {f"{TABLE}.{column}": "email"}, "keep": [f"{TABLE}.id", "victim"]})
    target = project(tmp_path / "target", target_db)
    base_url = web_server(source / "public")
    session, key, _ = serve_keep(source, monkeypatch)
    monkeypatch.chdir(tmp_path)

    for attempt in range(2):
        done = receive_install(session, key, base_url, tmp_path / f"received{attempt}", target)
        assert done.exit_code == 0, done.output
        assert run(target_db, "SELECT COUNT(*) FROM victim") == [(2,)]
        rows = run(target_db, f"SELECT id, {quoted(COLUMN)} FROM {quoted(TABLE)} ORDER BY id")
        assert [row[0] for row in rows] == [1, 2]
        assert not any("real.example" in str(row[1]) for row in rows), rows

    monkeypatch.chdir(target)
    rolled = CliRunner().invoke(cli, ["db", "rollback", "--yes"])
    assert rolled.exit_code == 0, rolled.output
    assert run(target_db, "SELECT COUNT(*) FROM victim") == [(2,)]
