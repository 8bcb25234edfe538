"""Rows too wide to pass through ``COPY ... TO STDOUT`` whole, written in pieces.

The server sends each COPY row as one message, and libpq holds the whole message before handing it on:
a row with a 500 MB value costs the dumper a gigabyte or more of memory, whatever the dump does with it
afterwards. So before a table's COPY, the rows whose COPY text would pass :data:`WIDE_ROW` bytes are
looked for, with sizes read from the values' headers (``octet_length`` of a TOASTed text or bytea reads
the TOAST pointer, nothing is decompressed). The COPY then leaves those rows out, and each one is written
after it: its narrow columns through a one-row COPY (the server's own text for them), its wide columns
fetched :data:`CHUNK` bytes or characters at a time and escaped here exactly as COPY escapes them. The
block holds the same rows with the same text, the wide ones last; the checksum is taken over the block as
written, in that order, which is the order the loader reads and hashes it in.

Every query runs in the dump's transaction, so the wide rows come from the same snapshot as the others;
a row is named by its ``ctid``, which cannot change while that snapshot and the table's share lock last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq

from synco_core import dumpprogress
from synco_core.engines.postgresql import rawtext
from synco_core.engines.postgresql.catalog import Quoter, fetch, literal
from synco_core.engines.postgresql.connection import result_error
from synco_core.engines.postgresql.dataplan import DataPlan, copy_out
from synco_core.engines.rewrite.copytext import escape
from synco_core.errors import DatabaseError

#: A row whose COPY text would be longer than this (estimated from its values' sizes) is written in pieces.
WIDE_ROW = 8 << 20
#: Bytes of a wide value fetched at a time (its UTF-8 text, or a bytea's bytes, which come as twice as
#: many hex digits).
CHUNK = 4 << 20
#: A value stored in fewer bytes than this cannot be wide (PostgreSQL's compression packs at most ~255 to
#: 1), so only bigger ones of types other than text and bytea are converted to text to measure them.
STORED_GUARD = 4096
#: The name of the extra ``ctid`` column of the sources queried here.
ROW_ID = '"synco:row"'

@dataclass(frozen=True)
class Column:
    """How one column's values are measured and read in pieces."""

    name: str
    #: "text" (text, varchar and domains over them), "bytea", "other" (read through its output function)
    #: or "" (fixed width: never wide).
    kind: str
    output: str

    def value(self, ref: str) -> str:
        """The value as text, as COPY prints it (before escaping), for ``kind`` "text" and "other"."""
        if self.kind == "text":
            return f"({ref})::pg_catalog.text"
        return f"pg_catalog.textin({self.output}({ref}))"

    def size(self, ref: str) -> str:
        """An SQL estimate of the bytes of the value's COPY text; reads only the value's header when it can."""
        if self.kind == "text":
            return f"pg_catalog.octet_length(({ref})::pg_catalog.text)::int8"
        if self.kind == "bytea":
            return f"2 * pg_catalog.octet_length(({ref})::pg_catalog.bytea)::int8"
        return (f"CASE WHEN pg_catalog.pg_column_size({ref}) > {STORED_GUARD} "
                f"THEN pg_catalog.octet_length({self.value(ref)})::int8 "
                f"ELSE pg_catalog.pg_column_size({ref})::int8 END")

    def pieces(self, ref: str, source: str) -> str:
        """A query for the value's COPY text (unescaped) in pieces of bytes, one per row with its position.

        The value is computed once, in the subquery, as bytes: cutting the stored value instead would
        decompress it from the start for every piece, and cutting text counts characters from the start.
        Text is cut in the session's client encoding, which COPY writes in (UTF-8, or a SQL_ASCII source's
        own bytes), possibly inside a character: the pieces are only ever written one after the other. The
        server holds the value, as its own COPY would; the client gets one piece at a time through a cursor.
        """
        chunk = int(CHUNK)
        if self.kind == "bytea":
            value = f"({ref})::pg_catalog.bytea || ''::pg_catalog.bytea"  # || makes a plain in-memory copy
            piece = f"pg_catalog.encode(pg_catalog.substr(p.v, g.n, {chunk}), 'hex')"
        else:
            value = f"pg_catalog.convert_to({self.value(ref)}, pg_catalog.pg_client_encoding())"
            piece = f"pg_catalog.substr(p.v, g.n, {chunk})"
        # GREATEST: an empty value is one empty piece, a NULL one a NULL piece.
        return (f"SELECT g.n, {piece} FROM (SELECT {value} AS v FROM {source} OFFSET 0) p, LATERAL "
                f"pg_catalog.generate_series(1, GREATEST(pg_catalog.octet_length(p.v), 1), {chunk}) g(n)")


