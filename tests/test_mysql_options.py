"""Dump options of the MySQL engine: excluded tables, WHERE, keep_newest and sanitising, all applied on
the server, and the errors for names that do not exist (real MariaDB on 127.0.0.1)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from test_mysql_support import dump_bytes, install_bytes, load_with_client, query

from synco_core.errors import ConfigError
from synco_core.values import DumpOptions, SanitizeRule

pytestmark = pytest.mark.mysql

USERS = b"""
CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100), name VARCHAR(50), secret TEXT, created INT,
                    bio LONGTEXT, avatar LONGBLOB);
INSERT INTO users VALUES
 (1, 'alice@real.example', 'Alice Liddell', 'pw-alice', 10, 'Alice bio', 0x01),
 (2, 'bob@real.example', 'Bob Builder', 'pw-bob', 20, 'Bob bio', 0x02),
 (3, NULL, 'Carol Danvers', NULL, 30, NULL, NULL);
CREATE TABLE sessions (id INT PRIMARY KEY, token VARCHAR(64));
INSERT INTO sessions VALUES (1, 'tok-1'), (2, 'tok-2');
CREATE TABLE pairs (a INT, b INT, email VARCHAR(100), PRIMARY KEY (a, b));
INSERT INTO pairs VALUES (1, 2, 'x@real.example'), (12, 0, 'y@real.example');
CREATE TABLE nokey (email VARCHAR(100));
INSERT INTO nokey VALUES ('p@real.example'), ('q@real.example');
CREATE VIEW user_names AS SELECT name FROM users;
"""


@pytest.fixture
def source(mysql_database_factory: Callable[[], str]) -> str:
    name = mysql_database_factory()
    load_with_client(name, USERS)
    return name


def round_trip(source: str, target: str, options: DumpOptions) -> bytes:
    data, result = dump_bytes(source, options)
    install_bytes(target, data, manifest=result.tables)  # the manifest verifies what was filtered
    return data


def test_exclude_where_keep_newest(source: str, mysql_database_factory: Callable[[], str]) -> None:
    target = mysql_database_factory()
    options = DumpOptions(exclude_tables=("sessions",), where={"users": "created >= 20"},
                          keep_newest={"pairs": ("a", 1)})
    data, result = dump_bytes(source, options)
    assert b"tok-1" not in data and b"Alice" not in data
    assert result.tables["sessions"].rows == 0 and result.tables["users"].rows == 2
    assert result.applied_rules == ["sessions: structure only, rows left out", "users: only rows WHERE created >= 20",
                                    "pairs: only the newest 1 rows by a"]
    install_bytes(target, data, manifest=result.tables)
    assert query(target, "SELECT COUNT(*) FROM sessions") == [(0,)]
    assert query(target, "SELECT id FROM users ORDER BY id") == [(2,), (3,)]
    assert query(target, "SELECT a FROM pairs") == [(12,)]


def test_named_transforms(source: str, mysql_database_factory: Callable[[], str], pinned_hash_key: str) -> None:
    target = mysql_database_factory()
    rules = (
        SanitizeRule("users", "email", transform="email"),
        SanitizeRule("users", "name", transform="truncate:3"),
        SanitizeRule("users", "secret", transform="hash"),
        SanitizeRule("users", "bio", transform="fixed:redacted"),
        SanitizeRule("users", "avatar", transform="null"),
        SanitizeRule("pairs", "email", transform="email"),
        SanitizeRule("nokey", "email", transform="email"),
    )
    data = round_trip(source, target, DumpOptions(sanitize=rules))
    assert b"real.example" not in data and b"pw-alice" not in data and b"Alice bio" not in data
    assert query(target, "SELECT id, email, name, secret, bio, avatar FROM users ORDER BY id") == [
        (1, "user1@example.invalid", "Ali", hashlib.sha256(f"{pinned_hash_key}pw-alice".encode()).hexdigest(),
         "redacted", None),
        (2, "user2@example.invalid", "Bob", hashlib.sha256(f"{pinned_hash_key}pw-bob".encode()).hexdigest(),
         "redacted", None),
        (3, None, "Car", None, None, None),
    ]
    assert query(target, "SELECT email FROM pairs ORDER BY a") == [("user1-2@example.invalid",),
                                                                  ("user12-0@example.invalid",)]
    emails = [row[0] for row in query(target, "SELECT email FROM nokey")]
    assert len(set(emails)) == 2 and all(e.endswith("@example.invalid") for e in emails)


def test_expression_rule(source: str, mysql_database_factory: Callable[[], str]) -> None:
    target = mysql_database_factory()
    rule = SanitizeRule("users", "email", expression="CONCAT('user', id, '@example.invalid')")
    data, result = dump_bytes(source, DumpOptions(sanitize=(rule,)))
    assert result.applied_rules == ["users.email -> CONCAT('user', id, '@example.invalid')"]
    install_bytes(target, data, manifest=result.tables)
    assert query(target, "SELECT email FROM users ORDER BY id") == [
        ("user1@example.invalid",), ("user2@example.invalid",), ("user3@example.invalid",)]


@pytest.mark.parametrize(("options", "message"), [
    (DumpOptions(exclude_tables=("nope",)), "--exclude-table names table 'nope'"),
    (DumpOptions(where={"nope": "1"}), "--where names table 'nope'"),
    (DumpOptions(keep_newest={"users": ("nope", 1)}), "keep_newest names column users.nope"),
    (DumpOptions(sanitize=(SanitizeRule("users", "nope", transform="null"),)), "column users.nope"),
    (DumpOptions(sanitize=(SanitizeRule("nope", "email", transform="null"),)), "--sanitize names table 'nope'"),
    (DumpOptions(sanitize=(SanitizeRule("users", "email", transform="rot13"),)), "unknown transform 'rot13'"),
    (DumpOptions(sanitize=(SanitizeRule("users", "email", transform="truncate:x"),)), "truncate needs a number"),
    (DumpOptions(sanitize=(SanitizeRule("user_names", "name", transform="null"),)), "is a view"),
])
def test_unknown_names_are_config_errors(source: str, options: DumpOptions, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        dump_bytes(source, options)


@pytest.mark.parametrize("options", [
    DumpOptions(sanitize=(SanitizeRule("users", "name", expression="CASE WHEN uid = 0 THEN 'x' ELSE name END"),)),
    DumpOptions(where={"users": "uid > 0"}),
])
def test_a_failing_expression_names_its_table_and_rules(source: str, options: DumpOptions) -> None:
    """An expression naming a column this version of the table lacks fails the dump (nothing is shipped
    unsanitised), in one line that says which table and which rules, not only the server's complaint."""
    from synco_core.errors import DatabaseError

    with pytest.raises(DatabaseError) as failed:
        dump_bytes(source, options)
    message = str(failed.value)
    assert "Unknown column 'uid'" in message and "`users`" in message, message
    assert ("users.name -> CASE WHEN uid" in message) or ("uid > 0" in message), message
    assert "\n" not in message


def test_inspect_database(source: str) -> None:
    from test_mysql_support import config

    from synco_core.engines.dispatch import inspect_with_engine
    from synco_core.plugins import build_plugin_manager

    inventory = inspect_with_engine(config(source), build_plugin_manager(load_entrypoints=False))
    tables = {t.name: t for t in inventory.tables}
    assert inventory.engine == "mysql" and "MariaDB" in inventory.server_version
    assert tables["users"].columns == ["id", "email", "name", "secret", "created", "bio", "avatar"]
    assert tables["users"].kind == "table" and tables["users"].size_bytes > 0
    assert tables["user_names"].kind == "view" and tables["user_names"].rows_estimate == 0
    # Column names never depend on case; table names do on this server (lower_case_table_names=0).
    [(lower_case,)] = query(source, "SELECT @@lower_case_table_names")
    assert (inventory.tables_ignore_case, inventory.columns_ignore_case) == (int(lower_case) != 0, True)
