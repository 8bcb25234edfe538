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
from synco_core.testing.services import database_from_script, install_into_empty_copy

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
    # devise_invitable's pending invitation: the token sets the account's password.
    "ALTER TABLE users ADD COLUMN invitation_token VARCHAR(255)",
    "UPDATE users SET invitation_token = 'pii-invitation'",
    # Doorkeeper's applications: the client secret (stored as it is by default).
    "CREATE TABLE oauth_applications (id {id}, name VARCHAR(255) NOT NULL, uid VARCHAR(255) NOT NULL UNIQUE, "
    "secret VARCHAR(255) NOT NULL, redirect_uri TEXT NOT NULL, scopes VARCHAR(255) NOT NULL DEFAULT '', "
    "confidential BOOLEAN NOT NULL DEFAULT TRUE)",
    "INSERT INTO oauth_applications (name, uid, secret, redirect_uri) VALUES "
    "('app', 'public-uid', 'pii-client-secret', 'https://app.example/callback')",
    # audited's audits: each change with the request's address.
    "CREATE TABLE audits (id {id}, auditable_id BIGINT, auditable_type VARCHAR(255), user_id BIGINT, "
    "action VARCHAR(255), audited_changes TEXT, version INTEGER DEFAULT 0, comment VARCHAR(255), "
    "remote_address VARCHAR(255), request_uuid VARCHAR(255))",
    "INSERT INTO audits (auditable_id, auditable_type, action, audited_changes, remote_address) VALUES "
    "(1, 'User', 'update', '---\nemail:\n- pii-old@real.example\n', 'pii-203.0.113.8')",
    # Ahoy's visits (address, browser, location, landing page) and events, and Ahoy Email's sent messages.
    "CREATE TABLE ahoy_visits (id {id}, visit_token VARCHAR(255), visitor_token VARCHAR(255), user_id BIGINT, "
    "ip VARCHAR(255), user_agent TEXT, referrer TEXT, landing_page TEXT, city VARCHAR(255), "
    "region VARCHAR(255), postal_code VARCHAR(255), latitude DECIMAL(10, 8), longitude DECIMAL(11, 8))",
    "INSERT INTO ahoy_visits (visit_token, visitor_token, user_id, ip, user_agent, referrer, landing_page, city, "
    "region, postal_code, latitude) VALUES ('v1', 'pii-visitor', 1, 'pii-203.0.113.9', 'pii-Safari', "
    "'https://mail.example/?to=pii-ann', 'https://app.example/reset?token=pii-reset', 'pii-Utrecht', "
    "'pii-UT', 'pii-3511', 52.09)",
    "CREATE TABLE ahoy_events (id {id}, visit_id BIGINT, user_id BIGINT, name VARCHAR(255), properties TEXT, "
    "time TIMESTAMP NULL)",
    "INSERT INTO ahoy_events (visit_id, user_id, name, properties) VALUES "
    "(1, 1, 'Signed up', '{{\"email\": \"pii-ann@real.example\"}}')",
    "CREATE TABLE ahoy_messages (id {id}, user_type VARCHAR(255), user_id BIGINT, \"to\" TEXT, "
    "mailer VARCHAR(255), subject TEXT, sent_at TIMESTAMP NULL)",
    "INSERT INTO ahoy_messages (\"to\", mailer, subject) VALUES ('pii-ann@real.example', 'UserMailer', 'pii-Hi Ann')",
    # GoodJob's queue: the jobs' serialized arguments and errors (mail deliveries with addresses).
    "CREATE TABLE good_jobs (id VARCHAR(36) NOT NULL PRIMARY KEY, queue_name TEXT, serialized_params TEXT, "
    "error TEXT)",
    "INSERT INTO good_jobs VALUES ('j1', 'mailers', '{{\"arguments\": [\"pii-ann@real.example\"]}}', 'pii-err')",
    "CREATE TABLE good_job_executions (id VARCHAR(36) NOT NULL PRIMARY KEY, active_job_id VARCHAR(36) NOT NULL, "
    "serialized_params TEXT, error TEXT)",
    "INSERT INTO good_job_executions VALUES ('e1', 'j1', '{{\"arguments\": [\"pii-bob@real.example\"]}}', NULL)",
    # Pay (Stripe, Paddle, Braintree): the live customer id, and the cards' and charges' details.
    "CREATE TABLE pay_customers (id {id}, owner_type VARCHAR(255), owner_id BIGINT, processor VARCHAR(255) NOT NULL, "
    "processor_id VARCHAR(255), data TEXT)",
    "INSERT INTO pay_customers (owner_type, owner_id, processor, processor_id, data) VALUES "
    "('User', 1, 'stripe', 'cus_pii', '{{\"email\": \"pii-ann@real.example\"}}')",
    "CREATE TABLE pay_payment_methods (id {id}, customer_id BIGINT NOT NULL, processor_id VARCHAR(255) NOT NULL, "
    "payment_method_type VARCHAR(255), data TEXT)",
    "INSERT INTO pay_payment_methods (customer_id, processor_id, data) VALUES "
    "(1, 'pm_1', '{{\"last4\": \"pii-4242\", \"exp_year\": 2030}}')",
    "CREATE TABLE pay_charges (id {id}, customer_id BIGINT NOT NULL, processor_id VARCHAR(255) NOT NULL, "
    "amount INTEGER NOT NULL, data TEXT)",
    "INSERT INTO pay_charges (customer_id, processor_id, amount, data) VALUES "
    "(1, 'ch_1', 900, '{{\"receipt_url\": \"https://pay.stripe.com/pii-receipt\"}}')",
    "CREATE TABLE pay_webhooks (id {id}, processor VARCHAR(255), event_type VARCHAR(255), event TEXT)",
    "INSERT INTO pay_webhooks (processor, event_type, event) VALUES "
    "('stripe', 'charge.succeeded', '{{\"billing_details\": \"pii-Ann Street 1\"}}')",
)
AUTO_ID = {"mysql": "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY", "postgresql": "BIGSERIAL PRIMARY KEY",
           "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT"}


