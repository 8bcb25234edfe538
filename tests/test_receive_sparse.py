"""A sparse upload (``truncate -s 5G``, a disk image, a database file with holes) arrives whole and exact, and
its runs of zeros take no room on the laptop's disk.

Before, receive wrote every zero: a 5 GB file of zeros took 5 GB of the laptop's disk. Now a chunk that is
all zeros becomes a hole (a seek), and the file gets its length once complete; a download cut off inside
a hole is continued or done again with the same content.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from test_receive_bad_input import build, receive
from test_transfer_support import StaticBehaviour, fixture_app_fixture, static_server  # noqa: F401

from synco_core.receive.files import _zeros

MIB = 1024 * 1024


def sparse(path: Path, size: int, islands: dict[int, bytes]) -> str:
    """A file of ``size`` bytes, holes but for ``islands`` (offset -> bytes); its SHA-256."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset, data in islands.items():
            handle.seek(offset)
            handle.write(data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def test_a_sparse_upload_arrives_exact_and_sparse(fixture_app: Path, tmp_path: Path) -> None:
    uploads = fixture_app / "web" / "uploads"
    shapes = {
        # Data at both ends, holes between; ending in a hole (the length comes from the truncate); all holes.
        "image.bin": (64 * MIB, {0: os.urandom(5000), 40 * MIB + 3: os.urandom(70_000), 64 * MIB - 10: b"x" * 10}),
        "tail-hole.bin": (32 * MIB, {MIB: os.urandom(1000)}),
        "all-zeros.bin": (48 * MIB, {}),
    }
    expected = {name: sparse(uploads / name, size, islands) for name, (size, islands) in shapes.items()}
    key = build(fixture_app, only=("uploads",))
    target = tmp_path / "got"
    with static_server(fixture_app / "web") as (url, _):
        result = receive(url, key.secret, target)
    assert result.exit_code == 0, result.output
    for name, (size, _islands) in shapes.items():
        got = target / "uploads" / name
        assert got.stat().st_size == size and hashlib.sha256(got.read_bytes()).hexdigest() == expected[name]
        assert allocated(got) < 4 * MIB, (name, allocated(got))


def test_a_download_cut_off_inside_a_hole_is_finished_exact(fixture_app: Path, tmp_path: Path) -> None:
    uploads = fixture_app / "web" / "uploads"
    digest = sparse(uploads / "cut.bin", 16 * MIB, {0: b"head", 15 * MIB: os.urandom(3000)})
    key = build(fixture_app, only=("uploads",))
    target = tmp_path / "got"
    with static_server(fixture_app / "web", StaticBehaviour(cut_after={"/uploads/cut.bin": 8 * MIB})) as (url, _):
        first = receive(url, key.secret, target)
        assert first.exit_code == 1 and "cut.bin" in first.output, first.output
        assert not (target / "uploads" / "cut.bin").exists()
        again = receive(url, key.secret, target)
    assert again.exit_code == 0, again.output
    got = target / "uploads" / "cut.bin"
    assert got.stat().st_size == 16 * MIB and hashlib.sha256(got.read_bytes()).hexdigest() == digest
    assert not list(target.rglob("*.synco-part"))


def test_only_chunks_of_zeros_are_holes() -> None:
    assert _zeros(bytes(65536)) and _zeros(b"\0")
    assert not _zeros(b"") and not _zeros(b"\0" * 100 + b"\1" + b"\0" * 100)
    assert not _zeros(b"\1" + bytes(10)) and not _zeros(bytes(10) + b"\1")
