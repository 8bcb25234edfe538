"""XML values read as they are stored, their declaration included.

The ``xml`` type's output function drops a value's ``<?xml version="1.0" encoding="..."?>`` declaration
(it prints one only for another version or a ``standalone`` flag), so ``COPY t TO STDOUT`` (and
``pg_dump``'s data) gives the value without it, and the copy stores another text than the source: an
application reading ``doc::text`` sees the difference. The cast to ``text`` is the stored value itself, so
an ``xml`` column, or one of a domain over ``xml``, is read through it (an array of them as ``text[]``);
``COPY ... FROM`` takes the text back as the ``xml`` value it was. A composite value holding XML still
loses the declaration.
"""

from __future__ import annotations

from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import Quoter, fetch


def xml_columns(conn: psycopg.Connection[Any], tables: list[int]) -> dict[int, dict[str, str]]:
    """Per table OID, its columns of type ``xml`` or of a domain over it (at any depth), each with the type it is
    read as: ``text``, or ``text[]`` for an array of such values (or a domain over one); a cast of an array
    casts its elements and keeps its bounds."""
    found: dict[int, dict[str, str]] = {}
    for relid, name, is_array in fetch(conn, """
            WITH RECURSIVE xmlish(oid) AS (
                SELECT 'pg_catalog.xml'::pg_catalog.regtype::pg_catalog.oid
                UNION SELECT t.oid FROM pg_catalog.pg_type t JOIN xmlish x ON t.typbasetype = x.oid
                WHERE t.typtype = 'd'),
            arrays(oid) AS (
                SELECT t.oid FROM pg_catalog.pg_type t WHERE t.typelem IN (SELECT oid FROM xmlish) AND t.typsubscript
                    = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc
                UNION SELECT t.oid FROM pg_catalog.pg_type t JOIN arrays a ON t.typbasetype = a.oid
                WHERE t.typtype = 'd')
            SELECT a.attrelid, a.attname, a.atttypid IN (SELECT oid FROM arrays) FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
              AND a.atttypid IN (SELECT oid FROM xmlish UNION ALL SELECT oid FROM arrays)""", (tables,)):
        found.setdefault(int(relid), {})[name] = "pg_catalog.text[]" if is_array else "pg_catalog.text"
    return found


def as_stored(q: Quoter, column: str, read_as: str, value: str | None = None) -> str:
    """The select-list item reading ``column`` (an XML one, read as ``read_as``), or the ``value`` a sanitising
    rule gives it, as its stored text, under its name: every XML value of a copy is text (:mod:`.widerows`
    measures and reads it so)."""
    return f"({value if value is not None else q(column)})::{read_as} AS {q(column)}"
