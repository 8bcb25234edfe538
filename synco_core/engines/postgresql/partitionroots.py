"""Partition trees whose rows must load through their root, because another database routes them elsewhere.

A hash partition holds the rows whose key hashes to its remainder, and an enum value hashes by its OID
(``hashenum``), which a copy of the type gets anew: in the loaded database the same row belongs to another
partition, and ``COPY`` into the partition it came from fails (``violates partition constraint``; pg_dump
before 15.3 wrote such dumps). The same holds for any key whose hash reaches an enum value: an array, range,
multirange or composite holding one, or a domain over one; and a key of an object identifier type
(``regclass``, ``regtype`` ...), whose values load by name and so get the copy's OIDs. The rows of every
partition of such a tree are therefore written as ``COPY root (columns) FROM stdin`` (as ``pg_dump
--load-via-partition-root`` does), and the server routes each row where its key hashes to now. The
manifest counts and checksums the rows of the whole tree under the root's name, since which partition
holds a row is the target's business.
"""

from __future__ import annotations

from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import INNER_TYPES, Table, fetch


def hashed_by_oid(conn: psycopg.Connection[Any]) -> set[int]:
    """The hash-partitioned tables whose key hashes an enum value or an object identifier somewhere inside
    it. A key that is an expression of a polymorphic operator class cannot be typed from the catalog: it
    counts too (loading through the root is always right, only slower)."""
    rows = fetch(conn, """
        WITH RECURSIVE key_type(relid, typid) AS (
            SELECT p.partrelid, coalesce(a.atttypid, o.opcintype)
            FROM pg_catalog.pg_partitioned_table p
            CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(p.partattrs::pg_catalog.int2[]),
                                          pg_catalog.unnest(p.partclass::pg_catalog.oid[])) AS k(attnum, opclass)
            JOIN pg_catalog.pg_opclass o ON o.oid = k.opclass
            LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum
            WHERE p.partstrat = 'h'
            UNION
            SELECT k.relid, inner_type.typid
            FROM key_type k
            JOIN pg_catalog.pg_type t ON t.oid = k.typid
            """ + INNER_TYPES + """
        )
        SELECT DISTINCT k.relid
        FROM key_type k JOIN pg_catalog.pg_type t ON t.oid = k.typid
        WHERE t.typtype IN ('e', 'p') OR t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace
              AND t.typname IN ('regclass', 'regtype', 'regproc', 'regprocedure', 'regoper', 'regoperator',
                                'regconfig', 'regdictionary', 'regnamespace', 'regrole', 'regcollation')""")
    return {int(row[0]) for row in rows}


def load_roots(tables: list[Table], hashed: set[int]) -> dict[int, Table]:
    """Per table whose rows load through a root: that root, the topmost partitioned table above a table of
    ``hashed`` (a sub-partition's rows may belong to another branch of the tree in the copy too)."""
    by_oid = {t.oid: t for t in tables}
    result: dict[int, Table] = {}
    for table in tables:
        chain = [table]
        while chain[-1].parent is not None and chain[-1].parent in by_oid:
            chain.append(by_oid[chain[-1].parent])
        if table.kind == "r" and any(t.oid in hashed for t in chain[1:]):
            result[table.oid] = chain[-1]
    return result
