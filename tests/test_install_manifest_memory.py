"""The note of what a files install put into a folder (synco_core.install.owned) is written, checked and used
for removal in memory that does not grow with the number of files: a folder of a million uploads must cost
the install no more than one of a thousand."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

from synco_core.install import owned


def _tree(root: Path, files: int) -> None:
    for n in range(files):
        # A hundred files a folder, however many files: one folder's listing is what a walk may hold.
        folder = root / f"d{n // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{n}.txt").write_bytes(b"x")


def _peak(root: Path, note: Path) -> int:
    tracemalloc.start()
    try:
        manifest = owned.write_manifest(root, note)
        foreign = owned.foreign_entries(root, manifest)
        assert not foreign
        (root / "d0" / "upload.jpg").write_bytes(b"new")
        stays = owned.remove_owned(root, owned.read_manifest(note))
        assert stays.first == ["d0/upload.jpg"] and stays.count == 1
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_install_note_costs_the_same_memory_for_4000_and_16000_files(tmp_path: Path) -> None:
    peaks = []
    for files in (4000, 16000):
        root = tmp_path / f"t{files}"
        _tree(root, files)
        peaks.append(_peak(root, tmp_path / f".t{files}.synco-previous.installed"))
        # Everything the install put there is gone, the application's upload stays.
        assert os.listdir(root) == ["d0"] and os.listdir(root / "d0") == ["upload.jpg"]
    # Four times the files: the peak may differ by a folder listing's worth, not by 12,000 entries (held
    # whole, each costs hundreds of bytes: megabytes).
    assert peaks[1] - peaks[0] < 100_000, peaks


def test_many_foreign_files_are_counted_and_a_few_named(tmp_path: Path) -> None:
    root = tmp_path / "media"
    _tree(root, 500)
    found = owned.foreign_entries(root, None)
    assert found.count == 500 and len(found.first) == owned.SHOWN
    assert owned.named(found).endswith(f"and {500 - owned.SHOWN} more")
