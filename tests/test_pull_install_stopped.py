"""``pull --install --yes`` stopped (SIGTERM, SIGHUP, Ctrl-C) while the dump streams in and loads early.

The stop is raised in the main thread, which puts the channel's dump chunks into the stream; the early
database install loads from that stream in its own threads (the statement reader, the load workers). Here
the stop is injected where the main thread hands the stream on (the ``put`` of a chunk, of the end
marker, before any data), then the pull's own clean-up runs in its order (the stream discarded, the early
install abandoned, the install lock released), on a real MariaDB load with its workers. Required: all of
it within seconds, nothing installed (the local database as it was), no scratch database left, the lock
free. A hang was seen once, all threads waiting: see tests/test_dumpstream_stopped.py for the cause.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_dumpstream import Artifact
from test_mysql_support import dump_bytes
from test_receive_install import _mysql, make_local
from test_receive_support import LocalProject

from synco_core import folderlock
from synco_core.cli.termination import Terminated
from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine
from synco_core.install.streamed import ReceiveInstall
from synco_core.pull import dumpstream
from synco_core.pull.dumpstream import DumpStream
from synco_core.testing.services import mysql_url_for, postgres_url_for
from synco_core.values import DumpOptions


def _synco_databases(local_db: str) -> list[tuple[Any, ...]]:
    """The scratch and kept databases named after ``local_db`` (the names are the fixture's, plain)."""
    pattern = local_db.replace("_", "\\_") + "\\_\\_synco%"
    return _mysql(local_db, f"SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '{pattern}'")


#: How long the whole clean-up of a stopped streamed install may take.
PROMPT = 15.0


def _stop_in_put(stream: DumpStream, lands: str, after: int) -> None:
    """Raise the stop once in the main thread's ``put`` of the chosen item, before it is queued."""
    chunks = stream._chunks
    original = chunks.put
    seen = [0]

    def put(item: Any, block: bool = True, timeout: float | None = None) -> None:
        if lands == "end" and isinstance(item, dumpstream._End) and item.file_set is not None:
            raise Terminated(signal.SIGTERM)
        if lands == "data" and isinstance(item, bytes):
            seen[0] += 1
            if seen[0] == after:
                raise Terminated(signal.SIGTERM)
        original(item, block, timeout)

    chunks.put = put  # type: ignore[method-assign]


class Scene:
    """A local project on one engine, an older database in it, and the source's dump of a bigger one."""

    def __init__(self, engine: str, local_url: str, plain: bytes, state: Callable[[], Any],
                 leftovers: Callable[[], list[Any]]) -> None:
        self.engine, self.local_url, self.plain = engine, local_url, plain
        #: The local database's content, to compare before and after.
        self.state = state
        #: Scratch or kept databases of an install left behind.
        self.leftovers = leftovers


ROWS = 40_000


def _mysql_scene(tmp_path: Path, factory: Callable[[], str]) -> Scene:
    source_db, local_db = factory(), factory()
    _mysql(source_db, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50))",
           *("INSERT INTO items VALUES " + ", ".join(f"({n}, 'item {n}')" for n in range(start, start + 5000))
             for start in range(1, ROWS + 1, 5000)))
    _mysql(local_db, "CREATE TABLE stale (id INT)", "INSERT INTO stale VALUES (7)")
    plain, _result = dump_bytes(source_db)
    return Scene("mysql", mysql_url_for(local_db), plain,
                 lambda: (_mysql(local_db, "SHOW TABLES"), _mysql(local_db, "SELECT id FROM stale")),
                 lambda: _synco_databases(local_db))


def _postgres_scene(tmp_path: Path, factory: Callable[..., str]) -> Scene:
    import psycopg
    from test_postgres_support import databases_like

    source_db = factory(f"CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT n, 'item ' || n "
                        f"FROM generate_series(1, {ROWS}) n")
    local_db = factory("CREATE TABLE stale (id int); INSERT INTO stale VALUES (7)")
    out = io.BytesIO()
    dump_with_engine(parse_database_url(postgres_url_for(source_db)), out, DumpOptions())

    def state() -> Any:
        with psycopg.connect(postgres_url_for(local_db)) as conn:
            return (conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall(),
                    conn.execute("SELECT id FROM stale").fetchall())

    return Scene("postgresql", postgres_url_for(local_db), out.getvalue(), state,
                 lambda: [name for name in databases_like(local_db) if name != local_db])


