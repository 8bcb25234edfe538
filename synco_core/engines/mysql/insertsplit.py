"""A multi-row ``INSERT`` longer than the local server's ``max_allowed_packet``, sent as several.

The dump groups rows into INSERTs of about 1 MB, and up to four times that where the source's packet limit
allows (a page the server formats at once). A laptop's server may have an older default (1 MiB in MariaDB
before 10.2, 4 MiB in MySQL 5.7): there the statement would be refused whole, although every one of its
rows fits. Cut between rows (``VALUES (...),(...)``), it loads as the same rows, checksummed the same way;
only a single row longer than the limit cannot be sent at all.
"""

from __future__ import annotations

from synco_core.engines.rewrite.mysql import HEAD, ROW

#: What may follow the last row: nothing but blanks and the delimiter.
_END = frozenset(b" \t\r\n;")


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
