"""A laptop whose disk fills up during ``synco receive --install``: one line that says so, exit 1, the local
project untouched, and the same command finishing the job once there is space.

Before, every file that could not be written was listed as a failure of its own (hundreds of lines) and
the last line said to run the same command again, which fails the same way until space is freed.
"""

from __future__ import annotations

import hashlib
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
