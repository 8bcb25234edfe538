"""XML values read as they are stored, their declaration included.

The ``xml`` type's output function drops a value's ``<?xml version="1.0" encoding="..."?>`` declaration
(it prints one only for another version or a ``standalone`` flag), so ``COPY t TO STDOUT`` (and
``pg_dump``'s data) gives the value without it, and the copy stores another text than the source: an
application reading ``doc::text`` sees the difference. The cast to ``text`` is the stored value itself, so
an ``xml`` column, or one of a domain over ``xml``, is read through it; ``COPY ... FROM`` takes the text back
as the ``xml`` value it was.
"""

from __future__ import annotations

from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import Quoter, fetch


def xml_columns(conn: psycopg.Connection[Any], tables: list[int]) -> dict[int, set[str]]:
    """Per table OID, its columns of type ``xml`` or of a domain over it (at any depth)."""
    found: dict[int, set[str]] = {}
    for relid, name in fetch(conn, """
            WITH RECURSIVE xmlish(oid) AS (
                SELECT 'pg_catalog.xml'::pg_catalog.regtype::pg_catalog.oid
                UNION SELECT t.oid FROM pg_catalog.pg_type t JOIN xmlish x ON t.typbasetype = x.oid
                WHERE t.typtype = 'd')
            SELECT a.attrelid, a.attname FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
              AND a.atttypid IN (SELECT oid FROM xmlish)""", (tables,)):
        found.setdefault(int(relid), set()).add(name)
    return found


def as_stored(q: Quoter, column: str, value: str | None = None) -> str:
    """The select-list item reading ``column`` (of an ``xml`` type), or the ``value`` a sanitising rule gives
    it, as its stored text, under its name: every XML value of a copy is text (:mod:`.widerows` measures
    and reads it so)."""
    return f"({value if value is not None else q(column)})::pg_catalog.text AS {q(column)}"