@dataclass(frozen=True)
class WideRow:
    ctid: str
    #: The columns written in pieces (the others come from a one-row COPY).
    wide: frozenset[str]


def read_columns(conn: psycopg.Connection[Any], oid: int, names: list[str]) -> list[Column]:
    rows = fetch(conn, """
        SELECT a.attname, t.typlen, t.typoutput::pg_catalog.regproc::text,
               t.typoutput = 'pg_catalog.byteaout'::pg_catalog.regproc,
               -- The plan reads XML as its stored text (.xmltext).
               t.typoutput IN ('pg_catalog.textout'::pg_catalog.regproc, 'pg_catalog.varcharout'::pg_catalog.regproc,
                               'pg_catalog.xml_out'::pg_catalog.regproc)
        FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped""", (oid,))
    found = {}
    for name, typlen, output, is_bytea, is_text in rows:
        # A domain has its base type's output function, so it is measured and read like its base type.
        kind = "" if typlen != -1 else "bytea" if is_bytea else "text" if is_text else "other"
        found[name] = Column(name, kind, output)
    return [found[name] for name in names]


def may_have_wide_rows(conn: psycopg.Connection[Any], oid: int, plan: DataPlan) -> bool:
    """Whether looking for wide rows is worth a scan of the table.

    A row of inline values stays below a page (8 kB, ~2 MB once decompressed), so a wide row needs an
    out-of-line (TOASTed) value, unless a sanitising rule makes one up. An empty TOAST table holds none
    this snapshot can see: vacuum never removes what a running snapshot can still read.
    """
    if not plan.select or not plan.columns:
        return False
    if plan.rewritten:
        return True
    row = fetch(conn, "SELECT c.reltoastrelid <> 0 AND pg_catalog.pg_relation_size(c.reltoastrelid) > 0 "
                      "FROM pg_catalog.pg_class c WHERE c.oid = %s", (oid,))
    return bool(row and row[0][0])


