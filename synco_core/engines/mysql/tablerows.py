"""Reading one table's rows for the dump: in pages the server formats, or streamed row by row.

:func:`read_rows` chooses, per table:

- **Ranges of an integer** (the first column of the table's key is an integer, whatever follows it): for
  each range ``k >= lo AND k < hi`` the server returns *one* value holding every row of the range, already
  formatted (``GROUP_CONCAT``), and its row count. Python handles a few values per megabyte instead of one
  per row. A range is a plain range scan of the index the rows are stored in; its width starts from how
  densely the key's values hold rows and adapts to what the last page weighed, and an empty range jumps
  to the next existing key. One value of ``k`` with more rows than fit a page is read the same way by the
  key's next column when that is an integer too (a tenant's rows by their id), else streamed. When the
  dump has helper connections in its snapshot (:mod:`.snapshot`), each connection takes the next ranges
  of key values as it is ready for them, so that two server threads format pages at once.
- **Streaming**: one unbuffered ``SELECT``, read straight from the socket (:mod:`.rowstream`), for every
  other table: other keys (strings, dates first), no key, ``keep_newest`` (which needs an order and a
  limit), and tables of wide rows with binary columns, whose bytes Python escapes more cheaply than the
  server does. Pages bounded by key values would work for any key, but finding each page's last key costs
  the server another pass over the index, and comparing strings in their collation twice per row: the
  server's thread, the dump's critical path, got busier than streaming makes it (whose extra work is
  Python's, in a thread of its own); docs/performance.md, "MySQL dump by key", has the measurement. So
  did streaming such a table in two halves through two connections (the second half found by its
  position): on two cores the walk to the boundary cost more than the second server thread gave.

A page that reaches the ``GROUP_CONCAT`` limit is read again smaller; rows too big for any page are
streamed with their large values fetched raw. Every statement is sent as it is: user conditions and
expressions are never passed through the driver's ``%`` parameter formatting, so a ``%`` or ``%s`` in them
reaches the server unchanged (the numbers a page needs are written into the SQL).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from synco_core.engines.mysql import literals, newest, rowpackets, rowstream, widerows
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
    #: The columns breaking ties of ``newest`` (:func:`synco_core.engines.mysql.newest.tie_break`).
    ties: Sequence[str] = ()
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
              wide: bool, helpers: Sequence[Any] = ()) -> None:
    """Write every row of ``read`` through ``out``, the fastest way the table allows (module docstring).

    ``helpers`` are more connections in the same snapshot as ``conn`` (:mod:`.snapshot`): a table read by
    ranges of an integer key then has its ranges read through all of them at once, so that as many server
    threads format its pages.
    """
    fmt = literals.row_format(read.columns, read.overrides)
    if read.newest is not None:
        stream(conn, writer, out, read, fmt, order=newest.order_by(read.table, read.newest, read.ties))
    elif wide:
        wide_fmt = literals.row_format(read.columns, read.overrides, raw_binary=True)
        # Fewer rows per fetch for wide rows, so that a fetch stays around a megabyte.
        stream(conn, writer, out, read, wide_fmt,
               fetch_rows=max(16, min(FETCH_ROWS, out.statement_bytes // max(1, read.average_row))))
    elif key and _integer(key[0]):
        if helpers:
            _parallel_range_pages([conn, *helpers], writer, out, read, key, fmt)
        else:
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


def _key_bounds(conn: Any, read: TableRead, key: literals.Column, within: str = "") -> tuple[int, int] | None:
    """The lowest and highest value of ``key`` (among the rows meeting ``within``), None without rows."""
    k = quote_name(key.name)
    with conn.cursor() as cur:
        # Numbers come back as text: with values left undecoded, PyMySQL cannot convert every type.
        cur.execute(f"SELECT CAST(MIN({k}) AS CHAR), CAST(MAX({k}) AS CHAR) FROM {read.source}"
                    + (f" WHERE {within}" if within else ""))
        lowest, highest = cur.fetchone()
    return None if lowest is None else (int(lowest), int(highest))


def _first_span(read: TableRead, out: TableWriter, low: int, high: int) -> int:
    """The first range's width, from how densely the key's values hold rows: one row per value for an
    auto-increment key, many for the first column of a composite key."""
    per_value = max(read.rows_estimate, 1) / (high - low + 1)
    return max(1, int(out.statement_bytes / read.literal_estimate / per_value))


@dataclass
class _Ranges:
    """Reads rows by ranges of ``key[0]`` (among the rows meeting ``within``), page by page, each range's
    width aimed at one statement from what the last page weighed."""

    read: TableRead
    out: TableWriter
    key: list[literals.Column]
    fmt: literals.RowFormat
    span: int
    within: str = ""
    row_bytes: int = 0
    #: Set once an empty range found no key value above it: nothing is left to read anywhere above.
    exhausted: bool = False

    def between(self, conn: Any, writer: Writer, low: int, high: int) -> int | None:
        """Write the rows whose key lies in ``[low, high]``. Returns the lowest key value above ``high``
        when an empty range's look-ahead found it (so that a caller can skip the gap), else None."""
        read, within = self.read, self.within
        k = quote_name(self.key[0].name)
        page = _page_sql(read)
        also = f" AND {within}" if within else ""
        row_bytes = self.row_bytes or read.literal_estimate
        with conn.cursor() as cur:
            while low <= high:
                upper = min(low + self.span, high + 1)
                cur.execute(page + read.where(within, f"{k} >= {low} AND {k} < {upper}"))
                values, count = cur.fetchone()
                if int(count) == 0:
                    cur.execute(f"SELECT CAST(MIN({k}) AS CHAR) FROM {read.source} WHERE {k} >= {upper}{also}")
                    (found,) = cur.fetchone()
                    if found is None:
                        self.exhausted = True
                        return None
                    low = int(found)
                    if low > high:
                        return low
                    continue
                # A row the server cannot format within its max_allowed_packet has a NULL literal, which
                # GROUP_CONCAT leaves out: a page with fewer rows than its count is read as too big, so that
                # such a row is streamed with its large values raw (it used to be missing from the dump).
                if values is None or len(values) >= read.limit or values.count(b"\0") + 1 != int(count):
                    if upper - low > 1:
                        # Narrow the range to what the rows counted in it should weigh.
                        self.span = max(1, min((upper - low) // 2,
                                               int((upper - low) * self.out.statement_bytes / row_bytes / int(count))))
                        continue
                    # One value of the key holds more than a page: its rows by the next column, or streamed.
                    value = f"{within} AND {k} = {low}" if within else f"{k} = {low}"
                    if len(self.key) > 1 and _integer(self.key[1]):
                        _range_pages(conn, writer, self.out, read, self.key[1:], self.fmt, value)
                    else:
                        stream(conn, writer, self.out, read, self.fmt, value)
                else:
                    writer.call(functools.partial(self.out.page, values))
                    self.span = _next_span(upper - low, self.out, values)
                    row_bytes = self.row_bytes = max(1, len(values) // int(count))
                low = upper
        return None


def _range_pages(conn: Any, writer: Writer, out: TableWriter, read: TableRead, key: list[literals.Column],
                 fmt: literals.RowFormat, within: str = "") -> None:
    """Pages by ranges of ``key[0]`` (among the rows meeting ``within``, a value of the columns before)."""
    bounds = _key_bounds(conn, read, key[0], within)
    if bounds is not None:
        low, high = bounds
        _Ranges(read, out, key, fmt, _first_span(read, out, low, high), within).between(conn, writer, low, high)


#: A connection takes this many pages' worth of key values at a time in :func:`_parallel_range_pages`.
CLAIM_PAGES = 4


class _Claims:
    """The key values not yet taken by any connection: ``[next, high]``, handed out in ascending ranges."""

    def __init__(self, low: int, high: int) -> None:
        self.next = low
        self.high = high
        self.lock = threading.Lock()

    def take(self, width: int) -> tuple[int, int] | None:
        with self.lock:
            if self.next > self.high:
                return None
            low, self.next = self.next, min(self.next + width, self.high + 1)
            return low, self.next - 1

    def skip_to(self, value: int) -> None:
        """No row has a key below ``value`` that is not taken yet (an empty range's look-ahead said so)."""
        with self.lock:
            self.next = max(self.next, value)

    def finish(self) -> None:
        with self.lock:
            self.next = self.high + 1


def _parallel_range_pages(conns: list[Any], writer: Writer, out: TableWriter, read: TableRead,
                          key: list[literals.Column], fmt: literals.RowFormat) -> None:
    """:func:`_range_pages` through several connections of one snapshot, each taking the next ranges of
    key values as it is ready for them: the server formats pages in as many threads."""
    bounds = _key_bounds(conns[0], read, key[0])
    if bounds is None:
        return
    low, high = bounds
    claims = _Claims(low, high)
    span = _first_span(read, out, low, high)
    failures: list[BaseException] = []

    def work(conn: Any) -> None:
        ranges = _Ranges(read, out, key, fmt, span)
        try:
            while not failures:
                claim = claims.take(ranges.span * CLAIM_PAGES)
                if claim is None:
                    return
                above = ranges.between(conn, writer, *claim)
                if ranges.exhausted:
                    claims.finish()
                elif above is not None:
                    claims.skip_to(above)
        except BaseException as exc:  # Raised by the dumping thread, once every reader has stopped.
            failures.append(exc)

    _run_together(work, conns, failures)


def _run_together(work: Callable[[Any], None], conns: list[Any], failures: list[BaseException]) -> None:
    """``work(conn)`` for each connection at once: the first in this thread, the others in threads of
    their own. The first failure is raised once all have stopped (the others stop at their next step)."""
    threads = [threading.Thread(target=work, args=(conn,), name="synco-dump-reader", daemon=True)
               for conn in conns[1:]]
    for thread in threads:
        thread.start()
    try:
        work(conns[0])
    finally:
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]


