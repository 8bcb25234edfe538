"""The ``hash`` sanitising transform masks: whoever has the dump cannot find a value again by hashing
candidates (a list of e-mail addresses), yet equal values stay equal within the dump.

Each engine hashes a key it makes for the dump, followed by the value; the key is never written. A plain
SHA-256 of ``ann@real.example`` is the same in every dump and for everyone who can guess the address.
"""

from __future__ import annotations

import hashlib
import io
import re
import sqlite3
from pathlib import Path

import pytest

from synco_core import DatabaseConfig, DumpOptions, SanitizeRule, dump_with_engine, parse_database_url
from synco_core.testing.services import (
    mysql_admin_connection,
    mysql_url_for,
    postgres_admin_connection,
    postgres_url_for,
)

ROWS = ((1, "ann@real.example"), (2, "ann@real.example"), (3, "ben@real.example"), (4, None))
SCHEMA = "CREATE TABLE people (id INT PRIMARY KEY, email VARCHAR(100))"
#: A digest as a value in an INSERT (MySQL, SQLite's script) or a COPY row (PostgreSQL).
DIGEST = re.compile(rb"(?<=['\t])[0-9a-f]{64}(?=['\t\n])")


def make_database(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseConfig:
    if engine == "sqlite":
        path = tmp_path / "people.sqlite"
        with sqlite3.connect(path) as lite:
            lite.execute(SCHEMA)
            lite.executemany("INSERT INTO people VALUES (?, ?)", ROWS)
        lite.close()
        return DatabaseConfig(engine="sqlite", name=str(path))
    if engine == "mysql":
        name = request.getfixturevalue("mysql_database_factory")()
        conn = mysql_admin_connection(name)
        with conn.cursor() as cur:
            cur.execute(SCHEMA)
            cur.executemany("INSERT INTO people VALUES (%s, %s)", ROWS)
        conn.close()
        return parse_database_url(mysql_url_for(name))
    name = request.getfixturevalue("postgres_database_factory")()
    with postgres_admin_connection(name) as pg:
        pg.execute(SCHEMA)
        with pg.cursor() as cur:
            cur.executemany("INSERT INTO people VALUES (%s, %s)", ROWS)
    return parse_database_url(postgres_url_for(name))


def digests(database: DatabaseConfig, keys: list[str]) -> list[bytes]:
    out = io.BytesIO()
    options = DumpOptions(sanitize=(SanitizeRule("people", "email", transform="hash"),), format="sql")
    dump_with_engine(database, out, options)
    assert keys and not [key for key in keys if key.encode() in out.getvalue()], "the key is never written"
    return DIGEST.findall(out.getvalue())


@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_hash_is_keyed_for_each_dump(engine: str, request: pytest.FixtureRequest, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    keys: list[str] = []
    monkeypatch.setattr("synco_core.hashkey.register_secret", keys.append)
    database = make_database(engine, request, tmp_path)
    first, second = digests(database, keys), digests(database, keys)
    assert len(first) == 3, "NULL stays NULL"
    assert first[0] == first[1] != first[2], "equal values stay equal within a dump, others differ"
    guessable = {hashlib.sha256(email.encode()).hexdigest().encode() for _, email in ROWS if email}
    assert not guessable & set(first), "a plain SHA-256 of a guessed address finds the row"
    assert not set(first) & set(second), "each dump has its own key"
