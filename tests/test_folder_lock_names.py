"""What may stand under a lock file's name (:mod:`synco_core.folderlock`) in a project or a receive folder.

Anyone who can write the folder (a restored backup, a copy made with ``cp -al``, a hostile archive unpacked
there) may leave something else than a plain file under ``.synco-receive.lock`` or ``.synco-install.lock``.
Locking through it must neither write into another file nor silently lock nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synco_core import folderlock
from synco_core.errors import ConfigError


def planted(folder: Path, kind: str, other: Path) -> None:
    lock = folder / folderlock.RECEIVE_LOCK
    if kind == "symlink":
        lock.symlink_to(other)
    elif kind == "dangling-symlink":
        lock.symlink_to(folder / "nowhere")
    elif kind == "hardlink":
        os.link(other, lock)
    elif kind == "fifo":
        os.mkfifo(lock)
    elif kind == "folder":
        lock.mkdir()


@pytest.mark.parametrize(("kind", "said"), [
    ("symlink", "a symbolic link"), ("dangling-symlink", "a symbolic link"), ("hardlink", "a hard link"),
    ("fifo", "a FIFO"), ("folder", "a folder"),
])
def test_a_lock_name_taken_by_something_else_is_refused_and_left_alone(tmp_path: Path, kind: str,
                                                                        said: str) -> None:
    """A hard link under the lock's name had the user's other file truncated and its content replaced with a
    pid; a symbolic link, a folder or a FIFO had the receive go on without any lock, silently."""
    folder = tmp_path / "target"
    folder.mkdir()
    other = tmp_path / "precious.txt"
    other.write_text("the user's data\n")
    planted(folder, kind, other)
    before = os.lstat(folder / folderlock.RECEIVE_LOCK)
    lock = folder / folderlock.RECEIVE_LOCK
    with pytest.raises(ConfigError) as raised, folderlock.folder_lock(folder, lock.name, "receiving into"):
        pass
    line = str(raised.value)
    assert said in line and str(folder / folderlock.RECEIVE_LOCK) in line and "remove it" in line, line
    assert other.read_text() == "the user's data\n"
    after = os.lstat(folder / folderlock.RECEIVE_LOCK)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    # Nothing is left held: the same folder locks once the name is cleared.
    if kind == "folder":
        (folder / folderlock.RECEIVE_LOCK).rmdir()
    else:
        (folder / folderlock.RECEIVE_LOCK).unlink()
    with folderlock.folder_lock(folder, folderlock.RECEIVE_LOCK, "receiving into"):
        assert (folder / folderlock.RECEIVE_LOCK).read_text().splitlines()[0] == str(os.getpid())
    assert not (folder / folderlock.RECEIVE_LOCK).exists()


def test_a_huge_stale_lock_file_is_taken_over_and_removed(tmp_path: Path) -> None:
    """A killed holder's file (here grown huge) locks nothing: it is taken, emptied to the pid, and removed."""
    lock = tmp_path / folderlock.INSTALL_LOCK
    with open(lock, "wb") as stale:
        stale.truncate(10 * 1024**3)
    with folderlock.folder_lock(tmp_path, folderlock.INSTALL_LOCK, "installing into"):
        assert lock.read_text().splitlines()[0] == str(os.getpid())
    assert not lock.exists()


def test_a_lock_file_this_user_may_not_open_is_refused_not_ignored() -> None:
    """Another user's lock file (mode 0600, theirs) could not be opened, and the run went on with no lock at
    all: two runs, one of each user, interleaved in one folder. Run as ``nobody`` when the tests run as root."""
    import shutil
    import tempfile

    from test_serve_wild_trees import as_unprivileged

    from synco_core.testing.services import unavailable

    if os.geteuid() != 0:
        unavailable("a lock file of another user needs root to make")
    folder = Path(tempfile.mkdtemp(prefix="synco-lock-other-"))

    def take() -> str:
        try:
            folderlock.acquire(folder, folderlock.RECEIVE_LOCK, "receiving into")
        except ConfigError as exc:
            return f"{type(exc).__name__} {exc}"
        return "locked"

    try:
        folder.chmod(0o777)
        lock = folder / folderlock.RECEIVE_LOCK
        lock.write_text("1")
        lock.chmod(0o600)
        said = str(as_unprivileged(folder, take, give=False))
        assert said.startswith("FolderBusyError ") and "another user's synco" in said and "\n" not in said, said
        assert lock.read_text() == "1"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
