"""The row count and checksum of a table (the manifest), computed in bounded memory.

The checksum is SHA-256 over ``repr(row) + "\\n"`` for every row of ``SELECT *`` in scan order, as
Python's ``sqlite3`` returns the row. That definition is kept as it is (a dump made by one synco version is
verified by another), but the text is never built whole for a large value: ``repr()`` of a 200 MB BLOB
is an 800 MB string, which made a dump or a verified install of such a database need 1.4 GB of memory.

- A value over :data:`PIECE` is fed to the hash in pieces (:func:`_feed_long`), each escaped as ``repr()``
  escapes it, with the quote ``repr()`` chooses for the whole value.
- In a table with a rowid, a TEXT or BLOB value over :data:`PIECE` is not even fetched with its row: it is
  read through SQLite's incremental BLOB I/O (``Connection.blobopen``), twice (once to find which quote
  ``repr()`` would choose, once to hash it), so the memory it takes is one piece, not its size.
- Text is decoded with ``surrogateescape``: SQLite stores whatever bytes the application wrote into a TEXT
  value, and Python's strict UTF-8 decoding made a database holding one Latin-1 byte impossible to dump.
  Valid UTF-8 decodes as before, so the checksum of such text does not change.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator

from synco_core.engines.sqlite.ftsschema import is_unscannable
from synco_core.engines.sqlite.schemacache import table_definitions
from synco_core.values import TableManifest

#: Values longer than this (bytes, or characters of text) are hashed in pieces of this size.
PIECE = 1 << 20
_ENCODINGS = {"UTF-8": "utf-8", "UTF-16le": "utf-16-le", "UTF-16be": "utf-16-be"}


def decode_text(raw: bytes) -> str:
    """How synco's SQLite connections read TEXT: UTF-8, bytes that are not kept as lone surrogates."""
    return raw.decode("utf-8", "surrogateescape")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _escaped(piece: str | bytes, use_double: bool) -> str:
    """``repr()`` of ``piece`` without its delimiters, escaped as in the ``repr()`` of the whole value."""
    if use_double:
        # The whole value holds ' and no ": neither does the piece, whose repr() escapes nothing differently.
        return repr(piece)[2 if isinstance(piece, bytes) else 1:-1]
    # Holding both quotes forces repr() into the ' form (escaping ', not "), whatever the piece holds.
    if isinstance(piece, bytes):
        return repr(piece + b"\"'")[2:-4]
    return repr(piece + "\"'")[1:-4]


def _feed_long(update: Callable[[bytes], None], pieces: Callable[[], Iterable[str | bytes]], binary: bool) -> None:
    """Feed ``repr()`` of a long value given as ``pieces`` (a callable that gives them again)."""
    single = double = False
    for piece in pieces():
        text = piece.decode("latin-1") if isinstance(piece, bytes) else piece
        single = single or "'" in text
        double = double or '"' in text
        if single and double:
            break
    # repr() delimits with ' unless the value holds ' and no ", then with ".
    use_double = single and not double
    delimiter = b'"' if use_double else b"'"
    update((b"b" if binary else b"") + delimiter)
    for piece in pieces():
        update(_escaped(piece, use_double).encode("utf-8", "surrogatepass"))
    update(delimiter)


def _slices(value: str | bytes) -> Callable[[], Iterator[str | bytes]]:
    return lambda: (value[start:start + PIECE] for start in range(0, len(value), PIECE))


