"""A re-sync onto a file system with coarse times fetches exactly what changed on the server.

FAT keeps even seconds, exFAT (through exfat-fuse) whole seconds from 1980 to 2107, ext4 with 128-byte inodes
(HFS+, ext3, NFS servers) whole seconds. Receive stamps a file with the index's time and takes a file whose time
is what the file system makes of the index's for current (:mod:`synco_core.receive.mtimes`): with nothing
changed, a re-sync must fetch nothing; after one upload changed on the server, exactly that one, even when its
new version has the same size and a time the folder cannot tell from the old one (within the same two seconds),
since the index's hash is compared with the one the file was received as.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from laptop_folders import fat_times_folder, laptop_folder
from test_receive_case_insensitive import listing, outcome, receive
from test_transfer_support import fixture_app_fixture  # noqa: F401


@contextlib.contextmanager
def coarse_folder(tmp_path: Path, kind: str) -> Iterator[tuple[Path, Callable[[], None]]]:
    """(a folder on a file system of ``kind``, what shows what its disk holds): exFAT and ext4 of whole seconds
    are mounted afresh, since a FUSE driver answers from memory what it has not written yet; FAT's times come
    from the shim (fusefat loses a time over a rename, test_receive_fat_disk.py), which writes them through."""
    if kind == "fat":
        with fat_times_folder(tmp_path) as folder:
            yield folder, lambda: None
    else:
        with laptop_folder(tmp_path, kind) as mounted:
            yield mounted.path, mounted.remount


@pytest.mark.parametrize("kind", ["fat", "exfat", "seconds"])
@pytest.mark.parametrize("shift", [60.0, 1.0, 0.004], ids=["a minute later", "a second later", "4 ms later"])
def test_a_resync_fetches_nothing_then_exactly_the_changed_files(
    fixture_app: Path, tmp_path: Path, kind: str, shift: float
) -> None:
    uploads = fixture_app / "web" / "uploads"
    sized = sorted((path.stat().st_size, path) for path in uploads.rglob("*.bin") if path.stat().st_size > 2)
    # One packed with the small files (16 KiB at most) and one fetched by its own URL.
    changed = [next(path for size, path in sized if size <= 16384), sized[-1][1]]
    assert changed[1].stat().st_size > 16384
    # An even second: what FAT holds exactly.
    base = 1_700_000_000
    for path in uploads.rglob("*"):
        os.utime(path, (base, base), follow_symlinks=False)
    with coarse_folder(tmp_path, kind) as (folder, remount):
        target = folder / "got"
        first = outcome(receive(fixture_app, target, "uploads"))
        assert first.status == "downloaded" and not first.files_failed, first
        expected = {name: content for name, content in listing(uploads).items() if name != "skip.tmp"}
        assert listing(target / "uploads") == expected
        # The folder's own granularity, not the index's nanoseconds (the test would prove nothing otherwise).
        probe = folder / "probe"
        probe.write_bytes(b"")
        os.utime(probe, ns=(1_700_000_001_123_456_789,) * 2)
        remount()
        kept = {
            "fat": 1_700_000_000_000_000_000,
            "exfat": 1_700_000_001_000_000_000,
            "seconds": 1_700_000_001_000_000_000,
        }
        assert os.stat(probe).st_mtime_ns == kept[kind]
        remount()
        again = outcome(receive(fixture_app, target, "uploads"))
        assert again.files_downloaded == 0 and not again.files_failed, again
        # One upload changed on the server: same size, a time the folder may not tell from the old one.
        for path in changed:
            content = path.read_bytes()
            path.write_bytes(bytes(byte ^ 0xFF for byte in content))
            os.utime(path, ns=(int((base + shift) * 1e9),) * 2)
        remount()
        after = outcome(receive(fixture_app, target, "uploads"))
        assert after.files_downloaded == 2 and not after.files_failed, after
        assert listing(target / "uploads") == {
            name: content for name, content in listing(uploads).items() if name != "skip.tmp"
        }
        remount()
        settled = outcome(receive(fixture_app, target, "uploads"))
        assert settled.files_downloaded == 0 and not settled.files_failed, settled
