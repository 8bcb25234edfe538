"""The Laravel sanitising profile: what it names, that it fits the database, and what a dump looks like."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from synco_laravel.database import NO_ROWS_TABLES, PASSWORD_HASH
from synco_laravel.plugin import detect_framework

from synco_core import Framework, SanitizeRule, dump_with_engine, parse_database_url
from synco_core.testing import SyncoPluginManager, configured_dump_options
from synco_core.testing.services import install_into_empty_copy, needs_php

Make = Callable[..., Path]

FULL_RULES = (
    SanitizeRule("users", "email", transform="email"),
    SanitizeRule("users", "password", transform=f"fixed:{PASSWORD_HASH}"),
    SanitizeRule("users", "remember_token", transform="null"),
)
#: Fortify's two-factor columns and Cashier's Stripe customer and card, which only some applications' users
#: tables have.
TWO_FACTOR_RULES = tuple(SanitizeRule("users", column, transform="null")
                         for column in ("two_factor_secret", "two_factor_recovery_codes", "two_factor_confirmed_at",
                                        "stripe_id", "pm_type", "pm_last_four"))
NAME_RULE = SanitizeRule("users", "name", transform="fixed:Demo User")


@needs_php
def test_fixed_hash_is_bcrypt_of_password() -> None:
    check = subprocess.run(["php", "-r", "exit(password_verify('password', $argv[1]) ? 0 : 1);", PASSWORD_HASH],
                           check=False)
    assert check.returncode == 0, "PASSWORD_HASH must be a bcrypt hash of the word 'password'"


def test_full_profile_when_database_unreachable(laravel_manager: SyncoPluginManager, tmp_path: Path) -> None:
    unreachable = parse_database_url("mysql://root@127.0.0.1:1/nothing")
    framework = Framework(name="Laravel", plugin="laravel", project_dir=tmp_path, database=unreachable,
                          settings={"table_prefix": ""})
    options = configured_dump_options(framework)
    users = (*FULL_RULES, *TWO_FACTOR_RULES, NAME_RULE)
    assert options.sanitize[:len(users)] == users
    assert {rule.table for rule in options.sanitize[len(users):]} == {
        "audits", "activity_log", "subscriptions", "subscription_items", "oauth_clients", "customers", "transactions",
        "team_invitations"}
    assert options.exclude_tables == NO_ROWS_TABLES


def make_sqlite(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, password TEXT);
            CREATE TABLE sessions (id TEXT PRIMARY KEY, payload TEXT);
            CREATE TABLE cache (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT);
            INSERT INTO users VALUES (1, 'A', 'a@real.example', 'h1'), (7, 'B', 'b@real.example', 'h2');
            INSERT INTO sessions VALUES ('s1', 'secret payload');
        """)


def test_profile_follows_existing_sqlite_tables(make_project: Make, php_mode: str,
                                                laravel_manager: SyncoPluginManager) -> None:
    project = make_project("laravel11")
    make_sqlite(project / "database/database.sqlite")
    framework = detect_framework(project)
    assert framework is not None
    options = configured_dump_options(framework)
    assert options.sanitize == (*FULL_RULES[:2], NAME_RULE), "users has no remember_token column here"
    assert options.exclude_tables == ("sessions", "cache")


@needs_php
def test_table_prefix(make_project: Make, laravel_manager: SyncoPluginManager) -> None:
    project = make_project("laravel11")
    config = project / "config/database.php"
    config.write_text(config.read_text().replace("'prefix' => '',", "'prefix' => 'app_',", 1))
    with sqlite3.connect(project / "database/database.sqlite") as conn:
        conn.executescript("CREATE TABLE app_users (id INTEGER PRIMARY KEY, email TEXT, password TEXT,"
                           " remember_token TEXT); CREATE TABLE app_jobs (id INTEGER PRIMARY KEY);")
    framework = detect_framework(project)
    assert framework is not None
    assert [r.table for r in configured_dump_options(framework).sanitize] == ["app_users"] * 3
    assert configured_dump_options(framework).exclude_tables == ("app_jobs",)


