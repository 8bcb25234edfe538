"""Dumping a SQLite database serve may read but not write beside: its folder mounted read-only (a container's
``:ro`` volume), as a deploy user may meet the application's files (a real bind mount; needs root).

A database in rollback-journal mode is read as usual. One in write-ahead-log mode can only be read by a
connection that creates ``<db>-shm`` beside it: the dump then failed with SQLite's "unable to open database
file", which named neither the cause nor what to do.
"""

from __future__ import annotations

import io
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from synco_core.dburl import parse_database_url
from synco_core.engines.sqlite import dump_database as dump
from synco_core.errors import DatabaseError
from synco_core.testing.services import unavailable
from synco_core.values import DumpOptions


@pytest.fixture
def read_only_view(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a folder, the same folder mounted read-only elsewhere)."""
    source, view = tmp_path / "source", tmp_path / "view"
    source.mkdir()
    view.mkdir()
    bound = subprocess.run(["mount", "--bind", str(source), str(view)], capture_output=True, check=False)
    if bound.returncode != 0:
        unavailable(f"cannot bind-mount a folder here (needs root): {bound.stderr.decode(errors='replace').strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True, capture_output=True)
        yield source, view
    finally:
        subprocess.run(["umount", str(view)], check=False, capture_output=True)


def _database(path: Path, journal_mode: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA journal_mode = {journal_mode}")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t (v) VALUES (?)", [("row",)] * 10)
    conn.close()


def test_a_rollback_journal_database_on_a_read_only_mount_is_dumped(read_only_view: tuple[Path, Path]) -> None:
    source, view = read_only_view
    _database(source / "app.db", "DELETE")
    out = io.BytesIO()
    result = dump(parse_database_url(f"sqlite:///{view / 'app.db'}"), out, DumpOptions())
    assert result.tables["t"].rows == 10


def test_a_wal_database_whose_shm_cannot_be_made_is_refused_saying_why(read_only_view: tuple[Path, Path]) -> None:
    source, view = read_only_view
    _database(source / "app.db", "WAL")
    assert not (source / "app.db-shm").exists(), "the last connection's close removes it"
    with pytest.raises(DatabaseError) as refused:
        dump(parse_database_url(f"sqlite:///{view / 'app.db'}"), io.BytesIO(), DumpOptions())
    message = str(refused.value)
    assert "\n" not in message
    assert "write-ahead-log mode" in message and "app.db-shm" in message and "read-only mount" in message
    assert "journal_mode=DELETE" in message
