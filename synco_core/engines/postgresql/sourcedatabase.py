"""What a synco dump's header says about the source database itself, for a database the load creates.

**Encoding and locale.** The default collation decides how text sorts and compares wherever no
collation is named: a text range partition's bounds and the rows that fall between them, a unique index
over text, every ``ORDER BY``. A copy made with the loading server's defaults (``C.UTF-8`` where
production had ICU ``en``) routed a row ``'B'`` outside the partition ``FROM ('a') TO ('c')`` it came
from, and the load failed. So the dumper writes the source's encoding, ``LC_COLLATE``, ``LC_CTYPE``,
locale provider and ICU locale on one header line, and a load that creates the database creates it with
them. An existing target keeps its own (it is the developer's database), with a warning naming what
differs, unless its encoding cannot hold the source's text (a LATIN1 target of a UTF-8 source); a server
that cannot create the source's (a locale it does not have) gets its defaults, with a
warning too.

**Settings.** ``ALTER DATABASE ... SET`` settings live with the database, not in it: a source whose
``search_path`` names the schema of its extensions (``public, geo, ext``) gave a copy whose every query
on a table with an index on ``ll_to_earth`` failed. The dumper writes them on a header line too, and a
load that creates the database sets those of :data:`CARRIED` on it once the rows are loaded (so none
changes how the dump loads). Others are left out with a warning: a dump may come from a hostile session,
and ``session_preload_libraries`` would load code into every later session of the copy.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO, cast

import psycopg

from synco_core import hostilejson
from synco_core.engines.postgresql.catalog import fetch

#: The header lines' starts; the rest of each line is JSON: :class:`Locale`'s fields, the settings.
PREFIX = b"-- Database locale: "
SETTINGS_PREFIX = b"-- Database settings: "
#: Settings a database the load creates takes from the source (and any with a dot: an extension's or
#: the application's own); they change how a session reads, writes and plans, nothing beyond it.
CARRIED = frozenset({
    "search_path", "timezone", "datestyle", "intervalstyle", "default_text_search_config", "extra_float_digits",
    "bytea_output", "xmloption", "xmlbinary", "lc_monetary", "lc_numeric", "lc_time", "statement_timeout",
    "lock_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout", "work_mem",
    "maintenance_work_mem", "random_page_cost", "seq_page_cost", "effective_cache_size",
    "default_statistics_target", "jit", "plan_cache_mode", "timezone_abbreviations", "constraint_exclusion",
    "cursor_tuple_fraction", "from_collapse_limit", "join_collapse_limit", "geqo", "client_min_messages",
    "default_transaction_isolation", "gin_fuzzy_search_limit", "array_nulls", "quote_all_identifiers",
    "transform_null_equals", "row_security", "enable_partition_pruning", "enable_partitionwise_join",
    "enable_partitionwise_aggregate", "enable_seqscan", "enable_indexscan", "enable_bitmapscan",
    "enable_hashjoin", "enable_mergejoin", "enable_nestloop", "enable_sort", "enable_hashagg", "enable_material",
    "parallel_setup_cost", "parallel_tuple_cost", "max_parallel_workers_per_gather", "temp_buffers",
})
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


def read_settings(conn: psycopg.Connection[Any]) -> list[str]:
    """The ``name=value`` settings of ``ALTER DATABASE ... SET`` on the database ``conn`` is connected to."""
    rows = fetch(conn, """
        SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s
        WHERE s.setrole = 0 AND s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d
                                                 WHERE d.datname = pg_catalog.current_database())""")
    return [str(setting) for setting in rows[0][0] or []] if rows else []


def settings_header(settings: list[str]) -> str:
    return SETTINGS_PREFIX.decode() + json.dumps(settings) + "\n" if settings else ""


def carried(settings: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, value) of the settings a new database takes, and the names of those left out."""
    kept, left = [], []
    for setting in settings:
        name, _, value = setting.partition("=")
        if name.lower() in CARRIED or "." in name.strip("."):
            kept.append((name, value))
        else:
            left.append(name)
    return kept, left


@dataclass(frozen=True)
class Header:
    """What a synco dump's header says about its source (nothing for another dump)."""

    locale: Locale | None = None
    settings: tuple[str, ...] = ()


def split_header(dump: BinaryIO) -> tuple[Header, bytes]:
    """What a synco dump's header names about its source, and the bytes read to find it, which the load
    must read first."""
    head = b""
    while len(head) < _HEADER_LIMIT and b"\n\n" not in head:
        chunk = dump.read(_HEADER_LIMIT - len(head))
        if not chunk:
            break
        head += chunk
    locale: Locale | None = None
    settings: tuple[str, ...] = ()
    for line in head.split(b"\n\n", 1)[0].split(b"\n"):
        if line.startswith(PREFIX):
            locale = _parse(line[len(PREFIX):])
        elif line.startswith(SETTINGS_PREFIX):
            settings = _parse_settings(line[len(SETTINGS_PREFIX):])
    return Header(locale, settings), head


def _parse_settings(text: bytes) -> tuple[str, ...]:
    try:
        settings = hostilejson.loads(text)
    except ValueError:
        return ()
    if not isinstance(settings, list) or not all(isinstance(s, str) and "=" in s for s in settings):
        return ()
    return tuple(settings)


def _parse(text: bytes) -> Locale | None:
    """The header's locale, or None when it is not one (the values go into CREATE DATABASE as literals)."""
    try:
        fields = hostilejson.loads(text)
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
