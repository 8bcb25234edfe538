"""Receiving onto a FAT32 disk (a USB stick or an external disk formatted for every system).

FAT keeps no Unix modes: the mount's options give every file the same, and a chmod to any other is refused
(EPERM from the kernel's FAT and exFAT drivers, ENOSYS from fusefat). synco sets 0600 on the files it writes
for itself (the receive state, part files, dumps) and each private member's own mode, so every set failed
("Function not implemented") with the advice to run again, which failed the same way.

The folder is a real FAT32 file system (``fusefat`` on a loop device, :mod:`laptop_folders`). fusefat
empties a folder it renames and keeps the mtimes it is given in memory only, so these tests write into
folders that exist and compare nothing after a remount (FAT's times are tested on exFAT and in
test_receive_mtimes.py).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from laptop_folders import laptop_folder
from test_receive_case_insensitive import listing, outcome, receive
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core.receive.tarsafe import extract_stream


def test_a_dump_and_public_files_are_received_onto_fat(fixture_app: Path, tmp_path: Path) -> None:
    uploads = fixture_app / "web" / "uploads"
    (uploads / "ünïcode & space.txt").unlink()  # fusefat takes ASCII names only (exFAT's tests have them)
    with laptop_folder(tmp_path, "fat") as fat:
        target = fat.path / "got"
        (target / "uploads").mkdir(parents=True)
        dump = outcome(receive(fixture_app, target, "dbDump"))
        assert dump.status == "downloaded", dump
        assert (target / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()
        files = outcome(receive(fixture_app, target, "uploads"))
        assert files.status == "downloaded" and files.files_downloaded == 12 and not files.files_failed, files
        assert listing(target / "uploads") == {name: content for name, content in listing(uploads).items()
                                               if name != "skip.tmp"}


def test_private_members_are_extracted_onto_fat(tmp_path: Path) -> None:
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w") as tar:
        for name, mode in (("secret.txt", 0o600), ("folder/shared.txt", 0o644), ("run.sh", 0o755)):
            member = tarfile.TarInfo(name)
            member.size, member.mode, member.mtime = len(name), mode, 1_700_000_000
            tar.addfile(member, io.BytesIO(name.encode()))
        link = tarfile.TarInfo("hard.txt")
        link.type, link.linkname = tarfile.LNKTYPE, "secret.txt"  # FAT has no hard links: a copy is made
        tar.addfile(link)
    packed.seek(0)
    with laptop_folder(tmp_path, "fat") as fat:
        left_out: list[tuple[str, str]] = []
        assert extract_stream(packed, fat.path / "private", left_out) == 4
        assert not left_out
        assert listing(fat.path / "private") == {"secret.txt": b"secret.txt", "folder/shared.txt": b"folder/shared.txt",
                                                 "run.sh": b"run.sh", "hard.txt": b"secret.txt"}
        assert os.path.isdir(fat.path / "private" / "folder")
