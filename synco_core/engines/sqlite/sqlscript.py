"""The SQL form of a SQLite dump (``synco db dump --sql``): a script that rebuilds the database exactly.

Python's ``Connection.iterdump()`` was used before, and its scripts did not load or changed the data:

- a virtual table (FTS5, FTS4, R*Tree) was registered through ``writable_schema`` *and* filled with
  ``INSERT``s into it, which the loading connection cannot see yet ("no such table"). Here a virtual table
  is registered as the ``sqlite3`` shell's ``.dump`` does it, and only its shadow tables carry rows: they
  are the index and content exactly as they were (an external-content or contentless FTS table has no
  rows of its own to insert);
- ``sqlite_sequence`` rows were written without escaping, so an ``AUTOINCREMENT`` table named with a
  ``'`` broke the script;
- values went through SQLite's ``quote()``, which writes infinity as ``Inf`` (not SQL) and cuts text at
  its first NUL character;
- ``PRAGMA user_version`` and ``application_id`` (which applications use for their schema version), the
  text encoding, the page size, the auto-vacuum mode and the write-ahead-log mode were left out, and the
  rowids of tables without an ``INTEGER PRIMARY KEY`` were not kept (an FTS index of external content
  points at them).

Values are formatted here from what Python reads: text holding NUL is joined with ``char(0)``, text whose
bytes are not UTF-8 is written as ``CAST(X'..' AS TEXT)``, and long BLOBs are written in pieces. A UTF-16
database's text is read as stored (``CAST(.. AS BLOB)``), as SQLite's conversion to UTF-8 changes text that
is not valid UTF-16; such text is written as its stored bytes, ``CAST(X'..' AS TEXT)``.
"""

from __future__ import annotations

import decimal
import math
import re
import sqlite3
from typing import BinaryIO

from synco_core.engines.sqlite.fingerprint import (
    PIECE,
    decode_text,
    encoding_of,
    long_values_query,
    read_long,
    rowid_name,
    stored_text_columns,
)

_SPECIAL = re.compile("([\x00\r])")

def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Bytes that were not UTF-8 (decoded as lone surrogates): written as they are.
        return "CAST(X'" + value.encode("utf-8", "surrogateescape").hex().upper() + "' AS TEXT)"
    if not value:
        return "''"
    # A literal ends at NUL for SQLite's parser, and a carriage return before a line feed is lost to any
    # reader in text mode (Python's read_text, Windows): both are written as char() between literals.
    parts = _SPECIAL.split(value)
    return "||".join(f"char({ord(part)})" if part in ("\x00", "\r") else "'" + part.replace("'", "''") + "'"
                     for part in parts if part) or "''"


def _stored_text(raw: bytes, encoding: str) -> str:
    """A TEXT value of a UTF-16 database, from its stored bytes: a literal when they are valid UTF-16, else
    ``CAST(X'..' AS TEXT)``, which such a database stores as the very bytes given."""
    try:
        return _text(raw.decode(encoding))
    except UnicodeDecodeError:
        return "CAST(X'" + raw.hex().upper() + "' AS TEXT)"


_TWO_TO_62 = f"CAST({1 << 62} AS REAL)"


def _real(value: float) -> str:
    """A finite REAL as SQL that SQLite reads back bit for bit.

    repr() is the shortest decimal that names the double, but SQLite's reading of a decimal literal is not
    exact (3.40 read 8.669279501873125e-302 as ...124e-302; builds without long double miss more). A literal
    of at most 15 digits times a power of ten up to 22 (19.99, 1e-05, 0.1) is one exact integer scaled by one
    exact power, which every SQLite reads back; any other value is written in binary, as its integer
    significand multiplied or divided by exact powers of two (CAST of an integer to REAL is exact, and so is
    each step, since every partial result is representable)."""
    if value == 0:
        return repr(value)  # 0.0 or -0.0
    digits = decimal.Decimal(repr(value)).normalize().as_tuple()
    if len(digits.digits) <= 15 and isinstance(digits.exponent, int) and -22 <= digits.exponent <= 22:
        return repr(value)
    fraction, exponent = math.frexp(value)
    significand, exponent = int(fraction * (1 << 53)), exponent - 53
    while significand % 2 == 0:
        significand //= 2
        exponent += 1
    operator = "*" if exponent > 0 else "/"
    steps, rest = divmod(abs(exponent), 62)
    text = f"CAST({significand} AS REAL)" + f"{operator}{_TWO_TO_62}" * steps
    if rest:
        text += f"{operator}CAST({1 << rest} AS REAL)"
    return f"({text})"


