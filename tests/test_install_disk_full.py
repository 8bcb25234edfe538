"""A laptop whose project's disk fills up while an install copies a set (the received folder on another disk,
so nothing can be hard-linked): one line saying so and naming the folder, exit 1, the project as it was, and
nothing half-copied left beside it. It was ``Error: plugin laravel failed in install_files: OSError: [Errno
28] No space left on device: '<dump>/...' -> '<project>/...synco-new/...'``.
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

from synco_core.engines.default_files import install_tree
from synco_core.errors import SyncoError


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    yield from served_session(tmp_path_factory)


def fingerprint(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "/"
            for path in sorted(root.rglob("*"))}


def test_a_set_that_does_not_fit_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    received = tmp_path / "dump" / "uploads"
    received.mkdir(parents=True)
    for number in range(8):
        (received / f"{number}.bin").write_bytes(os.urandom(64 * 1024))
    project = tmp_path / "project"
    (project / "uploads").mkdir(parents=True)
    (project / "uploads" / "mine.txt").write_text("mine")
    before = fingerprint(project)
    with small_file_system(project, "256k"):
        with pytest.raises(SyncoError) as failed:
            install_tree(received, project / "uploads")
        said = str(failed.value)
        assert said.startswith(f"no space left on the disk that holds {project / 'uploads'}: the copy of uploads "
                               "that replaces it needs about 524.3 KB there, "), said
        assert said.endswith(f"free some space and run the same command again ({project / 'uploads'} was left as "
                             "it was)"), said
        assert fingerprint(project) == before


@pytest.mark.parametrize("free", [4, 48], ids=["journal-does-not-fit", "database-does-not-fit"])
def test_receive_install_into_a_full_project_disk(tmp_path: Path, session: tuple[str, str, str], free: int) -> None:
    """The project's disk has ``free`` KiB left: the database or a set does not fit, whichever comes first."""
    name, key, url = session
    project = tmp_path / "laptop"
    shutil.copytree(EXAMPLE, project, symlinks=True)
    received = tmp_path / "received"  # on the big disk: the install copies, as from an external drive
    received.mkdir()
    with small_file_system(project, "1m"):
        filler = project / "filler.bin"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
        os.close(fd)
        os.truncate(filler, max(0, filler.stat().st_size - free * 1024))
        before = fingerprint(project)
        result = synco("receive", name, key, "--base-url", url, "--all", "--target", str(received), "--install",
                       "--yes", cwd=project)
        line = refused(result)
        assert "no space left" in line.lower() and str(project) in line, line
        assert fingerprint(project) == before
