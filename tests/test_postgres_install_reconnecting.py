"""A PostgreSQL install or rollback whose target an application keeps reconnecting to (a worker's retry loop, a
pool, a dev server under a reloading browser), as DDEV / ``drush sql-sync`` users have it running while they
pull (real PostgreSQL on 127.0.0.1, real clients reconnecting in a tight loop with psycopg).

The sessions used to be ended just before the renames, and a program that reconnects at once was back before
the rename took the database's lock: every try failed, and the install failed after the whole load. Now
they are ended from a second connection while the renames hold the lock (``engines/postgresql/ending.py``):
the install and the rollback succeed, and the application's next connection reaches the new database.
Whatever fails, or a kill at any moment of the swap, leaves the target as it was, its connection settings
(``ALLOW_CONNECTIONS``, ``CONNECTION LIMIT``) untouched, and the application still connected to it.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from pg_one_value import OneValueDatabases, dump_of, login_role, value_in
from test_postgres_support import renames_refused_after_the_first_try

from synco_core.dburl import parse_database_url
from synco_core.engines import crashpoints
from synco_core.engines.dispatch import install_with_engine, rollback_with_engine
from synco_core.engines.postgresql import installer
from synco_core.errors import DatabaseError
from synco_core.testing.services import (
    postgres_admin_connection,
)
from synco_core.values import InstallOptions, TableManifest

pytestmark = pytest.mark.postgres

PREFIX = "synco_test_h_pgswap"


@pytest.fixture
def databases() -> Iterator[OneValueDatabases]:
    made = OneValueDatabases(PREFIX)
    yield made
    # The install's scratch and kept copies start with the target's name: dropped with it.
    made.drop()


def _role(databases: OneValueDatabases, rights: str) -> Iterator[str]:
    with login_role(PREFIX + "_role", rights) as role:
        databases.role = role
        yield role
        databases.drop()


@pytest.fixture
def owner_role(databases: OneValueDatabases) -> Iterator[str]:
    """A laptop user's role: it owns the database and may create databases, and is no superuser."""
    yield from _role(databases, "CREATEDB")


@pytest.fixture
def application_role(databases: OneValueDatabases) -> Iterator[str]:
    """The application's own role of DDEV or Sail: it owns the database and may not create databases, so
    the install replaces the content inside it."""
    yield from _role(databases, "NOCREATEDB")


class ReconnectingClient:
    """An application that reconnects as soon as its session is ended (a worker's retry loop, a pool), in a
    thread. ``kind``: ``queries`` runs short autocommit queries back to back; ``transaction`` reads inside a
    transaction it keeps open (an idle-in-transaction pool connection); ``idle`` connects and waits."""

    def __init__(self, url: str, kind: str = "queries") -> None:
        self.url, self.kind = url, kind
        self.values: list[str] = []
        self.connections = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._new_value = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ReconnectingClient:
        self._thread.start()
        assert self.wait_for(lambda: bool(self.values)), f"the client never connected: {self.errors[-3:]}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive()

    def _seen(self, value: str) -> None:
        with self._new_value:
            self.values.append(value)
            self._new_value.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=self.kind != "transaction", connect_timeout=30,
                                     application_name=f"reconnecting {self.kind}") as conn:
                    self.connections += 1
                    while not self._stop.is_set():
                        row = conn.execute("SELECT v FROM t").fetchone()
                        self._seen(row[0] if row else "")
                        if self.kind != "queries":
                            # Holds the session (and in a transaction, its lock on t) until it is ended.
                            self._stop.wait(0.05)
            except psycopg.Error as exc:
                self.errors.append(str(exc).strip().splitlines()[0])

    def wait_for(self, condition: Callable[[], bool]) -> bool:
        """Wait until ``condition`` holds of what the client has read; False after a minute without it."""
        with self._new_value:
            return self._new_value.wait_for(condition, 60)


def settings(name: str) -> tuple[Any, ...] | None:
    """What decides who may connect to database ``name``: ALLOW_CONNECTIONS and CONNECTION LIMIT."""
    admin = postgres_admin_connection()
    try:
        row = admin.execute("SELECT datallowconn, datconnlimit FROM pg_database WHERE datname = %s",
                            (name,)).fetchone()
        return tuple(row) if row is not None else None
    finally:
        admin.close()


