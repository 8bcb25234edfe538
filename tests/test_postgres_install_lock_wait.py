"""A PostgreSQL install whose target another role's session holds (an open transaction of the application, a
console with autocommit off) waits a bounded time, then names the sessions in one line and changes nothing
(real PostgreSQL on 127.0.0.1, real roles and real sessions)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import psycopg
import pytest
from test_postgres_install import marker
from test_postgres_privileges import dumped, owned_target
from test_postgres_without_createdb import owner_without_createdb

from synco_core.engines.postgresql import inplace
from synco_core.engines.postgresql.installer import install
from synco_core.errors import DatabaseError
from synco_core.testing.services import (
    drop_postgres_databases,
    postgres_admin_connection,
    postgres_url_for,
    unique_name,
)
from synco_core.values import InstallOptions

pytestmark = pytest.mark.postgres

__all__ = ["owner_without_createdb"]  # the fixture, taken from its module

PREFIX = "synco_test_lock_wait"


@pytest.fixture
def factory() -> Iterator[Callable[[], str]]:
    """Throw-away databases of this file's own prefix, dropped afterwards with what installs named after them."""
    created: list[str] = []

    def create() -> str:
        name = unique_name(PREFIX)
        admin = postgres_admin_connection()
        try:
            admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            admin.close()
        created.append(name)
        return name

    yield create
    drop_postgres_databases(created)


def test_another_roles_open_transaction_stops_the_in_place_install_in_one_line_naming_it(
        factory: Callable[[], str], owner_without_createdb: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The drops waited for ever behind a superuser's console that had read the table in a transaction
    left open; now they wait at most the bounded time, then the install fails naming that session (pid,
    application, role) and what to do, the content as it was."""
    monkeypatch.setattr(inplace, "LOCK_WAIT_SECONDS", 1)
    data = dumped(factory, "CREATE TABLE t (a int); INSERT INTO t VALUES (1);")
    target, database = owned_target(factory, owner_without_createdb)
    holder = psycopg.connect(postgres_url_for(target), application_name="reporting console")
    try:
        holder.execute("SELECT * FROM marker").fetchall()  # An open transaction now holds the table.
        pid = holder.info.backend_pid
        with pytest.raises(DatabaseError) as failed:
            install(database, io.BytesIO(data), InstallOptions(yes=True))
        message = str(failed.value)
        assert "\n" not in message
        assert f"pid {pid} ('reporting console', role 'postgres')" in message.replace("'root'", "'postgres'")
        assert "did not let go within 1 s" in message
        assert "pg_terminate_backend" in message and "its content is as it was" in message
        assert holder.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    finally:
        holder.close()
    assert marker(target) == "old"
    # Once the session is gone, the same install goes through.
    install(database, io.BytesIO(data), InstallOptions(yes=True))
    assert marker(target) is None
