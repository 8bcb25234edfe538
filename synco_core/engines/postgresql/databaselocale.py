"""The source database's encoding and locale, carried in the dump's header to a database the load creates.

The default collation decides how text sorts and compares wherever no collation is named: a text range
partition's bounds and the rows that fall between them, a unique index over text, every ``ORDER BY``. A
copy made with the loading server's defaults (``C.UTF-8`` where production had ICU ``en``) routed a row
``'B'`` outside the partition ``FROM ('a') TO ('c')`` it came from, and the load failed. So the dumper
writes the source's encoding, ``LC_COLLATE``, ``LC_CTYPE``, locale provider and ICU locale on one header
line, and a load that creates the database creates it with them. An existing target keeps its own (it is
the developer's database), with a warning naming what differs; a server that cannot create the source's
(a locale it does not have) gets its defaults, with a warning too.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO, cast

import psycopg

from synco_core.engines.postgresql.catalog import fetch

#: The header line's start; the rest of the line is a JSON object of :class:`Locale`'s fields.
PREFIX = b"-- Database locale: "
_HEADER_LIMIT = 16384
_NAME = re.compile(r"[A-Za-z0-9_.@ -]{1,128}\Z")


@dataclass(frozen=True)
class Locale:
    encoding: str
    collate: str
    ctype: str
    #: ``c`` (libc) or ``i`` (ICU), as ``pg_database.datlocprovider``.
    provider: str = "c"
    icu_locale: str | None = None

    def describe(self) -> str:
        text = f"encoding {self.encoding}, LC_COLLATE {self.collate}, LC_CTYPE {self.ctype}"
        return text + (f", ICU locale {self.icu_locale}" if self.provider == "i" else "")

    def header(self) -> str:
        return PREFIX.decode() + json.dumps(asdict(self), sort_keys=True) + "\n"


def read_source(conn: psycopg.Connection[Any]) -> Locale:
    """The locale of the database ``conn`` is connected to."""
    columns = "d.datlocprovider, d.daticulocale" if _has_providers(conn) else "'c', NULL"
    encoding, collate, ctype, provider, icu = fetch(conn, f"""
        SELECT pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, {columns}
        FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()""")[0]
    return Locale(str(encoding), str(collate), str(ctype), str(provider), icu)


def _has_providers(conn: psycopg.Connection[Any]) -> bool:
    return bool(fetch(conn, "SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = 'pg_catalog.pg_database'::regclass "
                            "AND attname = 'daticulocale'"))


def split_header(dump: BinaryIO) -> tuple[Locale | None, bytes]:
    """The locale a synco dump's header names (None for another dump, or one that names none) and the
    bytes read to find it, which the load must read first."""
    head = b""
    while len(head) < _HEADER_LIMIT and b"\n\n" not in head:
        chunk = dump.read(_HEADER_LIMIT - len(head))
        if not chunk:
            break
        head += chunk
    for line in head.split(b"\n\n", 1)[0].split(b"\n"):
        if line.startswith(PREFIX):
            return _parse(line[len(PREFIX):]), head
    return None, head


def _parse(text: bytes) -> Locale | None:
    """The header's locale, or None when it is not one (the values go into CREATE DATABASE as literals)."""
    try:
        fields = json.loads(text)
        locale = Locale(**fields)
    except (ValueError, TypeError):
        return None
    names = [locale.encoding, locale.collate, locale.ctype] + ([locale.icu_locale] if locale.icu_locale else [])
    if locale.provider not in ("c", "i") or not all(isinstance(n, str) and _NAME.match(n) for n in names):
        return None
    return locale


class _Prefixed(io.RawIOBase):
    """``head`` and then the rest of ``stream``, read in order."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self.head = head
        self.stream = stream

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0 or size >= len(self.head):
                data, self.head = self.head, b""
            else:
                data, self.head = self.head[:size], self.head[size:]
            return data
        return self.stream.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def with_head(head: bytes, stream: BinaryIO) -> BinaryIO:
    """The dump again from its start, after :func:`split_header` read ``head`` from it."""
    return cast(BinaryIO, _Prefixed(head, stream))