def find_wide_rows(conn: psycopg.Connection[Any], q: Quoter, plan: DataPlan, columns: list[Column]) -> list[WideRow]:
    """The rows of the plan's source whose COPY text would pass :data:`WIDE_ROW` bytes."""
    measured = [c for c in columns if c.kind]
    if not measured:
        return []
    sizes = ", ".join(f"{c.size('s.' + q(c.name))} AS s{i}" for i, c in enumerate(measured))
    total = " + ".join(f"COALESCE(w.s{i}, 0)" for i in range(len(measured)))
    # OFFSET 0 keeps the sizes from being computed twice (once in the list, once in the condition).
    query = (f"SELECT w.r::text, {', '.join(f'w.s{i}' for i in range(len(measured)))} FROM "
             f"(SELECT s.{ROW_ID} AS r, {sizes} FROM ({plan.source(ROW_ID)}\n) s OFFSET 0) w "
             f"WHERE {total} > {int(WIDE_ROW)}")
    found = []
    for ctid, *values in fetch(conn, query):
        # The values the row is cut at: any big enough to be worth a query of its own.
        wide = frozenset(c.name for c, size in zip(measured, values, strict=True) if (size or 0) > CHUNK // 4)
        found.append(WideRow(str(ctid), wide))
    return found


def narrow_query(plan: DataPlan, q: Quoter, wide: list[WideRow]) -> str:
    """The COPY of every row of the plan's source but the wide ones."""
    kept = ", ".join(f"s.{q(c)}" for c in plan.columns)
    ctids = literal("{" + ",".join(f'"{row.ctid}"' for row in wide) + "}")
    return (f"COPY (SELECT {kept} FROM ({plan.source(ROW_ID)}\n) s "
            f"WHERE s.{ROW_ID} <> ALL ({ctids}::pg_catalog.tid[])) TO STDOUT")


def write_wide_row(conn: psycopg.Connection[Any], q: Quoter, name: str, plan: DataPlan, columns: list[Column],
                   row: WideRow, sinks: list[Callable[[bytes], Any]]) -> None:
    """Write one wide row of the plan's source as COPY text, the wide values a piece at a time."""
    pgconn = conn.pgconn
    # The narrow values as the server writes them, the wide ones NULL (\N) for now: one short line.
    select = ", ".join("NULL" if c in row.wide else f"s.{q(c)}" for c in plan.columns)
    narrow = bytearray()
    count = copy_out(pgconn, f"COPY (SELECT {select} FROM ({plan.source(ROW_ID)}\n) s "
                             f"WHERE s.{ROW_ID} = {literal(row.ctid)}::pg_catalog.tid) TO STDOUT", [narrow.extend])
    if count != 1:
        raise DatabaseError(f"the wide row {row.ctid} of {name} was not found again ({count} rows)")
    # Tabs inside values are escaped (\t): splitting at tabs finds the fields.
    fields = bytes(narrow).removesuffix(b"\n").split(b"\t")
    for index, column in enumerate(columns):
        if index:
            _emit(sinks, b"\t")
        if column.name not in row.wide:
            _emit(sinks, fields[index])
            continue
        if column.name in plan.rewritten:
            # A rewritten value is the rule's expression, computed by the source query itself.
            ref = f"s.{q(column.name)}"
            source = f"({plan.source(ROW_ID)}\n) s WHERE s.{ROW_ID} = {literal(row.ctid)}::pg_catalog.tid"
        else:
            # The table's own value: read straight from the row (a TID scan), whatever the source filters.
            ref, source = q(column.name), f"ONLY {name} WHERE ctid = {literal(row.ctid)}::pg_catalog.tid"
        first = True
        for piece in _pieces(pgconn, column.pieces(ref, source), f"the wide row {row.ctid} of {name}"):
            if piece is None:
                _emit(sinks, b"\\N")
            elif column.kind == "bytea":
                # COPY prints a bytea as \x and its hex digits, the backslash escaped.
                _emit(sinks, (b"\\\\x" + piece) if first else piece)
            else:
                _emit(sinks, escape(piece))
            first = False
    _emit(sinks, b"\n")
    dumpprogress.rows_written(1)


def _pieces(pgconn: pq.abc.PGconn, query: str, what: str) -> Iterator[bytes | None]:
    """The rows of a :meth:`Column.pieces` query, one at a time, checked to come in order."""
    cursor = b"synco_wide_value"
    # BINARY: the pieces arrive as their bytes (text and bytea), the position as a 4-byte integer.
    _run(pgconn, b"DECLARE " + cursor + b" BINARY NO SCROLL CURSOR FOR " + rawtext.to_bytes(query), what,
         pq.ExecStatus.COMMAND_OK)
    expected = 1
    while True:
        result = _run(pgconn, b"FETCH 1 FROM " + cursor, what, pq.ExecStatus.TUPLES_OK)
        if result.ntuples == 0:
            break
        position, value = result.get_value(0, 0), result.get_value(0, 1)
        if position is None or int.from_bytes(position, "big") != expected:
            raise DatabaseError(f"reading {what} failed: pieces out of order")
        expected += CHUNK
        result.clear()
        yield None if value is None else bytes(value)
    _run(pgconn, b"CLOSE " + cursor, what, pq.ExecStatus.COMMAND_OK)


def _run(pgconn: pq.abc.PGconn, query: bytes, what: str, status: pq.ExecStatus) -> pq.abc.PGresult:
    result = pgconn.exec_(query)
    if result.status != status:
        raise DatabaseError(f"reading {what} failed: {result_error(result, pgconn)}")
    return result


def _emit(sinks: list[Callable[[bytes], Any]], data: bytes) -> None:
    for sink in sinks:
        sink(data)
