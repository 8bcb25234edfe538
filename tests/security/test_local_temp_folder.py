"""synco makes its scratch folders only in a temporary folder other users cannot rearrange, on either side.

A scratch folder (``synco-scratch-*``: serve's work folder, the private copy of a SQLite database being dumped
with its journal, receive's list of files to fetch) is 0700, but it is made by its name in ``$TMPDIR`` and
used by that name: in a ``TMPDIR`` others may write to without the sticky bit of ``/tmp`` (a project's ``tmp``
shared with the web server's group, ``chmod 777``), or owned by another user, they can rename it away and put a
folder of their own under its name, and the plaintext copy of the database is then written into their folder.
Such a temporary folder is refused in one line, before anything is written into it, as pull's remote side
refuses it (``test_remote_temp_folder.py``).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from temp_folders import private_folder_inside, temp_folder


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (secret TEXT)")
        connection.execute("INSERT INTO t VALUES ('plaintext row')")
    connection.close()
    return path


@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_db_dump_refuses_a_temporary_folder_others_may_rearrange(tmp_path: Path, mode: int) -> None:
    folder = temp_folder(tmp_path, mode)
    database = _database(tmp_path)
    result = subprocess.run([sys.executable, "-m", "synco_core", "db", "dump", f"sqlite:///{database}", "-o",
                             str(tmp_path / "dump.sql")], capture_output=True, text=True,
                            env={**os.environ, "TMPDIR": str(folder)}, cwd=tmp_path)
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ") and str(folder) in result.stderr
    assert list(folder.iterdir()) == [] and not (tmp_path / "dump.sql").exists()


@pytest.mark.parametrize("how", ["inside", "linked"])
def test_db_dump_refuses_a_private_folder_inside_one_others_may_rearrange(tmp_path: Path, how: str) -> None:
    shared, folder, tmpdir = private_folder_inside(tmp_path, 0o777, how)
    database = _database(tmp_path)
    result = subprocess.run([sys.executable, "-m", "synco_core", "db", "dump", f"sqlite:///{database}", "-o",
                             str(tmp_path / "dump.sql")], capture_output=True, text=True,
                            env={**os.environ, "TMPDIR": str(tmpdir)}, cwd=tmp_path)
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1 and f"temporary folder {shared} may" in result.stderr
    assert list(folder.iterdir()) == [] and not (tmp_path / "dump.sql").exists()


def test_db_dump_uses_a_sticky_temporary_folder(tmp_path: Path) -> None:
    folder = temp_folder(tmp_path, 0o1777)
    database = _database(tmp_path)
    result = subprocess.run([sys.executable, "-m", "synco_core", "db", "dump", f"sqlite:///{database}", "-o",
                             str(tmp_path / "dump.sql")], capture_output=True, text=True,
                            env={**os.environ, "TMPDIR": str(folder)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(folder.iterdir()) == []