def _write_value(out: BinaryIO, value: object) -> None:
    if value is None:
        out.write(b"NULL")
    elif isinstance(value, bool | int):
        out.write(str(int(value)).encode())
    elif isinstance(value, float):
        if math.isinf(value):
            # SQLite reads an overflowing literal as infinity, and has no other way to write one.
            out.write(b"9.0e999" if value > 0 else b"-9.0e999")
        else:
            out.write(_real(value).encode())
    elif isinstance(value, bytes):
        out.write(b"X'")
        for start in range(0, len(value), PIECE):
            out.write(value[start:start + PIECE].hex().upper().encode())
        out.write(b"'")
    else:
        out.write(_text(str(value)).encode("utf-8"))


def _rowid(conn: sqlite3.Connection, table: str, columns: list[str]) -> str | None:
    """The name reaching a rowid that no column holds (None with an INTEGER PRIMARY KEY or WITHOUT ROWID)."""
    info = list(conn.execute(f"PRAGMA table_info({quote(table)})"))
    keys = [row for row in info if int(row[5]) > 0]
    if len(keys) == 1 and str(keys[0][2]).upper() == "INTEGER":
        return None  # the key column is the rowid, and is written as a column
    for name in ("rowid", "_rowid_", "oid"):
        if name not in {c.lower() for c in columns}:
            try:
                conn.execute(f"SELECT {name} FROM {quote(table)} LIMIT 0")
            except sqlite3.OperationalError:
                return None
            return name
    return None


def _write_rows(conn: sqlite3.Connection, out: BinaryIO, table: str) -> None:
    # Generated columns are computed again on load; they cannot be inserted.
    columns = [str(row[1]) for row in conn.execute(f"PRAGMA table_xinfo({quote(table)})") if int(row[6]) == 0]
    if not columns:
        return
    kept = _rowid(conn, table, columns)
    names = ([kept] if kept else []) + [quote(c) for c in columns]
    head = f"INSERT INTO {quote(table)}({','.join(names)}) VALUES(".encode()
    # Where there is a rowid, a long BLOB is read and written in pieces (BLOB I/O), never whole in memory.
    reach = rowid_name(conn, table, columns)
    encoding = encoding_of(conn)
    # A UTF-16 database's text is read as it is stored (stored_text_columns), after the other columns.
    utf16 = encoding != "utf-8"
    width = len(columns)
    if reach is None:
        stored = stored_text_columns(columns) if utf16 else []
        rows = conn.execute(f"SELECT {', '.join(names + stored)} FROM {quote(table)}")
    else:
        rows = conn.execute(long_values_query(table, columns, reach, stored_text=utf16))
    lead = 1 if kept else 0
    for row in rows:
        out.write(head)
        texts = list(row[len(row) - width:]) if utf16 else [None] * width
        if reach is None:
            values, flags = list(row[:len(names)]), [None] * len(names)
        else:
            values = ([row[0]] if kept else []) + list(row[1 + width:1 + 2 * width])
            flags = ([None] if kept else []) + list(row[1:1 + width])
        texts = [None] * lead + texts
        for index, (value, flag) in enumerate(zip(values, flags, strict=True)):
            if index:
                out.write(b",")
            if flag is None:
                if texts[index] is not None:
                    out.write(_stored_text(bytes(texts[index]), encoding).encode("utf-8"))
                else:
                    _write_value(out, value)
                continue
            kind = "blob" if utf16 else str(flag)
            pieces = read_long(conn, table, (columns[index - lead], kind), (reach or "rowid", int(row[0])), encoding)
            if flag == "text" and utf16:
                # Gathered whole, as any long text is below; from its stored bytes.
                whole = b"".join(piece if isinstance(piece, bytes) else piece.encode(encoding, "surrogatepass")
                                 for piece in pieces())
                out.write(_stored_text(whole, encoding).encode("utf-8"))
            elif flag == "blob":
                out.write(b"X'")
                for piece in pieces():
                    if isinstance(piece, bytes):  # always, for a BLOB
                        out.write(piece.hex().upper().encode())
                out.write(b"'")
            else:
                # Long text is gathered whole: char() and CAST() cannot be cut into pieces cheaply.
                _write_value(out, "".join(str(piece) for piece in pieces()))
        out.write(b");\n")


