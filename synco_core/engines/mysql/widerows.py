"""Rows holding a huge value (a MEDIUM/LONG BLOB or TEXT of many megabytes), dumped without copying it whole.

The ordinary way of writing streamed rows joins each row's parts into its literal, the rows into a
statement, escapes the statement's carriage returns and puts the size hint in front: for a value of
60 MB that is half a dozen copies alive at once (the dump's peak memory was 4-7 times the value). A row
whose large raw value exceeds :data:`HUGE_VALUE_BYTES` is written on its own instead, as one INSERT
(the same statement the ordinary way would write for it, byte for byte), from
:func:`~.literals.literal_pieces`: its size is added up from the pieces first, then the pieces are
checksummed and written one by one, escaped slice by slice. The reading thread waits until the row is
written, so that it does not fetch the next huge row while this one is still held.

A row of 16 MB or more is not even read whole (:func:`write_streamed`): :mod:`.rowpackets` hands over its
values piece by piece as they come off the connection; they are escaped, checksummed and written to a
:class:`~.sealedspool.SealedSpool` as they come, since the size hint before the INSERT needs the size of
the escaped literal, and the spool is then copied into the dump. Memory stays at a few pieces of a
megabyte whatever the size of the value; the disk holds the row's literal (sealed) while it is written.
"""

from __future__ import annotations

import functools
import threading
import zlib
from collections.abc import Callable, Sequence

from synco_core.engines.mysql import literals, rowpackets
from synco_core.engines.mysql.dumpwriter import TableWriter, Writer
from synco_core.engines.mysql.sealedspool import SealedSpool

#: A raw value longer than this makes its row go the way of this module. Small enough that a few such
#: values do not add up to much memory, big enough that the rows taking it are rare and their per-row
#: overhead (a wait for the writer thread, one more pass to add up the size) does not count.
HUGE_VALUE_BYTES = 4 * 1024 * 1024


def huge_positions(fmt: literals.RowFormat) -> list[int]:
    """The positions in a fetched row of ``fmt`` that may hold a huge value (the large raw columns)."""
    return [index for index, raw in enumerate(fmt.raw) if raw is not None and raw.is_large]


def is_huge(row: Sequence[bytes | None], positions: Sequence[int]) -> bool:
    for index in positions:
        value = row[index]
        if value is not None and len(value) > HUGE_VALUE_BYTES:
            return True
    return False


def write(writer: Writer, out: TableWriter, row: Sequence[bytes | None], fmt: literals.RowFormat) -> bool:
    """Write ``row`` as one INSERT through the writer thread and wait until it is written.
    False when the server could not format a part of it (the caller says which table)."""
    if literals.literal_pieces(row, fmt) is None:
        return False
    _write_and_wait(writer, functools.partial(out.pieces_row, functools.partial(literals.literal_pieces, row, fmt)))
    return True


def write_streamed(writer: Writer, out: TableWriter, row: rowpackets.HugeRow, fmt: literals.RowFormat) -> bool:
    """Write ``row``, read off the connection as this goes, as one INSERT (module docstring), and wait
    until it is written. False when the server could not format a part of it."""
    spool = SealedSpool()
    try:
        crc = 0
        try:
            for piece in literals.streamed_pieces(row, fmt):
                crc = zlib.crc32(piece, crc)
                spool.write(literals.escape_carriage_returns(piece))
        except literals.Unformatted:
            return False
        _write_and_wait(writer, functools.partial(out.spooled_row, spool.size, crc, spool.blocks))
    finally:
        spool.close()
    return True


def _write_and_wait(writer: Writer, work: Callable[[], None]) -> None:
    """Run ``work`` in the writer thread and wait until it has run (or the writer failed)."""
    done = threading.Event()

    def run() -> None:
        try:
            work()
        finally:
            done.set()

    writer.call(run)
    while not done.wait(0.1):
        if writer.error is not None or not writer.thread.is_alive():
            break
    if writer.error is not None:
        raise writer.error
