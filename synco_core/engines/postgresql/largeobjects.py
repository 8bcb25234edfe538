"""Large objects with their data.

Each large object keeps its OID (applications store it in their own columns): ``lo_create(oid)`` makes
it, and its data follows as ``lo_put`` statements of at most :data:`CHUNK` bytes each, read in the dump's
snapshot with ``lo_get`` one chunk at a time, so memory stays flat whatever the objects' sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import fetch
from synco_core.engines.postgresql.objects import SchemaObject

#: Bytes of a large object per ``lo_put`` statement (written as hex: twice that in the dump).
CHUNK = 1 << 20


def read_large_objects(conn: psycopg.Connection[Any]) -> list[SchemaObject]:
    return [SchemaObject(("pg_largeobject", oid), "large object", "LARGE OBJECT", str(oid),
                         f"SELECT pg_catalog.lo_create('{oid}');\n", owner, acl, f"LARGE OBJECT {oid}")
            for oid, owner, acl in fetch(conn, """
                SELECT m.oid, pg_catalog.pg_get_userbyid(m.lomowner), m.lomacl::text[]
                FROM pg_catalog.pg_largeobject_metadata m ORDER BY m.oid""")]


def write_data(conn: psycopg.Connection[Any], oid: int, write: Callable[[str], None]) -> int:
    """Write the ``lo_put`` statements of one large object; return its size in bytes."""
    offset = 0
    while True:
        row = conn.execute("SELECT pg_catalog.lo_get(%s, %s, %s)", (oid, offset, CHUNK)).fetchone()
        data = bytes(row[0]) if row is not None and row[0] is not None else b""
        if not data:
            return offset
        write(f"SELECT pg_catalog.lo_put('{oid}', {offset}, '\\x{data.hex()}');\n")
        offset += len(data)
        if len(data) < CHUNK:
            return offset
