"""Atomic outputs and safe relative paths."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

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
