"""A session read from a local folder, as the pull channel and the tests use it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from synco_core.fsutil import resolve_inside
from synco_core.receive.transport import CHUNK_SIZE, NotFoundError, RangeNotSatisfiableError


@dataclass
class _FileResponse:
    status: int
    offset: int
    total_size: int | None
    _path: Path
    _length: int | None = None

    def iter_bytes(self) -> Iterator[bytes]:
        remaining = self._length
        with self._path.open("rb") as handle:
            handle.seek(self.offset)
            while remaining is None or remaining > 0:
                chunk = handle.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk


class DirectoryTransport:
    """A :class:`Transport` reading a local folder laid out like a web root (for tests and ``pull``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)

    @contextlib.contextmanager
    def open(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[_FileResponse]:
        if path.startswith(("http://", "https://")):
            raise NotFoundError(f"{path}: absolute URLs cannot be read from {self.root}")
        target = resolve_inside(self.root, unquote(path))
        try:
            size = target.stat().st_size
        except OSError:
            raise NotFoundError(f"not found: {path}") from None
        if not target.is_file():
            raise NotFoundError(f"not found: {path}")
        if offset and offset >= size:
            raise RangeNotSatisfiableError(f"range not satisfiable: {path}")
        ranged = bool(offset) or length is not None
        yield _FileResponse(status=206 if ranged else 200, offset=offset, total_size=size, _path=target,
                            _length=length)

    def worker_spec(self) -> dict[str, Any] | None:
        """What a worker process needs to open the same transport."""
        return {"kind": "directory", "root": os.fspath(self.root)}

    def close(self) -> None:
        pass
