"""Sanitised dumps against the schema's own constraints, on PostgreSQL, MariaDB and SQLite (real servers on
127.0.0.1, real files).

A rule rewrites values while dumping; the table's constraints are only met where the copy is loaded. A value
breaking a CHECK constraint (a column's, a table's, a PostgreSQL domain's, MariaDB's ``json_valid`` on a JSON
column), a number out of its column's range, an ENUM value that is no member, one key in two rows of a unique
index over an expression or a partial one, or a ``where``/``keep_newest`` filter or a rule on a key leaving a
foreign key pointing at a row the copy does not hold: each made a dump the load refused after the download
(PostgreSQL, MariaDB CHECKs), that the load changed and its checksum then refused (MariaDB's permissive
sql_mode cut or clamped the value), or that loaded rows the schema forbids (MariaDB and SQLite load with
foreign keys unchecked). The checks of NULL into NOT NULL and of unique keys read all rows, not the ones
``keep_newest`` keeps. Now the dump refuses in one line naming the rule and the constraint before anything is
written, or the copy loads and keeps every constraint; a mask longer than its ``VARCHAR(n)`` is cut to it,
its uniqueness checked on the cut values.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from synco_core import DatabaseConfig, DumpOptions, SanitizeRule
from synco_core.engines.dispatch import dump_with_engine
from synco_core.errors import ConfigError
from synco_core.testing.services import (
    database_from_script,
    install_into_empty_copy,
    mysql_admin_connection,
    postgres_admin_connection,
)

ENGINES = ["postgresql", "mysql", "sqlite"]
ID = {"mysql": "INT AUTO_INCREMENT PRIMARY KEY", "postgresql": "SERIAL PRIMARY KEY", "sqlite": "INTEGER PRIMARY KEY"}


@dataclass
class Case:
    statements: list[str]
    options: DumpOptions
    #: Per engine, the words the one-line refusal holds; an engine not named must dump and load.
    refused: dict[str, list[str]] = field(default_factory=dict)
    #: After the load: a query on the copy and the rows it must give.
    loaded: tuple[str, list[tuple[object, ...]]] | None = None
    engines: tuple[str, ...] = tuple(ENGINES)
    #: Per engine, statements replacing ``statements`` (a dialect's own syntax).
    own: dict[str, list[str]] = field(default_factory=dict)


def rule(table: str, column: str, transform: str | None = None, expression: str = "") -> SanitizeRule:
    return SanitizeRule(table, column, expression=expression, transform=transform)


CASES = {
    # A Symfony/Doctrine users table with the CHECK an application adds to its e-mail column.
    "column check": Case(
        ["CREATE TABLE users (id {id}, email VARCHAR(180) NOT NULL CHECK (email LIKE '%@%'))",
         "INSERT INTO users (email) VALUES ('ann@real.example'), ('bob@real.example')"],
        DumpOptions(sanitize=(rule("users", "email", "fixed:nobody"),)),
        refused={"postgresql": ["users.email -> fixed:nobody", "CHECK constraint users_email_check"],
                 "mysql": ["users.email -> fixed:nobody", "CHECK constraint email"],
                 "sqlite": ["users.email -> fixed:nobody", "CHECK constraint failed"]}),
    # SQLite writes a table's rules in one UPDATE: the refusal still names the rule refused, not its neighbour.
    "the second rule refused": Case(
        ["CREATE TABLE users (id {id}, login VARCHAR(20) NOT NULL, "
         "email VARCHAR(180) NOT NULL CHECK (email LIKE '%@%'))",
         "INSERT INTO users (login, email) VALUES ('ann', 'ann@real.example')"],
        DumpOptions(sanitize=(rule("users", "login", "fixed:someone"), rule("users", "email", "fixed:nobody"))),
        refused={engine: ["sanitize rule users.email -> fixed:nobody gives"] for engine in ENGINES}),
    # A constraint's own ON CONFLICT clause decided what SQLite's UPDATE did: IGNORE left the rows it would have
    # made collide unsanitised (their raw e-mail shipped), REPLACE deleted them.
    "unique on conflict ignore": Case(
        ["CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE ON CONFLICT IGNORE)",
         "INSERT INTO users (email) VALUES ('ann@real.example'), ('bob@real.example')"],
        DumpOptions(sanitize=(rule("users", "email", "fixed:x@example.invalid"),)),
        refused={"sqlite": ["users.email -> fixed:x@example.invalid", "UNIQUE constraint failed"]},
        engines=("sqlite",)),
    "unique on conflict replace": Case(
        ["CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE ON CONFLICT REPLACE)",
         "INSERT INTO users (email) VALUES ('ann@real.example'), ('bob@real.example')"],
        DumpOptions(sanitize=(rule("users", "email", "fixed:x@example.invalid"),)),
        refused={"sqlite": ["users.email -> fixed:x@example.invalid", "UNIQUE constraint failed"]},
        engines=("sqlite",)),
    "not null on conflict ignore": Case(
        ["CREATE TABLE users (id INTEGER PRIMARY KEY, phone TEXT NOT NULL ON CONFLICT IGNORE)",
         "INSERT INTO users (phone) VALUES ('+4912345')"],
        DumpOptions(sanitize=(rule("users", "phone", "null"),)),
        refused={"sqlite": ["users.phone -> null", "NOT NULL constraint failed"]}, engines=("sqlite",)),
    # SQLite checks a unique key row by row as an UPDATE goes: a rule shifting the values collided with a row
    # not yet updated, though the copy's values are all apart (as MySQL's and PostgreSQL's loads find them).
    "unique values shifted": Case(
        ["CREATE TABLE slots (id {id}, pos INT NOT NULL UNIQUE)", "INSERT INTO slots (pos) VALUES (1), (2), (3)"],
        DumpOptions(sanitize=(rule("slots", "pos", expression="pos + 1"),)),
        loaded=("SELECT pos FROM slots ORDER BY id", [(2,), (3,), (4,)])),
    "unique values shifted, no integer key": Case(
        ["CREATE TABLE slots (code VARCHAR(8) NOT NULL, pos INT NOT NULL UNIQUE)",
         "INSERT INTO slots (code, pos) VALUES ('a', 1), ('b', 2), ('c', 3)"],
        DumpOptions(sanitize=(rule("slots", "pos", expression="pos + 1"),)),
        loaded=("SELECT code, pos FROM slots ORDER BY code", [("a", 2), ("b", 3), ("c", 4)])),
    # A unique index on a prefix of the column cuts the addresses to it ('user1' for rows 1 and 10): the column
    # itself (TEXT) cuts nothing, and the rule was not checked; the load refused the copy after the download.
    "email cut by a unique prefix": Case(
        ["CREATE TABLE users (id {id}, email TEXT, UNIQUE KEY email_prefix (email(5)))",
         "INSERT INTO users (email) VALUES " + ", ".join(f"('p{n}@real.example')" for n in range(1, 11))],
        DumpOptions(sanitize=(rule("users", "email", "email"),)),
        refused={"mysql": ["users.email -> email", "email_prefix"]}, engines=("mysql",)),
    "table check": Case(
        ["CREATE TABLE bookings (id {id}, starts INT NOT NULL, ends INT NOT NULL, "
         "CONSTRAINT in_order CHECK (starts <= ends))",
         "INSERT INTO bookings (starts, ends) VALUES (1, 5), (2, 9)"],
        DumpOptions(sanitize=(rule("bookings", "starts", expression="100"),)),
        refused={engine: ["bookings.starts -> 100", "in_order"] for engine in ENGINES}),
    "check kept": Case(
        ["CREATE TABLE users (id {id}, email VARCHAR(180) NOT NULL CHECK (email LIKE '%@%'))",
         "INSERT INTO users (email) VALUES ('ann@real.example'), ('bob@real.example')"],
        DumpOptions(sanitize=(rule("users", "email", "email"),)),
        loaded=("SELECT email FROM users ORDER BY id", [("user1@example.invalid",), ("user2@example.invalid",)])),
    "number out of range": Case(
        ["CREATE TABLE wp_posts (id {id}, menu_order SMALLINT NOT NULL, price DECIMAL(5,2))",
         "INSERT INTO wp_posts (menu_order, price) VALUES (1, 1.50)"],
        DumpOptions(sanitize=(rule("wp_posts", "menu_order", "fixed:99999"),)),
        refused={"postgresql": ["wp_posts.menu_order -> fixed:99999", "out of range for type smallint"],
                 "mysql": ["wp_posts.menu_order -> fixed:99999", "outside smallint"]}),
    "decimal out of range": Case(
        ["CREATE TABLE orders (id {id}, total DECIMAL(5,2) NOT NULL)", "INSERT INTO orders (total) VALUES (1.50)"],
        DumpOptions(sanitize=(rule("orders", "total", expression="1000"),)),
        refused={"postgresql": ["orders.total -> 1000", "numeric field overflow"],
                 "mysql": ["orders.total -> 1000", "outside decimal(5,2)"]}),
    # A hash (64 characters) into Laravel's remember_token-sized VARCHAR: cut to the column, still unique.
    "hash cut to its column": Case(
        ["CREATE TABLE users (id {id}, token VARCHAR(10) NOT NULL UNIQUE)",
         "INSERT INTO users (token) VALUES ('aaaa'), ('bbbb')"],
        DumpOptions(sanitize=(rule("users", "token", "hash"),)),
        loaded=("SELECT COUNT(DISTINCT token), MAX(LENGTH(token)) FROM users", [(2, 10)]),
        engines=("postgresql", "mysql")),
    # Characters, not bytes: a fixed name of 14 two-byte letters into VARCHAR(10) keeps 10 of them.
    "multibyte mask cut to its column": Case(
        ["CREATE TABLE members (id {id}, name VARCHAR(10) NOT NULL)", "INSERT INTO members (name) VALUES ('Ann')"],
        DumpOptions(sanitize=(rule("members", "name", "fixed:ÄÖÜäöüßÄÖÜäöüß"),)),
        loaded=("SELECT name FROM members", [("ÄÖÜäöüßÄÖÜ",)]), engines=("postgresql", "mysql")),
    "mask cut into one key": Case(
        ["CREATE TABLE customers (id {id}, code VARCHAR(8) NOT NULL UNIQUE)",
         "INSERT INTO customers (code) VALUES ('a1'), ('a2')"],
        DumpOptions(sanitize=(rule("customers", "code", expression="CONCAT('customer-', id)"),)),
        refused={engine: ["customers.code -> CONCAT('customer-', id)", "same unique key (code)"]
                 for engine in ("postgresql", "mysql")}, engines=("postgresql", "mysql")),
    "keep_newest keeps one row of a unique key": Case(
        ["CREATE TABLE events (id {id}, who VARCHAR(20) NOT NULL UNIQUE, n INT NOT NULL)",
         "INSERT INTO events (who, n) VALUES ('a', 1), ('b', 2), ('c', 3)"],
        DumpOptions(keep_newest={"events": ("n", 1)}, sanitize=(rule("events", "who", "fixed:same"),)),
        loaded=("SELECT who, n FROM events", [("same", 3)])),
    "keep_newest leaves the NULLs out": Case(
        ["CREATE TABLE events (id {id}, who VARCHAR(20) NOT NULL, n INT NOT NULL)",
         "INSERT INTO events (who, n) VALUES ('a', 1), ('b', 2), ('c', 3)"],
        DumpOptions(keep_newest={"events": ("n", 2)},
                    sanitize=(rule("events", "who", expression="CASE WHEN n = 1 THEN NULL ELSE 'x' END"),)),
        loaded=("SELECT who, n FROM events ORDER BY n", [("x", 2), ("x", 3)])),
    "keep_newest keeps a NULL": Case(
        ["CREATE TABLE events (id {id}, who VARCHAR(20) NOT NULL, n INT NOT NULL)",
         "INSERT INTO events (who, n) VALUES ('a', 1), ('b', 2), ('c', 3)"],
        DumpOptions(keep_newest={"events": ("n", 2)},
                    sanitize=(rule("events", "who", expression="CASE WHEN n = 3 THEN NULL ELSE 'x' END"),)),
        refused={engine: ["events.who", "NOT NULL"] for engine in ENGINES}),
    # Laravel's posts.user_id ->constrained(): a filter on users left posts pointing at users the copy lacks.
    "filtered parent": Case(
        ["CREATE TABLE users (id INT PRIMARY KEY)",
         "CREATE TABLE posts (id INT PRIMARY KEY, user_id INT NOT NULL, FOREIGN KEY (user_id) REFERENCES users (id))",
         "INSERT INTO users VALUES (1), (2)", "INSERT INTO posts VALUES (1, 1), (2, 2)"],
        DumpOptions(where={"users": "id = 1"}),
        refused={engine: ["the filter users: id = 1 leaves rows of posts whose user_id point at rows of users"]
                 for engine in ENGINES}),
    "filtered parent and child": Case(
        ["CREATE TABLE users (id INT PRIMARY KEY)",
         "CREATE TABLE posts (id INT PRIMARY KEY, user_id INT NOT NULL, FOREIGN KEY (user_id) REFERENCES users (id))",
         "INSERT INTO users VALUES (1), (2)", "INSERT INTO posts VALUES (1, 1), (2, 2)"],
        DumpOptions(where={"users": "id = 1", "posts": "user_id = 1"}),
        loaded=("SELECT id, user_id FROM posts", [(1, 1)])),
    "parent left out": Case(
        ["CREATE TABLE users (id INT PRIMARY KEY)",
         "CREATE TABLE posts (id INT PRIMARY KEY, user_id INT, FOREIGN KEY (user_id) REFERENCES users (id))",
         "INSERT INTO users VALUES (1)", "INSERT INTO posts VALUES (1, 1), (2, NULL)"],
        DumpOptions(exclude_tables=("users",)),
        refused={engine: ["leaving out the rows of users leaves rows of posts"] for engine in ENGINES}),
    "keep_newest on a parent": Case(
        ["CREATE TABLE orders (id INT PRIMARY KEY, placed INT NOT NULL)",
         "CREATE TABLE order_items (id INT PRIMARY KEY, order_id INT NOT NULL, "
         "FOREIGN KEY (order_id) REFERENCES orders (id))",
         "INSERT INTO orders VALUES (1, 10), (2, 20)", "INSERT INTO order_items VALUES (1, 1), (2, 2)"],
        DumpOptions(keep_newest={"orders": ("placed", 1)}),
        refused={engine: ["keep_newest of orders leaves rows of order_items"] for engine in ENGINES}),
    "key rewritten on one side": Case(
        ["CREATE TABLE accounts (id INT PRIMARY KEY, code VARCHAR(80) NOT NULL UNIQUE)",
         "CREATE TABLE logins (id INT PRIMARY KEY, code VARCHAR(80) NOT NULL, "
         "FOREIGN KEY (code) REFERENCES accounts (code))",
         "INSERT INTO accounts VALUES (1, 'a'), (2, 'b')", "INSERT INTO logins VALUES (1, 'a'), (2, 'b')"],
        DumpOptions(sanitize=(rule("accounts", "code", "email"),)),
        refused={engine: ["sanitize rule accounts.code -> email leaves rows of logins whose code"]
                 for engine in ENGINES}),
    "key hashed on both sides": Case(
        ["CREATE TABLE accounts (id INT PRIMARY KEY, code VARCHAR(80) NOT NULL UNIQUE)",
         "CREATE TABLE logins (id INT PRIMARY KEY, code VARCHAR(80) NOT NULL, "
         "FOREIGN KEY (code) REFERENCES accounts (code))",
         "INSERT INTO accounts VALUES (1, 'a'), (2, 'b')", "INSERT INTO logins VALUES (1, 'a'), (2, 'b')"],
        DumpOptions(sanitize=(rule("accounts", "code", "hash"), rule("logins", "code", "hash"))),
        loaded=("SELECT COUNT(*) FROM logins l JOIN accounts a ON a.code = l.code AND a.id = l.id", [(2,)])),
    "unique expression index": Case(
        ["CREATE TABLE users (id {id}, email VARCHAR(180) NOT NULL)",
         "CREATE UNIQUE INDEX users_email_lower ON users (lower(email))",
         "INSERT INTO users (email) VALUES ('ann@real.example'), ('bob@real.example')"],
        DumpOptions(sanitize=(rule("users", "email", "fixed:Same@example.invalid"),)),
        refused={"postgresql": ["users.email -> fixed:Same@example.invalid", "users_email_lower"],
                 "sqlite": ["users.email -> fixed:Same@example.invalid", "users_email_lower"]},
        engines=("postgresql", "sqlite")),
    # Soft deletes: the e-mail is unique among the rows not deleted.
    "partial unique index": Case(
        ["CREATE TABLE users (id {id}, email VARCHAR(180) NOT NULL, deleted_at INT)",
         "CREATE UNIQUE INDEX users_live_email ON users (email) WHERE deleted_at IS NULL",
         "INSERT INTO users (email, deleted_at) VALUES ('ann@real.example', NULL), ('bob@real.example', NULL)"],
        DumpOptions(sanitize=(rule("users", "email", "fixed:x@example.invalid"),)),
        refused={"postgresql": ["users.email -> fixed:x@example.invalid", "users_live_email"],
                 "sqlite": ["users.email -> fixed:x@example.invalid", "UNIQUE constraint failed"]},
        engines=("postgresql", "sqlite")),
    "partial unique index kept": Case(
        ["CREATE TABLE users (id {id}, email VARCHAR(180) NOT NULL, deleted_at INT)",
         "CREATE UNIQUE INDEX users_live_email ON users (email) WHERE deleted_at IS NULL",
         "INSERT INTO users (email, deleted_at) VALUES ('ann@real.example', NULL), ('bob@real.example', 5)"],
        DumpOptions(sanitize=(rule("users", "email", "fixed:x@example.invalid"),)),
        loaded=("SELECT email FROM users ORDER BY id", [("x@example.invalid",), ("x@example.invalid",)]),
        engines=("postgresql", "sqlite")),
    # Room bookings (a hotel's, a meeting-room app's): one room never booked twice at once.
    "exclusion constraint": Case(
        ["CREATE EXTENSION btree_gist",
         "CREATE TABLE bookings (id SERIAL PRIMARY KEY, room INT NOT NULL, during tsrange NOT NULL, "
         "CONSTRAINT no_double_booking EXCLUDE USING gist (room WITH =, during WITH &&))",
         "INSERT INTO bookings (room, during) VALUES (1, '[2024-01-01,2024-01-03)'), (2, '[2024-01-02,2024-01-04)'), "
         "(3, '[2024-01-09,2024-01-10)')"],
        DumpOptions(sanitize=(rule("bookings", "room", "fixed:7"),)),
        refused={"postgresql": ["bookings.room -> fixed:7", "exclusion constraint no_double_booking",
                                "(room WITH =, during WITH &&)"]}, engines=("postgresql",)),
    "exclusion constraint kept": Case(
        ["CREATE EXTENSION btree_gist",
         "CREATE TABLE bookings (id SERIAL PRIMARY KEY, room INT NOT NULL, during tsrange NOT NULL, "
         "CONSTRAINT no_double_booking EXCLUDE USING gist (room WITH =, during WITH &&))",
         "INSERT INTO bookings (room, during) VALUES (1, '[2024-01-01,2024-01-03)'), (2, '[2024-01-02,2024-01-04)')"],
        DumpOptions(sanitize=(rule("bookings", "room", expression="room + 100"),)),
        loaded=("SELECT room FROM bookings ORDER BY id", [(101,), (102,)]), engines=("postgresql",)),
    # Without btree_gist (ranges alone), deferred, over an expression and partial: the rows it covers, as loaded.
    "deferred partial exclusion over an expression": Case(
        ["CREATE TABLE shifts (id SERIAL PRIMARY KEY, starts timestamp NOT NULL, ends timestamp NOT NULL, "
         "cancelled boolean NOT NULL DEFAULT false, CONSTRAINT one_shift EXCLUDE USING gist "
         "(tsrange(starts, ends) WITH &&) WHERE (NOT cancelled) DEFERRABLE INITIALLY DEFERRED)",
         "INSERT INTO shifts (starts, ends, cancelled) VALUES ('2024-01-01', '2024-01-02', false), "
         "('2024-01-05', '2024-01-06', false), ('2024-01-05', '2024-01-06', true)"],
        DumpOptions(sanitize=(rule("shifts", "starts", expression="starts - interval '10 days'"),)),
        refused={"postgresql": ["shifts.starts -> starts - interval '10 days'", "exclusion constraint one_shift"]},
        engines=("postgresql",)),
    "deferred partial exclusion kept": Case(
        ["CREATE TABLE shifts (id SERIAL PRIMARY KEY, starts timestamp NOT NULL, ends timestamp NOT NULL, "
         "cancelled boolean NOT NULL DEFAULT false, CONSTRAINT one_shift EXCLUDE USING gist "
         "(tsrange(starts, ends) WITH &&) WHERE (NOT cancelled) DEFERRABLE INITIALLY DEFERRED)",
         "INSERT INTO shifts (starts, ends, cancelled) VALUES ('2024-01-01', '2024-01-02', false), "
         "('2024-01-05', '2024-01-06', true)"],
        DumpOptions(sanitize=(rule("shifts", "starts", expression="starts - interval '1 hour'"),)),
        loaded=("SELECT count(*) FROM shifts", [(2,)]), engines=("postgresql",)),
    "deferrable unique constraint": Case(
        ["CREATE TABLE coupons (id SERIAL PRIMARY KEY, code VARCHAR(20) NOT NULL, "
         "CONSTRAINT coupon_code UNIQUE (code) DEFERRABLE INITIALLY DEFERRED)",
         "INSERT INTO coupons (code) VALUES ('A1'), ('B2')"],
        DumpOptions(sanitize=(rule("coupons", "code", "fixed:SAME"),)),
        refused={"postgresql": ["coupons.code -> fixed:SAME", "same unique key (code)", "coupon_code"]},
        engines=("postgresql",)),
    "unique nulls not distinct": Case(
        ["CREATE TABLE profiles (id SERIAL PRIMARY KEY, phone TEXT, CONSTRAINT one_phone UNIQUE NULLS NOT DISTINCT "
         "(phone))",
         "INSERT INTO profiles (phone) VALUES ('+4912345'), ('+4967890')"],
        DumpOptions(sanitize=(rule("profiles", "phone", expression="CASE WHEN id > 0 THEN NULL ELSE phone END"),)),
        refused={"postgresql": ["profiles.phone -> CASE WHEN id > 0 THEN NULL ELSE phone END",
                                "same unique key (phone)", "one_phone"]}, engines=("postgresql",)),
    "domain check": Case(
        ["CREATE DOMAIN email_address AS text CHECK (VALUE LIKE '%@%')",
         "CREATE TABLE users (id SERIAL PRIMARY KEY, email email_address NOT NULL)",
         "INSERT INTO users (email) VALUES ('ann@real.example')"],
        DumpOptions(sanitize=(rule("users", "email", "fixed:nobody"),)),
        refused={"postgresql": ["users.email -> fixed:nobody", "email_address_check"]}, engines=("postgresql",)),
    "enum member": Case(
        ["CREATE TYPE post_status AS ENUM ('publish', 'draft')",
         "CREATE TABLE posts (id SERIAL PRIMARY KEY, status post_status NOT NULL)",
         "INSERT INTO posts (status) VALUES ('publish')"],
        DumpOptions(sanitize=(rule("posts", "status", "fixed:private"),)),
        refused={"postgresql": ["posts.status -> fixed:private", "invalid input value for enum public.post_status"],
                 "mysql": ["posts.status -> fixed:private", "not a member of enum('publish','draft')"]},
        engines=("postgresql", "mysql"),
        own={"mysql": ["CREATE TABLE posts (id INT AUTO_INCREMENT PRIMARY KEY, "
                       "status ENUM('publish', 'draft') NOT NULL)", "INSERT INTO posts (status) VALUES ('publish')"]}),
    # WordPress-era plugins' SET columns: a value must be made of the members.
    "set members": Case(
        ["CREATE TABLE prefs (id INT AUTO_INCREMENT PRIMARY KEY, channels SET('mail', 'sms', 'a.b') NOT NULL)",
         "INSERT INTO prefs (channels) VALUES ('mail,sms'), ('')"],
        DumpOptions(sanitize=(rule("prefs", "channels", "fixed:phone"),)),
        refused={"mysql": ["prefs.channels -> fixed:phone", "not made of the members of set('mail','sms','a.b')"]},
        engines=("mysql",)),
    "set members kept": Case(
        ["CREATE TABLE prefs (id INT AUTO_INCREMENT PRIMARY KEY, channels SET('mail', 'sms', 'a.b') NOT NULL)",
         "INSERT INTO prefs (channels) VALUES ('mail,sms'), ('')"],
        DumpOptions(sanitize=(rule("prefs", "channels", expression="IF(channels = '', '', 'sms,a.b')"),)),
        loaded=("SELECT channels FROM prefs ORDER BY id", [("sms,a.b",), ("",)]), engines=("mysql",)),
    # MariaDB's JSON is LONGTEXT with CHECK (json_valid(...)); WordPress plugins and Laravel's json() use it.
    "json column": Case(
        ["CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, settings JSON)",
         "INSERT INTO users (settings) VALUES ('{{\"phone\": \"+4912345\"}}')"],
        DumpOptions(sanitize=(rule("users", "settings", "fixed:hidden"),)),
        refused={"mysql": ["users.settings -> fixed:hidden", "json_valid"]}, engines=("mysql",)),
    # A unique key on a stored lower-cased copy of the e-mail (MySQL's way to a functional unique index): the
    # load computes the column again from the rewritten e-mails.
    "generated column's unique key": Case(
        ["CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, "
         "email_lower VARCHAR(100) GENERATED ALWAYS AS (LOWER(email)) STORED UNIQUE)",
         "INSERT INTO users (id, email) VALUES (1, 'ann@real.example'), (2, 'bob@real.example')"],
        DumpOptions(sanitize=(rule("users", "email", expression="'Same@example.invalid'"),)),
        refused={"postgresql": ["users.email -> 'Same@example.invalid'", "same unique key (email_lower)"],
                 "mysql": ["users.email -> 'Same@example.invalid'", "same unique key (email_lower)"],
                 "sqlite": ["users.email -> 'Same@example.invalid'", "UNIQUE constraint failed: users.email_lower"]},
        own={"postgresql": ["CREATE TABLE users (id INT PRIMARY KEY, email TEXT NOT NULL, "
                            "email_lower TEXT GENERATED ALWAYS AS (lower(email)) STORED UNIQUE)",
                            "INSERT INTO users (id, email) VALUES (1, 'ann@real.example'), (2, 'bob@real.example')"]}),
    "generated column's check": Case(
        ["CREATE TABLE users (id INT PRIMARY KEY, email TEXT NOT NULL, "
         "domain TEXT GENERATED ALWAYS AS (split_part(email, '@', 2)) STORED CHECK (domain <> ''))",
         "INSERT INTO users (id, email) VALUES (1, 'ann@real.example')"],
        DumpOptions(sanitize=(rule("users", "email", "fixed:nobody"),)),
        refused={"postgresql": ["users.email -> fixed:nobody", "users_domain_check"]}, engines=("postgresql",)),
    "generated column": Case(
        ["CREATE TABLE people (id INT PRIMARY KEY, first VARCHAR(20), last VARCHAR(20), "
         "full_name VARCHAR(41) GENERATED ALWAYS AS (CONCAT(first, ' ', last)) STORED)",
         "INSERT INTO people (id, first, last) VALUES (1, 'Ann', 'Real')"],
        DumpOptions(sanitize=(rule("people", "full_name", "fixed:Demo"),)),
        refused={engine: ["people.full_name -> fixed:Demo", "generated column"] for engine in ENGINES},
        # SQLite's copy named the column unknown (its columns as table_info lists them leave generated ones out).
        own={engine: ["CREATE TABLE people (id INT PRIMARY KEY, first TEXT, last TEXT, "
                      "full_name TEXT GENERATED ALWAYS AS (first || ' ' || last) STORED)",
                      "INSERT INTO people (id, first, last) VALUES (1, 'Ann', 'Real')"]
             for engine in ("postgresql", "sqlite")}),
    "virtual generated column": Case(
        ["CREATE TABLE people (id INT PRIMARY KEY, first VARCHAR(20), last VARCHAR(20), "
         "full_name VARCHAR(41) GENERATED ALWAYS AS (CONCAT(first, ' ', last)) VIRTUAL)",
         "INSERT INTO people (id, first, last) VALUES (1, 'Ann', 'Real')"],
        DumpOptions(sanitize=(rule("people", "FULL_NAME", "fixed:Demo"),)),
        refused={engine: ["people.full_name -> fixed:Demo", "generated column"] for engine in ("mysql", "sqlite")},
        engines=("mysql", "sqlite"),
        own={"sqlite": ["CREATE TABLE people (id INT PRIMARY KEY, first TEXT, last TEXT, "
                        "full_name TEXT GENERATED ALWAYS AS (first || ' ' || last) VIRTUAL)",
                        "INSERT INTO people (id, first, last) VALUES (1, 'Ann', 'Real')"]}),
}


def database(engine: str, case: Case, request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseConfig:
    statements = [s.format(id=ID[engine]) for s in case.own.get(engine, case.statements)]
    return database_from_script(engine, statements, request, tmp_path / "source.db")


def rows_of(engine: str, name: str, sql: str) -> list[tuple[object, ...]]:
    """The rows ``sql`` gives in the database ``name`` (a SQLite one: its file)."""
    if engine == "sqlite":
        with contextlib.closing(sqlite3.connect(name)) as lite:
            return [tuple(row) for row in lite.execute(sql)]
    if engine == "mysql":
        conn = mysql_admin_connection(name)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return [tuple(int(v) if type(v).__name__ == "Decimal" else v for v in row) for row in cur.fetchall()]
        finally:
            conn.close()
    with postgres_admin_connection(name) as pg:
        return [tuple(row) for row in pg.execute(sql).fetchall()]


@pytest.mark.parametrize(("name", "engine"),
                         [(name, engine) for name, case in CASES.items() for engine in case.engines])
def test_a_sanitised_dump_loads_keeping_the_constraints_or_is_refused(
        name: str, engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    case = CASES[name]
    source = database(engine, case, request, tmp_path)
    dump = tmp_path / "dump"
    refused = case.refused.get(engine)
    if refused is not None:
        with pytest.raises(ConfigError) as caught, dump.open("wb") as out:
            dump_with_engine(source, out, case.options)
        message = str(caught.value)
        assert "\n" not in message
        for words in refused:
            assert words in message, message
        assert "could not be loaded" in message or "generated column" in message, message
        return
    with dump.open("wb") as out:
        result = dump_with_engine(source, out, case.options)
    installed = install_into_empty_copy(source, dump, result, request, tmp_path / "copy.db")
    if case.loaded is not None:
        target = str(tmp_path / "copy.db") if engine == "sqlite" else installed.database
        assert rows_of(engine, target, case.loaded[0]) == case.loaded[1]


def test_serve_refuses_a_dangling_key_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     register_plugin: Callable[[object, str], None]) -> None:
    """Through ``serve``: the framework's filter leaves comments of a post the copy lacks; the serve stops in
    one line before its session folder exists."""
    from click.testing import CliRunner
    from test_serve_sanitize import SqliteAppPlugin, make_sqlite_app

    from synco_core.cli.main import cli

    register_plugin(SqliteAppPlugin(DumpOptions(where={"posts": "id = 1"})), "sqliteapp-keys")
    app = make_sqlite_app(tmp_path / "app")
    with contextlib.closing(sqlite3.connect(app / "app.sqlite")) as conn:
        conn.executescript("CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL "
                           "REFERENCES posts (id)); INSERT INTO comments VALUES (1, 1), (2, 2);")
    before = sorted(path.name for path in (app / "web").iterdir())
    monkeypatch.chdir(app)
    refused = CliRunner().invoke(cli, ["serve", "--keep", "--id", "keys0123456789abcdef"])
    assert refused.exit_code == 1, refused.output
    error = refused.stderr.strip().splitlines()[-1]  # after the progress lines
    assert error.startswith("Error: ") and refused.stderr.count("Error") == 1, refused.stderr
    assert ("the filter posts: id = 1 leaves rows of comments whose post_id point at rows of posts"
            in error), refused.stderr
    assert sorted(path.name for path in (app / "web").iterdir()) == before, "nothing written on refusal"
