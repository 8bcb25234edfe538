"""The ``email`` transform on tables whose primary key is not a number, on PostgreSQL, MariaDB and SQLite (real
servers on 127.0.0.1, real files).

The transform makes a unique address per row from the primary key. It wrote the key's values into the address
as they were: a subscribers table keyed by the address itself shipped ``useralice@real.example@example.invalid``,
and a profiles table keyed by a username shipped the username in every address, whatever rule masked it. A
composite text key joined with '-' gave ('a-b', 'c') and ('a', 'b-c') one address, which the load of a unique
index refused after the download. Now a key a rule masks, or a text key of several columns, goes in as the
dump's keyed digest; an integer key, or one column no rule masks (a Neos account's UUID, which the copy holds
anyway), is kept as it was (``user42@example.invalid``, the same in every dump).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_sanitize_constraints import rows_of

from synco_core import DumpOptions, SanitizeRule
from synco_core.engines.dispatch import dump_with_engine
from synco_core.errors import ConfigError
from synco_core.testing.services import database_from_script, install_into_empty_copy

ENGINES = ["postgresql", "mysql", "sqlite"]
ID = {"mysql": "INT AUTO_INCREMENT PRIMARY KEY", "postgresql": "SERIAL PRIMARY KEY", "sqlite": "INTEGER PRIMARY KEY"}
#: What every key of the tables below holds, so that none of it may appear in a masked address.
SECRETS = ["alice", "bob", "jdoe1970", "mmuster", "real", "a-b", "b-c"]

SCRIPT = [
    # Keyed by the address itself (a newsletter's subscribers).
    "CREATE TABLE subscribers (email VARCHAR(120) NOT NULL PRIMARY KEY, name VARCHAR(50)){without}",
    "INSERT INTO subscribers VALUES ('alice@real.example', 'x'), ('bob@real.example', 'y')",
    # Keyed by a username, which another rule masks.
    "CREATE TABLE profiles (username VARCHAR(40) NOT NULL PRIMARY KEY, email VARCHAR(120) UNIQUE){without}",
    "INSERT INTO profiles VALUES ('jdoe1970', 'j@real.example'), ('mmuster', 'm@real.example')",
    # A composite key whose parts hold the separator.
    "CREATE TABLE contacts (first VARCHAR(20) NOT NULL, last VARCHAR(20) NOT NULL, email VARCHAR(120) NOT NULL, "
    "PRIMARY KEY (first, last), UNIQUE (email)){without}",
    "INSERT INTO contacts VALUES ('a-b', 'c', 'ab@real.example'), ('a', 'b-c', 'abc@real.example')",
    # An integer key: the address it gave before, the same in every dump.
    "CREATE TABLE users (id {id}, email VARCHAR(120))",
    "INSERT INTO users (email) VALUES ('carol@real.example')",
    # A text key no rule masks (Neos's accounts): the copy holds it anyway, and so does the address.
    "CREATE TABLE accounts (persistence_object_identifier VARCHAR(40) NOT NULL PRIMARY KEY, "
    "accountidentifier VARCHAR(120)){without}",
    "INSERT INTO accounts VALUES ('acc1', 'dave@real.example')",
]


@pytest.mark.parametrize("engine", ENGINES)
def test_email_addresses_hold_nothing_of_a_key_that_is_not_a_number(
        engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # SQLite's tables with a rowid make the address from it; a WITHOUT ROWID table's is its primary key.
    without = " WITHOUT ROWID" if engine == "sqlite" else ""
    source = database_from_script(engine, [s.format(id=ID[engine], without=without) for s in SCRIPT], request,
                                  tmp_path / "source.db")
    options = DumpOptions(sanitize=(
        SanitizeRule("subscribers", "email", transform="email"),
        SanitizeRule("profiles", "username", transform="hash"),
        SanitizeRule("profiles", "email", transform="email"),
        SanitizeRule("contacts", "email", transform="email"),
        SanitizeRule("users", "email", transform="email"),
        SanitizeRule("accounts", "accountidentifier", transform="email")))
    dump = tmp_path / "dump"
    with dump.open("wb") as out:
        result = dump_with_engine(source, out, options)
    installed = install_into_empty_copy(source, dump, result, request, tmp_path / "copy.db")
    target = str(tmp_path / "copy.db") if engine == "sqlite" else installed.database
    masked = [str(row[0]) for table in ("subscribers", "profiles", "contacts")
              for row in rows_of(engine, target, f"SELECT email FROM {table}")]
    assert len(masked) == 6
    for address in masked:
        assert re.fullmatch(r"user[0-9a-f]{32}@example\.invalid", address), address
        assert not any(secret in address for secret in SECRETS), address
    assert len(set(masked)) == len(masked)
    assert rows_of(engine, target, "SELECT email FROM users") == [("user1@example.invalid",)]
    assert rows_of(engine, target, "SELECT accountidentifier FROM accounts") == [("useracc1@example.invalid",)]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("length", ["-3", "-1"])
def test_a_negative_truncate_is_refused_on_every_engine(engine: str, length: str, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    """``truncate:-3`` from a plugin (``.synco.yml`` refuses it when read): MySQL refused it, PostgreSQL's
    ``left(value, -3)`` shipped all but the last three characters, SQLite's ``substr`` an empty string."""
    source = database_from_script(engine, [f"CREATE TABLE users (id {ID[engine]}, phone VARCHAR(40))",
                                           "INSERT INTO users (phone) VALUES ('+49 30 1234567')"],
                                  request, tmp_path / "source.db")
    options = DumpOptions(sanitize=(SanitizeRule("users", "phone", transform=f"truncate:{length}"),))
    with pytest.raises(ConfigError, match=r"^sanitize rule for users\.phone: truncate length must be >= 0$"), \
            (tmp_path / "dump").open("wb") as out:
        dump_with_engine(source, out, options)
