"""A multi-row ``INSERT`` longer than the local server's ``max_allowed_packet``, sent as several.

The dump groups rows into INSERTs of about 1 MB, and up to four times that where the source's packet limit
allows (a page the server formats at once). A laptop's server may have an older default (1 MiB in MariaDB
before 10.2, 4 MiB in MySQL 5.7): there the statement would be refused whole, although every one of its
rows fits. Cut between rows (``VALUES (...),(...)``), it loads as the same rows, checksummed the same way;
only a single row longer than the limit cannot be sent at all.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator

from synco_core.engines.rewrite.mysql import HEAD, ROW

#: What may follow the last row: nothing but blanks and the delimiter.
_END = frozenset(b" \t\r\n;")
#: Whether a statement can be cut as it is read (:func:`split_read_rows`): a row is looked for where the read so
#: far may end inside it, and :data:`ROW` failing there takes a step back for every way of cutting its text
#: anew (20 MB of rows took 90 CPU seconds). Possessive, it fails at once; Python has that from 3.11 on.
CUT_AS_READ = sys.version_info >= (3, 11)
_ROW_AS_READ = re.compile(ROW.pattern.replace(b"]*", b"]*+").replace(b"]+", b"]++").replace(b")*", b")*+")
                          if CUT_AS_READ else ROW.pattern)


def split_rows(statement: bytes, limit: int) -> list[bytes] | None:
    """``statement`` as INSERTs of the same head and rows, each shorter than ``limit`` bytes, in order; None
    when it is not ``INSERT ... VALUES (...), ...`` with nothing after its rows (an ``ON DUPLICATE KEY``
    clause, a ``SELECT``), or when one row alone would not fit.

    Rows are read with backslash escapes in string literals: the caller splits only in a session whose
    ``sql_mode`` reads them so (not ``NO_BACKSLASH_ESCAPES``)."""
    head = HEAD.match(statement)
    if head is None:
        return None
    prefix = statement[:head.end()] + b" "
    pieces: list[bytes] = []
    rows: list[bytes] = []
    size = len(prefix)
    position = head.end()
    while (row := ROW.match(statement, position)) is not None:
        if (b"," in row.group(1)) != bool(rows):
            # Rows are separated by one comma each; anything else is not a statement to cut in pieces.
            return None
        text = row.group(2)
        if len(prefix) + len(text) >= limit:
            return None
        if rows and size + 1 + len(text) >= limit:
            pieces.append(prefix + b",".join(rows))
            rows, size = [], len(prefix)
        size += len(text) + (1 if rows else 0)
        rows.append(text)
        position = row.end()
    if not rows or any(byte not in _END for byte in statement[position:]):
        return None
    pieces.append(prefix + b",".join(rows))
    return pieces


def split_read_rows(head: bytes | bytearray, pieces: Iterable[bytes | bytearray], limit: int,
                    refused: Callable[[], Exception]) -> Iterator[bytes]:
    """:func:`split_rows` of a statement read in ``pieces`` (a long one read from the dump or its spool, whose
    start is ``head``), each INSERT given as soon as its rows are read: memory holds one INSERT and a read, not the
    statement. Where :func:`split_rows` answers None this raises ``refused()``, which may come after INSERTs of
    the first rows were given (the load then fails, as it does when the server refuses a row)."""
    found = HEAD.match(head)
    if found is None:
        raise refused()
    prefix = bytes(head[:found.end()]) + b" "
    read = iter(pieces)
    to_skip = found.end()  # the head comes again at the start of the pieces
    buffer = b""
    position = 0
    rows: list[bytes] = []
    size = len(prefix)
    while True:
        row = _ROW_AS_READ.match(buffer, position)
        if row is None:
            if len(buffer) - position >= limit:
                raise refused()  # one row alone would not fit, or it is no row
            more = next(read, None)
            if more is None:
                break
            if to_skip:
                taken = min(to_skip, len(more))
                more, to_skip = more[taken:], to_skip - taken
            buffer = buffer[position:] + bytes(more)
            position = 0
            continue
        if (b"," in row.group(1)) != bool(rows):
            raise refused()
        text = row.group(2)
        if len(prefix) + len(text) >= limit:
            raise refused()
        if rows and size + 1 + len(text) >= limit:
            yield prefix + b",".join(rows)
            rows, size = [], len(prefix)
        size += len(text) + (1 if rows else 0)
        rows.append(text)
        position = row.end()
    if not rows or any(byte not in _END for byte in buffer[position:]):
        raise refused()
    yield prefix + b",".join(rows)