def database_names(prefix: str) -> list[str]:
    admin = postgres_admin_connection()
    try:
        return sorted(row[0] for row in admin.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                                                      (prefix,)).fetchall())
    finally:
        admin.close()


def install(url: str, dump: tuple[bytes, dict[str, TableManifest]]) -> None:
    install_with_engine(parse_database_url(url), io.BytesIO(dump[0]), InstallOptions(yes=True, manifest=dump[1]))


@pytest.mark.parametrize("kind", ["queries", "transaction", "idle"])
def test_install_and_rollback_succeed_while_the_application_reconnects_at_once(databases: OneValueDatabases,
                                                                                 kind: str) -> None:
    source, target = databases.create("new"), databases.create("old")
    admin = postgres_admin_connection()
    try:
        # A limit the user set stays the target's, and the kept copy's.
        admin.execute(f'ALTER DATABASE "{target}" CONNECTION LIMIT 40')
    finally:
        admin.close()
    dump = dump_of(databases.url(source))
    with ReconnectingClient(databases.url(target), kind) as client:
        install(databases.url(target), dump)
        assert client.wait_for(lambda: client.values[-1] == "new"), client.errors[-3:]
        connections = client.connections
        rollback_with_engine(parse_database_url(databases.url(target)), InstallOptions(yes=True))
        assert client.wait_for(lambda: client.values[-1] == "old"), client.errors[-3:]
    # It was ended and reconnected at each swap, and only ever read whole contents.
    assert client.connections > connections > 1
    assert set(client.values) == {"old", "new"}
    assert value_in(databases.url(target)) == "old"
    assert value_in(databases.url(target + "__synco_prev")) == "new"
    assert settings(target) == settings(target + "__synco_prev") == (True, 40)
    assert database_names(target) == [target, target + "__synco_prev"]


def test_a_role_owning_the_database_that_may_create_databases_swaps_under_reconnecting_clients(
        databases: OneValueDatabases, owner_role: str) -> None:
    """No superuser: the laptop user's own role ends its application's sessions (of its own role) and renames."""
    source, target = databases.create("new"), databases.create("old")
    dump = dump_of(databases.url(source))
    with ReconnectingClient(databases.url(target), "queries") as client, \
            ReconnectingClient(databases.url(target), "transaction") as pooled:
        install(databases.url(target), dump)
        assert client.wait_for(lambda: client.values[-1] == "new"), client.errors[-3:]
        assert pooled.wait_for(lambda: pooled.values[-1] == "new"), pooled.errors[-3:]
        rollback_with_engine(parse_database_url(databases.url(target)), InstallOptions(yes=True))
        assert client.wait_for(lambda: client.values[-1] == "old"), client.errors[-3:]
    assert value_in(databases.url(target)) == "old"
    assert settings(target) == settings(target + "__synco_prev") == (True, -1)


def _fail_at(monkeypatch: pytest.MonkeyPatch, step: str, nth: int) -> None:
    """Make the ``nth`` reach of crash point ``step`` raise, as a failure at that moment would."""
    reached = crashpoints.reached
    count = {"n": 0}

    def failing(name: str) -> None:
        if name == step:
            count["n"] += 1
            if count["n"] == nth:
                raise psycopg.OperationalError(f"injected failure at {step}#{nth}")
        reached(name)

    monkeypatch.setattr(crashpoints, "reached", failing)


