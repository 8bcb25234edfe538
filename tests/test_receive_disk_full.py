"""A laptop whose disk fills up during ``synco receive --install``: one line that says so, exit 1, the local
project untouched, and the same command finishing the job once there is space.

Before, every file that could not be written was listed as a failure of its own (hundreds of lines) and
the last line said to run the same command again, which fails the same way until space is freed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_install_lock import EXAMPLE, refused, served_session, synco
from test_serve_wild_trees import small_file_system


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    yield from served_session(tmp_path_factory)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# tmpfs counts whole pages: 4k holds nothing of the session, 12k and 20k part of it (the dump, some files).
@pytest.mark.parametrize("size", ["4k", "12k", "20k"])
def test_full_disk_during_receive(tmp_path: Path, session: tuple[str, str, str], size: str) -> None:
    name, key, url = session
    project = tmp_path / "laptop"
    shutil.copytree(EXAMPLE, project, symlinks=True)
    database = project / "database" / "database.sqlite"
    before = digest(database)
    (tmp_path / "received").mkdir()
    with small_file_system(tmp_path / "received", size):
        result = synco("receive", name, key, "--base-url", url, "--all", "--target", str(tmp_path / "received"),
                       "--install", "--yes", cwd=project)
        line = refused(result)
        assert line.startswith(f"Error: no space left on the disk that holds {tmp_path / 'received'}"), line
        assert "failed:" not in result.stderr + result.stdout
        assert digest(database) == before
    done = synco("receive", name, key, "--base-url", url, "--all", "--target", str(tmp_path / "received"),
                 "--install", "--yes", cwd=project)
    assert done.returncode == 0, done.stderr
    assert digest(database) != before


def fill(folder: Path) -> None:
    """Take every free byte of ``folder``'s (small) file system."""
    fd = os.open(folder / "filler.bin", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0")
    finally:
        os.close(fd)


def test_full_disk_under_the_receive_record(tmp_path: Path, session: tuple[str, str, str]) -> None:
    """Everything has arrived before; the disk is full when receive notes it again in .synco-received.json:
    one line naming the disk and the set, the record as it was, and no half-written part of it left."""
    name, key, url = session
    target = tmp_path / "received"
    target.mkdir()
    with small_file_system(target, "1m"):
        first = synco("receive", name, key, "--base-url", url, "--all", "--target", str(target), cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        record = (target / ".synco-received.json").read_bytes()
        before = sorted(os.listdir(target))
        fill(target)
        again = synco("receive", name, key, "--base-url", url, "--all", "--target", str(target), cwd=tmp_path)
        line = refused(again)
        assert line.startswith(f"Error: no space left on the disk that holds {target}: set "), line
        assert "failed:" not in again.stderr + again.stdout
        assert sorted(os.listdir(target)) == sorted([*before, "filler.bin"])
        assert (target / ".synco-received.json").read_bytes() == record
