"""How far a dump has got, as the engines tell it: the table being dumped and the rows written.

``serve`` shows this in a terminal (tables, rows and bytes dumped, and the time left from the server's
table statistics). The engines call :func:`table_started` and :func:`rows_written` as they go; while no
one listens (a pipe, ``synco db dump``, the remote side of ``pull``) both cost one attribute read. A
third-party engine that never calls them still gets a progress display of the bytes it writes.

The listener is process-wide rather than per thread, because an engine may count rows in a thread of
its own (the MySQL dumper's writer thread); only one dump runs at a time in a process that listens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol


class DumpListener(Protocol):
    """What a progress display is told while a dump runs."""

    def table(self, name: str) -> None:
        """The dump has started on the rows of ``name``."""

    def rows(self, count: int) -> None:
        """``count`` more rows were written (any thread may call this)."""


_listener: DumpListener | None = None


def table_started(name: str) -> None:
    """Engines: the rows of table ``name`` come next."""
    listener = _listener
    if listener is not None:
        listener.table(name)


def rows_written(count: int) -> None:
    """Engines: ``count`` more rows are in the dump."""
    listener = _listener
    if listener is not None and count:
        listener.rows(count)


@contextlib.contextmanager
def listening(listener: DumpListener | None) -> Iterator[None]:
    """Send the engines' reports to ``listener`` for the duration of the block (None: to no one)."""
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous
