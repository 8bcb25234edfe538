"""No personal data or credential of a Rails application, its admin (ActiveAdmin) or a Spree/Solidus shop leaves
the server.

Markers (``pii...``, addresses in 203.0.113.0/24) are planted in the tables as Devise's, ActiveAdmin's and
Spree's migrations create them; after a dump as ``serve`` makes it (with and without ``--all``) on each
engine, none is left, what is not personal stays (``ar_internal_metadata`` among it), unique columns stay
unique, every account logs in with the documented password, and the dump loads into an empty database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from synco_rails.databases import PASSWORD_HASH

from synco_core import Framework
from synco_core.testing import SyncoPluginManager, assert_no_markers, dump_as_served
from synco_core.testing.services import database_from_script, install_into_empty_copy

DEVISE = """(id BIGINT PRIMARY KEY, email VARCHAR(255) DEFAULT '' NOT NULL UNIQUE,
    encrypted_password VARCHAR(255) DEFAULT '' NOT NULL, reset_password_token VARCHAR(255) UNIQUE,
    current_sign_in_ip VARCHAR(255), last_sign_in_ip VARCHAR(255)"""

SCHEMA = [
    f"""CREATE TABLE users {DEVISE}, first_name VARCHAR(255), last_name VARCHAR(255), name VARCHAR(255),
        username VARCHAR(255) UNIQUE)""",
    """INSERT INTO users VALUES (1, 'pii-ann@real.example', '$2a$12$pii-ann', 'pii-reset', '203.0.113.1',
        '203.0.113.2', 'pii-Ann', 'pii-Example', 'pii-Ann Example', 'pii-ann@real.example'),
        (2, 'pii-bob@real.example', '$2a$12$pii-bob', NULL, NULL, NULL, NULL, NULL, NULL, 'kept-bob')""",
    # ActiveAdmin's generator.
    """CREATE TABLE admin_users (id BIGINT PRIMARY KEY, email VARCHAR(255) DEFAULT '' NOT NULL UNIQUE,
        encrypted_password VARCHAR(255) DEFAULT '' NOT NULL, reset_password_token VARCHAR(255) UNIQUE,
        api_token VARCHAR(255) UNIQUE, github_token VARCHAR(255))""",
    """INSERT INTO admin_users VALUES (1, 'pii-root@real.example', '$2a$12$pii-root', 'pii-adminreset', 'pii-api1',
        'gho_pii'), (2, 'pii-ops@real.example', '$2a$12$pii-ops', NULL, 'pii-api2', NULL)""",
    # spree_auth_devise's accounts.
    """CREATE TABLE spree_users (id BIGINT PRIMARY KEY, encrypted_password VARCHAR(128), password_salt VARCHAR(128),
        email VARCHAR(255), remember_token VARCHAR(255), persistence_token VARCHAR(255),
        reset_password_token VARCHAR(255), perishable_token VARCHAR(255), current_sign_in_ip VARCHAR(255),
        login VARCHAR(255), spree_api_key VARCHAR(48), confirmation_token VARCHAR(255))""",
    """INSERT INTO spree_users VALUES (1, 'pii-hash', 'pii-salt', 'pii-cat@real.example', 'pii-remember',
        'pii-persist', 'pii-reset2', 'pii-perish', '203.0.113.3', 'pii-cat@real.example', 'pii-apikey', 'pii-conf')""",
    """CREATE TABLE spree_addresses (id BIGINT PRIMARY KEY, firstname VARCHAR(255), lastname VARCHAR(255),
        address1 VARCHAR(255), address2 VARCHAR(255), city VARCHAR(255), zipcode VARCHAR(255), phone VARCHAR(255),
        state_name VARCHAR(255), alternative_phone VARCHAR(255), company VARCHAR(255), state_id BIGINT,
        country_id BIGINT, user_id BIGINT)""",
    """INSERT INTO spree_addresses VALUES (1, 'pii-Cat', 'pii-Shopper', 'pii-street', 'pii-floor', 'pii-city',
        'pii-3000', 'pii-555', 'pii-state', 'pii-556', 'pii-company', 7, 41, 1)""",
    """CREATE TABLE spree_orders (id BIGINT PRIMARY KEY, number VARCHAR(32), user_id BIGINT, email VARCHAR(255),
        special_instructions TEXT, last_ip_address VARCHAR(255), guest_token VARCHAR(255))""",
    """INSERT INTO spree_orders VALUES (1, 'kept-R123', 1, 'pii-cat@real.example', 'pii-door', '203.0.113.4',
        'pii-guest')""",
    """CREATE TABLE spree_credit_cards (id BIGINT PRIMARY KEY, month VARCHAR(255), year VARCHAR(255),
        cc_type VARCHAR(255), last_digits VARCHAR(255), gateway_customer_profile_id VARCHAR(255),
        gateway_payment_profile_id VARCHAR(255), name VARCHAR(255), user_id BIGINT)""",
    "INSERT INTO spree_credit_cards VALUES (1, '1', '2030', 'visa', '4242', 'cus_pii', 'card_pii', 'pii-Cat', 1)",
    """CREATE TABLE spree_payments (id BIGINT PRIMARY KEY, order_id BIGINT, response_code VARCHAR(255),
        avs_response VARCHAR(255), state VARCHAR(255))""",
    "INSERT INTO spree_payments VALUES (1, 1, 'ch_pii', 'pii-avs', 'kept-completed')",
    """CREATE TABLE spree_payment_methods (id BIGINT PRIMARY KEY, type VARCHAR(255), name VARCHAR(255),
        preferences TEXT)""",
    """INSERT INTO spree_payment_methods VALUES (1, 'Spree::Gateway::StripeGateway', 'kept-Stripe',
        '---
:secret_key: sk_live_pii
:publishable_key: pk_live_pii
')""",
    """CREATE TABLE solid_cache_entries (id BIGINT PRIMARY KEY, "key" VARCHAR(1024) NOT NULL, value TEXT NOT NULL,
        key_hash BIGINT NOT NULL, byte_size INT NOT NULL)""",
    "INSERT INTO solid_cache_entries VALUES (1, 'views/users/1', '<p>pii-ann@real.example</p>', 1, 10)",
    """CREATE TABLE solid_cable_messages (id BIGINT PRIMARY KEY, channel VARCHAR(1024) NOT NULL,
        payload TEXT NOT NULL, channel_hash BIGINT NOT NULL)""",
    "INSERT INTO solid_cable_messages VALUES (1, 'chat_1', '{\"body\": \"pii-hello\"}', 1)",
    # activerecord-session_store under a configured name.
    """CREATE TABLE web_sessions (id BIGINT PRIMARY KEY, session_id VARCHAR(255) NOT NULL, data TEXT)""",
    "INSERT INTO web_sessions VALUES (1, 'pii-sid', 'pii-session-data')",
    """CREATE TABLE ar_internal_metadata ("key" VARCHAR(255) PRIMARY KEY, value VARCHAR(255))""",
    "INSERT INTO ar_internal_metadata VALUES ('environment', 'kept-production')",
]