def stream(conn: Any, writer: Writer, out: TableWriter, read: TableRead, fmt: literals.RowFormat,
           *conditions: str, order: str = "", fetch_rows: int = FETCH_ROWS) -> None:
    """Stream the rows meeting ``conditions`` one by one (``fetch_rows`` at a time where PyMySQL reads them)."""
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
    # Rows with a huge value go their own way (widerows); only tables with large columns look for them.
    huge = widerows.huge_positions(fmt)
    for row in rowpackets.stream_rows(conn, sql, fetch_rows):
        if isinstance(row, rowpackets.HugeRow) or (huge and widerows.is_huge(row, huge)):
            if batch:
                writer.call(functools.partial(out.rows_list, batch))
                batch, batch_size = [], 0
            if isinstance(row, rowpackets.HugeRow):
                written = widerows.write_streamed(writer, out, row, fmt)
            else:
                written = widerows.write(writer, out, row, fmt)
            if not written:
                raise _unformatted(read.table)
            continue
        value = literals.assemble(row, fmt)
        if value is None:
            raise _unformatted(read.table)
        if batch and batch_size + len(value) > out.statement_bytes:
            writer.call(functools.partial(out.rows_list, batch))
            batch, batch_size = [], 0
        batch.append(value)
        batch_size += len(value) + 1
        # Let go of the row before the next is read, or a big one would be held beside it.
        del row
    if batch:
        writer.call(functools.partial(out.rows_list, batch))


def _unformatted(table: str) -> DatabaseError:
    return DatabaseError(f"table {table}: a row could not be formatted by the server "
                         "(larger than its max_allowed_packet?)")