@pytest.mark.parametrize("nth", [1, 2])
def test_a_failure_between_the_renames_leaves_the_target_and_its_settings_as_they_were(
        databases: OneValueDatabases, monkeypatch: pytest.MonkeyPatch, nth: int) -> None:
    source, target = databases.create("new"), databases.create("old")
    admin = postgres_admin_connection()
    try:
        admin.execute(f'ALTER DATABASE "{target}" CONNECTION LIMIT 30')
    finally:
        admin.close()
    dump = dump_of(databases.url(source))
    before = settings(target)
    with ReconnectingClient(databases.url(target), "queries") as client:
        _fail_at(monkeypatch, "postgresql:install:renaming", nth)
        with pytest.raises(DatabaseError, match=r"cannot swap in the new database .*injected failure at"):
            install(databases.url(target), dump)
        # The application gets back in to the old content.
        seen = len(client.values)
        assert client.wait_for(lambda: len(client.values) > seen + 10)
        monkeypatch.undo()
        install(databases.url(target), dump)
        assert client.wait_for(lambda: client.values[-1] == "new")
        _fail_at(monkeypatch, "postgresql:rollback:renaming", nth)
        with pytest.raises(DatabaseError, match=r"rollback of .* failed: injected failure at"):
            rollback_with_engine(parse_database_url(databases.url(target)), InstallOptions(yes=True))
        seen = len(client.values)
        assert client.wait_for(lambda: len(client.values) > seen + 10)
    assert set(client.values[seen:]) == {"new"}
    assert value_in(databases.url(target)) == "new" and value_in(databases.url(target + "__synco_prev")) == "old"
    assert settings(target) == settings(target + "__synco_prev") == before == (True, 30)
    assert database_names(target) == [target, target + "__synco_prev"]