def _blob_pieces(conn: sqlite3.Connection, table: str, column: str, rowid: int, kind: str,
                 encoding: str) -> Callable[[], Iterator[str | bytes]]:
    """The value at (table, column, rowid), read PIECE bytes at a time (text decoded as it goes).

    A UTF-16 database's text may hold lone surrogates, which SQLite stores as given: Python's incremental
    UTF-16 decoder fails on them whatever its error handler (the dump of such a long value failed), so each
    piece's whole code units are decoded on their own, lone surrogates kept as such (``surrogatepass``).
    """
    utf16 = kind == "text" and encoding != "utf-8"

    def pieces() -> Iterator[str | bytes]:
        decoder = codecs.getincrementaldecoder(encoding)("surrogateescape") if kind == "text" and not utf16 else None
        odd = b""
        # getattr: mypy checks as Python 3.10, which has no blobopen (the caller makes sure there is one).
        with getattr(conn, "blobopen")(table, column, rowid, readonly=True) as blob:  # noqa: B009
            while True:
                raw = blob.read(PIECE)
                if not raw:
                    break
                if utf16:
                    raw, odd = odd + raw, b""
                    if len(raw) % 2:
                        raw, odd = raw[:-1], raw[-1:]
                    yield raw.decode(encoding, "surrogatepass")
                else:
                    yield decoder.decode(raw) if decoder is not None else raw
        if decoder is not None:
            yield decoder.decode(b"", final=True)
    return pieces


def rowid_name(conn: sqlite3.Connection, table: str, columns: list[str]) -> str | None:
    """A name that reaches the rowid of ``table`` (not shadowed by a column), or None (no rowid, a view or a
    virtual table, whose values the BLOB I/O cannot read)."""
    definition = table_definitions(conn).get(table)
    if definition is None or definition.upper().startswith("CREATE VIRTUAL"):
        return None
    for name in ("rowid", "_rowid_", "oid"):
        if name not in {c.lower() for c in columns}:
            try:
                conn.execute(f"SELECT {name} FROM {quote(table)} LIMIT 0")
            except sqlite3.OperationalError:
                return None  # WITHOUT ROWID
            return name
    return None


def _measure() -> str:
    # octet_length() (SQLite 3.43) reads a TEXT value's size from the record, as length() does for a BLOB;
    # length() of text counts its characters, which loads the whole value into SQLite's memory once.
    return "octet_length" if sqlite3.sqlite_version_info >= (3, 43) else "length"


def long_values_query(table: str, columns: list[str], rowid: str, stored_text: bool = False) -> str:
    """``SELECT rowid, <flag per column>, <value per column>``: a TEXT or BLOB over :data:`PIECE` is flagged
    (``'text'`` or ``'blob'``) and left out of the row (NULL), to be read through :func:`read_long`.

    ``stored_text`` adds :func:`stored_text_columns` (the short ones: a long one is read by pieces)."""
    size = _measure()
    flags = [f"CASE WHEN typeof({quote(c)}) = 'blob' AND length({quote(c)}) > {PIECE} THEN 'blob' "
             f"WHEN typeof({quote(c)}) = 'text' AND {size}({quote(c)}) > {PIECE} THEN 'text' END" for c in columns]
    values = [f"CASE WHEN ({flag}) IS NULL THEN {quote(c)} END" for flag, c in zip(flags, columns, strict=True)]
    stored = stored_text_columns(columns, f"{size}({{}}) <= {PIECE}") if stored_text else []
    return f"SELECT {rowid}, {', '.join(flags + values + stored)} FROM {quote(table)}"


def stored_text_columns(columns: list[str], condition: str = "") -> list[str]:
    """Per column, a TEXT value's bytes as the database stores them (NULL for any other value).

    SQLite hands text over as UTF-8, converting a UTF-16 database's; text that is not valid UTF-16 (a lone
    surrogate, which SQLite stores as it was given) does not survive that conversion, nor the way back: a
    high surrogate before any character is taken for a pair with it. Its stored bytes keep it exactly.
    ``condition``: a further SQL condition, ``{}`` standing for the column.
    """
    extra = f" AND {condition}" if condition else ""
    return [f"CASE WHEN typeof({quote(c)}) = 'text'{extra.format(quote(c))} THEN CAST({quote(c)} AS BLOB) END"
            for c in columns]


def encoding_of(conn: sqlite3.Connection) -> str:
    """The Python codec of the database's text encoding."""
    return _ENCODINGS.get(str(conn.execute("PRAGMA encoding").fetchone()[0]), "utf-8")


