"""Reading one table's rows for the dump: in pages the server formats, or streamed row by row.

:func:`read_rows` chooses, per table:

- **Ranges of an integer** (the first column of the table's key is an integer, whatever follows it): for
  each range ``k >= lo AND k < hi`` the server returns *one* value holding every row of the range, already
  formatted (``GROUP_CONCAT``), and its row count. Python handles a few values per megabyte instead of one
  per row. A range is a plain range scan of the index the rows are stored in; its width starts from how
  densely the key's values hold rows and adapts to what the last page weighed, and an empty range jumps
  to the next existing key. One value of ``k`` with more rows than fit a page is read the same way by the
  key's next column when that is an integer too (a tenant's rows by their id), else streamed.
- **Streaming**: one unbuffered ``SELECT``, read straight from the socket (:mod:`.rowstream`), for every
  other table: other keys (strings, dates first), no key, ``keep_newest`` (which needs an order and a
  limit), and tables of wide rows with binary columns, whose bytes Python escapes more cheaply than the
  server does. Pages bounded by key values would work for any key, but finding each page's last key costs
  the server another pass over the index, and comparing strings in their collation twice per row: the
  server's thread, the dump's critical path, got busier than streaming makes it (whose extra work is
  Python's, in a thread of its own); docs/performance.md, "MySQL dump by key", has the measurement.

A page that reaches the ``GROUP_CONCAT`` limit is read again smaller; rows too big for any page are
streamed with their large values fetched raw. Every statement is sent as it is: user conditions and
expressions are never passed through the driver's ``%`` parameter formatting, so a ``%`` or ``%s`` in them
reaches the server unchanged (the numbers a page needs are written into the SQL).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Any

import pymysql
import pymysql.cursors

from synco_core.engines.mysql import literals, rowstream
from synco_core.engines.mysql.connect import quote_name
from synco_core.engines.mysql.dumpwriter import TableWriter, Writer
from synco_core.errors import DatabaseError

log = logging.getLogger(__name__)

FETCH_ROWS = 2000


@dataclass
class TableRead:
    """What the dump reads from one table, and its limits."""

    table: str
    #: What to select from: the quoted name, with ``FOR SYSTEM_TIME ALL`` when history is carried.
    source: str
    columns: list[literals.Column]
    overrides: dict[str, str] = field(default_factory=dict)
    #: The user's row filter (``where:``), or None.
    condition: str | None = None
    #: ``keep_newest``: (column, rows), or None.
    newest: tuple[str, int] | None = None
    #: Longest page value before it counts as too big (the session's ``group_concat_max_len``).
    limit: int = 4 * 1000 * 1000
    average_row: int = 100
    #: The server's estimate of the table's rows (0: unknown).
    rows_estimate: int = 0

    @property
    def literal_estimate(self) -> int:
        """About how long one row's literal is, before a page has told."""
        return max(16, 2 * self.average_row + 16)

    def where(self, *conditions: str) -> str:
        """`` WHERE (c1) AND (c2) ...`` over the non-empty conditions and the user's filter."""
        parts = [c for c in (*conditions, self.condition) if c]
        return " WHERE " + " AND ".join(f"({c})" for c in parts) if parts else ""


def read_rows(conn: Any, writer: Writer, out: TableWriter, read: TableRead, key: list[literals.Column], *,
              wide: bool) -> None:
    """Write every row of ``read`` through ``out``, the fastest way the table allows (module docstring)."""
    fmt = literals.row_format(read.columns, read.overrides)
    if read.newest is not None:
        column, count = read.newest
        stream(conn, writer, out, read, fmt, order=f" ORDER BY {quote_name(column)} DESC LIMIT {int(count)}")
    elif wide:
        wide_fmt = literals.row_format(read.columns, read.overrides, raw_binary=True)
        # Fewer rows per fetch for wide rows, so that a fetch stays around a megabyte.
        stream(conn, writer, out, read, wide_fmt,
               fetch_rows=max(16, min(FETCH_ROWS, out.statement_bytes // max(1, read.average_row))))
    elif key and _integer(key[0]):
        _range_pages(conn, writer, out, read, key, fmt)
    else:
        stream(conn, writer, out, read, fmt)


def _integer(column: literals.Column) -> bool:
    return column.data_type in literals.INTEGER_TYPES - {"year"}


def _page_sql(read: TableRead) -> str:
    return (f"SELECT GROUP_CONCAT({literals.row_literal_sql(read.columns, read.overrides)} SEPARATOR '\\0'), "
            f"COUNT(*) FROM {read.source}")


def _next_span(span: int, out: TableWriter, values: bytes) -> int:
    """Aim the next page at the statement size, from what this one weighed."""
    return max(1, min(4 * span, int(span * out.statement_bytes / max(1, len(values)))))


def _range_pages(conn: Any, writer: Writer, out: TableWriter, read: TableRead, key: list[literals.Column],
                 fmt: literals.RowFormat, within: str = "") -> None:
    """Pages by ranges of ``key[0]`` (among the rows meeting ``within``, a value of the columns before)."""
    k = quote_name(key[0].name)
    page = _page_sql(read)
    also = f" AND {within}" if within else ""
    with conn.cursor() as cur:
        # Numbers come back as text: with values left undecoded, PyMySQL cannot convert every type.
        cur.execute(f"SELECT CAST(MIN({k}) AS CHAR), CAST(MAX({k}) AS CHAR) FROM {read.source}"
                    + (f" WHERE {within}" if within else ""))
        lowest, highest = cur.fetchone()
        if lowest is None:
            return
        low, high = int(lowest), int(highest)
        # The first range from how densely the key's values hold rows: one row per value for an
        # auto-increment key, many for the first column of a composite key.
        row_bytes = read.literal_estimate
        per_value = max(read.rows_estimate, 1) / (high - low + 1)
        span = max(1, int(out.statement_bytes / row_bytes / per_value))
        while low <= high:
            upper = low + span
            cur.execute(page + read.where(within, f"{k} >= {low} AND {k} < {upper}"))
            values, count = cur.fetchone()
            if int(count) == 0:
                cur.execute(f"SELECT CAST(MIN({k}) AS CHAR) FROM {read.source} WHERE {k} >= {upper}{also}")
                (found,) = cur.fetchone()
                if found is None:
                    return
                low = int(found)
                continue
            if values is None or len(values) >= read.limit:
                if span > 1:
                    # Narrow the range to what the rows counted in it should weigh.
                    span = max(1, min(span // 2, int(span * out.statement_bytes / row_bytes / int(count))))
                    continue
                # One value of the key holds more than a page: its rows by the next column, or streamed.
                value = f"{within} AND {k} = {low}" if within else f"{k} = {low}"
                if len(key) > 1 and _integer(key[1]):
                    _range_pages(conn, writer, out, read, key[1:], fmt, value)
                else:
                    stream(conn, writer, out, read, fmt, value)
            else:
                writer.call(functools.partial(out.page, values))
                span = _next_span(span, out, values)
                row_bytes = max(1, len(values) // int(count))
            low = upper


def stream(conn: Any, writer: Writer, out: TableWriter, read: TableRead, fmt: literals.RowFormat,
           *conditions: str, order: str = "", fetch_rows: int = FETCH_ROWS) -> None:
    """Stream the rows meeting ``conditions`` one by one, ``fetch_rows`` at a time."""
    sql = f"SELECT {', '.join(fmt.select_list)} FROM {read.source}{read.where(*conditions)}{order}"
    if len(fmt.select_list) == 1:
        try:
            for values in rowstream.stream_column(conn, sql, out.statement_bytes):
                writer.call(functools.partial(out.rows_list, values))
        except rowstream.NullValue:
            raise _unformatted(read.table) from None
        return
    batch: list[bytes] = []
    batch_size = 0
    cursor = conn.cursor(pymysql.cursors.SSCursor)
    try:
        cursor.execute(sql)
        while True:
            fetched = cursor.fetchmany(fetch_rows)
            if not fetched:
                break
            for row in fetched:
                value = literals.assemble(row, fmt)
                if value is None:
                    raise _unformatted(read.table)
                if batch and batch_size + len(value) > out.statement_bytes:
                    writer.call(functools.partial(out.rows_list, batch))
                    batch, batch_size = [], 0
                batch.append(value)
                batch_size += len(value) + 1
        if batch:
            writer.call(functools.partial(out.rows_list, batch))
    finally:
        _close_streaming(conn, cursor)


def _unformatted(table: str) -> DatabaseError:
    return DatabaseError(f"table {table}: a row could not be formatted by the server "
                         "(larger than its max_allowed_packet?)")


def _close_streaming(conn: Any, cursor: Any) -> None:
    try:
        cursor.close()
    except Exception:  # After a lost connection PyMySQL fails while draining; the first error counts.
        log.debug("closing the row cursor failed", exc_info=True)
        # Otherwise the result object tries to drain the dead connection again when collected.
        result = getattr(conn, "_result", None)
        if result is not None:
            result.unbuffered_active = False