def test_without_a_second_connection_the_swap_fails_in_one_line_and_the_target_is_as_it_was(
        databases: OneValueDatabases, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sessions are ended from a second connection: when the server refuses it (max_connections, a
    role's CONNECTION LIMIT), a program that reconnects at once wins again, and the failure says so."""
    source, target = databases.create("new"), databases.create("old")
    dump = dump_of(databases.url(source))
    admin = installer._admin
    opened: list[int] = []

    def first_only(database: Any) -> Any:
        opened.append(1)
        if len(opened) > 1:
            raise DatabaseError("too many connections for role (injected)")
        return admin(database)

    monkeypatch.setattr(installer, "_admin", first_only)
    # The ended session's reconnect races the renames (the server waits up to 5 s for it): on a loaded host the
    # renames sometimes won. Not ending it at all is the reconnect winning every time, deterministically.
    monkeypatch.setattr(installer, "_terminate", lambda admin, names: None)
    # With nothing ended, every try meets the same session and the server waits its 5 s each time: the first
    # try is the server's real refusal; the later ones, the same refusal without its wait, keep the tries'
    # loop and its message.
    tries = renames_refused_after_the_first_try(monkeypatch)
    with ReconnectingClient(databases.url(target), "queries"), pytest.raises(DatabaseError) as failed:
        install(databases.url(target), dump)
    assert len(tries) > 1, "the renames were tried again"
    message = str(failed.value)
    assert "\n" not in message and message.startswith(f"could not rename database '{target}': ")
    assert "('reconnecting queries', role '" in message and "pid " in message
    assert "(a second connection to end them failed: too many connections for role (injected))" in message
    assert message.endswith("stop it and run again; the database is as it was")
    assert value_in(databases.url(target)) == "old" and settings(target) == (True, -1)
    assert database_names(target) == [target]


@pytest.mark.parametrize("point", ["postgresql:install:renaming#1", "postgresql:install:renaming#2",
                                   "postgresql:install:loaded"])
def test_a_kill_during_the_swap_leaves_the_application_on_the_old_database(databases: OneValueDatabases,
                                                                          point: str) -> None:
    source, target = databases.create("new"), databases.create("old")
    dump = dump_of(databases.url(source))
    script = ("import io, sys\n"
              "from synco_core.dburl import parse_database_url\n"
              "from synco_core.engines.dispatch import install_with_engine\n"
              "from synco_core.values import InstallOptions\n"
              "install_with_engine(parse_database_url(sys.argv[1]), io.BytesIO(sys.stdin.buffer.read()), "
              "InstallOptions(yes=True))\n")
    env = dict(os.environ, **{crashpoints.ENVIRONMENT_VARIABLE: point})
    with ReconnectingClient(databases.url(target), "queries") as client:
        proc = subprocess.run([sys.executable, "-c", script, databases.url(target)], input=dump[0], env=env,
                              capture_output=True, timeout=180, check=False)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
        seen = len(client.values)
        assert client.wait_for(lambda: len(client.values) > seen + 10), client.errors[-3:]
    assert set(client.values) == {"old"}
    assert value_in(databases.url(target)) == "old" and settings(target) == (True, -1)
    # The next command finds only the scratch database, and drops it.
    result = rollback_with_engine(parse_database_url(databases.url(target)), InstallOptions(yes=True))
    assert result.note is not None and "had not changed" in result.note
    assert database_names(target) == [target]


@pytest.mark.parametrize("point", ["postgresql:rollback:renaming#1", "postgresql:rollback:renaming#2",
                                   "postgresql:rollback:renaming#3"])
def test_a_kill_during_the_rollback_leaves_the_application_on_the_installed_database(databases: OneValueDatabases,
                                                                                      point: str) -> None:
    source, target = databases.create("new"), databases.create("old")
    install(databases.url(target), dump_of(databases.url(source)))
    script = ("import sys\n"
              "from synco_core.dburl import parse_database_url\n"
              "from synco_core.engines.dispatch import rollback_with_engine\n"
              "from synco_core.values import InstallOptions\n"
              "rollback_with_engine(parse_database_url(sys.argv[1]), InstallOptions(yes=True))\n")
    env = dict(os.environ, **{crashpoints.ENVIRONMENT_VARIABLE: point})
    with ReconnectingClient(databases.url(target), "transaction") as client:
        proc = subprocess.run([sys.executable, "-c", script, databases.url(target)], env=env,
                              capture_output=True, timeout=180, check=False)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
        seen = len(client.values)
        assert client.wait_for(lambda: len(client.values) > seen + 10), client.errors[-3:]
        assert set(client.values) == {"new"}
        # The next rollback, under the same client, completes.
        rollback_with_engine(parse_database_url(databases.url(target)), InstallOptions(yes=True))
        assert client.wait_for(lambda: client.values[-1] == "old"), client.errors[-3:]
    assert value_in(databases.url(target + "__synco_prev")) == "new"
    assert settings(target) == settings(target + "__synco_prev") == (True, -1)
    assert database_names(target) == [target, target + "__synco_prev"]


@pytest.mark.parametrize(("allowed", "limit"), [(False, 3), (False, -1), (True, 3), (True, 0)])
def test_the_targets_connection_settings_stay_as_its_owner_set_them(databases: OneValueDatabases, allowed: bool,
                                                                    limit: int) -> None:
    """A database its owner closed (ALLOW_CONNECTIONS false) was opened by every install (the new database
    under its name allowed connections), and its rollback then failed after the swap was committed (counting
    the tables connects to it); a CONNECTION LIMIT was kept."""
    source, target = databases.create("new"), databases.create("old")
    admin = postgres_admin_connection()
    try:
        admin.execute(f'ALTER DATABASE "{target}" ALLOW_CONNECTIONS {str(allowed).lower()} CONNECTION LIMIT {limit}')
    finally:
        admin.close()
    dump = dump_of(databases.url(source))
    install(databases.url(target), dump)
    assert settings(target) == settings(target + "__synco_prev") == (allowed, limit)
    result = rollback_with_engine(parse_database_url(databases.url(target)), InstallOptions(yes=True))
    assert result.backup == target + "__synco_prev"
    assert settings(target) == settings(target + "__synco_prev") == (allowed, limit)
    admin = postgres_admin_connection()
    try:
        admin.execute(f'ALTER DATABASE "{target}" ALLOW_CONNECTIONS true')
    finally:
        admin.close()
    assert value_in(databases.url(target)) == "old"


def test_in_place_install_succeeds_while_the_application_reconnects_at_once(databases: OneValueDatabases,
                                                                            application_role: str) -> None:
    """Installed in place, the drops wait for the application's locks: its sessions were ended once before
    the transaction, and a program back at once, reading in a transaction it keeps open, held the drops for
    30 s and failed the install. Now they are ended while the drops wait, as at a swap's renames."""
    source, target = databases.create("new"), databases.create("old")
    dump = dump_of(databases.url(source))
    with ReconnectingClient(databases.url(target), "transaction") as pooled, \
            ReconnectingClient(databases.url(target), "queries") as client:
        install(databases.url(target), dump)
        assert client.wait_for(lambda: client.values[-1] == "new"), client.errors[-3:]
        assert pooled.wait_for(lambda: pooled.values[-1] == "new"), pooled.errors[-3:]
    assert value_in(databases.url(target)) == "new"
    assert settings(target) == (True, -1) and database_names(target) == [target]
