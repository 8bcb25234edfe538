"""No personal data or credential of a Laravel application and the packages most of them run leaves the server.

Every personal value and credential below is a marker (``pii...`` or an address in 203.0.113.0/24), planted
in the tables as Laravel's migrations and the packages' (Breeze/Jetstream, Fortify, Cashier for Stripe and
Paddle, Nova, Filament, spatie/laravel-webhook-client) create them, and in tables of the same kind under
other names (a second guard's ``admins``, a billable ``teams``). After a dump as ``serve`` makes it (with and
without ``--all``), on each engine, no marker is left, what is not personal stays, unique columns stay unique,
and the dump loads into an empty database.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from synco_laravel.database import PASSWORD_HASH

from synco_core import DatabaseConfig, DumpResult, Framework
from synco_core.testing import SyncoPluginManager, assert_no_markers, dump_as_served
from synco_core.testing.services import database_from_script, install_into_empty_copy

SCHEMA = [
    """CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE,
        password VARCHAR(255) NOT NULL, remember_token VARCHAR(100), two_factor_secret TEXT,
        two_factor_recovery_codes TEXT, stripe_id VARCHAR(255), pm_type VARCHAR(255), pm_last_four VARCHAR(4),
        api_token VARCHAR(80) UNIQUE, github_id VARCHAR(255), github_token TEXT, github_refresh_token TEXT)""",
    """INSERT INTO users VALUES (1, 'pii-Ann Example', 'pii-ann@real.example', '$2y$10$pii-hash-ann', 'pii-remember',
        'pii-totp', 'pii-codes', 'cus_pii1', 'visa', '4242', 'pii-api1', '1001', 'gho_pii', 'ghr_pii'),
        (2, 'pii-Bob Example', 'pii-bob@real.example', '$2y$10$pii-hash-bob', NULL, NULL, NULL, NULL, NULL, NULL,
        'pii-api2', NULL, NULL, NULL)""",
    # A second guard's accounts (config/auth.php providers), as Laravel's docs make them.
    """CREATE TABLE admins (id BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE,
        password VARCHAR(255) NOT NULL, remember_token VARCHAR(100), api_token VARCHAR(80))""",
    """INSERT INTO admins VALUES (1, 'pii-Root', 'pii-root@real.example', '$2y$10$pii-hash-root', 'pii-admintoken',
        'pii-adminapi'), (2, 'pii-Other', 'pii-other@real.example', '$2y$10$pii-hash-other', NULL, NULL)""",
    # Cashier's Billable on another model.
    """CREATE TABLE teams (id BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL, stripe_id VARCHAR(255),
        pm_type VARCHAR(255), pm_last_four VARCHAR(4))""",
    "INSERT INTO teams VALUES (1, 'kept-team', 'cus_pii2', 'visa', '4242')",
    """CREATE TABLE team_invitations (id BIGINT PRIMARY KEY, team_id BIGINT NOT NULL, email VARCHAR(255) NOT NULL,
        role VARCHAR(255), UNIQUE (team_id, email))""",
    "INSERT INTO team_invitations VALUES (1, 1, 'pii-invitee@real.example', 'kept-role')",
    """CREATE TABLE action_events (id BIGINT PRIMARY KEY, batch_id CHAR(36) NOT NULL, user_id BIGINT NOT NULL,
        name VARCHAR(255) NOT NULL, actionable_type VARCHAR(255) NOT NULL, actionable_id BIGINT NOT NULL,
        target_type VARCHAR(255) NOT NULL, target_id BIGINT NOT NULL, model_type VARCHAR(255) NOT NULL,
        model_id BIGINT, fields TEXT NOT NULL, status VARCHAR(25) NOT NULL, exception TEXT NOT NULL,
        original TEXT, changes TEXT)""",
    """INSERT INTO action_events VALUES (1, 'b', 1, 'Update', 'App\\Models\\User', 1, 'App\\Models\\User', 1,
        'App\\Models\\User', 1, '{"note": "pii-typed"}', 'finished', '', '{"email": "pii-before@real.example"}',
        '{"email": "pii-after@real.example"}')""",
    """CREATE TABLE nova_notifications (id CHAR(36) PRIMARY KEY, type VARCHAR(255) NOT NULL,
        notifiable_type VARCHAR(255) NOT NULL, notifiable_id BIGINT NOT NULL, data TEXT NOT NULL)""",
    "INSERT INTO nova_notifications VALUES ('n1', 'T', 'App\\Models\\User', 1, '{\"message\": \"pii-note\"}')",
    """CREATE TABLE failed_import_rows (id BIGINT PRIMARY KEY, data TEXT NOT NULL, import_id BIGINT NOT NULL,
        validation_error TEXT)""",
    "INSERT INTO failed_import_rows VALUES (1, '{\"email\": \"pii-row@real.example\"}', 1, 'pii-invalid')",
    """CREATE TABLE customers (id BIGINT PRIMARY KEY, billable_id BIGINT NOT NULL, billable_type VARCHAR(255) NOT NULL,
        paddle_id VARCHAR(255) UNIQUE NOT NULL, name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL)""",
    """INSERT INTO customers VALUES (1, 1, 'App\\Models\\User', 'ctm_pii1', 'pii-Ann', 'pii-ann@real.example'),
        (2, 2, 'App\\Models\\User', 'ctm_pii2', 'pii-Bob', 'pii-bob@real.example')""",
    """CREATE TABLE transactions (id BIGINT PRIMARY KEY, billable_id BIGINT NOT NULL, paddle_id VARCHAR(255) UNIQUE
        NOT NULL, status VARCHAR(255) NOT NULL)""",
    "INSERT INTO transactions VALUES (1, 1, 'txn_pii1', 'kept-status'), (2, 1, 'txn_pii2', 'kept-status')",
    """CREATE TABLE webhook_calls (id BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL, url VARCHAR(512) NOT NULL,
        headers TEXT, payload TEXT, exception TEXT)""",
    """INSERT INTO webhook_calls VALUES (1, 'stripe', 'https://example.test/hook', '{"stripe-signature": "pii-sig"}',
        '{"email": "pii-payer@real.example"}', NULL)""",
    # Sessions, cache and jobs under the names config/session.php, cache.php and queue.php give them.
    """CREATE TABLE user_sessions (id VARCHAR(255) PRIMARY KEY, user_id BIGINT, ip_address VARCHAR(45),
        user_agent TEXT, payload TEXT NOT NULL, last_activity INT NOT NULL)""",
    "INSERT INTO user_sessions VALUES ('pii-sid', 1, '203.0.113.1', 'pii-browser', 'pii-payload', 1)",
    """CREATE TABLE app_cache ("key" VARCHAR(255) PRIMARY KEY, value TEXT NOT NULL, expiration INT NOT NULL)""",
    "INSERT INTO app_cache VALUES ('user:1', 's:20:\"pii-ann@real.example\";', 0)",
    """CREATE TABLE queue_jobs (id BIGINT PRIMARY KEY, queue VARCHAR(255) NOT NULL, payload TEXT NOT NULL,
        attempts SMALLINT NOT NULL, reserved_at INT, available_at INT NOT NULL, created_at INT NOT NULL)""",
    """INSERT INTO queue_jobs VALUES (1, 'mail', '{"to": "pii-ann@real.example"}', 0, NULL, 1, 1)""",
    """CREATE TABLE jobs_failed (id BIGINT PRIMARY KEY, uuid VARCHAR(255) NOT NULL, connection TEXT NOT NULL,
        queue TEXT NOT NULL, payload TEXT NOT NULL, exception TEXT NOT NULL, failed_at TIMESTAMP NOT NULL)""",
    """INSERT INTO jobs_failed VALUES (1, 'u', 'database', 'mail', '{"to": "pii-bob@real.example"}', 'pii-trace',
        '2024-01-01 00:00:00')""",
    "CREATE TABLE posts (id BIGINT PRIMARY KEY, title VARCHAR(255))",
    "INSERT INTO posts VALUES (1, 'kept-post')",
]


def _dump(manager: SyncoPluginManager, database: DatabaseConfig, out: Path, *, all_rows: bool) -> DumpResult:
    framework = Framework(name="Laravel", plugin="laravel", project_dir=out.parent, database=database,
                          settings={"table_prefix": ""})
    return dump_as_served(framework, out, all=all_rows, manager=manager)


@pytest.mark.mysql
@pytest.mark.postgres
@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("all_rows", [False, True], ids=["default", "serve-all"])
@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_no_personal_data_or_credential_leaves(engine: str, all_rows: bool, laravel_manager: SyncoPluginManager,
                                               tmp_path: Path, request: pytest.FixtureRequest) -> None:
    database = database_from_script(engine, SCHEMA, request, tmp_path / "source.sqlite", mysql_sql_mode="ANSI_QUOTES")
    out = tmp_path / "dump"
    result = _dump(laravel_manager, database, out, all_rows=all_rows)

    dumped = out.read_bytes()
    assert_no_markers(dumped, kept=(b"kept-post", b"kept-team", b"kept-role", b"kept-status"))
    installed = install_into_empty_copy(database, out, result, request, tmp_path / "copy.sqlite", laravel_manager)
    assert installed is not None
    if engine == "sqlite":
        with sqlite3.connect(tmp_path / "copy.sqlite") as copy:
            admins = copy.execute("SELECT email, password, remember_token FROM admins ORDER BY id").fetchall()
            paddle = copy.execute("SELECT COUNT(DISTINCT paddle_id) FROM customers").fetchone()
        assert admins == [(f"user{n}@example.invalid", PASSWORD_HASH, None) for n in (1, 2)]
        assert paddle == (2,), "the live ids stay unique"



def _prefixed(statement: str, prefix: str) -> str:
    return re.sub(r"^(\s*(?:CREATE TABLE|INSERT INTO)\s+)(\w+)", lambda m: m.group(1) + prefix + m.group(2), statement)


#: Laravel's own migrations table, which every Laravel application's database has under its prefix.
MIGRATIONS = ["CREATE TABLE migrations (id INT PRIMARY KEY, migration VARCHAR(255) NOT NULL, batch INT NOT NULL)",
              "INSERT INTO migrations VALUES (1, 'kept-migration', 1)"]
#: Tables known by name only (no shape finds them): reset tokens, personal access tokens, Passport's clients.
NAMED = [
    "CREATE TABLE password_reset_tokens (email VARCHAR(255) PRIMARY KEY, token VARCHAR(255) NOT NULL)",
    "INSERT INTO password_reset_tokens VALUES ('pii-reset@real.example', 'pii-resettoken')",
    """CREATE TABLE personal_access_tokens (id BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL,
        token VARCHAR(64) NOT NULL UNIQUE)""",
    "INSERT INTO personal_access_tokens VALUES (1, 'kept-token-name', 'pii-sanctum')",
    """CREATE TABLE oauth_clients (id BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL, secret VARCHAR(100))""",
    "INSERT INTO oauth_clients VALUES (1, 'kept-client', 'pii-clientsecret')",
    "CREATE TABLE audits (id BIGINT PRIMARY KEY, old_values TEXT, new_values TEXT, ip_address VARCHAR(45))",
    "INSERT INTO audits VALUES (1, '{\"email\": \"pii-old@real.example\"}', '{\"email\": \"pii-new\"}', '203.0.113.5')",
]


@pytest.mark.mysql
@pytest.mark.postgres
@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize(("configured", "other"), [("app_", ""), ("", "old_"), ("app_", "old_")])
@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_another_prefix_in_the_database_is_sanitised(engine: str, configured: str, other: str,
                                                     laravel_manager: SyncoPluginManager, tmp_path: Path,
                                                     request: pytest.FixtureRequest) -> None:
    """A database shared with another Laravel application (or this one's tables under an old prefix): the
    connection's ``prefix`` names this application's tables, but serve dumps the whole database, so the other
    application's accounts, tokens, sessions and jobs are masked as this one's are."""
    script = [_prefixed(s, other) for s in SCHEMA + MIGRATIONS + NAMED]
    own_users = "CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(255), password VARCHAR(255))"
    script += [_prefixed(s, configured) for s in [*MIGRATIONS, own_users]]
    database = database_from_script(engine, script, request, tmp_path / "source.sqlite", mysql_sql_mode="ANSI_QUOTES")
    out = tmp_path / "dump"
    framework = Framework(name="Laravel", plugin="laravel", project_dir=out.parent, database=database,
                          settings={"table_prefix": configured})
    dump_as_served(framework, out, manager=laravel_manager)
    assert_no_markers(out.read_bytes(), kept=(b"kept-post", b"kept-team", b"kept-migration", b"kept-client"))
