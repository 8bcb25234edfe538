"""A SQLite install that fails at any of its file system calls: an error means the database is as it was.

The install renames the loaded copy over the target, then removes the replaced file's ``-wal``/``-shm``
(they must not be paired with the new file). A removal that failed after the rename used to be reported as
a failed install ("cannot install into ...") while the target already held the new content; the install's
undo, told the engine had undone its own failure, left it there: a receive then ended with an error and a
new database beside the old files.

Two ways to make one call fail: an obstacle (a folder where a side file is removed, so the removal fails
whatever the system), and ``strace`` injecting EIO/ENOSPC into each file system call of ``synco db load``
on the target's folder in turn (``benchmarks/fault_sweep.py`` sweeps a whole receive --install the same way).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine
from synco_core.errors import DatabaseError
from synco_core.testing.services import require_tool
from synco_core.values import DumpOptions, InstallOptions

SYNCO = [sys.executable, "-m", "synco_core"]


def make_database(path: Path, marker: str, rows: int = 3) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE marker (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO marker (v) VALUES (?)", [(f"{marker} {n}",) for n in range(rows)])
        conn.commit()
    return path


def content(path: Path) -> list[str] | None:
    """The database's schema and rows; None when there is no file. Read from a copy of the file alone, so
    that whatever lies beside it (an obstacle named like its -wal) does not matter."""
    if not path.exists():
        return None
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "copy.db"
        shutil.copyfile(path, copy)
        with contextlib.closing(sqlite3.connect(copy)) as conn:
            return list(conn.iterdump())


def dump_of(tmp_path: Path) -> bytes:
    out = io.BytesIO()
    dump_with_engine(parse_database_url(f"sqlite:///{make_database(tmp_path / 'source.db', 'new', 5)}"), out,
                     DumpOptions())
    return out.getvalue()


@pytest.mark.parametrize("existing", [True, False], ids=["replaces", "creates"])
@pytest.mark.parametrize("sidecar", ["-wal", "-shm"])
def test_a_side_file_that_cannot_be_removed_leaves_the_database_as_it_was(
        tmp_path: Path, plugin_manager: object, sidecar: str, existing: bool) -> None:
    dump = dump_of(tmp_path)
    app = tmp_path / "app"
    app.mkdir()
    target = app / "app.db"
    if existing:
        make_database(target, "old")
    before = content(target)
    # A folder by the side file's name: its removal fails (IsADirectoryError), after the rename.
    obstacle = Path(f"{target}{sidecar}")
    obstacle.mkdir()
    (obstacle / "inside").write_text("x")
    with pytest.raises(DatabaseError) as failed:
        install_with_engine(parse_database_url(f"sqlite:///{target}"), io.BytesIO(dump),
                            InstallOptions(format="sqlite", yes=True))
    message = str(failed.value)
    assert content(target) == before, message
    # (A folder for the -wal of an existing database stops the install before the rename: SQLite cannot read it.)
    assert "as it was" in message or "nothing was changed" in message, message
    assert sorted(p.name for p in app.iterdir() if p != obstacle) == (["app.db"] if existing else [])
    # Once the obstacle is gone, the same install goes through.
    (obstacle / "inside").unlink()
    obstacle.rmdir()
    install_with_engine(parse_database_url(f"sqlite:///{target}"), io.BytesIO(dump),
                        InstallOptions(format="sqlite", yes=True))
    assert content(target) == content(tmp_path / "source.db")


def strace_calls(app: Path, argv: list[str]) -> list[str]:
    """The file system calls ``argv`` makes on the files of ``app`` (the target's folder), in order."""
    log = app.parent / "calls.log"
    subprocess.run(["strace", "-f", "-qq", "-o", str(log), "-e", f"trace={','.join(CALLS)}", *argv], check=True,
                   capture_output=True, cwd=app.parent, timeout=120)
    calls = [line.split(None, 1)[1] for line in log.read_text().splitlines() if str(app) in line]
    log.unlink()
    return calls


#: The calls whose failure a user meets: a full disk or a failing one while writing, syncing, renaming, removing.
CALLS = ("openat", "write", "pwrite64", "fsync", "fdatasync", "rename", "renameat2", "link", "linkat", "unlink",
         "unlinkat", "ftruncate")


@pytest.mark.parametrize("error", ["EIO", "ENOSPC"])
def test_db_load_failing_at_each_call_on_the_target_folder(tmp_path: Path, error: str) -> None:
    """``synco db load`` with the n-th call of a kind on the target's folder failing, for each n of a sample:
    exit 0 with the new content, or exit 1 with one line and the old content; and nothing left beside it."""
    strace = require_tool("strace", "strace")
    dump = tmp_path / "dump.sqlite"
    dump.write_bytes(dump_of(tmp_path))
    new = content(tmp_path / "source.db")
    app = tmp_path / "app"
    app.mkdir()
    target = app / "app.db"
    make_database(target, "old")
    load = [*SYNCO, "db", "load", f"sqlite:///{target}", str(dump), "--yes"]
    calls = strace_calls(app, load)
    kinds = sorted({call.split("(")[0] for call in calls})
    assert {"rename", "unlink"} <= set(kinds), calls
    checked = 0
    for kind in kinds:
        numbers = [n for n, call in enumerate((c for c in calls if c.startswith(kind + "(")), start=1)]
        for number in numbers:
            # Each case from the same start: the old database alone.
            for path in app.iterdir():
                path.unlink()
            make_database(target, "old")
            old = content(target)
            # -P: only calls on the target's folder are counted and failed, not those of Python's start.
            paths = [str(app), str(target), *(str(app / f"{prefix}app.db{suffix}") for prefix, suffix in (
                ("", "-wal"), ("", "-shm"), ("", "-journal"), ("", ".synco-previous"), (".", ".synco-new"),
                (".", ".synco-keep"), (".", ".synco-swap"), (".", ".synco-new-journal"), (".", ".synco-new-wal"),
                (".", ".synco-new-shm")))]
            argv = [strace, "-f", "-qq", "-o", os.devnull, *(f"-P{path}" for path in paths),
                    "-e", f"trace={kind}", "-e", f"inject={kind}:error={error}:when={number}", *load]
            result = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=120)
            case = f"{kind} #{number} failing with {error}: {result.stderr}"
            leftovers = sorted(p.name for p in app.iterdir() if p.name not in ("app.db", "app.db.synco-previous"))
            assert not leftovers, case
            if result.returncode == 0:
                assert content(target) == new, case
            else:
                errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
                assert result.returncode == 1 and len(errors) == 1 and "Traceback" not in result.stderr, case
                assert content(target) == old, case
            checked += 1
    assert checked >= 10
