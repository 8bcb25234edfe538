"""pull's remote side writes nothing it runs or sends into a temporary folder other users may rearrange.

The zipapp loader writes the archive to ``$TMPDIR/synco-upload-<random>.pyz`` (0600, ``O_EXCL``) and then has
Python open it again by its path to run it; the channel's scratch folder (``synco-channel-*``, the dump in
the clear on a host without ``cryptography``) is made there too. In ``/tmp`` the sticky bit keeps other users
from renaming or replacing a file of the deploy user. A ``TMPDIR`` others may write to without that bit (a
project's ``tmp`` folder shared with the web server's group, ``chmod 777``) let them rename a file of their
own over the archive between its writing and its running: their code ran as the deploy user, with the
database's credentials. Such a folder (or one of another user) is now refused, in one line, before anything
is written into it; one writable by the user's own private group (``umask 002``) is not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from temp_folders import private_folder_inside, temp_folder

from synco_core.errors import ConfigError
from synco_core.pull.bootstrap import LOADER
from synco_core.pull.tempdir import remote_temp_root
from synco_core.testing.services import unavailable


def _archive(tmp_path: Path) -> bytes:
    archive = tmp_path / "app.pyz"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("__main__.py", "print('ran')\n")
    return archive.read_bytes()


def _load(data: bytes, tmpdir: Path) -> subprocess.CompletedProcess[bytes]:
    """The loader run as pull runs it on the server, with ``tmpdir`` as its ``TMPDIR``."""
    return subprocess.run([sys.executable, "-c", LOADER, str(len(data)), "synco-upload-test.pyz"], input=data,
                          capture_output=True, env={**os.environ, "TMPDIR": str(tmpdir)})


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_the_loader_refuses_a_temporary_folder_others_may_rearrange(tmp_path: Path, mode: int) -> None:
    folder = temp_folder(tmp_path, mode)
    data = _archive(tmp_path)
    result = _load(data, folder)
    assert result.returncode == 4, result
    assert result.stdout == b"" and result.stderr.count(b"\n") == 1 and str(folder).encode() in result.stderr
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("mode", [0o777, 0o775])
@pytest.mark.parametrize("how", ["inside", "linked"])
def test_the_loader_refuses_a_private_folder_inside_one_others_may_rearrange(tmp_path: Path, mode: int,
                                                                             how: str) -> None:
    """A ``TMPDIR`` of this user's (0700), in a folder others may rearrange, or a link to one: they rename it
    away as a whole and put theirs in its place."""
    shared, folder, tmpdir = private_folder_inside(tmp_path, mode, how)
    data = _archive(tmp_path)
    result = _load(data, tmpdir)
    assert result.returncode == 4, result
    assert result.stdout == b"" and result.stderr.count(b"\n") == 1 and str(shared).encode() in result.stderr
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("mode", [0o1777, 0o700, 0o755, 0o1775])
def test_the_loader_runs_from_a_sticky_or_private_temporary_folder(tmp_path: Path, mode: int) -> None:
    folder = temp_folder(tmp_path, mode)
    data = _archive(tmp_path)
    result = _load(data, folder)
    assert result.returncode == 0 and result.stdout == b"ran\n", result
    assert list(folder.iterdir()) == []


def test_the_channel_refuses_the_same_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = temp_folder(tmp_path, 0o777)
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr("tempfile.tempdir", None)
    with pytest.raises(ConfigError) as caught:
        remote_temp_root()
    assert str(folder) in str(caught.value) and "\n" not in str(caught.value)
    monkeypatch.setattr("tempfile.tempdir", None)
    os.chmod(folder, 0o1777)
    assert remote_temp_root() == str(folder)
    (folder / "mine").mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(folder / "mine"))
    monkeypatch.setattr("tempfile.tempdir", None)
    assert remote_temp_root() == str(folder / "mine")
    os.chmod(folder, 0o777)
    monkeypatch.setattr("tempfile.tempdir", None)
    with pytest.raises(ConfigError) as caught:
        remote_temp_root()
    assert f"{folder} on the remote host" in str(caught.value)


def test_a_folder_writable_by_the_users_own_private_group_is_taken(tmp_path: Path) -> None:
    """``umask 002`` with a group of the user's own (as most distributions make one per user)."""
    from synco_core.pull.tempdir import own_group

    if not own_group(os.getgid()):
        unavailable("this user's primary group is not a private group of its own")
    folder = tmp_path / "rtmp-own"
    folder.mkdir()
    os.chown(folder, -1, os.getgid())
    os.chmod(folder, 0o775)
    data = _archive(tmp_path)
    result = _load(data, folder)
    assert result.returncode == 0 and result.stdout == b"ran\n", result