@pytest.mark.mysql
@pytest.mark.postgres
@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("all_rows", [False, True], ids=["default", "serve-all"])
@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_no_personal_data_or_credential_leaves(engine: str, all_rows: bool, rails_manager: SyncoPluginManager,
                                               tmp_path: Path, request: pytest.FixtureRequest) -> None:
    database = database_from_script(engine, SCHEMA, request, tmp_path / "source.sqlite", mysql_sql_mode="ANSI_QUOTES")
    framework = Framework(name="Rails", plugin="rails", project_dir=tmp_path, database=database)
    out = tmp_path / "dump"
    result = dump_as_served(framework, out, all=all_rows, manager=rails_manager)
    dumped = out.read_bytes()
    assert_no_markers(dumped, kept=(b"kept-bob", b"kept-R123", b"kept-completed", b"kept-Stripe", b"kept-production"))
    install_into_empty_copy(database, out, result, request, tmp_path / "copy.sqlite", rails_manager)
    if engine == "sqlite":
        with sqlite3.connect(tmp_path / "copy.sqlite") as copy:
            admins = copy.execute("SELECT email, encrypted_password FROM admin_users ORDER BY id").fetchall()
            logins = copy.execute("SELECT username FROM users ORDER BY id").fetchall()
        assert admins == [(f"user{n}@example.invalid", PASSWORD_HASH) for n in (1, 2)]
        assert logins == [("user1@example.invalid",), ("kept-bob",)]
