"""Personal data in Drupal's field tables: configurable fields of users, Commerce customer profiles and orders.

Drupal keeps each configurable field in a table of its own (``user__field_phone``, ``profile__address``), with
the columns SqlContentEntityStorageSchema gives it: ``bundle, deleted, entity_id, revision_id, langcode, delta``
and one column per property, ``<field>_<property>``, typed as the property is (text, integer, decimal, boolean,
serialized blob). The tables below have that shape on each engine, with the column types Drupal's MySQL,
PostgreSQL and SQLite drivers create; every personal value carries the marker ``pii``.

After a dump with the options ``serve`` uses, loaded into an empty database of the same engine (MariaDB in its
default strict mode), no marker may be left, and what is not text (numbers, booleans, decimals, serialized
options, entity references, text formats, language and country codes) must be loaded unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from drupal_support import connection, copy_project, local_settings
from synco_drupal.profile import dump_options, field_table_rules, mysql_has_json

from synco_core import (
    DatabaseConfig,
    DatabaseInventory,
    InstallOptions,
    TableInfo,
    connect_with_engine,
    dump_with_engine,
)
from synco_core.testing import SyncoPluginManager, detect, serve_dump_options
from synco_core.testing.services import database_from_script

#: Column types per engine, as Drupal's schema layer maps them (varchar, text:big, int, numeric, blob:big,
#: int:tiny for booleans).
TYPES = {
    "mysql": {"varchar": "VARCHAR(255)", "text": "LONGTEXT", "int": "INT", "decimal": "DECIMAL(10,2)",
              "blob": "LONGBLOB", "tiny": "TINYINT", "json": "JSON",
              "domain": "VARCHAR(255)"},
    "postgresql": {"varchar": "character varying(255)", "text": "text", "int": "integer",
                   "decimal": "numeric(10,2)", "blob": "bytea", "tiny": "smallint", "json": "jsonb",
                   "domain": "drupal_text"},
    "sqlite": {"varchar": "VARCHAR(255)", "text": "TEXT", "int": "INTEGER", "decimal": "NUMERIC(10,2)",
               "blob": "BLOB", "tiny": "INTEGER", "json": "TEXT",
               "domain": "VARCHAR(255)"},
}
#: The columns every field table starts with.
FIELD_KEY = ("bundle {varchar} NOT NULL, deleted {tiny} NOT NULL, entity_id {int} NOT NULL, revision_id {int} "
             "NOT NULL, langcode VARCHAR(32) NOT NULL, delta {int} NOT NULL")
#: (table, its property columns and types); a table's rows follow in ROWS.
FIELD_TABLES = {
    "user__field_first_name": "field_first_name_value {varchar}",
    "user__field_phone": "field_phone_value VARCHAR(256)",
    "user__field_bio": "field_bio_value {text}, field_bio_format {varchar}",
    "user__field_birthday": "field_birthday_value VARCHAR(20)",
    "user__field_last_login_at": "field_last_login_at_value VARCHAR(20)",
    "user__field_website": "field_website_uri VARCHAR(2048), field_website_title {varchar}, "
                           "field_website_options {blob}",
    "user__field_age": "field_age_value {int}",
    "user__field_newsletter": "field_newsletter_value {tiny}",
    "user__field_credit": "field_credit_value {decimal}",
    "user__field_employer": "field_employer_target_id {int}",
    "user__roles": "roles_target_id VARCHAR(32)",
    # A field whose name made the table name too long: Drupal names it after a hash of the field's UUID.
    "user__4ac1a2d3b9": "field_emergency_contact_name_value {varchar}",
    "profile__address": "address_langcode VARCHAR(32), address_country_code VARCHAR(2), "
                        "address_administrative_area {varchar}, address_locality {varchar}, "
                        "address_dependent_locality {varchar}, address_postal_code {varchar}, "
                        "address_sorting_code {varchar}, address_address_line1 {varchar}, "
                        "address_address_line2 {varchar}, address_organization {varchar}, "
                        "address_given_name {varchar}, address_additional_name {varchar}, "
                        "address_family_name {varchar}",
    "profile__field_tax_number": "field_tax_number_value {varchar}",
    "commerce_order__field_gift_message": "field_gift_message_value {text}",
    "commerce_order__order_items": "order_items_target_id {int}",
    "commerce_order__adjustments": "adjustments_value {text}",
    "contact_message__field_phone": "field_phone_value VARCHAR(256)",
    # The JSON Field module's columns (json on MySQL/MariaDB, jsonb on PostgreSQL), one row per JSON shape.
    "user__field_preferences": "field_preferences_value {json}",
    # Text of a type PostgreSQL does not name text: a domain over it (citext is another).
    "user__field_nickname": "field_nickname_value {domain}",
}
TABLES = [
    "CREATE TABLE {p}commerce_order (order_id {int} NOT NULL PRIMARY KEY, type VARCHAR(32) NOT NULL, "
    "uid {int} NOT NULL, mail VARCHAR(254), ip_address VARCHAR(128), total_price__number {decimal}, "
    "total_price__currency_code VARCHAR(3))",
    "CREATE TABLE {p}commerce_payment_method (method_id {int} NOT NULL PRIMARY KEY, type VARCHAR(32) NOT NULL, "
    "uid {int} NOT NULL, remote_id {varchar}, card_type {varchar}, card_number {varchar}, "
    "card_exp_month {int}, card_exp_year {int}, billing_profile__target_id {int})",
    "CREATE TABLE {p}commerce_payment (payment_id {int} NOT NULL PRIMARY KEY, remote_id {varchar}, "
    "amount__number {decimal})",
]
#: Every row of a field table: (bundle, deleted, entity_id, revision_id, langcode, delta, properties...).
ROWS = {
    "user__field_first_name": [("'user'", "'pii-Ann'"), ("'user'", "NULL")],
    "user__field_phone": [("'user'", "'+33 6 pii 12 34'")],
    "user__field_bio": [("'user'", "'pii-my life story'", "'basic_html'")],
    "user__field_birthday": [("'user'", "'1985-03-14'")],
    "user__field_last_login_at": [("'user'", "'2024-05-06T07:08:09'")],
    "user__field_website": [("'user'", "'https://pii-ann.example/'", "'pii-my site'", "{blob_options}")],
    "user__field_age": [("'user'", "4242")],
    "user__field_newsletter": [("'user'", "1")],
    "user__field_credit": [("'user'", "12.50")],
    "user__field_employer": [("'user'", "777")],
    "user__roles": [("'user'", "'administrator'")],
    "user__4ac1a2d3b9": [("'user'", "'pii-Emergency Contact'")],
    "profile__address": [("'customer'", "'fr'", "'FR'", "'pii-area'", "'pii-Paris'", "'pii-dep'", "'pii75001'",
                          "'pii-cedex'", "'pii 1 rue de la Paix'", "'pii-apt 2'", "'pii-ACME'", "'pii-Ann'",
                          "'pii-Marie'", "'pii-Martin'")],
    "profile__field_tax_number": [("'customer'", "'pii-FR123'")],
    "commerce_order__field_gift_message": [("'default'", "'pii-happy birthday Ann'")],
    "commerce_order__order_items": [("'default'", "31337")],
    "commerce_order__adjustments": [("'default'", "'a:0:{{}}'")],
    "contact_message__field_phone": [("'feedback'", "'pii-555 0100'")],
    "user__field_preferences": [("'user'", "'{\"name\": \"pii-Ann\"}'"), ("'user'", "'[\"pii-Ann\"]'"),
                                ("'user'", "'\"pii-Ann\"'"), ("'user'", "'1985'")],
    "user__field_nickname": [("'user'", "'pii-Annie'")],
}
OTHER_ROWS = [
    "INSERT INTO {p}commerce_order VALUES (1, 'default', 5, 'pii-ann@real.example', '203.0.113.20', 99.90, 'EUR')",
    "INSERT INTO {p}commerce_payment_method VALUES (1, 'credit_card', 5, 'pii-cus_tok_123', 'visa', 'pii4242', "
    "12, 2031, 888)",
    "INSERT INTO {p}commerce_payment VALUES (1, 'pii-ch_123', 99.90)",
]
#: The serialized link options, bytes as Drupal stores them.
OPTIONS = b'a:1:{s:10:"attributes";a:0:{}}'
#: Drupal's SQLite driver binds a blob as a string: SQLite keeps it as text in the BLOB column.
BLOB = {"mysql": "X'{hex}'", "postgresql": "'\\x{hex}'::bytea", "sqlite": "'{text}'"}
LEAK = re.compile(rb"pii[\w .@-]*|203\.0\.113\.\d+|1985-03-14|2024-05-06")
#: What must be loaded unchanged: (table, column, value as Python reads it back).
KEPT = [
    ("user__field_age", "field_age_value", 4242),
    ("user__field_newsletter", "field_newsletter_value", 1),
    ("user__field_employer", "field_employer_target_id", 777),
    ("user__field_bio", "field_bio_format", "basic_html"),
    ("user__roles", "roles_target_id", "administrator"),
    ("user__field_first_name", "entity_id", 1),
    ("user__field_first_name", "bundle", "user"),
    ("user__field_first_name", "langcode", "en"),
    ("profile__address", "address_country_code", "FR"),
    ("profile__address", "address_langcode", "fr"),
    ("commerce_order__order_items", "order_items_target_id", 31337),
    ("commerce_order__adjustments", "adjustments_value", "a:0:{}"),
    ("commerce_payment_method", "card_exp_year", 2031),
    ("commerce_payment_method", "billing_profile__target_id", 888),
    ("commerce_payment_method", "card_type", "visa"),
]


#: The tables with more than one row: which one KEPT reads.
FIRST_ROW = {"user__field_first_name": "delta = 0"}


def statements(engine: str, prefix: str) -> list[str]:
    types = TYPES[engine]
    made = ["CREATE DOMAIN drupal_text AS character varying(255)"] if engine == "postgresql" else []
    made += [t.format(p=prefix, **types) for t in TABLES]
    blob = BLOB[engine].format(hex=OPTIONS.hex(), text=OPTIONS.decode())
    for table, columns in FIELD_TABLES.items():
        made.append(f"CREATE TABLE {prefix}{table} ({FIELD_KEY.format(**types)}, {columns.format(**types)}, "
                    "PRIMARY KEY (entity_id, deleted, delta, langcode))")
        for delta, row in enumerate(ROWS[table]):
            values = ", ".join((row[0], "0", "1", "1", "'en'", str(delta), *row[1:])).replace("{blob_options}", blob)
            made.append(f"INSERT INTO {prefix}{table} VALUES ({values})".replace("{{}}", "{}"))
    made += [r.format(p=prefix) for r in OTHER_ROWS]
    return made


def _value(reader: Any, sql: str) -> Any:
    rows = list(reader.rows(sql))
    assert len(rows) == 1, sql
    value = rows[0][0]
    return bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else value


def _target(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseConfig:
    """An empty database of ``engine`` to load the dump into."""
    return database_from_script(engine, [], request, tmp_path / "target.sqlite")


@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("prefix", ["", "d10_"])
@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_field_tables_are_masked_and_still_load(engine: str, prefix: str, no_php: None,
                                                drupal_manager: SyncoPluginManager, tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    source = database_from_script(engine, statements(engine, prefix), request, tmp_path / "drupal.sqlite")
    if engine == "sqlite":
        settings: dict[str, Any] = {"driver": "sqlite", "database": source.name, "prefix": prefix}
    else:
        settings = connection(engine, source.name, prefix)
    project = copy_project(tmp_path / "site")
    local_settings(project, settings)
    framework = detect(project)
    assert framework.database is not None and framework.database.engine == engine
    out = tmp_path / "dump"
    with out.open("wb") as stream:
        result = dump_with_engine(framework.database, stream, serve_dump_options(framework))
    dumped = out.read_bytes()
    leaked = sorted({found.decode() for found in LEAK.findall(dumped)})
    assert not leaked, f"personal data in the {engine} dump: {leaked}"

    target = _target(engine, request, tmp_path)
    with out.open("rb") as stream:
        drupal_manager.hook.install_database(database=target, dump=stream, options=InstallOptions(
            format=result.format, manifest=result.tables, yes=True))
    with connect_with_engine(target) as reader:
        for table, column, expected in KEPT:
            found = _value(reader, f"SELECT {column} FROM {prefix}{table} WHERE {FIRST_ROW.get(table, '1 = 1')}")
            assert found == expected, f"{table}.{column}: {found!r}"
        assert float(_value(reader, f"SELECT field_credit_value FROM {prefix}user__field_credit")) == 12.5
        options = _value(reader, f"SELECT field_website_options FROM {prefix}user__field_website")
        assert options == (OPTIONS.decode() if engine == "sqlite" else OPTIONS)
        # Dates stay dates (Drupal parses them), in the shape the field stores them.
        assert _value(reader, f"SELECT field_birthday_value FROM {prefix}user__field_birthday") == "1970-01-01"
        assert _value(reader, f"SELECT field_last_login_at_value FROM {prefix}user__field_last_login_at") \
            == "1970-01-01T00:00:00"
        assert _value(reader, f"SELECT field_first_name_value FROM {prefix}user__field_first_name "
                              "WHERE delta = 1") is None, "NULL stays NULL"
        shapes = [_value(reader, f"SELECT field_preferences_value FROM {prefix}user__field_preferences "
                                 f"WHERE delta = {delta}") for delta in range(4)]
        if engine == "sqlite":
            assert shapes == ["", "", "", ""], "SQLite's JSON is text"
        else:
            # psycopg reads jsonb as Python values already.
            parsed = [json.loads(shape) for shape in shapes] if engine == "mysql" else shapes
            assert parsed == [{}, [], "", 0], "still JSON in a JSON column"
        assert _value(reader, f"SELECT field_phone_value FROM {prefix}user__field_phone") == ""
        assert _value(reader, f"SELECT mail FROM {prefix}commerce_order") == "user1@example.invalid"
        assert _value(reader, f"SELECT ip_address FROM {prefix}commerce_order") == "127.0.0.1"


@pytest.mark.parametrize(("version", "expected"), [
    ("10.11.6-MariaDB-0+deb12u1", True), ("10.1.48-MariaDB", False), ("8.0.36", True), ("5.7.8-log", True),
    ("5.7.7", False), ("5.6.51", False), ("", True)])
def test_json_functions_only_where_the_server_has_them(version: str, expected: bool) -> None:
    assert mysql_has_json(version) is expected
    inventory = DatabaseInventory(engine="mysql", server_version=version, tables=[
        TableInfo("user__field_phone", ["bundle", "entity_id", "delta", "field_phone_value"])])
    rules = field_table_rules("", "mysql", inventory)
    assert [rule.column for rule in rules] == ["field_phone_value"]
    assert ("JSON_VALID" in rules[0].expression) is expected


@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_field_tables_found_as_the_engine_finds_names(engine: str) -> None:
    """Field tables and columns are matched in the case the engine ignores (MySQL's lower_case_table_names)."""
    inventory = DatabaseInventory(engine=engine, server_version="", tables_ignore_case=True, columns_ignore_case=True,
                                  tables=[TableInfo("D10_User__Field_Name", ["Bundle", "Delta", "Field_Name_Value",
                                                                             "Field_Name_Target_ID"]),
                                          TableInfo("d10_node__body", ["body_value"]),
                                          TableInfo("d10_user__field_view", ["field_view_value"], kind="view")])
    rules = field_table_rules("d10_", engine, inventory)
    assert [(rule.table, rule.column) for rule in rules] == [("D10_User__Field_Name", "Field_Name_Value")]
    # Shown by its label in serve --plan and the receiver's list of rules, not by the long expression.
    assert rules[0].describe() == "D10_User__Field_Name.Field_Name_Value -> emptied if text (other types kept)"
    assert dump_options("d10_", engine, None, modern_hash=True).sanitize, "no inventory: the named tables only"