@pytest.mark.mysql
def test_profile_follows_existing_mysql_tables(make_project: Make, php_mode: str, laravel_manager: SyncoPluginManager,
                                               mysql_database_factory: Callable[[], str]) -> None:
    from synco_core.testing.services import mysql_admin_connection

    name = mysql_database_factory()
    conn = mysql_admin_connection(name)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100), password VARCHAR(100),"
                    " remember_token VARCHAR(100))")
        cur.execute("CREATE TABLE failed_jobs (id INT PRIMARY KEY)")
        cur.execute("CREATE TABLE personal_access_tokens (id INT PRIMARY KEY)")
    conn.close()
    project = make_project("laravel11", env={"DB_CONNECTION": "mysql", "DB_DATABASE": name})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert (framework.database.engine, framework.database.name) == ("mysql", name)
    assert configured_dump_options(framework).sanitize == FULL_RULES
    assert configured_dump_options(framework).exclude_tables == ("personal_access_tokens", "failed_jobs")


@pytest.mark.postgres
def test_profile_follows_existing_postgres_tables(make_project: Make, php_mode: str,
                                                  laravel_manager: SyncoPluginManager,
                                                  postgres_database_factory: Callable[..., str]) -> None:
    name = postgres_database_factory(
        "CREATE TABLE users (id INT PRIMARY KEY, email TEXT, password TEXT, remember_token TEXT);"
        "CREATE TABLE sessions (id TEXT PRIMARY KEY); CREATE TABLE cache_locks (key TEXT PRIMARY KEY)")
    project = make_project("laravel11", env={"DB_CONNECTION": "pgsql", "DB_DATABASE": name,
                                             "DB_USERNAME": "postgres"})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert (framework.database.engine, framework.database.port) == ("postgresql", 5432)
    assert configured_dump_options(framework).sanitize == FULL_RULES
    assert configured_dump_options(framework).exclude_tables == ("sessions", "cache_locks")


