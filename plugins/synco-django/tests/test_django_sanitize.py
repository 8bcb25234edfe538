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
from synco_core.testing.services import database_from_script, install_into_empty_copy

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
    # django-allauth: a provider app's client secret (and, since 0.55, its settings: Apple's private key),
    # pending e-mail confirmation keys, allauth.mfa's TOTP secrets and recovery codes, allauth.usersessions.
    "CREATE TABLE socialaccount_socialapp (id {id}, provider VARCHAR(30) NOT NULL, name VARCHAR(40) NOT NULL, "
    "client_id VARCHAR(191) NOT NULL, secret VARCHAR(191) NOT NULL, \"key\" VARCHAR(191) NOT NULL, "
    "settings TEXT NOT NULL)",
    "INSERT INTO socialaccount_socialapp (provider, name, client_id, secret, \"key\", settings) VALUES "
    "('github', 'GitHub', 'Iv1.public', 'pii-app-secret', '', '{{\"certificate_key\": \"pii-private-key\"}}'), "
    "('google', 'Google', 'g.public', '', '', '{{}}')",
    "CREATE TABLE account_emailconfirmation (id {id}, created TIMESTAMP NOT NULL, sent TIMESTAMP NULL, "
    "\"key\" VARCHAR(64) NOT NULL UNIQUE, email_address_id INTEGER NOT NULL)",
    "INSERT INTO account_emailconfirmation (created, \"key\", email_address_id) VALUES "
    "('2026-01-01 00:00:00', 'pii-confirm-key', 1)",
    "CREATE TABLE mfa_authenticator (id {id}, type VARCHAR(20) NOT NULL, data TEXT NOT NULL, "
    "user_id INTEGER NOT NULL)",
    "INSERT INTO mfa_authenticator (type, data, user_id) VALUES ('totp', '{{\"secret\": \"pii-totp\"}}', 1)",
    "CREATE TABLE usersessions_usersession (id {id}, ip VARCHAR(39) NOT NULL, session_key VARCHAR(40) NOT NULL, "
    "user_agent VARCHAR(200) NOT NULL, data TEXT NOT NULL, user_id INTEGER NOT NULL)",
    "INSERT INTO usersessions_usersession (ip, session_key, user_agent, data, user_id) VALUES "
    "('pii-203.0.113.6', 'pii-session2', 'pii-Firefox', '{{}}', 1)",
    # django-oauth-toolkit's applications: the client secret (plain before 2.0, hashed since).
    "CREATE TABLE oauth2_provider_application (id {id}, client_id VARCHAR(100) NOT NULL UNIQUE, "
    "client_secret VARCHAR(255) NOT NULL, name VARCHAR(255) NOT NULL, user_id INTEGER NULL)",
    "INSERT INTO oauth2_provider_application (client_id, client_secret, name) VALUES "
    "('public-id', 'pii-dot-secret', 'app')",
    # django-two-factor-auth's phones and django-otp's HOTP devices: phone numbers and secrets.
    "CREATE TABLE two_factor_phonedevice (id {id}, name VARCHAR(64) NOT NULL, number VARCHAR(128) NOT NULL, "
    "\"key\" VARCHAR(40) NOT NULL, method VARCHAR(4) NOT NULL, user_id INTEGER NOT NULL)",
    "INSERT INTO two_factor_phonedevice (name, number, \"key\", method, user_id) VALUES "
    "('backup', 'pii+31600000000', 'pii-phonekey', 'sms', 1)",
    "CREATE TABLE otp_hotp_hotpdevice (id {id}, name VARCHAR(64) NOT NULL, \"key\" VARCHAR(80) NOT NULL, "
    "user_id INTEGER NOT NULL)",
    "INSERT INTO otp_hotp_hotpdevice (name, \"key\", user_id) VALUES ('fob', 'pii-hotpkey', 1)",
    # django-rest-knox's tokens and Simple JWT's record of issued refresh tokens (the whole token).
    "CREATE TABLE knox_authtoken (digest VARCHAR(128) NOT NULL PRIMARY KEY, token_key VARCHAR(25) NOT NULL, "
    "user_id INTEGER NOT NULL)",
    "INSERT INTO knox_authtoken VALUES ('pii-digest', 'pii-tokenkey', 1)",
    "CREATE TABLE token_blacklist_outstandingtoken (id {id}, token TEXT NOT NULL, jti VARCHAR(255) NOT NULL UNIQUE, "
    "user_id INTEGER NULL)",
    "INSERT INTO token_blacklist_outstandingtoken (token, jti, user_id) VALUES ('pii-eyJ.refresh', 'pii-jti2', 1)",
    "CREATE TABLE token_blacklist_blacklistedtoken (id {id}, token_id INTEGER NOT NULL UNIQUE)",
    "INSERT INTO token_blacklist_blacklistedtoken (token_id) VALUES (1)",
    # django-axes: every login attempt with the username, address, browser and the form's data.
    "CREATE TABLE axes_accessattempt (id {id}, user_agent VARCHAR(255) NOT NULL, ip_address VARCHAR(39) NULL, "
    "username VARCHAR(255) NULL, get_data TEXT NOT NULL, post_data TEXT NOT NULL)",
    "INSERT INTO axes_accessattempt (user_agent, ip_address, username, get_data, post_data) VALUES "
    "('pii-Firefox', 'pii-203.0.113.7', 'pii-ann@real.example', '', 'username=pii-ann')",
    "CREATE TABLE axes_accesslog (id {id}, user_agent VARCHAR(255) NOT NULL, ip_address VARCHAR(39) NULL, "
    "username VARCHAR(255) NULL)",
    "INSERT INTO axes_accesslog (user_agent, ip_address, username) VALUES ('pii-Firefox', 'pii-ip', 'pii-ann')",
    "CREATE TABLE axes_accessfailurelog (id {id}, user_agent VARCHAR(255) NOT NULL, ip_address VARCHAR(39) NULL, "
    "username VARCHAR(255) NULL)",
    "INSERT INTO axes_accessfailurelog (user_agent, ip_address, username) VALUES ('pii-Firefox', 'pii-ip', 'pii-b')",
    # django-celery-results: the tasks' arguments and results (addresses, API payloads).
    "CREATE TABLE django_celery_results_taskresult (id {id}, task_id VARCHAR(255) NOT NULL UNIQUE, "
    "task_args TEXT NULL, task_kwargs TEXT NULL, result TEXT NULL)",
    "INSERT INTO django_celery_results_taskresult (task_id, task_args, task_kwargs, result) VALUES "
    "('t1', '[\"pii-ann@real.example\"]', '{{}}', 'pii-result')",
    # django-silk: recorded requests and responses with their headers (cookies), bodies and queries.
    "CREATE TABLE silk_request (id VARCHAR(36) NOT NULL PRIMARY KEY, path VARCHAR(2000) NOT NULL, "
    "encoded_headers TEXT NOT NULL, body TEXT NOT NULL, raw_body TEXT NOT NULL)",
    "INSERT INTO silk_request VALUES ('r1', '/reset/pii-url-token/', '{{\"COOKIE\": \"pii-sessionid\"}}', "
    "'pii-body', 'pii-raw')",
    "CREATE TABLE silk_response (id VARCHAR(36) NOT NULL PRIMARY KEY, request_id VARCHAR(36) NOT NULL UNIQUE, "
    "encoded_headers TEXT NOT NULL, body TEXT NOT NULL, raw_body TEXT NOT NULL)",
    "INSERT INTO silk_response VALUES ('p1', 'r1', '{{}}', 'pii-response', '')",
    "CREATE TABLE silk_sqlquery (id {id}, query TEXT NOT NULL, request_id VARCHAR(36) NULL)",
    "INSERT INTO silk_sqlquery (query, request_id) VALUES ('SELECT 1 WHERE email = ''pii-ann@real.example''', 'r1')",
    # django-post-office's queued and sent mails.
    "CREATE TABLE post_office_email (id {id}, from_email VARCHAR(254) NOT NULL, \"to\" TEXT NOT NULL, "
    "cc TEXT NOT NULL, bcc TEXT NOT NULL, subject VARCHAR(989) NOT NULL, message TEXT NOT NULL, "
    "html_message TEXT NOT NULL, context TEXT NULL)",
    "INSERT INTO post_office_email (from_email, \"to\", cc, bcc, subject, message, html_message, context) VALUES "
    "('shop@example.com', 'pii-ann@real.example', '', '', 'Your order', 'pii-Dear Ann', '', '{{}}')",
    "CREATE TABLE post_office_log (id {id}, email_id INTEGER NOT NULL, message TEXT NOT NULL)",
    "INSERT INTO post_office_log (email_id, message) VALUES (1, 'pii-550 rejected pii-ann@real.example')",
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
        result = dump_with_engine(database, stream, serve_dump_options(framework))
    dumped = out.read_bytes()
    leaked = sorted({found.decode() for found in re.findall(rb"pii[\w.@-]*", dumped)})
    assert not leaked, f"personal data or credentials in the {engine} dump: {leaked}"
    # Each address of an account becomes its own, so allauth's (user, email) stays unique.
    for address in (b"user1@example.invalid", b"user2@example.invalid", b"user3@example.invalid"):
        assert address in dumped

    # The masked values still fit their columns (NOT NULL, UNIQUE, JSON): the dump loads.
    install_into_empty_copy(database, out, result, request, tmp_path / "copy.sqlite3", django_manager)
