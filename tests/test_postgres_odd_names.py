"""Database names at PostgreSQL's limit: the names synco derives from them fit it, and stay apart.

The databases are named ``synco_test_odd_identifiers_...`` and dropped, with every database named after them.
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from collections.abc import Callable, Iterator

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql.dumper import PostgresDumper
from synco_core.engines.postgresql.installer import MAX_NAME_BYTES, install, rollback
from synco_core.errors import ConfigError
from synco_core.testing.services import postgres_admin_connection, postgres_url_for
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions

PREFIX = "synco_test_odd_identifiers_"


@pytest.fixture
def stems() -> Iterator[Callable[[], str]]:
    """Makes name stems ``PREFIX<random>_``; every database whose name starts with one is dropped afterwards."""
    made: list[str] = []

    def stem() -> str:
        made.append(f"{PREFIX}{uuid.uuid4().hex[:8]}_")
        return made[-1]

    yield stem
    admin = postgres_admin_connection()
    try:
        for (name,) in admin.execute("SELECT datname FROM pg_catalog.pg_database").fetchall():
            if any(name.startswith(stem) for stem in made):
                admin.execute(f'DROP DATABASE IF EXISTS "{name.replace(chr(34), chr(34) * 2)}" WITH (FORCE)')
    finally:
        admin.close()


def database(name: str) -> DatabaseConfig:
    return dataclasses.replace(parse_database_url(postgres_url_for("unused")), name=name)


def run(name: str, *statements: str) -> list[tuple[object, ...]]:
    conn = postgres_admin_connection(name)
    try:
        rows: list[tuple[object, ...]] = []
        for statement in statements:
            cursor = conn.execute(statement)
            rows = cursor.fetchall() if cursor.description else []
        return rows
    finally:
        conn.close()


def dump_of(name: str) -> bytes:
    out = io.BytesIO()
    PostgresDumper(database(name), DumpOptions()).dump(out)
    return out.getvalue()


def names_beside(stem: str) -> list[str]:
    return sorted(str(row[0]) for row in run("postgres", "SELECT datname FROM pg_catalog.pg_database") if
                  str(row[0]).startswith(stem))


def test_targets_at_the_length_limit_are_replaced_and_rolled_back_apart(stems: Callable[[], str]) -> None:
    """A target of more than 51 bytes was refused (its ``__synco_prev`` would pass PostgreSQL's 63, which
    cuts the name), though PostgreSQL takes names of 63. Two such targets that differ only at their end
    must keep two copies: cut to 63 bytes, their derived names would be one database."""
    stem = stems()
    source = stem + "src"
    admin = postgres_admin_connection()
    admin.execute(f'CREATE DATABASE "{source}"')
    admin.close()
    run(source, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    data = dump_of(source)
    # 63 bytes each, the last characters two bytes long, differing in the last one only.
    room = MAX_NAME_BYTES - len(stem.encode())
    targets = [stem + "é" * (room // 2 - 1) + last for last in ("à", "ü")]
    assert all(len(target.encode()) == MAX_NAME_BYTES - room % 2 for target in targets)
    for target in targets:
        install(database(target), io.BytesIO(data), InstallOptions(yes=True))
        run(target, "INSERT INTO t VALUES (2)")
        install(database(target), io.BytesIO(data), InstallOptions(yes=True))
        assert run(target, "SELECT id FROM t") == [(1,)]
    # The source, both targets and a kept copy of each, no name cut by the server.
    kept = [name for name in names_beside(stem) if name not in (source, *targets)]
    assert len(kept) == 2 and all(len(name.encode()) <= MAX_NAME_BYTES for name in kept), kept
    for target in targets:
        rollback(database(target), InstallOptions(yes=True))
        assert run(target, "SELECT id FROM t ORDER BY id") == [(1,), (2,)]


def test_a_name_longer_than_postgresql_keeps_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="longer than the 63 bytes"):
        install(database(PREFIX + "x" * 40), io.BytesIO(b""), InstallOptions(yes=True))
