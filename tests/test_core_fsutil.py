"""Atomic outputs and safe relative paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath

import pytest

from synco_core import fsutil
from synco_core.errors import UnsafePathError
from synco_core.fsutil import atomic_output, resolve_inside, safe_relative_path


def test_atomic_output_renames_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.bin"
    with atomic_output(target) as out:
        out.write(b"hello")
        assert not target.exists()
        assert (tmp_path / "sub" / "out.bin.part").exists()
    assert target.read_bytes() == b"hello"
    assert os.listdir(tmp_path / "sub") == ["out.bin"]


def test_atomic_output_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_output(target) as out:
        out.write(b"half")
        raise RuntimeError("disk full")
    assert os.listdir(tmp_path) == []


def test_atomic_output_keeps_previous_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as out:
        out.write(b"new")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_output_starts_writeback_on_the_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every WRITEBACK_EVERY bytes the range written since the last request goes to the kernel, so the final
    # fsync has little left; the ranges must follow each other and the data must arrive unchanged.
    monkeypatch.setattr(fsutil, "WRITEBACK_EVERY", 1024 * 1024)
    requests: list[tuple[int, int, bool]] = []
    real = fsutil.start_writeback

    def record(fd: int, offset: int, length: int) -> bool:
        started = real(fd, offset, length)
        requests.append((offset, length, started))
        return started

    monkeypatch.setattr(fsutil, "start_writeback", record)
    data = os.urandom(64 * 1024) * 56  # 3.5 MiB
    target = tmp_path / "big.bin"
    with atomic_output(target) as out:
        for start in range(0, len(data), 64 * 1024):
            out.write(data[start : start + 64 * 1024])
        assert out.tell() == len(data)
    assert target.read_bytes() == data
    assert [(offset, length) for offset, length, _ in requests] == [(i * 2**20, 2**20) for i in range(3)]
    # On Linux the request really reaches the kernel; elsewhere it is a no-op and only the fsync remains.
    assert all(started for _, _, started in requests) == sys.platform.startswith("linux")


def test_start_writeback_reports_failure(tmp_path: Path) -> None:
    with open(tmp_path / "x", "wb") as out:
        out.write(b"x" * 10)
        out.flush()
        assert fsutil.start_writeback(out.fileno(), 0, 10) == sys.platform.startswith("linux")
        assert fsutil.start_writeback(out.fileno(), -1, 10) is False  # EINVAL, not an exception


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a/b.txt", "a/b.txt"), ("./a//b", "a/b"), ("a/./b", "a/b"), ("dir/.hidden", "dir/.hidden"),
     ("a..b/c", "a..b/c")],
)
def test_safe_relative_path_accepts(name: str, expected: str) -> None:
    assert safe_relative_path(name) == PurePosixPath(expected)


@pytest.mark.parametrize(
    "name",
    ["", ".", "./", "..", "../etc/passwd", "a/../../b", "a/..", "/etc/passwd", "//server/share", "a\x00b",
     "a\\..\\b", "C:/Windows", "c:evil"],
)
def test_safe_relative_path_rejects(name: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_relative_path(name)


def test_resolve_inside_rejects_links_out(tmp_path: Path) -> None:
    base = tmp_path / "base"
    (base / "inner").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (base / "link").symlink_to(outside)
    assert resolve_inside(base, "inner/file.txt") == base / "inner" / "file.txt"
    with pytest.raises(UnsafePathError, match="through a link"):
        resolve_inside(base, "link/file.txt")
    with pytest.raises(UnsafePathError):
        resolve_inside(base, "../outside/file.txt")
