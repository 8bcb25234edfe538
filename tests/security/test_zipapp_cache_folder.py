"""The zipapp ``pull`` uploads and runs on the server comes from a folder nobody else on the laptop may change.

``synco pull`` builds an archive of itself into ``~/.cache/synco`` (``$XDG_CACHE_HOME/synco``) and, when no
synco is installed on the server, uploads it and runs it there: with the deploy user's rights, the database's
credentials and the production data. The folder was made with the user's umask: under ``umask 000`` (or a
``~/.cache`` someone made world-writable) any other user of the laptop could rename a file of their own over
the archive, between the check that it was this user's (``_reuse``, on the path) and its opening (by the path,
following links), and have their code run on the server. Now the folder is made (or put back to) 0700, a
folder that is not this user's own is not used, and the archive is judged by the descriptor that is sent:
a link, a file of another user, or one others may write is refused in one line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from synco_core.errors import ConfigError
from synco_core.pull import zipapp


@pytest.fixture
def open_umask() -> object:
    old = os.umask(0)
    try:
        yield None
    finally:
        os.umask(old)


def test_the_cache_folder_is_made_private_whatever_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             open_umask: object) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    archive = zipapp.build_zipapp()
    assert stat.S_IMODE(archive.parent.stat().st_mode) & 0o077 == 0, oct(archive.parent.stat().st_mode)


def test_a_cache_folder_others_may_write_is_made_private_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               open_umask: object) -> None:
    """A folder an earlier synco (receive's record folder's parent) made under umask 000 in an existing
    ``~/.cache`` (a ``~/.cache`` others may write is not used at all: test_cache_folder_parents.py)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir(mode=0o700)
    folder = tmp_path / "cache" / "synco"
    folder.mkdir(mode=0o777)
    os.chmod(folder, 0o777)
    archive = zipapp.build_zipapp()
    assert archive.parent == folder
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, oct(folder.stat().st_mode)


def test_a_cache_folder_that_is_a_link_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o777)
    os.chmod(elsewhere, 0o777)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "synco").symlink_to(elsewhere)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    archive = zipapp.build_zipapp()
    assert elsewhere not in archive.parents and (tmp_path / "cache") not in archive.parents
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o777


@pytest.mark.parametrize("kind", ["link", "others may write", "group may write"])
def test_the_archive_sent_is_judged_by_what_is_opened(tmp_path: Path, kind: str) -> None:
    """What a swap between the check and the opening would put in the archive's place is refused."""
    theirs = tmp_path / "theirs.pyz"
    theirs.write_bytes(b"PK\x05\x06" + bytes(18))
    target = tmp_path / "synco-0123456789abcdef0123.pyz"
    if kind == "link":
        os.chmod(theirs, 0o600)
        target.symlink_to(theirs)
    else:
        theirs.rename(target)
        os.chmod(target, 0o602 if kind == "others may write" else 0o620)
    with pytest.raises(ConfigError) as caught:
        zipapp.open_archive(target).close()
    assert "\n" not in str(caught.value) and str(target) in str(caught.value)


def test_the_archive_this_user_built_is_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    archive = zipapp.build_zipapp()
    with zipapp.open_archive(archive) as source:
        assert source.read(2) == b"PK"
