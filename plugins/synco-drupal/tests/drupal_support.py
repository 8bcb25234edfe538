"""Shared pieces of the synco-drupal tests: a Drupal-shaped schema with realistic rows on MariaDB or
PostgreSQL, copies of the fixture project pointed at a test database, and the Drush stand-in."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

from synco_core.testing.services import (
    MYSQL_HOST,
    MYSQL_PASSWORD,
    MYSQL_PORT,
    MYSQL_USER,
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    mysql_admin_connection,
    postgres_admin_connection,
)

FIXTURES = Path(__file__).parent / "fixtures"

SCHEMA = [
    "CREATE TABLE {p}users_field_data (uid INT NOT NULL, langcode VARCHAR(12) NOT NULL, name VARCHAR(60) NOT NULL, "
    "pass VARCHAR(255), mail VARCHAR(254), init VARCHAR(254), PRIMARY KEY (uid, langcode))",
    "CREATE TABLE {p}comment_field_data (cid INT NOT NULL, langcode VARCHAR(12) NOT NULL, name VARCHAR(60), "
    "mail VARCHAR(254), hostname VARCHAR(128), PRIMARY KEY (cid, langcode))",
    "CREATE TABLE {p}node_field_data (nid INT NOT NULL PRIMARY KEY, title VARCHAR(255) NOT NULL)",
    "CREATE TABLE {p}cache_render (cid VARCHAR(255) NOT NULL PRIMARY KEY, data TEXT)",
    "CREATE TABLE {p}cache_custom_bin (cid VARCHAR(255) NOT NULL PRIMARY KEY, data TEXT)",
    "CREATE TABLE {p}cachetags (tag VARCHAR(255) NOT NULL PRIMARY KEY, invalidations INT NOT NULL)",
    "CREATE TABLE {p}sessions (sid VARCHAR(128) NOT NULL PRIMARY KEY, uid INT NOT NULL, session TEXT)",
    "CREATE TABLE {p}watchdog (wid INT NOT NULL PRIMARY KEY, message TEXT NOT NULL)",
    "CREATE TABLE {p}flood (fid INT NOT NULL PRIMARY KEY, event VARCHAR(64) NOT NULL)",
    "CREATE TABLE {p}queue (item_id INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, data TEXT)",
]
ROWS = [
    "INSERT INTO {p}users_field_data VALUES (0, 'en', '', NULL, NULL, NULL), "
    "(1, 'en', 'admin', '$S$Dreal.hash', 'admin@real.example', 'admin@real.example'), "
    "(2, 'en', 'editor', '$2y$10$real', 'ed@real.example', 'ed@real.example')",
    "INSERT INTO {p}comment_field_data VALUES (1, 'en', 'Ann', 'ann@real.example', '203.0.113.7')",
    "INSERT INTO {p}node_field_data VALUES (1, 'Welcome'), (2, 'About us')",
    "INSERT INTO {p}cache_render VALUES ('page:1', 'rendered html')",
    "INSERT INTO {p}cache_custom_bin VALUES ('x', 'cached')",
    "INSERT INTO {p}cachetags VALUES ('node:1', 3)",
    "INSERT INTO {p}sessions VALUES ('abc', 1, 'a logged-in session')",
    "INSERT INTO {p}watchdog VALUES (1, 'a log message')",
    "INSERT INTO {p}flood VALUES (1, 'user.failed_login_ip')",
    "INSERT INTO {p}queue VALUES (1, 'mail', 'queued mail')",
]


def populate_mysql(database: str, prefix: str = "") -> None:
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        for statement in SCHEMA + ROWS:
            cur.execute(statement.format(p=prefix).replace("%", "%%"))
    conn.close()


def populate_postgres(database: str, prefix: str = "") -> None:
    conn = postgres_admin_connection(database)
    for statement in SCHEMA + ROWS:
        conn.execute(statement.format(p=prefix))
    conn.close()


def copy_project(target: Path) -> Path:
    shutil.copytree(FIXTURES / "drupal10", target, symlinks=True)
    return target


def connection(engine: str, database: str, prefix: str = "") -> dict[str, Any]:
    if engine == "mysql":
        return {"driver": "mysql", "database": database, "username": MYSQL_USER, "password": MYSQL_PASSWORD,
                "host": MYSQL_HOST, "port": str(MYSQL_PORT), "prefix": prefix}
    return {"driver": "pgsql", "database": database, "username": POSTGRES_USER, "password": "",
            "host": POSTGRES_HOST, "port": str(POSTGRES_PORT), "prefix": prefix}


def _php(value: Any) -> str:
    if isinstance(value, dict):
        return "[" + ", ".join(f"{_php(k)} => {_php(v)}" for k, v in value.items()) + "]"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def local_settings(project: Path, database: dict[str, Any], extra: str = "", site: str = "default") -> None:
    """Write ``settings.local.php`` (the override a developer keeps beside settings.php)."""
    lines = ["<?php", "", "// Local development overrides (test fixture).", ""]
    lines += [f"$databases['default']['default'][{_php(k)}] = {_php(v)};" for k, v in database.items()]
    (project / "web/sites" / site / "settings.local.php").write_text("\n".join(lines) + "\n" + extra + "\n")


def install_drush(bin_dir: Path, state: dict[str, Any]) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    drush = bin_dir / "drush"
    shutil.copy(FIXTURES / "fake-drush.py", drush)
    drush.chmod(drush.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    state_file = bin_dir / "drush-state.json"
    state_file.write_text(json.dumps(state))
    return state_file


def drush_site(project: Path, database: dict[str, Any]) -> dict[str, Any]:
    """What the Drush stand-in answers for ``project``'s default site on ``database``."""
    status = {"drupal-version": "10.3.1", "uri": "http://default", "db-driver": database["driver"],
              "db-hostname": database["host"], "db-port": database["port"], "db-username": database["username"],
              "db-name": database["database"], "db-status": "Connected", "bootstrap": "Successful",
              "root": str(project / "web"), "site": "sites/default", "files": "sites/default/files",
              "private": "../private", "temp": "/tmp"}
    if database["driver"] == "mysql":
        connect = (f"mysql --user={database['username']} --password={database['password']} "
                   f"--database={database['database']} --host={database['host']} --port={database['port']} -A")
    else:
        connect = (f"psql -q --dbname={database['database']} --host={database['host']} --port={database['port']} "
                   f"--username={database['username']}")
    return {"status": status, "connect": connect}
