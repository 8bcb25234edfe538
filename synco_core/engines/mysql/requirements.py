"""What a MySQL/MariaDB dump needs of the server that loads it: recorded by the dump, checked before a download.

A laptop's server without a storage engine production uses (ROCKSDB, Mroonga: plugins), without a collation
(MariaDB 11's ``uca1400`` ones on a 10.6), or with a ``max_allowed_packet`` below production's longest row
was found at load time, after the whole download. The dump records the engines of its tables, the collations
its tables and columns name and its longest one-row ``INSERT`` (:class:`~synco_core.values.DumpRequirements`);
:func:`missing` reads the local server's answers and names what it lacks, each with its fix.

MySQL 8's ``*_0900_*`` collations are not required of MariaDB: its loader maps them to the nearest one it has
(:func:`synco_core.engines.mysql.load.map_collation`), with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from synco_core.engines.mysql import schema
from synco_core.errors import DatabaseError
from synco_core.listing import some_names
from synco_core.values import DatabaseConfig, DumpRequirements

#: The Debian package of the storage engines MariaDB ships as plugins of their own (the rest is in the server).
ENGINE_PACKAGES = {
    "rocksdb": "mariadb-plugin-rocksdb",
    "mroonga": "mariadb-plugin-mroonga",
    "spider": "mariadb-plugin-spider",
    "connect": "mariadb-plugin-connect",
    "s3": "mariadb-plugin-s3",
    "oqgraph": "mariadb-plugin-oqgraph",
    "columnstore": "mariadb-plugin-columnstore",
}
#: The plugin library of an engine whose name is not ``ha_<engine>``.
ENGINE_LIBRARIES = {"federated": "ha_federatedx", "mrg_myisam": "", "performance_schema": ""}
#: The most a server's ``max_allowed_packet`` can be (1 GiB, MySQL and MariaDB alike).
MAX_PACKET_LIMIT = 1 << 30
MIB = 1 << 20


def recorded(conn: Any, db: str, tables: Iterable[str], engines: dict[str, str]) -> DumpRequirements:
    """The storage engines and collations of ``tables`` (every table the dump creates, rows or not); the longest
    statement is added by the dump once it is written."""
    dumped = set(tables)
    collations: set[str] = set()
    for table, collation in schema.query(
            conn, "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                  "AND TABLE_COLLATION IS NOT NULL UNION SELECT TABLE_NAME, COLLATION_NAME FROM "
                  "information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND COLLATION_NAME IS NOT NULL", (db, db)):
        if schema.text(table) in dumped:
            collations.add(schema.text(collation))
    return DumpRequirements(
        engines=sorted({engines[table] for table in dumped if engines.get(table)}, key=str.lower),
        collations=sorted(collations))


def _engine_fix(engine: str, mariadb: bool) -> str:
    name = engine.lower()
    library = ENGINE_LIBRARIES.get(name, f"ha_{name}")
    install = f"INSTALL SONAME '{library}'" if mariadb and library else f"enable the {engine} plugin"
    package = ENGINE_PACKAGES.get(name)
    return f"install {package}, then {install}" if package else install


def fits_packet(size: int, packet: int) -> bool:
    """Whether a server whose ``max_allowed_packet`` is ``packet`` takes a statement of ``size`` bytes: it travels
    in one packet after a command byte, and the server refuses a packet of ``max_allowed_packet`` bytes or more
    (MariaDB 10.11 took ``packet - 2`` bytes and refused ``packet - 1``: 'Got a packet bigger than ...')."""
    return size + 1 < packet


def packet_fix(size: int) -> str:
    """What to set for a server to take a statement of ``size`` bytes: the check before a download and the
    load that meets a longer row name the same value."""
    if not fits_packet(size, MAX_PACKET_LIMIT):
        return "no server takes a statement that long: leave the table's rows out on the source"
    # The next MiB above what the statement needs (see fits_packet), at least one.
    wanted = min(MAX_PACKET_LIMIT, max(MIB, math.ceil((size + 2) / MIB) * MIB))
    return (f"SET GLOBAL max_allowed_packet={wanted}, or max_allowed_packet={wanted // MIB}M under [mysqld] in "
            "the server's configuration")


def _spellings(collation: str) -> tuple[str, ...]:
    """The names a server may list ``collation`` under: MySQL 5.7's and MariaDB 10.5's ``utf8_*`` are the
    ``utf8mb3_*`` that MariaDB 10.6 and MySQL 8 list alone (and still take the old name for), and the other way
    round for a dump of a newer server loaded into an older one."""
    name = collation.lower()
    for old, new in (("utf8_", "utf8mb3_"), ("utf8mb3_", "utf8_")):
        if name.startswith(old):
            return name, new + name[len(old):]
    return (name,)


def missing(conn: Any, requires: DumpRequirements) -> list[str]:
    """What the server of ``conn`` lacks of ``requires``, each with how to fix it; empty when nothing."""
    # The loader's own pattern of what it maps (imported here: the loader imports the dumper, which imports this).
    from synco_core.engines.mysql.load import _COLLATION

    version = schema.text(schema.query(conn, "SELECT VERSION()")[0][0])
    mariadb = "mariadb" in version.lower()
    lacking: list[str] = []
    if requires.engines:
        usable = {schema.text(engine).lower() for engine, support in schema.query(
            conn, "SELECT ENGINE, SUPPORT FROM information_schema.ENGINES")
            if schema.text(support).upper() in ("YES", "DEFAULT")}
        lacking += [f"storage engine {engine} ({_engine_fix(engine, mariadb)})"
                    for engine in requires.engines if engine.lower() not in usable]
    if requires.collations:
        known = {schema.text(row[0]).lower() for row in schema.query(conn, "SHOW COLLATION")}
        # MariaDB 10.10 and later list a collation that applies to several character sets once, without one
        # (``uca1400_ai_ci``), while a column's collation is its full name (``utf16_uca1400_ai_ci``): the
        # applicability table pairs them.
        for name, charset in schema.query(conn, "SELECT COLLATION_NAME, CHARACTER_SET_NAME FROM "
                                                "information_schema.COLLATION_CHARACTER_SET_APPLICABILITY"):
            name, charset = schema.text(name).lower(), schema.text(charset).lower()
            if not name.startswith(charset + "_"):
                known.add(f"{charset}_{name}")
        unknown = [name for name in requires.collations if not known.intersection(_spellings(name))
                   # MariaDB's load maps MySQL 8's to the nearest one it has.
                   and not (mariadb and _COLLATION.fullmatch(name.encode()))]
        if unknown:
            source = f" (the source runs {requires.server_version})" if requires.server_version else ""
            lacking.append(f"collation{'s' if len(unknown) > 1 else ''} {some_names(unknown, 10)} (a server release "
                           f"that has {'them' if len(unknown) > 1 else 'it'}{source})")
    size = requires.max_statement_bytes
    if size:
        packet = int(schema.query(conn, "SELECT @@max_allowed_packet")[0][0])
        if not fits_packet(size, packet):
            lacking.append(f"max_allowed_packet {packet} is too small for the dump's longest row, a statement of "
                           f"{size} bytes ({packet_fix(size)})")
    return lacking


def check(database: DatabaseConfig, requires: DumpRequirements) -> list[str]:
    """:func:`missing` on the server of ``database`` (the database itself need not exist yet)."""
    import pymysql

    from synco_core.engines.mysql.connect import connect, describe, where

    try:
        conn = connect(database, use_database=False)
        try:
            return missing(conn, requires)
        finally:
            conn.close()
    except pymysql.err.MySQLError as exc:
        raise DatabaseError(f"reading what the server on {where(database)} has, for the dump's requirements, "
                            f"failed: {describe(exc)}") from exc