def _write_table_rows(conn: sqlite3.Connection, out: BinaryIO, name: str) -> None:
    """An internal table's rows, replacing what SQLite put there itself (all columns, no rowid)."""
    out.write(b"DELETE FROM " + quote(name).encode() + b";\n")
    for row in conn.execute(f"SELECT * FROM {quote(name)}"):
        out.write(f"INSERT INTO {quote(name)} VALUES(".encode())
        for index, value in enumerate(row):
            if index:
                out.write(b",")
            _write_value(out, value)
        out.write(b");\n")


def write_script(conn: sqlite3.Connection, out: BinaryIO, wal: bool = False) -> None:
    """Write the whole database behind ``conn`` as an SQL script (one transaction) to ``out``; ``wal``: the
    database is in write-ahead-log mode (the copy a dump writes from never is)."""
    previous = conn.text_factory
    conn.text_factory = decode_text
    try:
        _write_script(conn, out, wal)
    finally:
        conn.text_factory = previous


def _write_script(conn: sqlite3.Connection, out: BinaryIO, wal: bool) -> None:
    def line(text: str) -> None:
        out.write(text.encode("utf-8") + b"\n")

    encoding = str(conn.execute("PRAGMA encoding").fetchone()[0])
    if encoding != "UTF-8":
        # Only takes effect in an empty database, which is what the install loads into.
        line(f"PRAGMA encoding = '{encoding}';")
    # The page size and the auto-vacuum mode are fixed when the first table is created, so they come first;
    # written always, as the loading SQLite's defaults (compile options) need not be the source's.
    for pragma in ("page_size", "auto_vacuum"):
        line(f"PRAGMA {pragma} = {int(conn.execute(f'PRAGMA {pragma}').fetchone()[0])};")
    line("PRAGMA foreign_keys = OFF;")
    # Rows a CHECK refuses are production's too (written under this pragma, or before a tool added the CHECK).
    line("PRAGMA ignore_check_constraints = ON;")
    line("BEGIN TRANSACTION;")
    for pragma in ("user_version", "application_id"):
        value = int(conn.execute(f"PRAGMA {pragma}").fetchone()[0])
        if value:
            line(f"PRAGMA {pragma} = {value};")
    objects = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql NOT NULL ORDER BY rowid").fetchall()
    tables = [(str(name), str(sql)) for kind, name, sql in objects if kind == "table"]
    writable = False
    for name, sql in tables:
        if name.startswith("sqlite_"):
            continue  # internal; sqlite_sequence and the statistics follow the data
        if sql.upper().startswith("CREATE VIRTUAL TABLE"):
            if not writable:
                line("PRAGMA writable_schema = ON;")
                writable = True
            # As the sqlite3 shell's .dump: registered without running the module, whose shadow tables
            # (ordinary tables, dumped with their rows) hold everything it had.
            line("INSERT INTO sqlite_master(type, name, tbl_name, rootpage, sql) VALUES('table', "
                 f"{_text(name)}, {_text(name)}, 0, {_text(sql)});")
            continue
        line(f"{sql};")
        _write_rows(conn, out, name)
    names = {name for name, _ in tables}
    if "sqlite_stat1" in names:
        # ANALYZE creates the statistics tables; their rows are then put back as they were.
        line('ANALYZE "sqlite_master";')
        for stat in ("sqlite_stat1", "sqlite_stat4"):
            if stat in names:
                _write_table_rows(conn, out, stat)
    for kind, _, sql in objects:
        if kind in ("index", "trigger", "view"):
            line(f"{sql};")
    if writable:
        line("PRAGMA writable_schema = OFF;")
    if "sqlite_sequence" in names:
        # Last, as an AUTOINCREMENT table's inserts above moved its counter.
        _write_table_rows(conn, out, "sqlite_sequence")
    line("COMMIT;")
    line("PRAGMA ignore_check_constraints = OFF;")
    if wal:
        # Kept in the file's header (an application may have set it once); it cannot change in a transaction.
        line("PRAGMA journal_mode = WAL;")
