"""SQLite install and rollback while another process writes to the database (a queue worker's import, a
console with an unsaved edit).

In rollback-journal mode a writer's journal is ``<db>-journal``, found by name. A write transaction open
across the swap kept its journal beside the new file, and the first connection to the new file took it for
a crashed transaction's and played the replaced file's pages into it: the installed database was a silent
mix of both contents (``PRAGMA integrity_check`` said ok). Now the install and the rollback hold the
database's write lock from before the file is kept until it is replaced: a transaction open elsewhere is
waited for a bounded time, then the command stops in one line and nothing changes; a writer that starts
meanwhile waits for the lock, and after the swap SQLite refuses it (the file it opened was renamed away).
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines import crashpoints
from synco_core.engines.dispatch import dump_with_engine, install_with_engine, rollback_with_engine
from synco_core.engines.sqlite import install as sqlite_install
from synco_core.errors import DatabaseError
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions

#: Another process's connection: runs one statement per line of stdin, answers its rows or "ERR <message>".
CONSOLE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
conn.execute("PRAGMA cache_size = 5")  # A transaction of more than five pages spills to the file.
for line in sys.stdin:
    try:
        print(repr(conn.execute(line).fetchall()), flush=True)
    except sqlite3.Error as exc:
        print("ERR", exc, flush=True)
conn.close()
"""

ROWS = 3000


class Console:
    """A connection to the database held open by another process."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", CONSOLE, str(path)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def __call__(self, statement: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(statement + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


@pytest.fixture
def console() -> Iterator[Callable[[Path], Console]]:
    opened: list[Console] = []

    def open_console(path: Path) -> Console:
        opened.append(Console(path))
        return opened[-1]

    yield open_console
    for each in opened:
        each.close()


def _database(path: Path, value: str, mode: str) -> None:
    """``ROWS`` rows of ``value``: enough pages that a transaction changing them all spills to the file."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(f"PRAGMA journal_mode = {mode}")
        conn.execute("CREATE TABLE t (v TEXT)")
        with conn:  # One transaction, not one per row.
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO t VALUES (?)", [(value,)] * ROWS)


def _values(path: Path) -> list[tuple[str, int]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return [(str(v), int(n)) for v, n in conn.execute("SELECT v, count(*) FROM t GROUP BY v ORDER BY v")]


def _prepared(tmp_path: Path, mode: str, action: str) -> tuple[Path, DatabaseConfig, Callable[[], object]]:
    """The target (``old`` rows; after an install of ``new`` rows for a rollback) and the action to run."""
    source, target = tmp_path / "source.db", tmp_path / "app.db"
    _database(source, "new", mode)
    _database(target, "old", mode)
    out = io.BytesIO()
    tables = dump_with_engine(parse_database_url(f"sqlite:///{source}"), out, DumpOptions()).tables
    url = parse_database_url(f"sqlite:///{target}")

    def install() -> object:
        return install_with_engine(url, io.BytesIO(out.getvalue()), InstallOptions(yes=True, manifest=tables))

    if action == "install":
        return target, url, install
    install()
    return target, url, lambda: rollback_with_engine(url, InstallOptions(yes=True))


@pytest.mark.parametrize("mode", ["DELETE", "WAL"])
@pytest.mark.parametrize("action", ["install", "rollback"])
def test_a_write_transaction_open_elsewhere_stops_the_swap_in_one_line_and_loses_nothing(
        action: str, mode: str, tmp_path: Path, console: Callable[[Path], Console],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_install, "LOCK_WAIT_SECONDS", 1)
    target, _, run = _prepared(tmp_path, mode, action)
    before = _values(target)
    writer = console(target)
    assert writer("BEGIN IMMEDIATE") == "[]" and writer("INSERT INTO t VALUES ('app')") == "[]"
    with pytest.raises(DatabaseError) as failed:
        run()
    message = str(failed.value)
    assert "\n" not in message and message.startswith(f"SQLite database {target} is in use: another connection")
    assert "more than 1 s" in message and message.endswith("nothing was changed")
    # The application's transaction goes on and commits into the database, which is as it was.
    assert writer("COMMIT") == "[]"
    assert _values(target) == sorted([*before, ("app", 1)])
    assert {p.name for p in tmp_path.iterdir() if ".synco-new" in p.name or ".synco-keep" in p.name} == set()
    # Once it is over, the same command goes through.
    run()
    assert _values(target) == ([("old", ROWS)] if action == "rollback" else [("new", ROWS)])


@pytest.mark.parametrize(("action", "step"), [("install", "sqlite:install:kept"),
                                              ("install", "sqlite:install:replaced"),
                                              ("rollback", "sqlite:rollback:linked"),
                                              ("rollback", "sqlite:rollback:replaced")])
@pytest.mark.parametrize("mode", ["DELETE", "WAL"])
def test_a_writer_starting_during_the_swap_never_reaches_the_new_file(
        action: str, step: str, mode: str, tmp_path: Path, console: Callable[[Path], Console],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The application starts a transaction that changes every row (and so spills to the file) at each step
    of the swap: it is refused (the swap holds the lock, or SQLite refuses a file renamed away), and the new
    file holds exactly what was installed, whatever the first connection to it finds beside it."""
    target, _, run = _prepared(tmp_path, mode, action)
    writer = console(target)
    assert writer("SELECT count(*) FROM t") == f"[({ROWS},)]"
    answers: list[str] = []
    reached = crashpoints.reached

    def at_step(name: str) -> None:
        reached(name)
        if name == step:
            answers.append(writer("BEGIN IMMEDIATE"))
            answers.append(writer("UPDATE t SET v = 'app'"))

    monkeypatch.setattr(crashpoints, "reached", at_step)
    run()
    assert _values(target) == ([("old", ROWS)] if action == "rollback" else [("new", ROWS)])
    assert len(answers) == 2 and answers[1].startswith("ERR"), answers
    writer("ROLLBACK")


@pytest.mark.parametrize("mode", ["DELETE", "WAL"])
def test_the_lock_holds_while_the_previous_file_is_copied_where_links_are_refused(
        mode: str, tmp_path: Path, console: Callable[[Path], Console], monkeypatch: pytest.MonkeyPatch) -> None:
    """On a file system without hard links the previous file is kept by a copy, whose descriptor of the
    target is closed only after the lock is let go: closing it first dropped the lock with it."""
    target, _, run = _prepared(tmp_path, mode, "install")
    writer = console(target)

    def refused(*_: object, **__: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(sqlite_install.os, "link", refused)
    answers: list[str] = []
    reached = crashpoints.reached

    def at_step(name: str) -> None:
        reached(name)
        if name == "sqlite:install:kept":
            answers.extend([writer("BEGIN IMMEDIATE"), writer("UPDATE t SET v = 'app'")])

    monkeypatch.setattr(crashpoints, "reached", at_step)
    run()
    assert _values(target) == [("new", ROWS)]
    assert _values(tmp_path / "app.db.synco-previous") == [("old", ROWS)]
    assert answers[1].startswith("ERR"), answers
    writer("ROLLBACK")
