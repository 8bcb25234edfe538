"""Uploads whose mtime the laptop's file system cannot hold are fetched once, not at every re-sync.

Receive stamps a file with the index's mtime and takes a file of the index's size and mtime for current.
exFAT holds 1980 to 2107 (an upload dated 0 or 1960 became 1980-01-01), ext4 1901 to 2446 (2038 with
128-byte inodes), FAT even seconds: each such file looked changed at every receive and was downloaded
again, for ever. Now a local mtime that is what a file system makes of the index's counts as the index's
(:mod:`synco_core.receive.mtimes`); a local edit still does not.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_receive_case_insensitive import exfat_folder, listing, outcome, receive
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.receive import session as session_module
from synco_core.receive.directory import DirectoryTransport
from synco_core.receive.mtimes import DAY, HELD_FROM, HELD_UNTIL, held, same_mtime
from synco_core.receive.public import receive_public_files
from synco_core.receive.tarsafe import extract_stream
from synco_core.testing.services import unavailable
from synco_core.wire import PublicIndexEntry

#: Times an upload may carry on a server: before 1970, 0, before 1980, odd seconds, past 2038 and 2106.
#: (Not past 2107: the FUSE exFAT driver wraps those round to the 1980s, where nothing can tell them from
#: another time; the kernel's driver clamps them as ext4 does, tested below.)
SERVER_TIMES = {"zero": 0, "minus-one": -1, "y1960": -315_619_200, "y1979": 300_000_000,
                "odd": 1_700_000_001, "y2038": 2**31 + 5, "y2106": 2**32 + 5}


def plant(folder: Path, times: dict[str, int]) -> dict[str, bytes]:
    """A small (packed) and a large file per time; name -> content."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, when in times.items():
        for leaf, size in ((f"{name}.jpg", 300), (f"{name}-large.jpg", 40_000)):
            content = os.urandom(size)
            (folder / leaf).write_bytes(content)
            os.utime(folder / leaf, (when, when))
            made[leaf] = content
    return made


