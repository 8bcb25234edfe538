"""The sanitising profile on the tables Django and its most used authentication apps create, on each engine.

Besides ``auth_user``, a Django site keeps personal data and live credentials in the tables of Django REST
framework's tokens, django-allauth (e-mail addresses, social accounts with the provider's profile and OAuth
tokens), django-otp (two-factor secrets) and django-oauth-toolkit (tokens it issued, stored as they are).
Every such value the test writes carries the marker ``pii``; after a dump with the options ``serve`` uses,
none may be left in it, on PostgreSQL, MariaDB and SQLite.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from synco_core import DatabaseConfig, Framework, dump_with_engine
from synco_core.testing import SyncoPluginManager, serve_dump_options
from synco_core.testing.services import database_from_script

#: The tables as the apps' migrations make them, reduced to the columns that matter (``{id}``: the engine's
#: auto-increment key).
SCHEMA = (
    "CREATE TABLE auth_user (id {id}, password VARCHAR(128) NOT NULL, username VARCHAR(150) NOT NULL UNIQUE, "
    "first_name VARCHAR(150) NOT NULL, last_name VARCHAR(150) NOT NULL, email VARCHAR(254) NOT NULL)",
    "CREATE TABLE django_session (session_key VARCHAR(40) NOT NULL PRIMARY KEY, session_data TEXT NOT NULL)",
    "CREATE TABLE authtoken_token (\"key\" VARCHAR(40) NOT NULL PRIMARY KEY, user_id INTEGER NOT NULL UNIQUE)",
    "CREATE TABLE account_emailaddress (id {id}, email VARCHAR(254) NOT NULL, verified BOOLEAN NOT NULL, "
    "\"primary\" BOOLEAN NOT NULL, user_id INTEGER NOT NULL, UNIQUE (user_id, email))",
    "CREATE TABLE socialaccount_socialaccount (id {id}, provider VARCHAR(200) NOT NULL, uid VARCHAR(191) NOT NULL, "
    "extra_data TEXT NOT NULL, user_id INTEGER NOT NULL)",
    "CREATE TABLE socialaccount_socialtoken (id {id}, token TEXT NOT NULL, token_secret TEXT NOT NULL, "
    "account_id INTEGER NOT NULL, app_id INTEGER NULL)",
    "CREATE TABLE otp_totp_totpdevice (id {id}, name VARCHAR(64) NOT NULL, \"key\" VARCHAR(80) NOT NULL, "
    "user_id INTEGER NOT NULL)",
    "CREATE TABLE otp_static_staticdevice (id {id}, name VARCHAR(64) NOT NULL, user_id INTEGER NOT NULL)",
    "CREATE TABLE otp_static_statictoken (id {id}, token VARCHAR(16) NOT NULL, device_id INTEGER NOT NULL)",
    "CREATE TABLE oauth2_provider_accesstoken (id {id}, token VARCHAR(255) NOT NULL UNIQUE, user_id INTEGER NULL)",
    "CREATE TABLE oauth2_provider_refreshtoken (id {id}, token VARCHAR(255) NOT NULL, access_token_id INTEGER NULL)",
    "CREATE TABLE oauth2_provider_grant (id {id}, code VARCHAR(255) NOT NULL UNIQUE, user_id INTEGER NOT NULL)",
    "CREATE TABLE oauth2_provider_idtoken (id {id}, jti VARCHAR(36) NOT NULL UNIQUE, user_id INTEGER NULL)",
    "CREATE TABLE auth_historicaluser (history_id {id}, id INTEGER NOT NULL, password VARCHAR(128) NOT NULL, "
    "username VARCHAR(150) NOT NULL, first_name VARCHAR(150) NOT NULL, last_name VARCHAR(150) NOT NULL, "
    "email VARCHAR(254) NOT NULL, history_type VARCHAR(1) NOT NULL)",
    "CREATE TABLE reversion_version (id {id}, object_id VARCHAR(191) NOT NULL, format VARCHAR(255) NOT NULL, "
    "serialized_data TEXT NOT NULL, object_repr TEXT NOT NULL)",
    "CREATE TABLE auditlog_logentry (id {id}, object_pk VARCHAR(255) NOT NULL, object_repr TEXT NOT NULL, "
    "action SMALLINT NOT NULL, changes TEXT NULL, changes_text TEXT NOT NULL, remote_addr VARCHAR(39) NULL, "
    "additional_data TEXT NULL)",
    "INSERT INTO auth_historicaluser (id, password, username, first_name, last_name, email, history_type) VALUES "
    "(1, 'pii-oldhash', 'ann', 'pii-Ann', 'pii-Maiden', 'pii-ann.old@real.example', '~')",
    "INSERT INTO reversion_version (object_id, format, serialized_data, object_repr) VALUES ('1', 'json', "
    "'[{{\"fields\": {{\"email\": \"pii-ann.old@real.example\"}}}}]', 'pii-ann')",
    "INSERT INTO auditlog_logentry (object_pk, object_repr, action, changes, changes_text, remote_addr) VALUES "
    "('1', 'pii-ann', 1, '{{\"email\": [\"pii-a@real.example\", \"pii-b@real.example\"]}}', 'pii-text', "
    "'pii-203.0.113.5')",
    "INSERT INTO auth_user (password, username, first_name, last_name, email) VALUES "
    "('pii-hash', 'ann', 'pii-Ann', 'pii-Real', 'pii-ann@real.example'), "
    "('pii-hash2', 'bob', 'pii-Bob', 'pii-Real', 'pii-bob@real.example')",
    "INSERT INTO django_session VALUES ('pii-sessionkey', 'pii-data')",
    "INSERT INTO authtoken_token VALUES ('pii-0123456789abcdef0123456789abcdef01', 1)",
    "INSERT INTO account_emailaddress (email, verified, \"primary\", user_id) VALUES "
    "('pii-ann@real.example', TRUE, TRUE, 1), ('pii-ann.old@real.example', TRUE, FALSE, 1), "
    "('pii-bob@real.example', FALSE, TRUE, 2)",
    "INSERT INTO socialaccount_socialaccount (provider, uid, extra_data, user_id) VALUES "
    "('github', '583231', '{{\"login\": \"pii-ann\", \"email\": \"pii-ann@real.example\"}}', 1)",
    "INSERT INTO socialaccount_socialtoken (token, token_secret, account_id) VALUES ('pii-gho_token', '', 1)",
    "INSERT INTO otp_totp_totpdevice (name, \"key\", user_id) VALUES ('phone', 'pii-3132333435', 1)",
    "INSERT INTO otp_static_staticdevice (name, user_id) VALUES ('backup', 1)",
    "INSERT INTO otp_static_statictoken (token, device_id) VALUES ('pii-backup1', 1)",
    "INSERT INTO oauth2_provider_accesstoken (token, user_id) VALUES ('pii-access', 1)",
    "INSERT INTO oauth2_provider_refreshtoken (token, access_token_id) VALUES ('pii-refresh', 1)",
    "INSERT INTO oauth2_provider_grant (code, user_id) VALUES ('pii-code', 1)",
    "INSERT INTO oauth2_provider_idtoken (jti, user_id) VALUES ('pii-jti', 1)",
)
AUTO_ID = {"mysql": "INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY", "postgresql": "SERIAL PRIMARY KEY",
           "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT"}


def make_database(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseConfig:
    statements = [statement.format(id=AUTO_ID[engine]) for statement in SCHEMA]
    return database_from_script(engine, statements, request, tmp_path / "db.sqlite3", mysql_sql_mode="ANSI_QUOTES")


@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_no_personal_data_or_credential_leaves(engine: str, django_manager: SyncoPluginManager, tmp_path: Path,
                                               request: pytest.FixtureRequest) -> None:
    database = make_database(engine, request, tmp_path)
    framework = Framework(name="Django", plugin="django", project_dir=tmp_path, database=database,
                          settings={"user_tables": ["auth_user"]})
    out = tmp_path / "dump"
    with out.open("wb") as stream:
        dump_with_engine(database, stream, serve_dump_options(framework))
    dumped = out.read_bytes()
    leaked = sorted({found.decode() for found in re.findall(rb"pii[\w.@-]*", dumped)})
    assert not leaked, f"personal data or credentials in the {engine} dump: {leaked}"
    # Each address of an account becomes its own, so allauth's (user, email) stays unique.
    for address in (b"user1@example.invalid", b"user2@example.invalid", b"user3@example.invalid"):
        assert address in dumped
