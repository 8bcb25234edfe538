"""File-system helpers: atomic outputs and safe relative paths."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from synco_core.errors import UnsafePathError


@contextlib.contextmanager
def atomic_output(path: Path, suffix: str = ".part") -> Iterator[BinaryIO]:
    """Write to ``path + suffix`` and rename to ``path`` only when the block ends without error.

    On any exception the partial file is removed, so nothing half-written ever sits under the final name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + suffix)
    try:
        with temp.open("wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


#: A relative path needing no checking or normalising: segments of ordinary characters, none starting with
#: a dot (so no ``..``, no ``.``, no empty segment, no drive letter, no backslash). What it matches,
#: :func:`safe_relative_path` would return unchanged; the fast paths of hot loops test this first.
PLAIN_RELATIVE_PATH = re.compile(r"[\w\-~+@=,][\w.\-~+@=,]*(?:/[\w\-~+@=,][\w.\-~+@=,]*)*", re.ASCII)


def safe_relative_path(name: str) -> PurePosixPath:
    """``name`` as a relative path that cannot leave its base: no absolute paths, no ``..``, no NUL."""
    if not name or "\x00" in name or "\\" in name:
        raise UnsafePathError(f"unsafe path {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/") or any(part == ".." for part in path.parts):
        raise UnsafePathError(f"unsafe path {name!r}: absolute or with '..'")
    first = path.parts[0] if path.parts else ""
    if len(first) >= 2 and first[1] == ":" and first[0].isascii() and first[0].isalpha():
        # "C:/x" is absolute on Windows and "C:x" is relative to the drive's current folder: both leave the base.
        raise UnsafePathError(f"unsafe path {name!r}: drive letter")
    parts = [part for part in path.parts if part not in ("", ".")]
    if not parts:
        raise UnsafePathError(f"unsafe path {name!r}: empty")
    return PurePosixPath(*parts)


def resolve_inside(base: Path, name: str) -> Path:
    """``base / name`` after checking ``name`` and that no existing link along it leads out of ``base``."""
    relative = safe_relative_path(name)
    target = base.joinpath(*relative.parts)
    base_real = base.resolve()
    parent_real = target.parent.resolve()
    if parent_real != base_real and base_real not in parent_real.parents:
        raise UnsafePathError(f"unsafe path {name!r}: leads out of {base} through a link")
    return target
