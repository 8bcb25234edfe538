"""SQLite install and rollback while the application keeps the database open.

The install renames the new file over the target: a process that has the target open goes on with the
file it opened (now the kept copy), reading the previous content, and what it writes is not in the new
database, until it opens the file again. Nothing said so; the developer saw the old data in the running
application after an install that reported success. A connection in write-ahead-log mode holds a lock on
the ``-shm`` file while it is open, so the install and the rollback now see it and say so in a warning.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine, rollback_with_engine
from synco_core.errors import DatabaseError
from synco_core.values import DumpOptions, InstallOptions

#: The application: opens the database, reads it, says so, and keeps it open until told to close.
APPLICATION = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("SELECT count(*) FROM t").fetchall()
print("open", flush=True)
sys.stdin.readline()
conn.close()
"""


def _database(path: Path, value: str, mode: str) -> None:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(f"PRAGMA journal_mode = {mode}")
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.execute("INSERT INTO t VALUES (?)", (value,))


@contextlib.contextmanager
def application(path: Path) -> Iterator[None]:
    """Another process with ``path`` open, as a running application has it."""
    process = subprocess.Popen([sys.executable, "-c", APPLICATION, str(path)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "open"
        yield
    finally:
        assert process.stdin is not None
        process.stdin.write("\n")
        process.stdin.close()
        process.wait()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "had SQLite database" in r.getMessage()]


@pytest.mark.parametrize("running", [True, False])
def test_an_application_with_the_database_open_is_told_to_restart(running: bool, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    source, target = tmp_path / "source.db", tmp_path / "app.db"
    _database(source, "new", "WAL")
    _database(target, "old", "WAL")
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(f"sqlite:///{source}"), out, DumpOptions())
    url = parse_database_url(f"sqlite:///{target}")
    with contextlib.ExitStack() as stack, caplog.at_level(logging.WARNING):
        if running:
            stack.enter_context(application(target))
        install_with_engine(url, io.BytesIO(out.getvalue()), InstallOptions(yes=True, manifest=result.tables))
        installed = _warnings(caplog)
        caplog.clear()
        if running:
            stack.enter_context(application(target))
        rollback_with_engine(url, InstallOptions(yes=True))
        rolled_back = _warnings(caplog)
    if not running:
        assert installed == rolled_back == []
        return
    assert len(installed) == 1 and str(target) in installed[0] and f"now {target}.synco-previous" in installed[0]
    assert "restart" in installed[0]
    assert len(rolled_back) == 1 and str(target) in rolled_back[0]
    with contextlib.closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT v FROM t").fetchall() == [("old",)]


@pytest.mark.parametrize("action", ["install", "rollback"])
def test_a_read_transaction_left_open_stops_the_swap_in_one_line_and_loses_nothing(
        action: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An application in write-ahead-log mode with a read transaction open keeps the log from being folded
    into the file; the install waited 30 s, kept the file without what only the log held, removed the log,
    and the kept copy was damaged (the rollback refused it: 'database disk image is malformed'), the rows
    committed last gone. Now the install and the rollback wait the bounded time, then stop in one line,
    nothing changed."""
    from synco_core.engines.sqlite import install as sqlite_install

    monkeypatch.setattr(sqlite_install, "LOCK_WAIT_SECONDS", 1)
    target = tmp_path / "app.db"
    url = parse_database_url(f"sqlite:///{target}")
    dump = tmp_path / "new.sql"
    dump.write_text("CREATE TABLE t (v TEXT);\nINSERT INTO t VALUES ('new');\n")
    writer = sqlite3.connect(target, isolation_level=None)
    reader = sqlite3.connect(target, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute("CREATE TABLE t (v TEXT)")
        writer.execute("INSERT INTO t VALUES ('first')")
        if action == "rollback":
            with dump.open("rb") as fh:
                install_with_engine(url, fh, InstallOptions(format="sql", yes=True))
            # Both connections opened the replaced file: the application opens the new one again.
            writer.close()
            reader.close()
            writer = sqlite3.connect(target, isolation_level=None)
            reader = sqlite3.connect(target, isolation_level=None)
            writer.execute("PRAGMA journal_mode = WAL")
            writer.execute("PRAGMA wal_autocheckpoint = 0")
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchall()
        writer.execute("INSERT INTO t VALUES ('only in the log')")
        before = sorted(writer.execute("SELECT v FROM t").fetchall())
        with pytest.raises(DatabaseError) as failed:
            if action == "install":
                with dump.open("rb") as fh:
                    install_with_engine(url, fh, InstallOptions(format="sql", yes=True))
            else:
                rollback_with_engine(url, InstallOptions(yes=True))
        assert str(failed.value) == (
            f"SQLite database {target} is in use: another connection (the application, a console) kept a "
            "transaction open on it for more than 1 s, so its write-ahead log could not be folded into the file "
            "kept for 'synco db rollback'; end that transaction (or stop that program) and run again; nothing "
            "was changed")
        reader.execute("COMMIT")
    finally:
        reader.close()
        writer.close()
    with contextlib.closing(sqlite3.connect(target)) as conn:
        assert sorted(conn.execute("SELECT v FROM t").fetchall()) == before
    # The kept copy stays kept (its side files: the rollback's check opened it); nothing else is left.
    kept = {"app.db.synco-previous", "app.db.synco-previous-wal", "app.db.synco-previous-shm"}
    left = {path.name for path in tmp_path.iterdir() if ".synco" in path.name}
    assert left <= kept and ("app.db.synco-previous" in left) == (action == "rollback"), left
    # Once the transaction is over, the same command goes through, and a rollback puts back every row.
    if action == "install":
        with dump.open("rb") as fh:
            install_with_engine(url, fh, InstallOptions(format="sql", yes=True))
        rollback_with_engine(url, InstallOptions(yes=True))
        with contextlib.closing(sqlite3.connect(target)) as conn:
            assert sorted(conn.execute("SELECT v FROM t").fetchall()) == before
