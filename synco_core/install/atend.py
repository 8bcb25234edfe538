"""A dump reader that runs a callback once, when its reader first meets the end of the dump.

A streamed dump's manifest (its table names) is known only at its end; the engines read that end before they
verify the load and swap it in, so what needs the names and must come before the swap runs there.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO, cast

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class _AtEnd(io.RawIOBase):
    def __init__(self, inner: BinaryIO, on_end: Callable[[], None]) -> None:
        super().__init__()
        self._inner = inner
        self._on_end: Callable[[], None] | None = on_end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        count = self._inner.readinto(buffer)  # type: ignore[attr-defined]
        if not count and self._on_end is not None:
            on_end, self._on_end = self._on_end, None
            on_end()
        return int(count or 0)

    def close(self) -> None:
        self._inner.close()
        super().close()


def at_end(reader: BinaryIO, on_end: Callable[[], None]) -> BinaryIO:
    """``reader``, calling ``on_end`` (once) when a read first returns nothing."""
    return cast(BinaryIO, io.BufferedReader(_AtEnd(reader, on_end), 1 << 20))
