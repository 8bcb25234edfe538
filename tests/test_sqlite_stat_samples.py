"""A SQLite dump with rules leaves out the index statistics' samples of the tables the rules reach.

``ANALYZE`` in a SQLite built with STAT4 (or STAT3) keeps whole index entries as samples: the values of the
indexed columns of some rows (``sqlite_stat4.sample``). The dump copies the file (or writes a script copying
every table, the statistics too), so a masked ``users.email`` shipped its production addresses there, and a
table left out or filtered its rows' keys, whichever SQLite synco ran with (this one, built without STAT4,
keeps the table and never reads it). The samples are planted here as such a SQLite writes them (the table
made under ``writable_schema``, since this build refuses the name).
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from synco_core import DatabaseConfig, DumpOptions, SanitizeRule
from synco_core.engines.dispatch import dump_with_engine


def record(*texts: str) -> bytes:
    """An index entry in SQLite's record format, as a sample holds it: text values only."""
    types, body = bytearray(), bytearray()
    for text in texts:
        data = text.encode()
        types.append(13 + 2 * len(data))
        body += data
    return bytes([1 + len(types)]) + bytes(types) + bytes(body)


#: Per table, a value its index holds and a sample carries.
PLANTED = {"Users": "alice.sample@real.example", "sessions": "token-sample-0xdeadbeef",
           "orders": "order-sample-ref-991", "logins": "login-sample-10.0.0.7", "countries": "country-sample-DE"}


def make_source(path: Path, stat: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript("""
            CREATE TABLE Users (id INTEGER PRIMARY KEY, email TEXT UNIQUE);
            CREATE TABLE sessions (id INTEGER PRIMARY KEY, token TEXT UNIQUE);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, ref TEXT UNIQUE, paid INT);
            CREATE TABLE logins (id INTEGER PRIMARY KEY, ip TEXT, at INT);
            CREATE INDEX logins_ip ON logins (ip);
            CREATE TABLE countries (id INTEGER PRIMARY KEY, code TEXT UNIQUE);
            INSERT INTO Users (email) VALUES ('alice.sample@real.example');
            INSERT INTO sessions (token) VALUES ('token-sample-0xdeadbeef');
            INSERT INTO orders (ref, paid) VALUES ('order-sample-ref-991', 0);
            INSERT INTO logins (ip, at) VALUES ('login-sample-10.0.0.7', 1);
            INSERT INTO countries (code) VALUES ('country-sample-DE');
            ANALYZE;
        """)
        columns = "tbl,idx,neq,nlt,ndlt,sample"  # STAT3 and STAT4 alike
        conn.execute(f"CREATE TABLE planted ({columns})")
        for table, value in PLANTED.items():
            conn.execute("INSERT INTO planted VALUES (?, ?, '1 1', '0 0', '0 0', ?)",
                         (table, f"{table}_index", record(value)))
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET name = ?, tbl_name = ?, sql = ? WHERE name = 'planted'",
                     (stat, stat, f"CREATE TABLE {stat}({columns})"))
        conn.commit()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize("stat", ["sqlite_stat4", "sqlite_stat3"])
@pytest.mark.parametrize("form", ["native", "sql"])
def test_samples_of_the_tables_rules_reach_are_left_out(stat: str, form: str, tmp_path: Path) -> None:
    source = tmp_path / "app.sqlite"
    make_source(source, stat)
    options = DumpOptions(format="sql" if form == "sql" else "native",
                          # A rule on the table spelt in another case, as SQLite finds it.
                          sanitize=(SanitizeRule("users", "email", transform="email"),),
                          exclude_tables=("sessions",), where={"orders": "paid = 1"},
                          keep_newest={"logins": ("at", 0)})
    dump = tmp_path / "dump"
    with dump.open("wb") as out:
        result = dump_with_engine(DatabaseConfig("sqlite", str(source)), out, options)
    shipped = dump.read_bytes().upper()
    for table, value in PLANTED.items():
        held = value.encode().upper() in shipped or value.encode().hex().upper().encode() in shipped
        assert held == (table == "countries"), (table, value)
    assert any(stat in note and "Users" in note for note in result.applied_rules), result.applied_rules
