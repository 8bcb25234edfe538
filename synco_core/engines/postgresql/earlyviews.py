"""Views whose row type is needed before the data: created early as placeholders, or without their rows.

Views are created after the data, since a view may need a primary key (a ``GROUP BY`` relying on the
key's functional dependency), other views, or functions that read views. But a table column may be typed
as a view's row type (or an array of it), and so may a composite type, a domain or a function signature
that a table or a column default needs; then the view must exist before the table.

As ``pg_dump`` does, such a view is first created as a placeholder with exactly its columns' names, types,
type modifiers and collations (``SELECT NULL::type COLLATE c AS column``), which needs nothing but those
types, and its definition replaces it (``CREATE OR REPLACE VIEW``) where the views are created: a column,
a SQL-standard function body or another view bound to the placeholder stays bound to the same view with
the same columns. While the rows load, the view answers one row of NULLs, as in a ``pg_dump`` copy.

A materialized view cannot be replaced: one whose row type is needed is created before the tables with its
definition ``WITH NO DATA`` (the views it reads as placeholders, the functions it calls early), and is
refreshed after the data where it would have been created, so its rows are read from the loaded tables.
One whose definition needs a constraint (a ``GROUP BY`` relying on a key) cannot be created before the
data: ``pg_dump`` writes a dump that fails to load there; the dumper refuses with :class:`Unsatisfiable`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import Quoter, fetch
from synco_core.engines.postgresql.objects import Node
from synco_core.engines.postgresql.ordering import Graph

#: Ordering kinds of the early parts: a view's placeholder, a materialized view created without its rows.
PLACEHOLDER = "viewshell"
EMPTY_MATVIEW = "earlymatview"
#: Kinds that exist only after the data, which no early object can wait for.
_AFTER_DATA_ONLY = frozenset({"constraint", "rule"})


class Unsatisfiable(Exception):
    """An object needed before the data needs one that exists only after it (the message names both)."""


@dataclass
class EarlyViews:
    """What is created before the data because the rows need a view's row type."""

    #: Views created as placeholders before the data (by OID), replaced by their definition after it.
    placeholders: set[int] = field(default_factory=set)
    #: Materialized views created ``WITH NO DATA`` before the data, refreshed after it.
    matviews: set[int] = field(default_factory=set)
    #: Objects that need a view and would be created with the views, created before the data instead.
    early: set[Node] = field(default_factory=set)
    #: (object, what it needs that exists only after the data).
    unsatisfiable: list[tuple[Node, Node]] = field(default_factory=list)


def read_placeholders(conn: psycopg.Connection[Any], q: Quoter) -> dict[int, tuple[str, list[tuple[str, int]]]]:
    """For every view: the ``SELECT`` of its placeholder, and the catalog keys of the types and collations
    its columns use (what the placeholder needs)."""
    columns: dict[int, list[tuple[str, list[tuple[str, int]]]]] = {}
    for relid, name, type_name, type_oid, collation, collation_oid in fetch(conn, """
            SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.atttypid,
                   -- The collation is named where it is not the type's own: CREATE OR REPLACE VIEW refuses
                   -- to change a column's collation.
                   CASE WHEN a.attcollation <> t.typcollation THEN
                     pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END,
                   a.attcollation
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
            LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
            WHERE c.relkind = 'v' AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attrelid, a.attnum"""):
        collate = f" COLLATE {collation}" if collation is not None else ""
        keys = [("pg_type", type_oid)] + ([("pg_collation", collation_oid)] if collation is not None else [])
        columns.setdefault(relid, []).append((f"NULL::{type_name}{collate} AS {q(name)}", keys))
    return {relid: ("SELECT\n    " + ",\n    ".join(text for text, _ in items),
                    [key for _, keys in items for key in keys])
            for relid, items in columns.items()}


def plan(graph: Graph, roots: Iterable[Node], late: set[Node], matviews: set[int],
         placeholder_needs: dict[int, list[tuple[str, int]]]) -> EarlyViews:
    """Follow what the objects created before the data need; a view among it is created early.

    ``roots`` are the objects created before the data (tables, column defaults, and the types, functions
    ... that need no view), ``late`` the ones that would wait for the views. The needs of every object
    reached are rewritten in ``graph`` to name the early parts (:data:`PLACEHOLDER`, :data:`EMPTY_MATVIEW`)
    instead of the views, so that :func:`.ordering.order` sorts them with the objects before the data;
    the views themselves keep their needs, for the order after the data.
    """
    result = EarlyViews()

    def early_part(need: Node) -> Node:
        if need[0] != "view":
            return need
        return (EMPTY_MATVIEW if need[1] in matviews else PLACEHOLDER, need[1])

    pending = list(roots)
    seen: set[Node] = set()
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        if node[0] == PLACEHOLDER:
            needs = {need for key in placeholder_needs.get(node[1], [])
                     if (need := graph.resolve(key)) is not None and need != ("view", node[1])}
        elif node[0] == EMPTY_MATVIEW:
            needs = graph.needs.get(("view", node[1]), set())
        else:
            needs = graph.needs.get(node, set())
        translated = {early_part(need) for need in needs}
        graph.needs[node] = translated
        for need in sorted(translated):
            if need[0] in _AFTER_DATA_ONLY:
                result.unsatisfiable.append((node, need))
            else:
                pending.append(need)
    result.placeholders = {oid for kind, oid in seen if kind == PLACEHOLDER}
    result.matviews = {oid for kind, oid in seen if kind == EMPTY_MATVIEW}
    result.early = seen & late
    return result
