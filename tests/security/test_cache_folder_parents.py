"""synco's folders in the user's cache are private all the way down, and never kept where others may rearrange.

``~/.cache/synco`` holds what other users must not change: receive's records of the sessions it received
(which refuse a replayed older session), serve's cache of content hashes (trusted to say what a file holds)
and the zipapp pull uploads and runs on the server. Each folder was made ``0700``, but its missing parents
(``~/.cache``, ``~/.cache/synco``) with the user's umask: under ``umask 000`` any user of the computer could
rename ``~/.cache/synco`` away as a whole and put a folder of theirs in its place (or just drop the records).
Now the missing parents are made ``0700`` too, and a cache folder inside one that other users may rearrange
(writable by them without the sticky bit, or not this user's) is not used: receive says so once and goes on
without its records, serve and pull take their other place.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from synco_core.index import hashcache
from synco_core.pull import zipapp
from synco_core.receive import seensessions
from synco_core.wire import Meta


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield None
    finally:
        os.umask(old)


def _records(tmp_path: Path) -> Path | None:
    seensessions.note_seen("https://example.test/x", "synco-abc", Meta(created_at=1, expires_at=2 ** 40))
    folder = seensessions.record_folder()
    return folder if any(folder.glob("*.json")) else None


def _hashes(tmp_path: Path) -> Path | None:
    return hashcache.cache_folder([])


def _zipapp(tmp_path: Path) -> Path | None:
    return zipapp.build_zipapp().parent


USERS: dict[str, Callable[[Path], Path | None]] = {"received sessions": _records, "hash cache": _hashes,
                                                    "zipapp": _zipapp}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of this user (0700) whose cache folder is not there yet; the shared fallback of the hash cache
    is a sticky folder of the test's own."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv(seensessions.CACHE_ENV, raising=False)
    shared = tmp_path / "var-tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    monkeypatch.setattr(hashcache, "SHARED_PARENT", shared)
    return home


@pytest.mark.parametrize("user", USERS)
def test_every_folder_made_for_the_cache_is_private_whatever_the_umask(tmp_path: Path, home: Path, user: str,
                                                                        open_umask: None) -> None:
    used = USERS[user](tmp_path)
    assert used is not None and home / ".cache" in used.parents
    made = [used, *(p for p in used.parents if home in p.parents)]
    assert {str(p.relative_to(home)): oct(stat.S_IMODE(p.stat().st_mode)) for p in made} == {
        str(p.relative_to(home)): "0o700" for p in made}


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("where", ["~/.cache", "~", "link"])
def test_no_cache_is_kept_where_others_may_rearrange_it(tmp_path: Path, home: Path, user: str, where: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """``~/.cache`` (or the home) writable by others without the sticky bit, or ``~/.cache`` a link into such
    a folder: nothing is made or kept below it."""
    cache = home / ".cache"
    if where == "link":
        shared = tmp_path / "shared"
        shared.mkdir()
        (shared / "cache").mkdir(mode=0o700)
        cache.symlink_to(shared / "cache")
    else:
        shared = cache if where == "~/.cache" else home
        cache.mkdir(mode=0o700)
    os.chmod(shared, 0o777)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with caplog.at_level(logging.WARNING):
        used = USERS[user](tmp_path)
    assert used is None or (cache not in used.parents and shared not in Path(os.path.realpath(used)).parents)
    assert not (cache / "synco").exists()
    if user == "received sessions":
        assert str(shared) in caplog.text and "rename" in caplog.text, caplog.text
    after = sorted(str(p) for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "var-tmp"))
    assert [p for p in after if p not in before] == []


def test_a_private_cache_folder_in_a_private_home_is_used(tmp_path: Path, home: Path) -> None:
    (home / ".cache").mkdir(mode=0o755)
    os.chmod(home / ".cache", 0o755)
    for user, use in USERS.items():
        used = use(tmp_path)
        assert used is not None and used.is_relative_to(home / ".cache" / "synco"), user