def _sqlite_scene(tmp_path: Path, _factory: Any) -> Scene:
    source, local = tmp_path / "source.sqlite", tmp_path / "local" / "local.sqlite"
    with contextlib.closing(sqlite3.connect(source)) as conn, conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO items VALUES (?, ?)", ((n, f"item {n}") for n in range(1, ROWS + 1)))
    out = io.BytesIO()
    dump_with_engine(parse_database_url(f"sqlite:///{source}"), out, DumpOptions())

    def state() -> Any:
        with contextlib.closing(sqlite3.connect(local)) as conn:
            return conn.execute("SELECT * FROM items ORDER BY id").fetchall()

    def leftovers() -> list[Any]:
        return sorted(path.name for path in local.parent.iterdir() if path.name != local.name)

    return Scene("sqlite", "sqlite:///local.sqlite", out.getvalue(), state, leftovers)


@pytest.fixture(params=["mysql", "postgresql", "sqlite"])
def scene(request: pytest.FixtureRequest, tmp_path: Path) -> Scene:
    if request.param == "mysql":
        return _mysql_scene(tmp_path, request.getfixturevalue("mysql_database_factory"))
    if request.param == "postgresql":
        return _postgres_scene(tmp_path, request.getfixturevalue("postgres_database_factory"))
    return _sqlite_scene(tmp_path, None)


@pytest.mark.parametrize("lands, fraction", [("end", 0.0), ("data", 0.5), ("data", 0.0), ("open", 0.0)])
def test_a_stopped_streamed_install_ends_at_once_and_changes_nothing(
        tmp_path: Path, scene: Scene, register_plugin: Callable[[object, str], None],
        lands: str, fraction: float) -> None:
    register_plugin(LocalProject(), "localproject")
    local = make_local(tmp_path / "local", url=scene.local_url)
    state, leftovers = scene.state(), scene.leftovers()
    artifact = Artifact(tmp_path / "remote", scene.plain)
    before = set(threading.enumerate())
    installer = ReceiveInstall(local, yes=True)
    target = tmp_path / "dump"
    stream = DumpStream(target, on_open=installer.start_streamed)
    stream.open({**artifact.announcement(), "engine": scene.engine})
    assert installer.database is not None and installer.database.stream is stream
    _stop_in_put(stream, lands, max(1, int(len(artifact.chunks) * fraction)))
    with pytest.raises(Terminated):
        # The main thread reading the channel's frames; the stop lands in one of its puts.
        if lands == "open":
            raise Terminated(signal.SIGTERM)
        for chunk in artifact.chunks:
            stream.data(chunk)
        stream.close({"fileSet": artifact.file_set.to_json()})

    def clean_up() -> None:  # As pull/run.py and install/receive.py do on the way out.
        try:
            stream.discard()
            installer.abandon()
        finally:
            installer.close()

    cleaner = threading.Thread(target=clean_up, daemon=True)
    cleaner.start()
    cleaner.join(PROMPT)
    assert not cleaner.is_alive(), "the stopped pull's clean-up hung"
    assert scene.state() == state, "the local database changed"
    assert scene.leftovers() == leftovers, "a scratch database was left"
    assert not list(target.glob("*.stream.part"))
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == [], "threads of the stopped install are still running"
    lock = folderlock.acquire(local, folderlock.INSTALL_LOCK, "checking")
    folderlock.release(lock)


