"""A part file is resumed for exactly the version of the file it began as, whatever its mtime says.

test_receive_interrupt.py was flaky because a part's identity was an mtime stamped after the
interruption: a process stopped before it stamped left a part the next run would not resume. The identity
is now in the part's name (the entry's size and content hash), so these tests set the part's mtime to
anything at all and check that (a) the right part is resumed with a Range read of exactly the rest,
(b) a part of another version (other hash, other size) is never continued, and (c) a part holding wrong
bytes under the right name is found out by the hash and the file is fetched whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synco_core.receive.directory import DirectoryTransport
from synco_core.receive.files import part_path, resumable_bytes
from synco_core.receive.public import receive_public_files
from synco_core.wire import PublicIndexEntry

SIZE = 300_000


class RecordingTransport(DirectoryTransport):
    """A web root that records the offset of every read."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.offsets: list[tuple[str, int]] = []

    @contextlib.contextmanager
    def open(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[Any]:
        self.offsets.append((path, offset))
        with super().open(path, offset, length) as response:
            yield response


def entry_for(content: bytes, mtime: int = 1_700_000_000) -> PublicIndexEntry:
    return PublicIndexEntry(size_bytes=len(content), mtime=mtime, public_uri="files/big.bin",
                            sha256=hashlib.sha256(content).hexdigest())


@pytest.fixture
def served(tmp_path: Path) -> tuple[RecordingTransport, bytes]:
    content = random.Random(5).randbytes(SIZE)
    (tmp_path / "web" / "files").mkdir(parents=True)
    (tmp_path / "web" / "files" / "big.bin").write_bytes(content)
    return RecordingTransport(tmp_path / "web"), content


@pytest.mark.parametrize("stamp", [0, 1_700_000_000, 2_000_000_000, None])
@pytest.mark.parametrize("held", [1, 65_536, SIZE - 1])
def test_a_part_is_resumed_whatever_its_mtime(served: tuple[RecordingTransport, bytes], tmp_path: Path,
                                              stamp: int | None, held: int) -> None:
    transport, content = served
    entry = entry_for(content)
    destination = tmp_path / "target" / "big.bin"
    destination.parent.mkdir()
    part = part_path(destination, entry)
    part.write_bytes(content[:held])
    if stamp is not None:  # None: the mtime of the moment it was written, as a killed process leaves it.
        os.utime(part, (stamp, stamp))
    assert resumable_bytes(destination, entry) == held
    result = receive_public_files(transport, {"big.bin": entry}, tmp_path / "target")
    assert result.downloaded == 1 and not result.failed
    assert transport.offsets == [("files/big.bin", held)], "only the rest was asked for"
    assert result.bytes == SIZE - held
    assert destination.read_bytes() == content and not part.exists()


def test_a_part_is_resumed_with_delete_too(served: tuple[RecordingTransport, bytes], tmp_path: Path) -> None:
    """--delete removes the files the index does not list before the fetch (so that one in the way of a new file
    goes first); the part file being continued is not the index's either, and stays for the fetch to use."""
    transport, content = served
    entry = entry_for(content)
    destination = tmp_path / "target" / "big.bin"
    destination.parent.mkdir()
    part = part_path(destination, entry)
    part.write_bytes(content[:1000])
    result = receive_public_files(transport, {"big.bin": entry}, tmp_path / "target", delete=True)
    assert result.downloaded == 1 and not result.failed, result.failed
    assert transport.offsets == [("files/big.bin", 1000)], "only the rest was asked for"
    assert destination.read_bytes() == content and not part.exists()


@pytest.mark.parametrize("change", ["content", "size"])
def test_a_part_of_another_version_is_never_continued(served: tuple[RecordingTransport, bytes], tmp_path: Path,
                                                      change: str) -> None:
    transport, content = served
    old = bytearray(content)
    if change == "content":
        old[-1] ^= 0xFF
    else:
        old += b"x"
    old_entry, entry = entry_for(bytes(old)), entry_for(content)
    assert part_path(tmp_path / "big.bin", old_entry) != part_path(tmp_path / "big.bin", entry)
    destination = tmp_path / "target" / "big.bin"
    destination.parent.mkdir()
    stale = part_path(destination, old_entry)
    stale.write_bytes(old[:1000])
    # Even stamped with the new entry's mtime (what the old identity was), it is not this version's part.
    os.utime(stale, (entry.mtime, entry.mtime))
    assert resumable_bytes(destination, entry) == 0
    result = receive_public_files(transport, {"big.bin": entry}, tmp_path / "target", delete=True)
    assert transport.offsets == [("files/big.bin", 0)]
    assert destination.read_bytes() == content
    # The stale part is no file of the set: listed as such, and removed with --delete.
    assert result.vanished == [stale.name] and not stale.exists()


def test_a_part_with_wrong_bytes_is_found_out_and_replaced(served: tuple[RecordingTransport, bytes],
                                                           tmp_path: Path) -> None:
    transport, content = served
    entry = entry_for(content)
    destination = tmp_path / "target" / "big.bin"
    destination.parent.mkdir()
    part_path(destination, entry).write_bytes(b"\0" * 5000)
    # Resumed, the file does not match; downloaded whole in the same run, it does.
    result = receive_public_files(transport, {"big.bin": entry}, tmp_path / "target")
    assert transport.offsets == [("files/big.bin", 5000), ("files/big.bin", 0)]
    assert result.downloaded == 1 and not result.failed and destination.read_bytes() == content
    assert not part_path(destination, entry).exists()


def test_a_long_name_gets_a_part_name_the_file_system_takes(tmp_path: Path) -> None:
    entry = entry_for(b"abc")
    long_name = "é" * 127  # 254 bytes in UTF-8: the file fits, a suffix would not
    part = part_path(tmp_path / long_name, entry)
    assert len(part.name.encode()) <= 255 and part.name.endswith(".synco-part")
    part.write_bytes(b"a")
    assert resumable_bytes(tmp_path / long_name, entry) == 1
