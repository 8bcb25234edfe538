"""Writing the dump: a background writer thread, and the INSERT statements of one table.

:class:`Writer` hands what the dumper produces to a thread that writes it to the output (a compressor
and an encryptor, usually), so that compression runs while the server formats the next page.
:class:`TableWriter` turns row literals into multi-row INSERTs and adds up the table's manifest entry;
its methods run in the writer thread.
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

from synco_core import dumpprogress
from synco_core.engines.mysql import literals
from synco_core.engines.mysql.connect import quote_name
from synco_core.engines.mysql.splitter import SIZE_HINT
from synco_core.handoff import end, until_ended
from synco_core.values import TableManifest

#: Rows are committed in transactions of about this many bytes when loading: much faster than one
#: commit per statement, without the huge undo log of one transaction per big table.
COMMIT_BYTES = 64 * 1000 * 1000


class Writer:
    """Hands what the dump writes to a background thread that writes it to ``out``.

    ``out`` is usually a compressor and an encryptor; in a thread of their own (both release the GIL)
    they run while the server formats the next page, instead of after it. Work on the rows themselves
    (splitting a page, the checksum, joining, escaping carriage returns) is handed over as callables and
    runs there too. Small writes are gathered into blocks and the queue is bounded, so memory stays flat:
    at most ``QUEUE_BLOCKS`` blocks (or pages) wait.
    An error in the thread (disk full, broken pipe) is raised by the next write or by :meth:`close`.
    """

    BLOCK = 256 * 1024
    QUEUE_BLOCKS = 4

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.error: BaseException | None = None
        self.calling = threading.Lock()
        self.queue: queue.Queue[bytes | Callable[[], None]] = queue.Queue(maxsize=self.QUEUE_BLOCKS)
        #: Set once nothing more is handed over (:mod:`synco_core.handoff`: no end marker to be missed).
        self.ended = threading.Event()
        #: The longest one-row INSERT written (bytes, without its ";"): the longest statement a loader must send
        #: whole, since synco's loader cuts a multi-row INSERT between its rows (the meta's ``requires``).
        #: Written by the writer thread only.
        self.longest_row_statement = 0
        self.thread = threading.Thread(target=self._run, name="synco-dump-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for block in until_ended(self.queue, self.ended):
            if self.error is None:
                try:
                    if callable(block):
                        block()
                    else:
                        self.out.write(block)
                except BaseException as exc:  # Kept and raised in the dumping thread.
                    self.error = exc

    def write(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size >= self.BLOCK:
            self._hand_over()

    def _hand_over(self) -> None:
        if self.pending:
            self.queue.put(b"".join(self.pending))
            self.pending, self.pending_size = [], 0

    def call(self, work: Callable[[], None]) -> None:
        """Run ``work`` in the writer thread, after everything written so far (it may write to ``out``).

        Safe to call from several threads at once (the readers of one table's rows); :meth:`write` is not.
        """
        if self.error is not None:
            raise self.error
        with self.calling:
            self._hand_over()
            self.queue.put(work)

    def statement(self, sql: bytes) -> None:
        self.write(sql + b";\n")

    def close(self, *, raise_error: bool = True) -> None:
        """Write what is left and wait for the thread; re-raise its error unless already failing."""
        if self.error is None:
            self._hand_over()
        end(self.queue, self.ended)
        self.thread.join()
        if raise_error and self.error is not None:
            raise self.error


class TableWriter:
    """Writes one table's rows as multi-row INSERTs, with a COMMIT every ``COMMIT_BYTES``, and adds up
    the manifest entry. Its methods run in the writer thread (handed over with :meth:`Writer.call`)."""

    def __init__(self, writer: Writer, table: str, columns: list[literals.Column], statement_bytes: int) -> None:
        self.out = writer.out
        self.writer = writer
        self.insert = (f"INSERT INTO {quote_name(table)} ({','.join(quote_name(c.name) for c in columns)}) "
                       "VALUES ").encode("utf-8", "surrogateescape")
        self.statement_bytes = statement_bytes
        self.rows = 0
        self.checksum = 0
        self.since_commit = 0

    def rows_list(self, rows: list[bytes]) -> None:
        """Row literals ``(..)`` to write as one INSERT."""
        self.checksum += sum(map(zlib.crc32, rows))
        self.rows += len(rows)
        dumpprogress.rows_written(len(rows))
        joined = b",".join(rows)
        values = literals.escape_carriage_returns(joined)
        # Escaping a carriage return adds a byte: only then is each row's own growth counted.
        longest = max(map(len, rows)) if len(values) == len(joined) else max(len(r) + r.count(b"\r") for r in rows)
        self._note(longest)
        self._statement(values)

    def page(self, values: bytes) -> None:
        """A page of the chunked dump: row literals separated by NUL, a byte no literal contains
        (QUOTE() escapes it), so that rows are told apart without parsing."""
        self.rows_list(values.split(b"\0"))

    def pieces_row(self, pieces: Callable[[], Iterator[bytes] | None]) -> None:
        """One row as one INSERT, from its literal in pieces (:mod:`.widerows`): ``pieces()`` gives them
        anew for each pass, one to add up the size for the hint, one to checksum and write them."""
        size = sum(len(piece) + piece.count(b"\r") for piece in pieces() or ())
        self._head(len(self.insert) + size)
        crc = 0
        for piece in pieces() or ():
            crc = zlib.crc32(piece, crc)
            self.out.write(literals.escape_carriage_returns(piece))
        self.out.write(b";\n")
        self.checksum += crc
        self.rows += 1
        dumpprogress.rows_written(1)
        self._note(size)
        self._count(size)

    def spooled_row(self, size: int, crc: int, blocks: Callable[[], Iterator[bytes]]) -> None:
        """One row as one INSERT from its literal as written (carriage returns escaped) in ``blocks()``,
        ``size`` bytes, and the checksum of the literal (:func:`.widerows.write_streamed`)."""
        self._head(len(self.insert) + size)
        for block in blocks():
            self.out.write(block)
        self.out.write(b";\n")
        self.checksum += crc
        self.rows += 1
        dumpprogress.rows_written(1)
        self._note(size)
        self._count(size)

    def _note(self, row_size: int) -> None:
        self.writer.longest_row_statement = max(self.writer.longest_row_statement, len(self.insert) + row_size)

    def _head(self, size: int) -> None:
        # The size hint lets synco's loader take the statement without scanning its values for the end.
        self.out.write(SIZE_HINT + str(size).encode() + b"\n" + self.insert)

    def _statement(self, values: bytes) -> None:
        # Written in three parts: joining them would copy the values once more (a huge row's too).
        self._head(len(self.insert) + len(values))
        self.out.write(values)
        self.out.write(b";\n")
        self._count(len(values))

    def _count(self, size: int) -> None:
        self.since_commit += size
        if self.since_commit > COMMIT_BYTES:
            self.out.write(b"COMMIT;\n")
            self.since_commit = 0

    def manifest(self) -> TableManifest:
        return TableManifest(rows=self.rows, checksum=literals.format_checksum(self.checksum))
