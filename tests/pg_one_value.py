"""Throw-away PostgreSQL databases holding one table ``t`` of one text value ``v``, for the tests of the install's
swap (who is connected, who may create databases), and the roles that own them; all dropped afterwards.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import psycopg

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine
from synco_core.testing.services import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    drop_postgres_databases,
    postgres_admin_connection,
    unique_name,
)
from synco_core.values import DumpOptions, TableManifest


def url_as(role: str, name: str) -> str:
    return f"postgresql://{role}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"


def admin(*statements: str) -> None:
    """Run ``statements`` on the server's admin connection, one after the other."""
    connection = postgres_admin_connection()
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


class OneValueDatabases:
    """Databases named ``<prefix>_...``, each holding ``t (v text)`` with one value, owned by ``role`` (or the
    owner given); :meth:`drop` drops them with the install's scratch and kept copies (named after them)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.created: list[str] = []
        self.role = POSTGRES_USER

    def create(self, value: str, owner: str | None = None) -> str:
        name = unique_name(self.prefix)
        owner = owner or self.role
        admin(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        self.created.append(name)
        with psycopg.connect(url_as(owner, name), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v text)")
            conn.execute("INSERT INTO t VALUES (%s)", (value,))
        return name

    def url(self, name: str) -> str:
        return url_as(self.role, name)

    def drop(self) -> None:
        drop_postgres_databases(self.created)
        self.created.clear()


@contextlib.contextmanager
def login_role(prefix: str, rights: str) -> Iterator[str]:
    """A role named ``<prefix>_...`` that logs in, is no superuser and has ``rights`` (``CREATEDB``,
    ``NOCREATEDB``); dropped afterwards (the databases it owns must be dropped first)."""
    role = unique_name(prefix)
    admin(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER {rights}')
    try:
        yield role
    finally:
        admin(f'DROP ROLE IF EXISTS "{role}"')


def value_in(url: str) -> str:
    """The value of ``t`` in the database at ``url``."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT v FROM t").fetchone()
        return str(row[0]) if row else ""


def dump_of(url: str) -> tuple[bytes, dict[str, TableManifest]]:
    """synco's dump of the database at ``url``, and its tables' manifest."""
    out = io.BytesIO()
    tables = dump_with_engine(parse_database_url(url), out, DumpOptions()).tables
    return out.getvalue(), tables
