"""A PostgreSQL install whose target an application keeps reconnecting to (a worker's retry loop, a pool, a
dev server under a reloading browser) while the swap ends its sessions: the rename never finds the database
free, and the install failed after the whole load with "other sessions keep connecting to it", naming none of
them. Now the one line names the sessions (pid, application name, role) and says the target is as it was
(real PostgreSQL on 127.0.0.1, a real reconnecting client)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.errors import DatabaseError
from synco_core.testing.services import (
    drop_postgres_databases,
    postgres_admin_connection,
    postgres_url_for,
    unique_name,
)
from synco_core.values import DumpOptions, InstallOptions

pytestmark = pytest.mark.postgres

PREFIX = "synco_test_h_live_reconnect"


@pytest.fixture
def database() -> Iterator[Callable[[str], str]]:
    """Throw-away databases holding one table of one value, dropped afterwards with the install's copies."""
    created: list[str] = []

    def create(value: str) -> str:
        name = unique_name(PREFIX)
        admin = postgres_admin_connection()
        try:
            admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            admin.close()
        created.extend([name, f"{name}__synco_prev", f"{name}__synco_new"])
        with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v text)")
            conn.execute("INSERT INTO t VALUES (%s)", (value,))
        return name

    yield create
    drop_postgres_databases(created)


def test_an_application_reconnecting_at_once_fails_the_swap_in_one_line_naming_it(
        database: Callable[[str], str]) -> None:
    source, target = database("new"), database("old")
    dump = io.BytesIO()
    tables = dump_with_engine(parse_database_url(postgres_url_for(source)), dump, DumpOptions()).tables
    stop = threading.Event()
    connected = threading.Event()

    def worker() -> None:
        # Reconnects as soon as its session is ended, as a worker's retry loop does.
        while not stop.is_set():
            try:
                with psycopg.connect(postgres_url_for(target), autocommit=True,
                                     application_name="reconnecting worker") as conn:
                    connected.set()
                    while not stop.is_set():
                        conn.execute("SELECT count(*) FROM t").fetchall()
                        time.sleep(0.002)
            except psycopg.Error:
                continue

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        assert connected.wait(30)
        with pytest.raises(DatabaseError) as failed:
            install_with_engine(parse_database_url(postgres_url_for(target)), io.BytesIO(dump.getvalue()),
                                InstallOptions(yes=True, manifest=tables))
    finally:
        stop.set()
        thread.join(30)
    message = str(failed.value)
    assert "\n" not in message and message.startswith(f"could not rename database '{target}': ")
    assert "('reconnecting worker', role '" in message and "pid " in message
    assert message.endswith("stop it and run again; the database is as it was")
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert conn.execute("SELECT v FROM t").fetchall() == [("old",)]
    admin = postgres_admin_connection()
    try:
        assert admin.execute("SELECT datname FROM pg_database WHERE datname = %s",
                             (f"{target}__synco_new",)).fetchall() == []
    finally:
        admin.close()
