"""File-system helpers: atomic outputs and safe relative paths."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, cast

from synco_core.errors import UnsafePathError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


def user_cache_dir() -> Path:
    """synco's folder in the user's cache (``$XDG_CACHE_HOME/synco``, else ``~/.cache/synco``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "synco"


#: Bytes written between two requests to start write-back (see :class:`_EarlyWriteback`).
WRITEBACK_EVERY = 64 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``sync_file_range`` from the C library, or None where there is none (it is not in ``os``)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return cast("Callable[[int, int, int, int], int]", function)


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Ask the kernel to start writing ``length`` dirty bytes at ``offset`` to disk, without waiting.

    False where that is not possible (not Linux) or the request failed; the final fsync still writes
    everything, so this only ever changes when the work is done, never whether.
    """
    function = _sync_file_range()
    return function is not None and function(fd, offset, length, _SYNC_FILE_RANGE_WRITE) == 0


class _EarlyWriteback(io.BufferedWriter):
    """A file whose dirty pages start going to disk every :data:`WRITEBACK_EVERY` bytes.

    Left alone, the kernel holds gigabytes of a large output in memory until the closing fsync, which then
    waits for all of it: ``synco decrypt`` took a third longer than ``age -d`` (which does not sync) for
    that wait alone. Started early, the write-back runs while the rest is produced and the fsync finds
    little left. A background thread calling fdatasync was tried too; it stalled the writer instead.
    """

    def __init__(self, raw: io.FileIO) -> None:
        super().__init__(raw)
        self._unsynced = 0
        self._mark = 0

    def write(self, buffer: ReadableBuffer, /) -> int:
        count = super().write(buffer)
        self._unsynced += count
        if self._unsynced >= WRITEBACK_EVERY:
            self._unsynced = 0
            self.flush()
            # Ranges, not the whole file, so pages already on their way are not asked for again; a writer
            # that seeks back only leaves its rewritten pages for the final fsync.
            end = self.tell()
            if end > self._mark:
                start_writeback(self.fileno(), self._mark, end - self._mark)
            self._mark = end
        return count


@contextlib.contextmanager
def atomic_output(path: Path, suffix: str = ".part") -> Iterator[BinaryIO]:
    """Write to ``path + suffix`` and rename to ``path`` only when the block ends without error.

    On any exception the partial file is removed, so nothing half-written ever sits under the final name.
    The data is fsynced before the rename (a crash leaves the old file or the whole new one); write-back
    starts every :data:`WRITEBACK_EVERY` bytes on the way, so that fsync has little left to wait for.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + suffix)
    try:
        with _EarlyWriteback(io.FileIO(temp, "wb")) as out:
            yield cast(BinaryIO, out)
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
