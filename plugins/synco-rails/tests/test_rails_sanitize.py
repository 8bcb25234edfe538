"""The sanitising profile on the tables Rails and its most used gems create, on each engine.

Besides Devise's columns of ``users``, a Rails application keeps secrets and personal data in
devise-two-factor's columns (the TOTP secret, encrypted or not, and backup codes), Doorkeeper's tokens and
grants (stored as they are by default) and PaperTrail's ``versions``, whose ``object`` and ``object_changes``
hold every earlier state of a record: the e-mail address and password hash the ``users`` rules mask, again.
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

#: As the gems' migrations make them, reduced to the columns that matter (``{id}``: auto-increment key).
SCHEMA = (
    "CREATE TABLE users (id {id}, email VARCHAR(255) NOT NULL DEFAULT '', encrypted_password VARCHAR(255) NOT NULL, "
    "otp_secret VARCHAR(255), encrypted_otp_secret VARCHAR(255), encrypted_otp_secret_iv VARCHAR(255), "
    "encrypted_otp_secret_salt VARCHAR(255), otp_backup_codes TEXT, consumed_timestep INTEGER, "
    "otp_required_for_login BOOLEAN NOT NULL DEFAULT FALSE, authentication_token VARCHAR(30))",
    "CREATE TABLE oauth_access_tokens (id {id}, resource_owner_id BIGINT, application_id BIGINT NOT NULL, "
    "token VARCHAR(255) NOT NULL, refresh_token VARCHAR(255), scopes VARCHAR(255))",
    "CREATE TABLE oauth_access_grants (id {id}, resource_owner_id BIGINT NOT NULL, application_id BIGINT NOT NULL, "
    "token VARCHAR(255) NOT NULL, redirect_uri TEXT NOT NULL)",
    "CREATE TABLE versions (id {id}, item_type VARCHAR(255) NOT NULL, item_id BIGINT NOT NULL, "
    "event VARCHAR(255) NOT NULL, whodunnit VARCHAR(255), object TEXT, object_changes TEXT)",
    "INSERT INTO users (email, encrypted_password, otp_secret, encrypted_otp_secret, encrypted_otp_secret_iv, "
    "encrypted_otp_secret_salt, otp_backup_codes, consumed_timestep, otp_required_for_login, authentication_token) "
    "VALUES ('pii-ann@real.example', 'pii-hash', 'pii-totp', 'pii-enc', 'pii-iv', 'pii-salt', 'pii-codes', 5, TRUE, "
    "'pii-authtoken')",
    "INSERT INTO oauth_access_tokens (resource_owner_id, application_id, token, refresh_token) VALUES "
    "(1, 1, 'pii-access', 'pii-refresh')",
    "INSERT INTO oauth_access_grants (resource_owner_id, application_id, token, redirect_uri) VALUES "
    "(1, 1, 'pii-grant', 'https://app.example/callback')",
    "INSERT INTO versions (item_type, item_id, event, whodunnit, object, object_changes) VALUES "
    "('User', 1, 'update', '1', '---\nemail: pii-old@real.example\nencrypted_password: pii-oldhash\n', "
    "'---\nemail:\n- pii-old@real.example\n- pii-ann@real.example\n')",
)
AUTO_ID = {"mysql": "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY", "postgresql": "BIGSERIAL PRIMARY KEY",
           "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT"}


def make_database(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseConfig:
    statements = [statement.format(id=AUTO_ID[engine]) for statement in SCHEMA]
    return database_from_script(engine, statements, request, tmp_path / "production.sqlite3")


@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_no_personal_data_or_secret_leaves(engine: str, rails_manager: SyncoPluginManager, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    database = make_database(engine, request, tmp_path)
    framework = Framework(name="Rails", plugin="rails", project_dir=tmp_path, database=database)
    out = tmp_path / "dump"
    with out.open("wb") as stream:
        dump_with_engine(database, stream, serve_dump_options(framework))
    dumped = out.read_bytes()
    leaked = sorted({found.decode() for found in re.findall(rb"pii[\w.@-]*", dumped)})
    assert not leaked, f"personal data or secrets in the {engine} dump: {leaked}"
    assert b"user1@example.invalid" in dumped
