"""The small Symfony sanitising profile: only well-known tables, recognised by their columns, are named."""

from __future__ import annotations

import io
import re
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from synco_symfony.plugin import detect_framework
from synco_symfony.sanitize import PASSWORD_HASH, sanitize_profile

from synco_core import DumpOptions, Framework, SanitizeRule, dump_with_engine, parse_database_url
from synco_core.testing import SyncoPluginManager, configured_dump_options
from synco_core.testing.services import install_into_empty_copy, needs_php, postgres_url_for

Make = Callable[..., Path]

USER_RULES = (
    SanitizeRule("user", "email", transform="email"),
    SanitizeRule("user", "password", transform=f"fixed:{PASSWORD_HASH}"),
)
SQLITE_URL = ".env.local", 'DATABASE_URL="sqlite:///%kernel.project_dir%/var/data.db"\n'

SCHEMA = """
    -- make:user
    CREATE TABLE "user" (id INTEGER PRIMARY KEY, email VARCHAR(180) UNIQUE, roles TEXT, password TEXT);
    -- PdoSessionHandler
    CREATE TABLE sessions (sess_id VARCHAR(128) PRIMARY KEY, sess_data BLOB, sess_lifetime INTEGER,
                           sess_time INTEGER);
    -- Messenger's Doctrine transport
    CREATE TABLE messenger_messages (id INTEGER PRIMARY KEY, body TEXT, headers TEXT, queue_name VARCHAR(190));
    -- Not the well-known tables: same names or shapes, other columns
    CREATE TABLE rememberme_token (id INTEGER PRIMARY KEY, note TEXT);
    CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, password TEXT);
    INSERT INTO "user" VALUES (1, 'ann@real.example', '["ROLE_ADMIN"]', '$2y$13$realhash');
    INSERT INTO sessions VALUES ('s1', 'secret session', 60, 0);
    INSERT INTO messenger_messages VALUES (1, 'send invoice mail', '{}', 'default');
    INSERT INTO rememberme_token VALUES (1, 'kept');
    INSERT INTO users VALUES (1, 'kept@real.example', 'kept-hash');
"""


@needs_php
def test_fixed_hash_is_bcrypt_of_password() -> None:
    check = subprocess.run(["php", "-r", "exit(password_verify('password', $argv[1]) ? 0 : 1);", PASSWORD_HASH],
                           check=False)
    assert check.returncode == 0


def test_no_profile_without_an_inspectable_database(symfony_manager: SyncoPluginManager, tmp_path: Path) -> None:
    # Unlike Laravel's, this profile is never guessed: unknown tables get no rules.
    unreachable = parse_database_url("mysql://root@127.0.0.1:1/nothing")
    framework = Framework(name="Symfony", plugin="symfony", project_dir=tmp_path, database=unreachable)
    assert configured_dump_options(framework) == DumpOptions()
    assert sanitize_profile(None) == DumpOptions()


def test_profile_and_dump_on_sqlite(make_project: Make, php_mode: str, symfony_manager: SyncoPluginManager,
                                    tmp_path: Path) -> None:
    project = make_project("symfony7", dict([SQLITE_URL]))
    (project / "var").mkdir(exist_ok=True)
    with sqlite3.connect(project / "var/data.db") as conn:
        conn.executescript(SCHEMA)
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    options = configured_dump_options(framework)
    assert options.sanitize == USER_RULES
    assert options.exclude_tables == ("sessions", "messenger_messages")

    dump = tmp_path / "dump.sqlite"
    with dump.open("wb") as out:
        dump_with_engine(framework.database, out, options)
    with sqlite3.connect(dump) as conn:
        assert conn.execute('SELECT email, roles, password FROM "user"').fetchall() == [
            ("user1@example.invalid", '["ROLE_ADMIN"]', PASSWORD_HASH)]
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM messenger_messages").fetchone() == (0,)
        assert conn.execute("SELECT note FROM rememberme_token").fetchall() == [("kept",)]
        assert conn.execute("SELECT email, password FROM users").fetchall() == [("kept@real.example", "kept-hash")]


def test_empty_database_gets_no_rules(make_project: Make, no_php: None, symfony_manager: SyncoPluginManager) -> None:
    project = make_project("symfony7", dict([SQLITE_URL]))
    (project / "var").mkdir(exist_ok=True)
    sqlite3.connect(project / "var/data.db").close()
    framework = detect_framework(project)
    assert framework is not None and configured_dump_options(framework) == DumpOptions()


@pytest.mark.postgres
def test_profile_and_dump_on_postgres(make_project: Make, no_php: None, symfony_manager: SyncoPluginManager,
                                      postgres_database_factory: Callable[..., str]) -> None:
    name = postgres_database_factory(
        'CREATE TABLE "user" (id INT PRIMARY KEY, email VARCHAR(180) UNIQUE, roles JSON, password TEXT);'
        "CREATE TABLE reset_password_request (id INT PRIMARY KEY, user_id INT, selector TEXT, hashed_token TEXT);"
        "CREATE TABLE sessions (id INT PRIMARY KEY, title TEXT);"  # a business table, kept
        """INSERT INTO "user" VALUES (7, 'ann@real.example', '["ROLE_USER"]', '$2y$13$realhash');"""
        "INSERT INTO reset_password_request VALUES (1, 7, 'sel', 'secret-token-hash')")
    project = make_project("symfony7", {".env.local": f'DATABASE_URL="{postgres_url_for(name)}"\n'})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert configured_dump_options(framework).sanitize == USER_RULES
    assert configured_dump_options(framework).exclude_tables == ("reset_password_request",)
    out = io.BytesIO()
    dump_with_engine(framework.database, out, configured_dump_options(framework))
    text = out.getvalue()
    assert b"user7@example.invalid" in text and PASSWORD_HASH.encode() in text
    assert b"ann@real.example" not in text and b"secret-token-hash" not in text


