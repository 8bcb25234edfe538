"""Sakila for SQLite (a public sample database no one here wrote, tests/data/sakila) through ``synco db dump``
with filters and sanitising, in both formats: every table of this schema has triggers stamping
``last_update = DATETIME('NOW')`` after each INSERT and UPDATE. The rules run as UPDATE and DELETE
statements on a copy of the file, and ran those triggers: sanitising ``customer.email`` re-stamped every
customer, where the server engines (which read the rows through a SELECT) change nothing but the rule's
column. The copy must hold the source's rows with the rules applied and nothing else changed, and keep
every trigger."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine
from synco_core.values import DumpOptions, SanitizeRule

SCHEMA = Path(__file__).parent / "data" / "sakila" / "sqlite-sakila-schema.sql"
STAMP = "2006-02-15 04:34:33"

ROWS = {
    "language": [(1, "English", STAMP), (2, "Italian", STAMP)],
    "country": [(1, "Afghanistan", STAMP), (2, "Côte d\u2019Ivoire", None)],
    "city": [(1, "A Coruña (La Coruña)", 2, STAMP), (2, "Abha", 1, STAMP)],
    "address": [(1, "47 MySakila Drive", None, "Alberta", 1, "", "", STAMP),
                (2, "28 MySQL Boulevard", "", "QLD", 2, None, "6172235589", STAMP)],
    "store": [(1, 1, 1, STAMP), (2, 2, 2, STAMP)],
    "staff": [(1, "Mike", "Hillyer", 1, b"\x89PNG\r\n\x1a\n\x00", "Mike.Hillyer@sakilastaff.com", 1, 1, "Mike",
               "8cb2237d0679ca88db6464eac60da96345513964", STAMP),
              (2, "Jon", "Stephens", 2, None, "Jon.Stephens@sakilastaff.com", 2, 1, "Jon", None, STAMP)],
    "customer": [(n, 1 + n % 2, f"MARY{n}", "SMITH", f"mary.{n}@sakilacustomer.org", 1 + n % 2, "Y",
                  "2006-02-14 22:04:36", STAMP) for n in range(1, 41)],
    "actor": [(1, "PENELOPE", "GUINESS", STAMP), (2, "NICK", "WAHLBERG", STAMP)],
    "category": [(1, "Action", STAMP), (2, "Animation", STAMP)],
    "film": [(1, "ACADEMY DINOSAUR", "A Epic Drama of a Feminist And a Mad Scientist", "2006", 1, None, 6, 0.99, 86,
              20.99, "PG", "Deleted Scenes,Behind the Scenes", STAMP),
             (2, "ACE GOLDFINGER", None, None, 1, 2, 3, 4.99, None, 12.99, "G", None, STAMP)],
    "film_actor": [(1, 1, STAMP), (2, 2, STAMP)],
    "film_category": [(1, 1, STAMP), (2, 2, STAMP)],
    "film_text": [(1, "ACADEMY DINOSAUR", "A Epic Drama")],
    "inventory": [(1, 1, 1, STAMP), (2, 2, 2, STAMP)],
    "rental": [(n, f"2005-05-24 22:{n:02d}:30", 1 + n % 2, n, None if n % 3 else "2005-05-26 22:04:30", 1, STAMP)
               for n in range(1, 41)],
    "payment": [(n, n, 1, n, 2.99, f"2005-05-25 11:{n:02d}:37", STAMP) for n in range(1, 41)],
}


@pytest.fixture(scope="module")
def sakila(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sakila's schema as published, with rows whose ``last_update`` is Sakila's (the INSERT triggers stamp
    the time of the insert; the rows are given theirs back with the triggers out of the way)."""
    path = tmp_path_factory.mktemp("sakila") / "sakila.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(SCHEMA.read_text(encoding="utf-8"))
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY rowid").fetchall()
        for name, _ in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        for table, rows in ROWS.items():
            marks = ", ".join("?" * len(rows[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        for _, sql in triggers:
            conn.execute(sql)
        conn.commit()
    return path


def table_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in ROWS}


def triggers(path: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return sorted(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())


def dumped(source: Path, tmp_path: Path, options: DumpOptions) -> Path:
    """Dump ``source`` with ``options`` and open the result as a database file."""
    dump = tmp_path / f"dump.{options.format}"
    with dump.open("wb") as out:
        dump_with_engine(parse_database_url(f"sqlite:///{source}"), out, options)
    loaded = tmp_path / "loaded.db"
    if options.format == "sql":
        with contextlib.closing(sqlite3.connect(loaded)) as conn:
            conn.executescript(dump.read_text(encoding="utf-8"))
    else:
        loaded.write_bytes(dump.read_bytes())
    return loaded


RULES = {
    "sanitised": DumpOptions(sanitize=(SanitizeRule("customer", "email", transform="email"),
                                       SanitizeRule("staff", "password", transform="fixed:x"),
                                       SanitizeRule("address", "phone", expression="'555'"))),
    # The filters keep every row a kept row's foreign key points at (payments 6 to 10 pay rentals 6 to 10): one
    # leaving such a key dangling is refused (tests/test_sanitize_constraints.py).
    "filtered": DumpOptions(where={"rental": "rental_id <= 10", "payment": "rental_id <= 10"},
                            keep_newest={"payment": ("payment_date", 5)}, exclude_tables=("film_text",)),
}


def expected(rules: str) -> dict[str, list[tuple[object, ...]]]:
    rows = {table: list(values) for table, values in ROWS.items()}
    if rules == "sanitised":
        rows["customer"] = [(*row[:4], f"user{row[0]}@example.invalid", *row[5:]) for row in rows["customer"]]
        rows["staff"] = [(*row[:9], None if row[9] is None else "x", row[10]) for row in rows["staff"]]
        rows["address"] = [(*row[:6], "555", row[7]) for row in rows["address"]]
    else:
        rows["rental"] = [row for row in rows["rental"] if int(str(row[0])) <= 10]
        rows["payment"] = [row for row in rows["payment"] if 6 <= int(str(row[0])) <= 10]
        rows["film_text"] = []
    return rows


@pytest.mark.parametrize("fmt", ["sqlite", "sql"])
@pytest.mark.parametrize("rules", list(RULES))
def test_rules_change_what_they_name_and_nothing_else(sakila: Path, tmp_path: Path, rules: str, fmt: str) -> None:
    options = RULES[rules]
    options = DumpOptions(sanitize=options.sanitize, where=options.where, keep_newest=options.keep_newest,
                          exclude_tables=options.exclude_tables, format=fmt)
    loaded = dumped(sakila, tmp_path, options)
    got = table_rows(loaded)
    want = expected(rules)
    assert got == want
    assert triggers(loaded) == triggers(sakila)
    assert table_rows(sakila) == ROWS  # the source is untouched


def test_a_table_whose_triggers_refuse_changes_is_still_sanitised_and_filtered(tmp_path: Path) -> None:
    """An append-only ledger (``BEFORE UPDATE``/``DELETE`` triggers raising ``ABORT``) made the rules fail
    on the copy, and an ``AFTER DELETE`` trigger writing an audit row added rows production does not have."""
    source = tmp_path / "ledger.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.executescript("""
            CREATE TABLE ledger (id INTEGER PRIMARY KEY, who TEXT, amount INTEGER);
            CREATE TABLE audit (at TEXT, what TEXT);
            INSERT INTO ledger VALUES (1, 'alice', 10), (2, 'bob', -3), (3, 'carol', 7);
            INSERT INTO audit VALUES ('2020-01-01', 'opened');
            CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
              BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
            CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger WHEN old.amount > 0
              BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
            CREATE TRIGGER ledger_audit AFTER DELETE ON ledger
              BEGIN INSERT INTO audit VALUES (datetime('now'), 'deleted ' || old.id); END;
        """)
        conn.commit()
    for fmt in ("sqlite", "sql"):
        options = DumpOptions(sanitize=(SanitizeRule("ledger", "who", transform="fixed:someone"),),
                              where={"ledger": "amount > 0"}, format=fmt)
        out = tmp_path / fmt
        out.mkdir()
        loaded = dumped(source, out, options)
        with contextlib.closing(sqlite3.connect(loaded)) as conn:
            ledger = conn.execute("SELECT * FROM ledger ORDER BY id").fetchall()
            assert ledger == [(1, "someone", 10), (3, "someone", 7)]
            assert conn.execute("SELECT * FROM audit").fetchall() == [("2020-01-01", "opened")]
            names = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                                      "ORDER BY 1")]
        assert names == ["ledger_audit", "ledger_no_delete", "ledger_no_update"]
