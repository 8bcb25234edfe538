"""The sanitising profile on tables shaped as Drupal core, Webform and Contact Storage make them, per engine.

Every value of personal data the test writes carries the marker ``pii`` (IP addresses are in 203.0.113.0/24);
after a dump with the options ``serve`` uses, none may be left anywhere in it, on MariaDB, PostgreSQL and
SQLite, with and without a table prefix, and with ``serve --all`` too: ``--all`` ships the log and flood
tables' rows, it does not turn sanitising off.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from drupal_support import connection, copy_project, local_settings

from synco_core import dump_with_engine
from synco_core.testing import SyncoPluginManager, detect, serve_dump_options
from synco_core.testing.services import mysql_admin_connection, postgres_admin_connection

#: Drupal 10's tables that hold personal data, reduced to the columns that matter (``{p}``: the prefix).
SCHEMA = [
    "CREATE TABLE {p}users_field_data (uid INT NOT NULL, langcode VARCHAR(12) NOT NULL, name VARCHAR(60) NOT NULL, "
    "pass VARCHAR(255), mail VARCHAR(254), init VARCHAR(254), PRIMARY KEY (uid, langcode))",
    "CREATE TABLE {p}comment_field_data (cid INT NOT NULL, langcode VARCHAR(12) NOT NULL, uid INT NOT NULL, "
    "name VARCHAR(60), mail VARCHAR(254), homepage VARCHAR(255), hostname VARCHAR(128), PRIMARY KEY (cid, langcode))",
    "CREATE TABLE {p}sessions (sid VARCHAR(128) NOT NULL PRIMARY KEY, uid INT NOT NULL, hostname VARCHAR(128) "
    "NOT NULL, session TEXT)",
    "CREATE TABLE {p}watchdog (wid INT NOT NULL PRIMARY KEY, uid INT NOT NULL, type VARCHAR(64) NOT NULL, "
    "message TEXT NOT NULL, variables TEXT NOT NULL, location TEXT NOT NULL, referer TEXT, "
    "hostname VARCHAR(128) NOT NULL)",
    "CREATE TABLE {p}flood (fid INT NOT NULL PRIMARY KEY, event VARCHAR(64) NOT NULL, "
    "identifier VARCHAR(128) NOT NULL, expiration INT NOT NULL)",
    "CREATE TABLE {p}webform_submission (sid INT NOT NULL PRIMARY KEY, webform_id VARCHAR(32) NOT NULL, "
    "uuid VARCHAR(128) NOT NULL, remote_addr VARCHAR(128), token VARCHAR(255), uri VARCHAR(2000))",
    "CREATE TABLE {p}webform_submission_data (webform_id VARCHAR(32) NOT NULL, sid INT NOT NULL, "
    "name VARCHAR(128) NOT NULL, property VARCHAR(128) NOT NULL, delta INT NOT NULL, value TEXT NOT NULL, "
    "PRIMARY KEY (sid, name, property, delta))",
    "CREATE TABLE {p}webform_submission_log (lid INT NOT NULL PRIMARY KEY, sid INT, operation VARCHAR(64), "
    "message TEXT, variables TEXT, data TEXT)",
    "CREATE TABLE {p}contact_message (id INT NOT NULL PRIMARY KEY, contact_form VARCHAR(32) NOT NULL, "
    "name VARCHAR(255), mail VARCHAR(254), subject VARCHAR(100), message TEXT, ip_address VARCHAR(128))",
]
ROWS = [
    "INSERT INTO {p}users_field_data VALUES (0, 'en', '', NULL, '', ''), "
    "(1, 'en', 'admin', 'pii-hash1', 'pii-admin@real.example', 'pii-admin@real.example'), "
    "(2, 'en', 'editor', 'pii-hash2', 'pii-ed@real.example', 'pii-edinit@real.example')",
    "INSERT INTO {p}comment_field_data VALUES (1, 'en', 0, 'pii-Ann Visitor', 'pii-ann@real.example', "
    "'https://pii-ann.example', '203.0.113.7'), (2, 'en', 1, 'admin', 'pii-admin@real.example', NULL, '203.0.113.8')",
    "INSERT INTO {p}sessions VALUES ('pii-sid', 1, '203.0.113.9', 'pii-session')",
    "INSERT INTO {p}watchdog VALUES (1, 0, 'user', 'Password reset instructions mailed to %name at %email.', "
    "'a:2:{{s:5:\"%name\";s:9:\"pii-admin\";s:6:\"%email\";s:22:\"pii-admin@real.example\";}}', "
    "'https://site.example/user/reset/1/1700000000/pii-resettoken', 'https://site.example/user/pii-login', "
    "'203.0.113.10')",
    "INSERT INTO {p}flood VALUES (1, 'user.failed_login_ip', '203.0.113.11', 1700000000)",
    "INSERT INTO {p}webform_submission VALUES (1, 'contact', 'u-1', '203.0.113.12', 'pii-token', "
    "'/form/contact?pii-query')",
    "INSERT INTO {p}webform_submission_data VALUES ('contact', 1, 'name', '', 0, 'pii-Ann Visitor'), "
    "('contact', 1, 'email', '', 0, 'pii-ann@real.example'), ('contact', 1, 'message', '', 0, 'pii-my story')",
    "INSERT INTO {p}webform_submission_log VALUES (1, 1, 'submission created', 'Email sent to pii-ann', "
    "'pii-vars', 'pii-data')",
    "INSERT INTO {p}contact_message VALUES (1, 'feedback', 'pii-Bob', 'pii-bob@real.example', 'pii-subject', "
    "'pii-message', '203.0.113.13')",
]
LEAK = re.compile(rb"pii[\w.@-]*|203\.0\.113\.\d+")


def make_database(engine: str, request: pytest.FixtureRequest, tmp_path: Path, prefix: str,
                  others: tuple[str, ...] = ()) -> dict[str, Any]:
    """A database of ``engine`` with the schema and rows under ``prefix`` (and under each of ``others``: the
    other sites of a multisite sharing the database); returns the Drupal connection settings for ``prefix``."""
    statements = [s.format(p=site) for site in (prefix, *others) for s in SCHEMA + ROWS]
    if engine == "sqlite":
        path = tmp_path / "drupal.sqlite"
        with sqlite3.connect(path) as lite:
            for statement in statements:
                lite.execute(statement)
        lite.close()
        return {"driver": "sqlite", "database": str(path), "prefix": prefix}
    if engine == "mysql":
        database = request.getfixturevalue("mysql_database_factory")()
        conn = mysql_admin_connection(database)
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement.replace("%", "%%"))
        conn.close()
    else:
        database = request.getfixturevalue("postgres_database_factory")()
        with postgres_admin_connection(database) as pg:
            for statement in statements:
                pg.execute(statement.replace("%", "%%"))
    return connection(engine, database, prefix)


@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("all_rows", [False, True], ids=["default", "serve-all"])
@pytest.mark.parametrize("prefix", ["", "d10_"])
@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_no_personal_data_leaves(engine: str, prefix: str, all_rows: bool, no_php: None,
                                 drupal_manager: SyncoPluginManager, tmp_path: Path,
                                 request: pytest.FixtureRequest) -> None:
    settings = make_database(engine, request, tmp_path, prefix)
    project = copy_project(tmp_path / "site")
    local_settings(project, settings)
    framework = detect(project)
    assert framework.database is not None and framework.database.engine == engine
    out = tmp_path / "dump"
    with out.open("wb") as stream:
        dump_with_engine(framework.database, stream, serve_dump_options(framework, all=all_rows))
    dumped = out.read_bytes()
    leaked = sorted({found.decode() for found in LEAK.findall(dumped)})
    assert not leaked, f"personal data in the {engine} dump: {leaked}"
    for kept in (b"user1@example.invalid", b"user2@example.invalid", b"Anonymous"):
        assert kept in dumped
    assert (b"Password reset instructions mailed to" in dumped) == all_rows, "the log ships its rows with --all"




@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize(("prefix", "others"), [("site1_", ("site2_", "")), ("", ("site2_",)),
                                                ("site2_", ("site1_", "Other_"))])
@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_every_site_sharing_the_database_is_sanitised(engine: str, prefix: str, others: tuple[str, ...],
                                                      no_php: None, drupal_manager: SyncoPluginManager,
                                                      tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A multisite whose sites share one database, each under its own table prefix (or a second Drupal in the
    same hosting database): serve dumps the whole database, so every site's accounts, comments, sessions and
    caches are sanitised as the configured site's are, not only the tables under its prefix."""
    settings = make_database(engine, request, tmp_path, prefix, others)
    project = copy_project(tmp_path / "site")
    local_settings(project, settings)
    framework = detect(project)
    assert framework.database is not None
    out = tmp_path / "dump"
    with out.open("wb") as stream:
        dump_with_engine(framework.database, stream, serve_dump_options(framework))
    dumped = out.read_bytes()
    leaked = sorted({found.decode() for found in LEAK.findall(dumped)})
    assert not leaked, f"personal data of another site in the {engine} dump: {leaked}"
    for site in (prefix, *others):
        # PostgreSQL folds the unquoted Other_ of the test's statements.
        assert f"{site}users_field_data".lower().encode() in dumped.lower(), "every site's tables still come"