#: Tables of the most used Symfony bundles as their mappings make them, reduced to the columns that matter
#: (``{id}``: the engine's auto-increment key); every secret or personal value carries the marker ``pii``.
BUNDLE_SCHEMA = (
    # FOSUserBundle: its own table name, canonical copies of username and address, a salt and the pending
    # confirmation (or reset) token.
    "CREATE TABLE fos_user (id {id}, username VARCHAR(180) NOT NULL, username_canonical VARCHAR(180) NOT NULL "
    "UNIQUE, email VARCHAR(180) NOT NULL, email_canonical VARCHAR(180) NOT NULL UNIQUE, enabled BOOLEAN NOT NULL, "
    "salt VARCHAR(255) NULL, password VARCHAR(255) NOT NULL, last_login TIMESTAMP NULL, "
    "confirmation_token VARCHAR(180) NULL UNIQUE, password_requested_at TIMESTAMP NULL, roles TEXT NOT NULL)",
    "INSERT INTO fos_user (username, username_canonical, email, email_canonical, enabled, salt, password, "
    "confirmation_token, roles) VALUES ('ann', 'ann', 'pii-Ann@real.example', 'pii-ann@real.example', TRUE, "
    "'pii-salt', 'pii-hash', 'pii-confirm', 'a:0:{{}}'), ('bob', 'bob', 'pii-bob@real.example', "
    "'pii-bob2@real.example', TRUE, NULL, 'pii-hash2', NULL, 'a:0:{{}}')",
    # make:user with scheb/2fa's TOTP, Google Authenticator and e-mail codes and backup codes.
    "CREATE TABLE \"user\" (id {id}, email VARCHAR(180) NOT NULL UNIQUE, roles TEXT NOT NULL, "
    "password VARCHAR(255) NOT NULL, totp_secret VARCHAR(255) NULL, google_authenticator_secret VARCHAR(255) NULL, "
    "auth_code VARCHAR(255) NULL, backup_codes TEXT NULL)",
    "INSERT INTO \"user\" (email, roles, password, totp_secret, google_authenticator_secret, auth_code, "
    "backup_codes) VALUES ('pii-ann@real.example', '[]', 'pii-hash', 'pii-totp', 'pii-google', 'pii-code', "
    "'[\"pii-backup\"]')",
    # gesdinet/jwt-refresh-token-bundle (with LexikJWTAuthenticationBundle): live refresh tokens.
    "CREATE TABLE refresh_tokens (id {id}, refresh_token VARCHAR(128) NOT NULL UNIQUE, "
    "username VARCHAR(255) NOT NULL, valid TIMESTAMP NOT NULL)",
    "INSERT INTO refresh_tokens (refresh_token, username, valid) VALUES ('pii-refresh', 'pii-ann@real.example', "
    "'2030-01-01 00:00:00')",
    # The Doctrine cache adapter's items (whatever the application cached: rendered pages, API answers).
    "CREATE TABLE cache_items (item_id VARCHAR(255) NOT NULL PRIMARY KEY, item_data TEXT NOT NULL, "
    "item_lifetime INTEGER NULL, item_time INTEGER NOT NULL)",
    "INSERT INTO cache_items VALUES ('k1', 'pii-cached profile of pii-ann@real.example', NULL, 0)",
)
AUTO_ID = {"mysql": "INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY", "postgresql": "SERIAL PRIMARY KEY",
           "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT"}


@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_no_bundle_secret_or_personal_data_leaves(engine: str, symfony_manager: SyncoPluginManager, tmp_path: Path,
                                                  request: pytest.FixtureRequest) -> None:
    from synco_core.testing import serve_dump_options
    from synco_core.testing.services import database_from_script

    statements = [statement.format(id=AUTO_ID[engine]) for statement in BUNDLE_SCHEMA]
    database = database_from_script(engine, statements, request, tmp_path / "data.db", mysql_sql_mode="ANSI_QUOTES")
    framework = Framework(name="Symfony", plugin="symfony", project_dir=tmp_path, database=database)
    out = tmp_path / "dump"
    with out.open("wb") as stream:
        result = dump_with_engine(database, stream, serve_dump_options(framework))
    dumped = out.read_bytes()
    leaked = sorted({found.decode() for found in re.findall(rb"pii[\w.@-]*", dumped)})
    assert not leaked, f"personal data or secrets in the {engine} dump: {leaked}"
    # The canonical address is unique too: each row's own.
    assert dumped.count(b"user1@example.invalid") >= 2 and b"user2@example.invalid" in dumped

    # The masked values still fit their columns (NOT NULL, UNIQUE, JSON): the dump loads.
    install_into_empty_copy(database, out, result, request, tmp_path / "copy.sqlite3", symfony_manager)
