"""Values of object identifier types (``regclass``, ``regproc``, ...) that ``COPY`` could not load back.

Such a value is an OID that ``COPY`` writes as the object's name and reads back by looking the name up,
while the rows load. Two kinds of value cannot come back that way (``pg_dump``'s output fails on them too):

- a name of an object that exists only after the rows: a view, materialized view or index (``regclass``),
  a view's row type (``regtype``), a function created with the views (``regproc``), a TOAST table or a
  temporary one (whose names hold OIDs of their own, or name another session's schema);
- a ``regproc`` or ``regoper`` value naming a function or operator whose name is overloaded: it prints
  as a name, and reading that name back is ambiguous (``more than one operator named +``).

The dumper looks at the values it is about to copy (filters and sanitising applied) before it writes any
row, and refuses in one line naming the column, the value and why; ``--exclude-table`` (structure
without rows) or a ``--where`` filter dumps the table without such values. Values naming objects that
no longer exist print as bare OIDs and load back as they are.

Extensions' configuration tables are looked at too (:func:`late_config_tables`). Their rows may name
the application's views and the functions made with them: periods' ``periods.system_versioning`` names
each versioned table's ``*_with_history`` view and its ``*__as_of(timestamptz)`` functions. ``pg_dump``
creates views before any rows; synco creates them after, so such a configuration table's rows are
copied once the schema is complete (:func:`.extensions.after_the_schema`). Only the values that could
never load back are refused there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from synco_core.engines.postgresql import searchpaths
from synco_core.engines.postgresql.catalog import Quoter, Table, fetch
from synco_core.engines.postgresql.dataplan import DataPlan
from synco_core.engines.postgresql.extensions import ConfigRelation
from synco_core.engines.postgresql.objects import Node

#: The types whose values are names that may not load back (``regoperator``, ``regconfig``,
#: ``regnamespace`` ... name objects that always exist before the rows, with their argument types).
_LOOKED_UP = ("regclass", "regtype", "regproc", "regprocedure", "regoper")


class Holder(Protocol):
    """A table holding such values: one of the dump's, or an extension's configuration table."""

    @property
    def oid(self) -> int: ...

    @property
    def display(self) -> str: ...


#: Why a value is refused when the object it names is only created after the rows.
_AFTER_THE_ROWS = "created after the rows"


@dataclass(frozen=True)
class Column:
    """A column holding such values (directly, in an array, or through a domain)."""

    table: Holder
    name: str
    type: str
    array: bool


def columns(conn: psycopg.Connection[Any], tables: Iterable[Holder]) -> list[Column]:
    by_oid = {t.oid: t for t in tables}
    if not by_oid:
        return []
    rows = fetch(conn, """
        WITH RECURSIVE reached(relid, attnum, attname, typid, in_array) AS (
            SELECT a.attrelid, a.attnum, a.attname, a.atttypid, false
            FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = ANY (%s) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
            UNION ALL
            SELECT r.relid, r.attnum, r.attname, CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END,
                   r.in_array OR t.typtype <> 'd'
            FROM reached r JOIN pg_catalog.pg_type t ON t.oid = r.typid
            WHERE t.typtype = 'd' OR (t.typcategory = 'A' AND t.typelem <> 0)
        )
        SELECT r.relid, r.attname, t.typname, r.in_array
        FROM reached r JOIN pg_catalog.pg_type t ON t.oid = r.typid
        WHERE t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace AND t.typname = ANY (%s)
        ORDER BY r.relid, r.attnum""", (list(by_oid), list(_LOOKED_UP)))
    return [Column(by_oid[int(relid)], str(name), str(typname), bool(array)) for relid, name, typname, array in rows]


def refusals(conn: psycopg.Connection[Any], q: Quoter, tables: list[Table], plans: dict[int, DataPlan],
             late: set[Node], early_views: set[int], paths: Mapping[int, list[str]] | None = None) -> list[str]:
    """``table.column holds 'value' (why)`` for every value of the dump that would not load back.

    ``late``: the ordering nodes of objects created after the rows; ``early_views``: views and
    materialized views created before them (placeholders), whose names do load; ``paths``: the schemas a
    query on a table needs (:func:`.searchpaths.table_query_paths`)."""
    found: list[str] = []
    for column in columns(conn, tables):
        plan = plans.get(column.table.oid)
        if plan is None or plan.excluded or column.name not in plan.columns or not plan.select:
            continue
        source = f"({plan.source('synco_row_id')}) s"
        values = _values(conn, q, column, source, (paths or {}).get(column.table.oid))
        for _, text, why in _unloadable(conn, column.type, values, late, early_views):
            found.append(f"{column.table.display}.{column.name} holds {text!r} ({why})")
    return found


def late_config_tables(conn: psycopg.Connection[Any], q: Quoter, relations: list[ConfigRelation], late: set[Node],
                       early_views: set[int]) -> tuple[set[int], list[str]]:
    """The configuration tables whose rows name objects created after the rows (to be copied after them,
    see the module docstring), and the values of any that could not load back at all (as :func:`refusals`)."""
    tables = {r.oid: r for r in relations if r.kind == "r"}
    naming_late: set[int] = set()
    found: list[str] = []
    for column in columns(conn, tables.values()):
        relation = tables[column.table.oid]
        source = f"ONLY {q.qualified(relation.schema, relation.name)} s {relation.condition}"
        for _, text, why in _unloadable(conn, column.type, _values(conn, q, column, source), late, early_views):
            if why.endswith(_AFTER_THE_ROWS):
                naming_late.add(relation.oid)
            else:
                found.append(f"{relation.display}.{column.name} holds {text!r} ({why})")
    return naming_late, found


def _values(conn: psycopg.Connection[Any], q: Quoter, column: Column, source: str,
            path: list[str] | None = None) -> list[int]:
    """The distinct OIDs ``column`` holds in the rows ``source`` (a FROM item aliased ``s``) selects, read
    with ``path`` in ``search_path`` (the names are then read back under the empty one)."""
    value = f"s.{q(column.name)}"
    if column.array:
        source += f" CROSS JOIN LATERAL pg_catalog.unnest({value}) AS v(value)"
        value = "v.value"
    searchpaths.read_under(conn, path)
    oids = [int(row[0]) for row in fetch(conn, f"SELECT DISTINCT ({value})::pg_catalog.oid FROM {source} "
                                               f"WHERE {value} IS NOT NULL")]
    if path:
        conn.execute("SELECT pg_catalog.set_config('search_path', '', true)")
    return oids


def _unloadable(conn: psycopg.Connection[Any], kind: str, oids: list[int], late: set[Node],
                early_views: set[int]) -> list[tuple[int, str, str]]:
    """(OID, name as COPY writes it, why) of the values of type ``kind`` among ``oids`` that would not load
    back. An extension's own objects exist before the rows (``CREATE EXTENSION`` comes first)."""
    member = ("EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.{0}'::pg_catalog.regclass"
              " AND d.objid = {1} AND d.deptype = 'e')")
    result: list[tuple[int, str, str]] = []
    if kind == "regclass":
        for oid, text, relkind, schema, extension in fetch(conn, f"""
                SELECT c.oid, c.oid::pg_catalog.regclass::text, c.relkind, n.nspname,
                       {member.format('pg_class', 'c.oid')}
                FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE c.oid = ANY (%s) ORDER BY 2""", (oids,)):
            why = "" if extension else _relation(relkind, schema, oid in early_views, "")
            if why:
                result.append((oid, text, why))
    elif kind == "regtype":
        for oid, text, relid, relkind, schema, type_oid, extension in fetch(conn, f"""
                SELECT t.oid, t.oid::pg_catalog.regtype::text, c.oid, c.relkind, n.nspname, coalesce(e.oid, t.oid),
                       {member.format('pg_type', 'coalesce(e.oid, t.oid)')} OR {member.format('pg_class', 'c.oid')}
                FROM pg_catalog.pg_type t
                LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
                LEFT JOIN pg_catalog.pg_class c ON c.oid = coalesce(e.typrelid, t.typrelid)
                LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE t.oid = ANY (%s) ORDER BY 2""", (oids,)):
            if extension:
                continue
            why = _relation(relkind, schema, relid in early_views, "'s row type")
            if not why and ("type", type_oid) in late:
                why = f"a type {_AFTER_THE_ROWS}"
            if why:
                result.append((oid, text, why))
    elif kind in ("regproc", "regprocedure"):
        for oid, text, overloaded, extension in fetch(conn, f"""
                SELECT p.oid, p.oid::pg_catalog.{kind}::text,
                       EXISTS (SELECT 1 FROM pg_catalog.pg_proc o WHERE o.proname = p.proname
                               AND o.pronamespace = p.pronamespace AND o.oid <> p.oid),
                       {member.format('pg_proc', 'p.oid')}
                FROM pg_catalog.pg_proc p WHERE p.oid = ANY (%s) ORDER BY 2""", (oids,)):
            if kind == "regproc" and overloaded:
                result.append((oid, text, "an overloaded name; a regprocedure column keeps the argument types"))
            elif ("proc", oid) in late and not extension:
                result.append((oid, text, f"a function {_AFTER_THE_ROWS}"))
    else:
        for oid, text in fetch(conn, """
                SELECT o.oid, o.oid::pg_catalog.regoper::text FROM pg_catalog.pg_operator o
                WHERE o.oid = ANY (%s) AND EXISTS (
                    SELECT 1 FROM pg_catalog.pg_operator x WHERE x.oprname = o.oprname
                    AND x.oprnamespace = o.oprnamespace AND x.oid <> o.oid)
                ORDER BY 2""", (oids,)):
            result.append((oid, text, "an overloaded name; a regoperator column keeps the argument types"))
    return result


def _relation(kind: str | None, schema: str | None, early: bool, suffix: str) -> str:
    """Why a name of this relation would not load back while the rows load, or ''."""
    if kind is None or schema is None:
        return ""
    if schema == "pg_toast" or schema.startswith(("pg_temp_", "pg_toast_temp_")):
        what = "a TOAST table" if schema == "pg_toast" else "a temporary table"
        return f"{what}{suffix}, which a copy does not have"
    if schema in ("pg_catalog", "information_schema"):
        return ""
    names = {"v": "a view", "m": "a materialized view", "i": "an index", "I": "an index"}
    if kind in names and not (early and kind in "vm"):
        return f"{names[kind]}{suffix}, {_AFTER_THE_ROWS}"
    return ""