def test_a_stop_as_the_early_install_starts_still_waits_for_it(
        tmp_path: Path, mysql_database_factory: Callable[[], str], register_plugin: Callable[[object, str], None],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The stop lands in the main thread just after the load's thread started (receive's ``on_accepted``),
    before the install knew of it: the clean-up must still wait for that load and undo it, not release the
    lock and exit under a load that goes on (killed with the process, it left its scratch database)."""
    from synco_core.install import streamed

    local_db = mysql_database_factory()
    _mysql(local_db, "CREATE TABLE stale (id INT)", "INSERT INTO stale VALUES (7)")
    register_plugin(LocalProject(), "localproject")
    local = make_local(tmp_path / "local", url=mysql_url_for(local_db))
    artifact = Artifact(tmp_path / "remote", b"-- just a header\n" * 1000)
    slow_start = streamed._install_database

    def load_later(*args: Any, **kwargs: Any) -> Any:
        # Still loading when the clean-up runs, whatever the machine's speed.
        threading.Event().wait(1.0)
        return slow_start(*args, **kwargs)

    monkeypatch.setattr(streamed, "_install_database", load_later)
    started = threading.Thread.start

    def start_then_stop(thread: threading.Thread) -> None:
        started(thread)
        if thread.name == "synco-install-database":
            raise Terminated(signal.SIGTERM)

    before = set(threading.enumerate())
    installer = ReceiveInstall(local, yes=True)
    stream = DumpStream(tmp_path / "dump", on_open=installer.start_streamed, accepted=False)
    stream.open(artifact.announcement())
    monkeypatch.setattr(threading.Thread, "start", start_then_stop)
    with pytest.raises(Terminated):
        stream.accept()
    monkeypatch.setattr(threading.Thread, "start", started)
    try:
        stream.discard()
        installer.abandon()
    finally:
        installer.close()
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == [], "the clean-up ended while the early load still ran"
    assert _mysql(local_db, "SELECT id FROM stale") == [(7,)]
    assert _synco_databases(local_db) == []


@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
def test_the_rollback_of_an_early_install_from_a_file_does_not_wait_for_the_whole_load(
        tmp_path: Path, engine: str, request: pytest.FixtureRequest,
        register_plugin: Callable[[object, str], None]) -> None:
    """``receive --install --yes`` (and a pull whose stream broke) loads the downloaded dump while the files
    arrive; stopped then, the rollback ended the load at its next read, not after all of it. The dump here
    trickles in through a named pipe and never ends by itself: waiting for the whole load hung."""
    factories = {"mysql": (_mysql_scene, "mysql_database_factory"),
                 "postgresql": (_postgres_scene, "postgres_database_factory"), "sqlite": (_sqlite_scene, None)}
    make, fixture = factories[engine]
    scene = make(tmp_path, request.getfixturevalue(fixture) if fixture else None)
    register_plugin(LocalProject(), "localproject")
    local = make_local(tmp_path / "local", url=scene.local_url)
    state, leftovers = scene.state(), scene.leftovers()
    folder = tmp_path / "received"
    folder.mkdir()
    os.mkfifo(folder / "dbDump.sql")
    released = threading.Event()

    def trickle() -> None:
        # All but the last byte, slowly; then the pipe stays open, without an end, until the test is done.
        with contextlib.suppress(BrokenPipeError), (folder / "dbDump.sql").open("wb") as pipe:
            for start in range(0, len(scene.plain) - 1, 4096):
                if released.is_set():
                    return
                pipe.write(scene.plain[start:min(start + 4096, len(scene.plain) - 1)])
                pipe.flush()
                released.wait(0.02)
            released.wait()

    writer = threading.Thread(target=trickle, daemon=True)
    writer.start()
    before = set(threading.enumerate())
    installer = ReceiveInstall(local, yes=True)
    installer.set_arrived(folder, {"name": "dbDump", "kind": "database", "path": "dbDump.sql", "engine": engine,
                                   "format": "sql"})
    assert installer.database is not None
    threading.Event().wait(0.5)  # The load is under way.
    cleaner = threading.Thread(target=lambda: (installer.abandon(), installer.close()), daemon=True)
    cleaner.start()
    cleaner.join(PROMPT)
    released.set()
    assert not cleaner.is_alive(), "the rollback waited for the whole load"
    assert scene.state() == state
    assert scene.leftovers() == leftovers
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == []
    writer.join(5)
