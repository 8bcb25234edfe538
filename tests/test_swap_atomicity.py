"""A reader of the target never sees it missing while an install swaps it in (MariaDB, PostgreSQL, SQLite).

Each test makes the dangerous moment last, so that a swap that is not atomic is caught every time, not
once in a while:

- MariaDB: another connection holds one of the target's tables in an open transaction, so the install's
  ``RENAME TABLE`` waits for it. While it waits, every other table must still be in the target and every
  incoming table still in the scratch database: one statement moves them all, or none.
- PostgreSQL: the installer pauses after each ``ALTER DATABASE ... RENAME`` (a test hook). Inside the one
  transaction that is harmless; renames in separate transactions would leave the target missing for the
  length of the pause, which a second connection polling ``pg_database`` sees.
- SQLite: the target's folder is watched with inotify. The only event on the target's name may be the
  rename that puts the new file in place: no deletion, no write into the file in place.

Every reader classifies each error it meets; only those a swap is documented to cause (a session ended
so that the database can be renamed, a lock wait) are accepted. Anything else fails the test.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import io
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from test_mysql_support import config, dump_bytes, rename_waiting

from synco_core.dburl import parse_database_url
from synco_core.engines import crashpoints
from synco_core.engines.dispatch import dump_with_engine, install_with_engine, rollback_with_engine
from synco_core.engines.mysql import swap
from synco_core.engines.mysql.install import install as mysql_install
from synco_core.testing.services import mysql_admin_connection, postgres_admin_connection, postgres_url_for, unavailable
from synco_core.values import DumpOptions, InstallOptions

TABLES = ["a_first", "b_second", "c_third", "d_fourth", "e_last"]


class Reader(threading.Thread):
    """Runs ``poll`` in a loop until stopped; keeps every unexpected error and every wrong answer."""

    def __init__(self, poll: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.poll = poll
        self.stop = threading.Event()
        self.problems: list[str] = []
        self.polls = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.poll()
            except AssertionError as exc:
                self.problems.append(str(exc))
            except Exception as exc:  # Classified by the poll itself; whatever gets here is unexpected.
                self.problems.append(f"{type(exc).__name__}: {exc}")
            self.polls += 1

    def finish(self) -> list[str]:
        self.stop.set()
        self.join(30)
        assert self.polls > 0, "the reader never ran"
        return self.problems


# ------------------------------------------------------------------------------------------------ MariaDB

#: Errors a MariaDB reader may meet while the swap runs: its lock wait timed out behind the RENAME.
_ER_LOCK_WAIT_TIMEOUT = 1205


@pytest.mark.mysql
def test_mysql_swap_moves_every_table_in_one_statement(mysql_database_factory: Callable[[], str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    target, source = mysql_database_factory(), mysql_database_factory()
    for db, rows in ((target, "(1)"), (source, "(1), (2)")):
        conn = mysql_admin_connection(db)
        with conn.cursor() as cur:
            for table in TABLES:
                cur.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY)")
                cur.execute(f"INSERT INTO {table} VALUES {rows}")
        conn.close()
    data, _ = dump_bytes(source)
    scratch = target + "__synco_new"

    def listing(db: str) -> set[str]:
        conn = mysql_admin_connection()
        try:
            with conn.cursor() as cur:
                # SHOW TABLES reads the folder: it needs no lock, so it answers while the RENAME waits.
                cur.execute(f"SHOW TABLES FROM `{db}`")
                return {row[0] for row in cur.fetchall()}
        finally:
            conn.close()

    reader_conn = mysql_admin_connection(target)
    with reader_conn.cursor() as cur:
        cur.execute("SET SESSION lock_wait_timeout = 1")

    def poll() -> None:
        with reader_conn.cursor() as cur:
            for table in TABLES:
                try:
                    cur.execute(f"SELECT COUNT(*) FROM {table}")
                    count = cur.fetchone()[0]
                    assert count in (1, 2), f"{table} has {count} rows"
                except pymysql.err.MySQLError as exc:
                    if exc.args[0] != _ER_LOCK_WAIT_TIMEOUT:
                        raise AssertionError(f"{table}: {exc.args}") from exc

    holder = mysql_admin_connection(target)
    errors: list[BaseException] = []

    def run_install() -> None:
        try:
            mysql_install(config(target), io.BytesIO(data), InstallOptions(yes=True))
        except BaseException as exc:
            errors.append(exc)

    # The swap first waits for every table to be free, and refuses one held too long (test_mysql_tables_in_use):
    # the table is taken just after that check, so that the RENAME waits for it, within the swap's bounded wait.
    checked = swap._wait_for_tables

    def check_then_hold(*args: Any) -> None:
        checked(*args)
        with holder.cursor() as cur:
            cur.execute("START TRANSACTION")
            cur.execute(f"SELECT COUNT(*) FROM {TABLES[-1]}")

    monkeypatch.setattr(swap, "_wait_for_tables", check_then_hold)
    reader = Reader(poll)
    installer = threading.Thread(target=run_install, daemon=True)
    try:
        reader.start()
        installer.start()
        deadline = time.monotonic() + 60
        while not rename_waiting(target):
            assert installer.is_alive(), f"the install ended without waiting for the held table: {errors}"
            assert time.monotonic() < deadline, "the install never reached its RENAME TABLE"
            time.sleep(0.05)
        # The rename waits for the last table: it must not have moved any other yet.
        time.sleep(0.3)
        assert listing(target) == set(TABLES)
        assert listing(scratch) >= set(TABLES)
    finally:
        holder.rollback()
        holder.close()
        installer.join(60)
        problems = reader.finish()
        reader_conn.close()
    assert not errors, errors
    assert problems == []
    conn = mysql_admin_connection(target)
    with conn.cursor() as cur:
        for table in TABLES:
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            assert cur.fetchone()[0] == 2
    conn.close()


# --------------------------------------------------------------------------------------------- PostgreSQL

#: What a connection to the target may meet while the swap runs, and why: the installer ends the
#: sessions on the target (it cannot rename a database in use), and a connection that looked the target up
#: just before the rename committed finds it renamed when it gets its lock.
POSTGRES_SWAP_ERRORS = ("terminating connection due to administrator command",
                      "server closed the connection unexpectedly",
                      "It seems to have just been dropped or renamed")


def postgres_marker(name: str, value: str) -> None:
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE marker (v text)")
        conn.execute("INSERT INTO marker VALUES (%s)", (value,))


@pytest.mark.postgres
@pytest.mark.parametrize("operation", ["install", "rollback"])
def test_postgres_swap_never_leaves_the_target_missing(postgres_database_factory: Callable[[], str],
                                                       monkeypatch: pytest.MonkeyPatch, plugin_manager: object,
                                                       operation: str) -> None:
    target, source = postgres_database_factory(), postgres_database_factory()
    postgres_marker(target, "old")
    postgres_marker(source, "new")
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(postgres_url_for(source)), out, DumpOptions())
    database = parse_database_url(postgres_url_for(target))
    options = InstallOptions(yes=True, manifest=result.tables)
    if operation == "rollback":
        install_with_engine(database, io.BytesIO(out.getvalue()), options)

    def pause(step: str) -> None:
        if step.startswith(f"postgresql:{operation}:renaming"):
            time.sleep(0.5)

    monkeypatch.setattr(crashpoints, "reached", pause)
    catalog = postgres_admin_connection()

    def in_catalog() -> None:
        row = catalog.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (target,)).fetchone()
        assert row == (1,), f"{target} is missing from pg_database"

    def connecting() -> None:
        try:
            with psycopg.connect(postgres_url_for(target), autocommit=True, connect_timeout=10) as conn:
                value = conn.execute("SELECT v FROM marker").fetchone()
                assert value in (("old",), ("new",)), value
        except psycopg.OperationalError as exc:
            if not any(expected in str(exc) for expected in POSTGRES_SWAP_ERRORS):
                raise AssertionError(f"unexpected: {exc}") from exc

    readers = [Reader(in_catalog), Reader(connecting)]
    for reader in readers:
        reader.start()
    try:
        if operation == "install":
            install_with_engine(database, io.BytesIO(out.getvalue()), options)
        else:
            rollback_with_engine(database, InstallOptions(yes=True))
    finally:
        problems = [problem for reader in readers for problem in reader.finish()]
        catalog.close()
    assert problems == []
    with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
        assert conn.execute("SELECT v FROM marker").fetchone() == (("new",) if operation == "install" else ("old",))


# ------------------------------------------------------------------------------------------------- SQLite

IN_MODIFY, IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x2, 0x40, 0x80, 0x100, 0x200
_EVENT = struct.Struct("iIII")


@contextlib.contextmanager
def watched(folder: Path) -> Iterator[Callable[[], list[tuple[str, int]]]]:
    """inotify on ``folder``; yields a function returning the (name, mask) events so far."""
    if os.uname().sysname != "Linux":
        unavailable("the SQLite swap test watches the folder with inotify, which only Linux has")
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1 failed")
    try:
        mask = IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
        if libc.inotify_add_watch(fd, os.fsencode(folder), mask) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch failed")
        events: list[tuple[str, int]] = []

        def read() -> list[tuple[str, int]]:
            while True:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    return events
                except OSError as exc:  # pragma: no cover - EAGAIN spelt otherwise
                    if exc.errno == errno.EAGAIN:
                        return events
                    raise
                offset = 0
                while offset < len(data):
                    _, event_mask, _, length = _EVENT.unpack_from(data, offset)
                    name = data[offset + _EVENT.size:offset + _EVENT.size + length].rstrip(b"\0").decode()
                    events.append((name, event_mask))
                    offset += _EVENT.size + length

        yield read
    finally:
        os.close(fd)


@pytest.mark.parametrize("operation", ["install", "rollback"])
def test_sqlite_target_is_only_ever_replaced_by_a_rename(tmp_path: Path, plugin_manager: object,
                                                         operation: str) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    target, new = folder / "app.db", tmp_path / "new.db"
    for path, value in ((target, "old"), (new, "new")):
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.executescript(f"CREATE TABLE marker (v TEXT); INSERT INTO marker VALUES ('{value}');")
    database = parse_database_url(f"sqlite:///{target}")
    if operation == "rollback":
        with new.open("rb") as dump:
            install_with_engine(database, dump, InstallOptions(format="sqlite", yes=True))

    def poll() -> None:
        # Opening by name: a missing file (or a half-written one) would fail here.
        with contextlib.closing(sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True)) as conn:
            assert conn.execute("SELECT v FROM marker").fetchone() in (("old",), ("new",))

    reader = Reader(poll)
    with watched(folder) as events:
        reader.start()
        try:
            if operation == "install":
                with new.open("rb") as dump:
                    install_with_engine(database, dump, InstallOptions(format="sqlite", yes=True))
            else:
                rollback_with_engine(database, InstallOptions(yes=True))
        finally:
            problems = reader.finish()
        on_target = [mask for name, mask in events() if name == target.name]
    assert problems == []
    # One event: the rename of the new file onto the target's name. Never a deletion or a write in place.
    assert on_target == [IN_MOVED_TO], on_target
    with contextlib.closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT v FROM marker").fetchone() == (("new",) if operation == "install" else ("old",))