def make_database(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseConfig:
    statements = [statement.format(id=AUTO_ID[engine]) for statement in SCHEMA]
    return database_from_script(engine, statements, request, tmp_path / "production.sqlite3",
                                mysql_sql_mode="ANSI_QUOTES")


@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_no_personal_data_or_secret_leaves(engine: str, rails_manager: SyncoPluginManager, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    database = make_database(engine, request, tmp_path)
    framework = Framework(name="Rails", plugin="rails", project_dir=tmp_path, database=database)
    out = tmp_path / "dump"
    with out.open("wb") as stream:
        result = dump_with_engine(database, stream, serve_dump_options(framework))
    dumped = out.read_bytes()
    leaked = sorted({found.decode() for found in re.findall(rb"pii[\w.@-]*", dumped)})
    assert not leaked, f"personal data or secrets in the {engine} dump: {leaked}"
    assert b"user1@example.invalid" in dumped

    # The masked values still fit their columns (NOT NULL, UNIQUE, JSON): the dump loads.
    install_into_empty_copy(database, out, result, request, tmp_path / "copy.sqlite3", rails_manager)


#: The queues the smart transfer leaves out, whose rows ``serve --all`` ships: the jobs' serialized arguments
#: (a mail delivery names its recipient) and errors, as Solid Queue, GoodJob and Delayed Job store them.
QUEUE_SCHEMA = (
    "CREATE TABLE solid_queue_jobs (id {id}, queue_name VARCHAR(255) NOT NULL, class_name VARCHAR(255) NOT NULL, "
    "arguments TEXT, priority INTEGER DEFAULT 0 NOT NULL, active_job_id VARCHAR(255), finished_at TIMESTAMP NULL)",
    "INSERT INTO solid_queue_jobs (queue_name, class_name, arguments) VALUES "
    "('mailers', 'ActionMailer::MailDeliveryJob', '{{\"arguments\": [\"pii-ann@real.example\"]}}')",
    "CREATE TABLE solid_queue_failed_executions (id {id}, job_id BIGINT NOT NULL, error TEXT)",
    "INSERT INTO solid_queue_failed_executions (job_id, error) VALUES (1, 'pii-550 no such user pii-ann')",
    "CREATE TABLE good_jobs (id VARCHAR(36) NOT NULL PRIMARY KEY, serialized_params TEXT, error TEXT)",
    "INSERT INTO good_jobs VALUES ('j1', '{{\"arguments\": [\"pii-bob@real.example\"]}}', 'pii-err')",
    "CREATE TABLE good_job_executions (id VARCHAR(36) NOT NULL PRIMARY KEY, serialized_params TEXT, error TEXT)",
    "INSERT INTO good_job_executions VALUES ('e1', '{{\"arguments\": [\"pii-bob@real.example\"]}}', NULL)",
    "CREATE TABLE delayed_jobs (id {id}, priority INTEGER DEFAULT 0 NOT NULL, attempts INTEGER DEFAULT 0 NOT NULL, "
    "handler TEXT NOT NULL, last_error TEXT, queue VARCHAR(255))",
    "INSERT INTO delayed_jobs (handler, last_error) VALUES ('--- !ruby/object:Mail to: pii-cy@real.example', "
    "'pii-trace')",
)


@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("engine", ["postgresql", "mysql", "sqlite"])
def test_queued_jobs_shipped_with_all_are_masked(engine: str, rails_manager: SyncoPluginManager, tmp_path: Path,
                                                 request: pytest.FixtureRequest) -> None:
    statements = [statement.format(id=AUTO_ID[engine]) for statement in QUEUE_SCHEMA]
    database = database_from_script(engine, statements, request, tmp_path / "production.sqlite3")
    framework = Framework(name="Rails", plugin="rails", project_dir=tmp_path, database=database)
    out = tmp_path / "dump"
    with out.open("wb") as stream:
        result = dump_with_engine(database, stream, serve_dump_options(framework, all=True))
    dumped = out.read_bytes()
    leaked = sorted({found.decode() for found in re.findall(rb"pii[\w.@-]*", dumped)})
    assert not leaked, f"personal data in the {engine} dump with --all: {leaked}"
    assert b"ActionMailer::MailDeliveryJob" in dumped, "the rows still ship with --all"
    install_into_empty_copy(database, out, result, request, tmp_path / "copy.sqlite3", rails_manager)