def fingerprint(conn: sqlite3.Connection, table: str,
                budget: Callable[[int], None] | None = None) -> TableManifest:
    """Row count and SHA-256 over the rows in scan order, computed the same way on both sides.

    The scan order of a table is its rowid (or primary key) order, which both the shipped file and a
    database rebuilt from the SQL script keep. ``budget`` is told the size of everything hashed (and may
    stop the reading by raising).
    """
    hasher = hashlib.sha256()
    update = hasher.update
    if is_unscannable(conn, table):
        # SQLite refuses to scan a contentless FTS4 table; its shadow tables (fingerprinted as tables of their
        # own) hold its rows, and <name>_docsize has one per document when the table keeps sizes.
        try:
            documents = int(conn.execute(f"SELECT count(*) FROM {quote(table + '_docsize')}").fetchone()[0])
        except sqlite3.OperationalError:
            documents = 0
        return TableManifest(rows=documents, checksum=hasher.hexdigest())
    # A long value is counted piece by piece, the others once per row (a call per value cost a third more).
    update_long: Callable[[bytes], None] = update
    if budget is not None:
        spend = budget

        def counted(data: bytes) -> None:
            spend(len(data))
            update(data)
        update_long = counted
    # SELECT * returns every column but a virtual table's hidden ones (generated columns included).
    columns = [str(row[1]) for row in conn.execute(f"PRAGMA table_xinfo({quote(table)})") if int(row[6]) != 1]
    rowid = rowid_name(conn, table, columns)
    encoding = encoding_of(conn)
    query = long_values_query(table, columns, rowid) if rowid else f"SELECT * FROM {quote(table)}"
    previous = conn.text_factory
    conn.text_factory = decode_text
    rows = 0
    try:
        cursor = conn.execute(query)
        width = len(columns)
        for row in cursor:
            rows += 1
            if rowid is None:
                flagged: tuple[object, ...] = (None,) * len(row)
                values_of_row: tuple[object, ...] = row
                key = 0
            else:
                key = int(row[0])
                flagged = row[1:1 + width]
                values_of_row = row[1 + width:]
            update(b"(")
            size = 0
            for index, value in enumerate(values_of_row):
                if index:
                    update(b", ")
                kind = flagged[index]
                if kind is not None:
                    pieces = read_long(conn, table, (columns[index], str(kind)), (rowid or "rowid", key), encoding)
                    _feed_long(update_long, pieces, kind == "blob")
                elif isinstance(value, (bytes, str)) and len(value) > PIECE:
                    _feed_long(update_long, _slices(value), isinstance(value, bytes))
                else:
                    data = repr(value).encode("utf-8", "surrogatepass")
                    size += len(data)
                    update(data)
            update(b",)\n" if len(values_of_row) == 1 else b")\n")
            if budget is not None:
                budget(size)
    finally:
        conn.text_factory = previous
    return TableManifest(rows=rows, checksum=hasher.hexdigest())


def read_long(conn: sqlite3.Connection, table: str, column_kind: tuple[str, str], row: tuple[str, int],
                    encoding: str) -> Callable[[], Iterator[str | bytes]]:
    """BLOB I/O where SQLite allows it; a generated column (which it refuses) is fetched whole instead, as is
    any value before Python 3.11 (which has no ``blobopen``)."""
    column, kind = column_kind
    rowid_name, rowid = row
    if sys.version_info >= (3, 11):
        try:
            with conn.blobopen(table, column, rowid, readonly=True):
                pass
            return _blob_pieces(conn, table, column, rowid, kind, encoding)
        except sqlite3.Error:
            pass
    with contextlib.closing(conn.execute(f"SELECT {quote(column)} FROM {quote(table)} WHERE {rowid_name} = ?",
                                         (rowid,))) as cursor:
        value = cursor.fetchone()[0]
    return _slices(value)
