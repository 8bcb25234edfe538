"""Text of a SQL_ASCII database, which PostgreSQL stores as bytes it never checks.

A SQL_ASCII database may hold any byte in any text: a name, a comment, a view's body, a row. Read with
the client encoding UTF8 (as every other dump is), the first byte that is not UTF-8 made the dump fail
("invalid byte sequence for encoding UTF8: 0xff"); pg_dump dumps such a database in its own encoding and
its restore into a SQL_ASCII database gives back the same bytes. The dumper does the same: it reads a
SQL_ASCII source with the client encoding SQL_ASCII, where the server sends the bytes as they are.

psycopg returns such text as ``bytes`` (and encodes queries as ASCII), which nothing in the engine
expects. :func:`read_raw` switches a session to SQL_ASCII with text read as UTF-8 where it is UTF-8 and
every other byte kept as a lone surrogate (Python's ``surrogateescape``), so names and text are ``str`` as
everywhere else; queries and parameters are encoded the same way (:data:`CODEC`), and writing text with
:func:`to_bytes` gives back exactly the bytes the database held.
"""

from __future__ import annotations

import codecs
import importlib
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import Loader

from synco_core.errors import DatabaseError

#: The Python codec psycopg uses for a session whose client encoding is SQL_ASCII.
CODEC = "synco-sql-ascii"


def to_bytes(text: str) -> bytes:
    """Script or query text as the bytes to send or write: UTF-8, and a SQL_ASCII source's other bytes as
    they were read."""
    return text.encode("utf-8", "surrogateescape")


def _encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
    return to_bytes(text), len(text)


def _decode(data: Any, errors: str = "strict") -> tuple[str, int]:
    return bytes(data).decode("utf-8", "surrogateescape"), len(data)


def _search(name: str) -> codecs.CodecInfo | None:
    if name.replace("_", "-") != CODEC:
        return None
    return codecs.CodecInfo(_encode, _decode, name=CODEC)


class _RawTextLoader(Loader):
    def load(self, data: Any) -> str:
        return bytes(data).decode("utf-8", "surrogateescape")


#: The types psycopg reads as text.
_TEXT_TYPES = ("text", "varchar", "bpchar", "name", '"char"')


def read_raw(conn: psycopg.Connection[Any]) -> None:
    """Read ``conn``'s text in the database's own bytes: the client encoding SQL_ASCII, for a SQL_ASCII
    database."""
    conn.execute("SET client_encoding = 'SQL_ASCII'")
    adapt(conn)


def adapt(conn: psycopg.Connection[Any]) -> None:
    """Read ``conn``'s text as ``str`` if its client encoding is SQL_ASCII (a session left with a SQL_ASCII
    database's own encoding): psycopg returned every name and value as ``bytes`` there, and listing the
    tables of such a database for ``synco serve`` failed."""
    if conn.pgconn.parameter_status(b"client_encoding") != b"SQL_ASCII":
        return
    for name in _TEXT_TYPES:
        conn.adapters.register_loader(name, _RawTextLoader)
    conn.adapters.register_loader(705, _RawTextLoader)  # unknown
    conn.adapters.register_loader(0, _RawTextLoader)


codecs.register(_search)
# psycopg maps SQL_ASCII to Python's "ascii", for which it returns text as bytes and refuses to send a
# query with any other byte. The mapping is psycopg's, process-wide: every SQL_ASCII session synco opens
# (the dump's, the load's checks of a SQL_ASCII copy) reads text as str, the bytes kept.
# A private table of psycopg's (tested with 3.3): should a release move it, SQL_ASCII text that is not UTF-8
# fails to dump again, as before, and nothing else changes.
try:
    _PY_CODECS: dict[bytes, str] = getattr(importlib.import_module("psycopg._encodings"), "py_codecs", {})
except ImportError:  # pragma: no cover - a psycopg without the module
    _PY_CODECS = {}
for _key in list(_PY_CODECS):
    if _PY_CODECS[_key] == "ascii" and _key.replace(b"_", b"").upper() == b"SQLASCII":
        _PY_CODECS[_key] = CODEC


def check_bytes(pgconn: pq.abc.PGconn) -> None:
    """Load a SQL_ASCII source's text checked, unless the database is SQL_ASCII too.

    The server stores what a COPY sends in the client encoding SQL_ASCII without checking it, whatever the
    database's encoding: a SQL_ASCII dump loaded into a UTF-8 database gave it bytes that are not UTF-8,
    which every later read of them refused. Read as UTF-8 instead, the text a SQL_ASCII source most often
    holds (UTF-8) loads as the same bytes, into another encoding converted, and a byte that is not UTF-8
    fails the load in one line naming it.
    """
    if (pgconn.parameter_status(b"client_encoding") == b"SQL_ASCII"
            and pgconn.parameter_status(b"server_encoding") != b"SQL_ASCII"):
        result = pgconn.exec_(b"SET client_encoding = 'UTF8'")
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise DatabaseError("cannot load a SQL_ASCII dump's text as UTF-8: "
                                f"{(result.error_message or b'').decode('utf-8', 'replace').strip()}")