def test_an_exfat_folder_fetches_files_dated_outside_its_years_once(fixture_app: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real_open_index = session_module.open_index

    def counted(*args: Any, **kwargs: Any) -> Any:
        opened.append("index")
        return real_open_index(*args, **kwargs)

    monkeypatch.setattr(session_module, "open_index", counted)
    made = plant(fixture_app / "web" / "uploads" / "times", SERVER_TIMES)
    with exfat_folder(tmp_path) as exfat:
        target = exfat.path / "got"
        first = outcome(receive(fixture_app, target, "uploads"))
        assert first.status == "downloaded" and not first.files_failed, first
        for run in range(3):
            # What the driver kept in memory goes: the disk's 1980-01-01 and 2107-12-31 show.
            exfat.remount()
            indexes_read = len(opened)
            again = outcome(receive(fixture_app, target, "uploads"))
            assert again.files_downloaded == 0 and again.status == "skipped", (run, again)
            if run:
                # The folder is as the last receive left it: the tree digest tells, without the index.
                assert len(opened) == indexes_read, run
        files = listing(target / "uploads" / "times")
        assert files == made
        clamped = os.lstat(target / "uploads" / "times" / "zero.jpg").st_mtime
        assert HELD_FROM <= clamped <= HELD_FROM + DAY  # the file system's, not the index's
        # A local edit of the same size is seen, and undone.
        edited = target / "uploads" / "times" / "y1960.jpg"
        edited.write_bytes(b"x" * 300)
        exfat.remount()
        after_edit = outcome(receive(fixture_app, target, "uploads"))
        assert after_edit.files_downloaded == 1, after_edit
        assert edited.read_bytes() == made["y1960.jpg"]


@pytest.fixture
def tmpfs_app(fixture_app: Path) -> Iterator[Path]:
    """The fixture app whose uploads folder is a link to a folder on tmpfs, which holds any 64-bit time."""
    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        unavailable("a tmpfs folder (/dev/shm) holds the server's times that ext4 cannot")
    folder = Path(tempfile.mkdtemp(prefix="synco-mtimes-", dir="/dev/shm"))
    try:
        uploads = fixture_app / "web" / "uploads"
        shutil.copytree(uploads, folder / "uploads", symlinks=True)
        shutil.rmtree(uploads)
        uploads.symlink_to(folder / "uploads")
        yield fixture_app
    finally:
        shutil.rmtree(folder)


def test_times_beyond_what_ext4_holds_are_fetched_once(tmpfs_app: Path, tmp_path: Path) -> None:
    """A server's tmpfs or btrfs holds 1779 and 2514; the laptop's ext4 clamps them to 1901 and 2446."""
    made = plant(tmpfs_app / "web" / "uploads" / "times", {"y1779": -6_000_000_000, "y2514": 2**34 + 7})
    probe = tmp_path / "probe"
    probe.touch()
    os.utime(probe, (2**34 + 7, 2**34 + 7))
    if os.lstat(probe).st_mtime == 2**34 + 7:
        unavailable("this folder's file system holds any time (not ext4): nothing to clamp")
    target = tmp_path / "got"
    first = outcome(receive(tmpfs_app, target, "uploads"))
    assert first.status == "downloaded" and not first.files_failed, first
    again = outcome(receive(tmpfs_app, target, "uploads"))
    assert again.files_downloaded == 0 and again.status == "skipped", again
    assert listing(target / "uploads" / "times") == made


@given(st.integers(-2**40, 2**40), st.integers(-2**31, HELD_FROM), st.integers(HELD_UNTIL, 2**34))
def test_a_time_clamped_into_any_range_holding_1980_to_2038_is_the_same(listed: int, low: int, high: int) -> None:
    assert same_mtime(min(max(listed, low), high), listed)


@given(st.integers(HELD_FROM, HELD_UNTIL))
def test_fat_even_seconds_are_the_same(listed: int) -> None:
    assert same_mtime(listed - listed % 2, listed) and same_mtime(listed + listed % 2, listed)


@given(st.integers(-2**40, 2**40), st.integers(HELD_FROM + DAY + 1, HELD_UNTIL - DAY - 1))
def test_a_local_edit_is_never_taken_for_the_index_time(listed: int, edited: int) -> None:
    """An edit stamps the time of the edit, inside the years every file system holds: never the same unless
    it is the index's time, or a second off it towards an even second (as FAT would store it)."""
    if abs(edited - listed) > 1:
        assert not same_mtime(edited, listed)


def test_now_is_not_the_same_as_any_server_time_far_from_it() -> None:
    now = int(time.time())
    for listed in (*SERVER_TIMES.values(), now - 2, now + 2):
        assert not same_mtime(now, listed)


@pytest.mark.parametrize("listed", [2**63, 2**70, -2**63 - 5, -2**70])
def test_a_time_no_platform_holds_is_stamped_as_the_nearest_and_stays_current(tmp_path: Path, listed: int) -> None:
    """An index from a broken or hostile server may list any whole number: it ended the receive with an
    OverflowError; now the file arrives with the nearest time the platform takes, and is current after."""
    source, target = tmp_path / "server", tmp_path / "got"
    source.mkdir()
    (source / "a.txt").write_bytes(b"hello")
    index = {"a.txt": PublicIndexEntry(5, listed, "a.txt", False, None, hashlib.sha256(b"hello").hexdigest())}
    first = receive_public_files(DirectoryTransport(source), index, target)
    assert first.downloaded == 1 and not first.failed, first.failed
    assert (target / "a.txt").read_bytes() == b"hello"
    again = receive_public_files(DirectoryTransport(source), index, target)
    assert again.downloaded == 0 and again.skipped == 1 and not again.failed


@pytest.mark.parametrize("pax_mtime", ["1e30", "-1e30", "inf", "nan", "1e400"])
def test_a_private_member_of_a_time_no_platform_holds_is_extracted(tmp_path: Path, pax_mtime: str) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        member = tarfile.TarInfo("f.txt")
        member.size, member.pax_headers = 3, {"mtime": pax_mtime}
        tar.addfile(member, io.BytesIO(b"abc"))
    archive.seek(0)
    assert extract_stream(archive, tmp_path / "got") == 1
    assert (tmp_path / "got" / "f.txt").read_bytes() == b"abc"


@given(st.integers(-2**40, 2**40), st.integers(-2**31, HELD_FROM), st.integers(HELD_UNTIL, 2**34))
def test_the_tree_digest_holds_a_clamped_time_as_the_index_time_and_tells_seconds_apart(
        listed: int, low: int, high: int) -> None:
    assert held(min(max(listed, low), high)) == held(listed)
    if HELD_FROM <= listed < HELD_UNTIL:
        # A file touched by one second (FAT's rounding, allowed for by the full comparison on FAT only) is
        # another file for the quick re-sync.
        assert held(listed + 1) != held(listed)


def test_files_dated_past_the_year_9999_are_served_and_received(tmpfs_app: Path, tmp_path: Path) -> None:
    """A btrfs or tmpfs upload dated in the year 33658 (``touch -d @1000000000000``): the built-in server's
    Last-Modified header failed for it (HTTP dates end in 9999), so every request for the file failed and the
    set could never be received. The file is served without the header, and fetched once."""
    made = plant(tmpfs_app / "web" / "uploads" / "far", {"y33658": 10**12, "y1653": -10**10})
    if os.lstat(tmpfs_app / "web" / "uploads" / "far" / "y33658-large.jpg").st_mtime != 10**12:
        unavailable("this tmpfs does not hold the year 33658")
    target = tmp_path / "got"
    first = outcome(receive(tmpfs_app, target, "uploads"))
    assert first.status == "downloaded" and not first.files_failed, first
    again = outcome(receive(tmpfs_app, target, "uploads"))
    assert again.files_downloaded == 0 and again.status == "skipped", again
    assert listing(target / "uploads" / "far") == made


def test_a_fraction_of_a_second_never_moves_a_file_to_another_second(fixture_app: Path, tmp_path: Path) -> None:
    """The index's mTime is the second a file's time falls in, as stat, ls and Go synco's serve give it. serve
    took int() of the float st_mtime: 1700000000.999999999 is 1700000001.0 as a float (the next second), and
    -1.5 was cut to -1 instead of -2, so the laptop's copy was dated a second later than the server's file."""
    folder = fixture_app / "web" / "uploads" / "fractions"
    folder.mkdir(parents=True)
    times = {"late.jpg": 1_700_000_000_999_999_999, "before-1970.jpg": -1_500_000_000,
             "large-late.jpg": 1_600_000_000_999_999_999}
    for name, ns in times.items():
        (folder / name).write_bytes(os.urandom(40_000 if name.startswith("large") else 300))
        os.utime(folder / name, ns=(ns, ns))
    target = tmp_path / "got"
    first = outcome(receive(fixture_app, target, "uploads"))
    assert first.status == "downloaded" and not first.files_failed, first
    got = {name: os.stat(target / "uploads" / "fractions" / name).st_mtime_ns for name in times}
    assert got == {name: ns // 10**9 * 10**9 for name, ns in times.items()}
    again = outcome(receive(fixture_app, target, "uploads"))
    assert again.files_downloaded == 0 and again.status == "skipped", again