def test_dump_of_example_is_sanitised(laravel_manager: SyncoPluginManager, no_php: None, tmp_path: Path) -> None:
    """The profile, applied by the real SQLite engine to the example app's database."""

    example = tmp_path / "app"
    shutil.copytree(Path(__file__).resolve().parents[3] / "examples/laravel-app", example, symlinks=True)
    framework = detect_framework(example)
    assert framework is not None and framework.database is not None
    dump = tmp_path / "dump.sqlite"
    with dump.open("wb") as out:
        result = dump_with_engine(framework.database, out, configured_dump_options(framework))
    assert result.format == "sqlite"
    with sqlite3.connect(dump) as conn:
        users = conn.execute("SELECT id, email, password, remember_token FROM users ORDER BY id").fetchall()
        assert users == [(i, f"user{i}@example.invalid", PASSWORD_HASH, None) for i in (1, 2, 3)]
        for table in ("sessions", "password_reset_tokens", "cache", "jobs", "failed_jobs"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table
        assert conn.execute("SELECT COUNT(*) FROM posts").fetchone() == (3,)


#: The tables Laravel's own migrations (5.x to 9: ``password_resets``; 10 and later: ``password_reset_tokens``),
#: Fortify's two-factor columns (Jetstream), Sanctum and Telescope create, in the engine's SQL (``{id}``: its
#: auto-increment key), with rows whose personal data or secrets all carry the marker ``pii``.
LARAVEL_SCHEMA = (
    "CREATE TABLE users (id {id}, name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE,"
    " password VARCHAR(255) NOT NULL, two_factor_secret TEXT NULL, two_factor_recovery_codes TEXT NULL,"
    " two_factor_confirmed_at TIMESTAMP NULL, remember_token VARCHAR(100) NULL)",
    "CREATE TABLE password_resets (email VARCHAR(255) NOT NULL, token VARCHAR(255) NOT NULL,"
    " created_at TIMESTAMP NULL)",
    "CREATE TABLE password_reset_tokens (email VARCHAR(255) NOT NULL PRIMARY KEY, token VARCHAR(255) NOT NULL,"
    " created_at TIMESTAMP NULL)",
    "CREATE TABLE sessions (id VARCHAR(255) NOT NULL PRIMARY KEY, user_id BIGINT NULL, ip_address VARCHAR(45) NULL,"
    " user_agent TEXT NULL, payload TEXT NOT NULL, last_activity INTEGER NOT NULL)",
    "CREATE TABLE failed_jobs (id {id}, uuid VARCHAR(255) NOT NULL UNIQUE, connection TEXT NOT NULL,"
    " queue TEXT NOT NULL, payload TEXT NOT NULL, exception TEXT NOT NULL)",
    "CREATE TABLE personal_access_tokens (id {id}, tokenable_type VARCHAR(255) NOT NULL, tokenable_id BIGINT NOT NULL,"
    " name VARCHAR(255) NOT NULL, token VARCHAR(64) NOT NULL UNIQUE)",
    "CREATE TABLE telescope_entries (sequence {id}, uuid CHAR(36) NOT NULL UNIQUE, type VARCHAR(20) NOT NULL,"
    " content TEXT NOT NULL)",
    "CREATE TABLE telescope_entries_tags (entry_uuid CHAR(36) NOT NULL, tag VARCHAR(255) NOT NULL)",
    "CREATE TABLE audits (id {id}, user_type VARCHAR(255) NULL, user_id BIGINT NULL, event VARCHAR(255) NOT NULL,"
    " auditable_type VARCHAR(255) NOT NULL, auditable_id BIGINT NOT NULL, old_values TEXT NULL, new_values TEXT NULL,"
    " url TEXT NULL, ip_address VARCHAR(45) NULL, user_agent VARCHAR(1023) NULL, tags VARCHAR(255) NULL)",
    "CREATE TABLE activity_log (id {id}, log_name VARCHAR(255) NULL, description TEXT NOT NULL,"
    " subject_type VARCHAR(255) NULL, subject_id BIGINT NULL, properties TEXT NULL)",
    "INSERT INTO audits (event, auditable_type, auditable_id, old_values, new_values, url, ip_address, user_agent)"
    " VALUES ('updated', 'App\\Models\\User', 1, '{{\"email\": \"pii-old@real.example\"}}',"
    " '{{\"email\": \"pii-ann@real.example\"}}', 'https://app.example/profile?pii-token', 'pii-203.0.113.4',"
    " 'pii-Mozilla')",
    "INSERT INTO activity_log (description, subject_type, subject_id, properties) VALUES ('updated',"
    " 'App\\Models\\User', 1, '{{\"old\": {{\"email\": \"pii-old@real.example\"}}}}')",
    "INSERT INTO users (name, email, password, two_factor_secret, two_factor_recovery_codes, remember_token) VALUES"
    " ('Ann', 'pii-ann@real.example', 'pii-hash', 'pii-2fa-secret', 'pii-recovery', 'pii-remember'),"
    " ('Bob', 'pii-bob@real.example', 'pii-hash2', NULL, NULL, NULL)",
    "INSERT INTO password_resets VALUES ('pii-ann@real.example', 'pii-reset-token', NULL)",
    "INSERT INTO password_reset_tokens VALUES ('pii-bob@real.example', 'pii-reset-token2', NULL)",
    "INSERT INTO sessions VALUES ('s1', 1, 'pii-203.0.113.4', 'pii-Mozilla', 'pii-payload', 1700000000)",
    "INSERT INTO failed_jobs (uuid, connection, queue, payload, exception) VALUES"
    " ('u1', 'database', 'default', 'pii-job to pii-ann@real.example', 'pii-trace')",
    "INSERT INTO personal_access_tokens (tokenable_type, tokenable_id, name, token) VALUES"
    " ('App\\Models\\User', 1, 'cli', 'pii-token')",
    "INSERT INTO telescope_entries (uuid, type, content) VALUES ('e1', 'request', '{{\"payload\": \"pii-ann\"}}')",
    "INSERT INTO telescope_entries_tags VALUES ('e1', 'pii-Auth:1')",
    # Laravel 8+'s job batches (a default migration since 11): serialized then/catch callbacks with models.
    "CREATE TABLE job_batches (id VARCHAR(255) NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,"
    " total_jobs INTEGER NOT NULL, pending_jobs INTEGER NOT NULL, failed_jobs INTEGER NOT NULL,"
    " failed_job_ids TEXT NOT NULL, options TEXT NULL, cancelled_at INTEGER NULL, created_at INTEGER NOT NULL,"
    " finished_at INTEGER NULL)",
    "INSERT INTO job_batches VALUES ('b1', 'import', 1, 0, 0, '[]', 'pii-closure of pii-ann@real.example', NULL,"
    " 1700000000, NULL)",
    # Database notifications: the data shown to the user (names, addresses, messages).
    "CREATE TABLE notifications (id CHAR(36) NOT NULL PRIMARY KEY, type VARCHAR(255) NOT NULL,"
    " notifiable_type VARCHAR(255) NOT NULL, notifiable_id BIGINT NOT NULL, data TEXT NOT NULL,"
    " read_at TIMESTAMP NULL)",
    "INSERT INTO notifications VALUES ('n1', 'App\\Notifications\\Invoice', 'App\\Models\\User', 1,"
    " '{{\"to\": \"pii-ann@real.example\"}}', NULL)",
    # Cashier (Stripe): the live customer, subscription and item ids, and the card's last four digits.
    "ALTER TABLE users ADD COLUMN stripe_id VARCHAR(255) NULL",
    "ALTER TABLE users ADD COLUMN pm_type VARCHAR(255) NULL",
    "ALTER TABLE users ADD COLUMN pm_last_four VARCHAR(4) NULL",
    "UPDATE users SET stripe_id = 'cus_pii', pm_type = 'pii-visa', pm_last_four = '4242' WHERE name = 'Ann'",
    "CREATE TABLE subscriptions (id {id}, user_id BIGINT NOT NULL, type VARCHAR(255) NOT NULL,"
    " stripe_id VARCHAR(255) NOT NULL UNIQUE, stripe_status VARCHAR(255) NOT NULL, stripe_price VARCHAR(255) NULL,"
    " quantity INTEGER NULL, trial_ends_at TIMESTAMP NULL, ends_at TIMESTAMP NULL)",
    "INSERT INTO subscriptions (user_id, type, stripe_id, stripe_status, stripe_price) VALUES"
    " (1, 'default', 'sub_pii1', 'active', 'price_1'), (2, 'default', 'sub_pii2', 'active', 'price_1')",
    "CREATE TABLE subscription_items (id {id}, subscription_id BIGINT NOT NULL, stripe_id VARCHAR(255) NOT NULL"
    " UNIQUE, stripe_product VARCHAR(255) NOT NULL, stripe_price VARCHAR(255) NOT NULL, quantity INTEGER NULL)",
    "INSERT INTO subscription_items (subscription_id, stripe_id, stripe_product, stripe_price) VALUES"
    " (1, 'si_pii1', 'prod_1', 'price_1'), (2, 'si_pii2', 'prod_1', 'price_1')",
    # Passport: client secrets, and the issued access/refresh tokens and authorisation codes.
    "CREATE TABLE oauth_clients (id {id}, user_id BIGINT NULL, name VARCHAR(255) NOT NULL, secret VARCHAR(100) NULL,"
    " provider VARCHAR(255) NULL, redirect TEXT NOT NULL, personal_access_client BOOLEAN NOT NULL,"
    " password_client BOOLEAN NOT NULL, revoked BOOLEAN NOT NULL)",
    "INSERT INTO oauth_clients (name, secret, redirect, personal_access_client, password_client, revoked) VALUES"
    " ('app', 'pii-client-secret', 'http://localhost', false, true, false)",
    "CREATE TABLE oauth_access_tokens (id VARCHAR(100) NOT NULL PRIMARY KEY, user_id BIGINT NULL,"
    " client_id BIGINT NOT NULL, name VARCHAR(255) NULL, scopes TEXT NULL, revoked BOOLEAN NOT NULL)",
    "INSERT INTO oauth_access_tokens VALUES ('pii-access', 1, 1, NULL, '[]', false)",
    "CREATE TABLE oauth_refresh_tokens (id VARCHAR(100) NOT NULL PRIMARY KEY, access_token_id VARCHAR(100) NOT NULL,"
    " revoked BOOLEAN NOT NULL)",
    "INSERT INTO oauth_refresh_tokens VALUES ('pii-refresh', 'pii-access', false)",
    "CREATE TABLE oauth_auth_codes (id VARCHAR(100) NOT NULL PRIMARY KEY, user_id BIGINT NOT NULL,"
    " client_id BIGINT NOT NULL, scopes TEXT NULL, revoked BOOLEAN NOT NULL)",
    "INSERT INTO oauth_auth_codes VALUES ('pii-code', 1, 1, NULL, false)",
    # Pulse: recorded users, URLs with their query strings, slow queries and exception messages.
    "CREATE TABLE pulse_values (id {id}, timestamp INTEGER NOT NULL, type VARCHAR(255) NOT NULL, {key} TEXT NOT NULL,"
    " key_hash CHAR(16) NOT NULL, value TEXT NOT NULL)",
    "INSERT INTO pulse_values (timestamp, type, {key}, key_hash, value) VALUES"
    " (1700000000, 'user', '1', 'h', '{{\"email\": \"pii-ann@real.example\"}}')",
    "CREATE TABLE pulse_entries (id {id}, timestamp INTEGER NOT NULL, type VARCHAR(255) NOT NULL, {key} TEXT NOT NULL,"
    " key_hash CHAR(16) NOT NULL, value BIGINT NULL)",
    "INSERT INTO pulse_entries (timestamp, type, {key}, key_hash, value) VALUES"
    " (1700000000, 'slow_request', 'GET /reset?token=pii-url-token', 'h', 900)",
    "CREATE TABLE pulse_aggregates (id {id}, bucket INTEGER NOT NULL, period INTEGER NOT NULL,"
    " type VARCHAR(255) NOT NULL, {key} TEXT NOT NULL, key_hash CHAR(16) NOT NULL, aggregate VARCHAR(255) NOT NULL,"
    " value DECIMAL(20, 2) NOT NULL, count INTEGER NULL)",
    "INSERT INTO pulse_aggregates (bucket, period, type, {key}, key_hash, aggregate, value) VALUES"
    " (1700000000, 60, 'slow_query', 'select * from users where email = ''pii-ann@real.example''', 'h', 'max', 9)",
)

#: ``key`` is a reserved word in MariaDB: Pulse's migrations have it quoted, as the schema does for each engine.
QUOTED_KEY = {"mysql": "`key`", "postgresql": '"key"', "sqlite": '"key"'}

AUTO_ID = {"mysql": "BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY", "postgresql": "BIGSERIAL PRIMARY KEY",
           "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT"}


@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_no_personal_data_leaves_on_any_engine(engine: str, make_project: Make, no_php: None,
                                                laravel_manager: SyncoPluginManager, tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    """Every Laravel-made table with personal data or secrets: no marked value is left in the dump."""
    from synco_core.testing import serve_dump_options
    from synco_core.testing.services import mysql_admin_connection, postgres_admin_connection

    statements = [s.format(id=AUTO_ID[engine], key=QUOTED_KEY[engine]) for s in LARAVEL_SCHEMA]
    if engine == "mysql":
        name = request.getfixturevalue("mysql_database_factory")()
        conn = mysql_admin_connection(name)
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement.replace("\\", "\\\\"))
        conn.close()
        env = {"DB_CONNECTION": "mysql", "DB_DATABASE": name}
    elif engine == "postgresql":
        name = request.getfixturevalue("postgres_database_factory")()
        with postgres_admin_connection(name) as pg:
            for statement in statements:
                pg.execute(statement)
        env = {"DB_CONNECTION": "pgsql", "DB_DATABASE": name, "DB_USERNAME": "postgres"}
    else:
        path = tmp_path / "app.sqlite"
        with sqlite3.connect(path) as lite:
            for statement in statements:
                lite.execute(statement)
        lite.close()
        env = {"DB_CONNECTION": "sqlite", "DB_DATABASE": str(path)}
    project = make_project("laravel11", env=env)
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    out = tmp_path / "dump"
    with out.open("wb") as stream:
        result = dump_with_engine(framework.database, stream, serve_dump_options(framework))
    dumped = out.read_bytes()
    leaked = sorted({m.decode() for m in re.findall(rb"pii[\w.@-]*", dumped)})
    assert not leaked, f"personal data or secrets in the {engine} dump: {leaked}"
    assert b"user1@example.invalid" in dumped and b"user2@example.invalid" in dumped
    # The masked values still fit their columns: the keyed hashes stay unique in UNIQUE NOT NULL columns
    # (subscriptions, subscription_items) and fit VARCHAR(100) (oauth_clients.secret), the dump loads.
    install_into_empty_copy(framework.database, out, result, request, tmp_path / "copy.sqlite", laravel_manager)
