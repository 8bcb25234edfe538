"""No personal data or credential of a Symfony application, or of a Sylius shop, leaves the server.

Markers (``pii...``, addresses in 203.0.113.0/24) are planted in the tables as ``make:user`` and Sylius'
migrations create them, and in a User entity's table under another name; after a dump as ``serve`` makes it
(with and without ``--all``) on MySQL and PostgreSQL, none is left, what is not personal stays, unique columns
stay unique and the dump loads into an empty database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from synco_core import Framework
from synco_core.testing import SyncoPluginManager, assert_no_markers, dump_as_served
from synco_core.testing.services import database_from_script, install_into_empty_copy

SCHEMA = [
    """CREATE TABLE "user" (id INT PRIMARY KEY, email VARCHAR(180) NOT NULL UNIQUE, roles TEXT NOT NULL,
        password VARCHAR(255) NOT NULL, first_name VARCHAR(255), last_name VARCHAR(255))""",
    """INSERT INTO "user" VALUES (1, 'pii-ann@real.example', '[]', '$2y$13$pii-hash', 'pii-Ann', 'pii-Example')""",
    # A User entity of the application's own naming, logging in by an e-mail address as its username.
    """CREATE TABLE app_admin (id INT PRIMARY KEY, username VARCHAR(180) NOT NULL UNIQUE, roles TEXT NOT NULL,
        password VARCHAR(255) NOT NULL, api_token VARCHAR(255) UNIQUE)""",
    """INSERT INTO app_admin VALUES (1, 'pii-root@real.example', '["ROLE_ADMIN"]', '$2y$13$pii-root', 'pii-api1'),
        (2, 'kept-operator', '[]', '$2y$13$pii-operator', 'pii-api2')""",
    """CREATE TABLE sylius_customer (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL,
        email_canonical VARCHAR(255) NOT NULL UNIQUE, first_name VARCHAR(255), last_name VARCHAR(255),
        birthday TIMESTAMP NULL, gender VARCHAR(1) NOT NULL, phone_number VARCHAR(255))""",
    """INSERT INTO sylius_customer VALUES (1, 'pii-Cat@real.example', 'pii-cat@real.example', 'pii-Cat', 'pii-Shopper',
        '1980-02-03 00:00:00', 'f', 'pii-555'), (2, 'pii-dan@real.example', 'pii-dan@real.example', NULL, NULL,
        NULL, 'u', NULL)""",
    """CREATE TABLE sylius_shop_user (id INT PRIMARY KEY, customer_id INT NOT NULL, username VARCHAR(255),
        username_canonical VARCHAR(255), enabled SMALLINT NOT NULL, salt VARCHAR(255) NOT NULL, password VARCHAR(255),
        encoder_name VARCHAR(255), password_reset_token VARCHAR(255) UNIQUE,
        email_verification_token VARCHAR(255) UNIQUE, roles TEXT NOT NULL, email VARCHAR(255),
        email_canonical VARCHAR(255))""",
    """INSERT INTO sylius_shop_user VALUES (1, 1, 'pii-Cat@real.example', 'pii-cat@real.example', 1, 'pii-salt',
        '$argon2i$pii-hash', 'argon2i', 'pii-reset', 'pii-verify', 'a:1:{i:0;s:9:"ROLE_USER";}', NULL, NULL),
        (2, 2, 'pii-dan@real.example', 'pii-dan@real.example', 1, 'pii-salt2', '$argon2i$pii-hash2', 'argon2i',
        NULL, NULL, 'a:0:{}', NULL, NULL)""",
    """CREATE TABLE sylius_admin_user (id INT PRIMARY KEY, username VARCHAR(255), username_canonical VARCHAR(255),
        enabled SMALLINT NOT NULL, salt VARCHAR(255) NOT NULL, password VARCHAR(255), password_reset_token
        VARCHAR(255) UNIQUE, roles TEXT NOT NULL, email VARCHAR(255), email_canonical VARCHAR(255),
        first_name VARCHAR(255), last_name VARCHAR(255), locale_code VARCHAR(12) NOT NULL)""",
    """INSERT INTO sylius_admin_user VALUES (1, 'kept-sylius', 'kept-sylius', 1, 'pii-salt3', '$argon2i$pii-admin',
        'pii-adminreset', 'a:0:{}', 'pii-admin@real.example', 'pii-admin@real.example', 'pii-Eve', 'pii-Admin',
        'en_US')""",
    """CREATE TABLE sylius_address (id INT PRIMARY KEY, customer_id INT, first_name VARCHAR(255) NOT NULL,
        last_name VARCHAR(255) NOT NULL, phone_number VARCHAR(255), street VARCHAR(255) NOT NULL,
        company VARCHAR(255), city VARCHAR(255) NOT NULL, postcode VARCHAR(255) NOT NULL,
        country_code VARCHAR(255) NOT NULL, province_code VARCHAR(255), province_name VARCHAR(255))""",
    """INSERT INTO sylius_address VALUES (1, 1, 'pii-Cat', 'pii-Shopper', 'pii-556', 'pii-street', 'pii-company',
        'pii-city', 'pii-3000', 'kept-CH', NULL, 'pii-province')""",
    """CREATE TABLE sylius_address_log_entries (id INT PRIMARY KEY, action VARCHAR(255) NOT NULL,
        logged_at TIMESTAMP NOT NULL, object_id VARCHAR(64), object_class VARCHAR(255) NOT NULL, version INT NOT NULL,
        data TEXT NOT NULL, username VARCHAR(255))""",
    """INSERT INTO sylius_address_log_entries VALUES (1, 'update', '2024-01-01 00:00:00', '1', 'Address', 2,
        'a:1:{s:6:"street";s:14:"pii-old-street";}', 'pii-cat@real.example')""",
    """CREATE TABLE sylius_order (id INT PRIMARY KEY, customer_id INT, number VARCHAR(255), notes TEXT,
        state VARCHAR(255) NOT NULL, token_value VARCHAR(255) UNIQUE, customer_ip VARCHAR(255))""",
    """INSERT INTO sylius_order VALUES (1, 1, 'kept-000001', 'pii-leave at the door', 'new', 'pii-ordertoken',
        '203.0.113.5'), (2, 2, 'kept-000002', NULL, 'cart', 'pii-carttoken', '203.0.113.6')""",
    """CREATE TABLE sylius_payment (id INT PRIMARY KEY, order_id INT NOT NULL, currency_code VARCHAR(3) NOT NULL,
        amount INT NOT NULL, state VARCHAR(255) NOT NULL, details TEXT NOT NULL)""",
    """INSERT INTO sylius_payment VALUES (1, 1, 'CHF', 100, 'completed',
        '{"payer_email": "pii-payer@real.example"}')""",
    """CREATE TABLE sylius_payment_security_token (hash VARCHAR(255) PRIMARY KEY, details TEXT, after_url TEXT,
        target_url TEXT NOT NULL, gateway_name VARCHAR(255) NOT NULL)""",
    "INSERT INTO sylius_payment_security_token VALUES ('pii-capture', NULL, NULL, 'https://shop/pay', 'paypal')",
    """CREATE TABLE sylius_gateway_config (id INT PRIMARY KEY, config TEXT NOT NULL, gateway_name VARCHAR(255)
        NOT NULL, factory_name VARCHAR(255) NOT NULL)""",
    """INSERT INTO sylius_gateway_config VALUES (1, '{"username": "pii-api", "password": "pii-apipass",
        "signature": "pii-sig"}', 'kept-paypal', 'paypal_express_checkout')""",
    """CREATE TABLE sylius_user_oauth (id INT PRIMARY KEY, user_id INT, provider VARCHAR(255) NOT NULL,
        identifier VARCHAR(255) NOT NULL, access_token VARCHAR(255), refresh_token VARCHAR(255))""",
    "INSERT INTO sylius_user_oauth VALUES (1, 1, 'google', 'pii-google-id', 'pii-access', 'pii-refresh')",
    # Gedmo's Loggable in its default table, and an auditor-bundle audit table.
    """CREATE TABLE ext_log_entries (id INT PRIMARY KEY, action VARCHAR(8) NOT NULL, logged_at TIMESTAMP NOT NULL,
        object_id VARCHAR(64), object_class VARCHAR(191) NOT NULL, version INT NOT NULL, data TEXT,
        username VARCHAR(191))""",
    """INSERT INTO ext_log_entries VALUES (1, 'update', '2024-01-01 00:00:00', '1', 'App:User', 2,
        'a:1:{s:5:"email";s:20:"pii-old@real.example";}', 'pii-ann@real.example')""",
    """CREATE TABLE user_audit (id INT PRIMARY KEY, type VARCHAR(10) NOT NULL, object_id VARCHAR(255) NOT NULL,
        discriminator VARCHAR(255), transaction_hash VARCHAR(40), diffs TEXT, blame_id VARCHAR(255),
        blame_user VARCHAR(255), blame_user_fqdn VARCHAR(255), blame_user_firewall VARCHAR(100), ip VARCHAR(45),
        created_at TIMESTAMP NOT NULL)""",
    """INSERT INTO user_audit VALUES (1, 'update', '1', NULL, 'x', '{"email": {"old": "pii-old2@real.example"}}',
        '1', 'pii-ann@real.example', NULL, 'main', '203.0.113.9', '2024-01-01 00:00:00')""",
    # PdoSessionHandler and Messenger under the names their options give them.
    """CREATE TABLE app_sessions (sess_id VARCHAR(128) PRIMARY KEY, sess_data TEXT NOT NULL,
        sess_lifetime INT NOT NULL, sess_time INT NOT NULL)""",
    "INSERT INTO app_sessions VALUES ('pii-sid', '_sf2_attributes|pii-ann@real.example', 60, 1)",
    """CREATE TABLE async_messages (id BIGINT PRIMARY KEY, body TEXT NOT NULL, headers TEXT NOT NULL,
        queue_name VARCHAR(190) NOT NULL, created_at TIMESTAMP NOT NULL, available_at TIMESTAMP NOT NULL,
        delivered_at TIMESTAMP NULL)""",
    """INSERT INTO async_messages VALUES (1, 'O:36:"SendEmailMessage":1:{s:2:"to";s:8:"pii-mail";}', '[]', 'default',
        '2024-01-01 00:00:00', '2024-01-01 00:00:00', NULL)""",
    "CREATE TABLE product (id INT PRIMARY KEY, name VARCHAR(255))",
    "INSERT INTO product VALUES (1, 'kept-product')",
]


@pytest.mark.mysql
@pytest.mark.postgres
@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("all_rows", [False, True], ids=["default", "serve-all"])
@pytest.mark.parametrize("engine", ["mysql", "postgresql"])
def test_no_personal_data_or_credential_leaves(engine: str, all_rows: bool, symfony_manager: SyncoPluginManager,
                                               tmp_path: Path, request: pytest.FixtureRequest) -> None:
    database = database_from_script(engine, SCHEMA, request, tmp_path / "source.sqlite", mysql_sql_mode="ANSI_QUOTES")
    framework = Framework(name="Symfony", plugin="symfony", project_dir=tmp_path, database=database)
    out = tmp_path / "dump.sql"
    result = dump_as_served(framework, out, all=all_rows, manager=symfony_manager)
    dumped = out.read_bytes()
    assert_no_markers(dumped, kept=(b"kept-product", b"kept-operator", b"kept-sylius", b"kept-CH", b"kept-000002",
                                    b"kept-paypal"))
    install_into_empty_copy(database, out, result, request, tmp_path / "copy.sqlite", symfony_manager)
