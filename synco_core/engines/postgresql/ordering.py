"""The order in which the dump creates types, functions, tables and views, from ``pg_depend``.

A fixed order of kinds (types, then tables, then functions) fails for ordinary schemas: a generated
column or a domain CHECK may call a user function, a column may have another table's row type, and a
SQL-standard function body (``BEGIN ATOMIC``) is bound to the views it reads when it is created. So the
dump, like ``pg_dump``, sorts these objects by the dependencies the server records:

- a type, function or table waits for the objects its definition names (a function's argument and
  result types, a column's type, a generated column's expression, a domain's base type and default);
- a domain CHECK that calls a user function becomes its own ``ALTER DOMAIN ... ADD CONSTRAINT`` step, so
  the domain itself can be created before that function (whose signature may use the domain);
- functions that need a view (or an index-backed constraint) to exist are created after the views, in one
  order with them; bodies in other languages are not checked while loading, so they never wait.

Within what the dependencies allow, the usual order is kept: types, functions, tables.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import fetch

#: An object to create: ("type" | "domcheck" | "proc" | "table" | "view" | "constraint", OID).
Node = tuple[str, int]

#: Objects of these kinds exist only after the data: a function that needs one waits for the views.
_AFTER_DATA = ("view", "constraint")


@dataclass
class Graph:
    """What each object needs, among the objects the dump creates."""

    needs: dict[Node, set[Node]] = field(default_factory=dict)

    def late(self, functions: Iterable[int]) -> set[int]:
        """The functions that must wait for the views: they need a view or a constraint, or such a function."""
        late: set[Node] = set()
        candidates = [("proc", oid) for oid in functions]
        changed = True
        while changed:
            changed = False
            for node in candidates:
                if node in late:
                    continue
                if any(need[0] in _AFTER_DATA or need in late for need in self.needs.get(node, ())):
                    late.add(node)
                    changed = True
        return {oid for _, oid in late}


def read_graph(conn: psycopg.Connection[Any], types: dict[int, int], domain_checks: set[int],
               functions: set[int], tables: set[int], views: set[int]) -> Graph:
    """Read ``pg_depend`` for the dumped objects.

    ``types`` maps each dumped type's OID to its ``typrelid`` (a composite type's attributes are
    recorded on that relation), ``domain_checks`` are the domain constraints created on their own.
    """
    composite = {relid: oid for oid, relid in types.items() if relid}
    rows = fetch(conn, """
        SELECT d.classid::regclass::text, d.objid, d.objsubid, d.refclassid::regclass::text, d.refobjid, d.deptype,
               CASE WHEN d.classid = 'pg_catalog.pg_attrdef'::regclass THEN
                 (SELECT ad.adrelid FROM pg_catalog.pg_attrdef ad
                  JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                  WHERE ad.oid = d.objid AND a.attgenerated <> '') END,
               CASE WHEN d.classid = 'pg_catalog.pg_constraint'::regclass THEN
                 (SELECT c.contypid FROM pg_catalog.pg_constraint c WHERE c.oid = d.objid) END,
               CASE WHEN d.classid = 'pg_catalog.pg_rewrite'::regclass THEN
                 (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid = d.objid) END
        FROM pg_catalog.pg_depend d
        -- Every user object has an OID from FirstNormalObjectId on; built-in types and functions need no order.
        WHERE d.objid >= 16384 AND d.refobjid >= 16384 AND d.deptype IN ('n', 'a', 'i')
          AND d.classid IN ('pg_catalog.pg_type'::regclass, 'pg_catalog.pg_class'::regclass,
                            'pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_attrdef'::regclass,
                            'pg_catalog.pg_constraint'::regclass, 'pg_catalog.pg_rewrite'::regclass)
          AND d.refclassid IN ('pg_catalog.pg_type'::regclass, 'pg_catalog.pg_class'::regclass,
                               'pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_constraint'::regclass)""")

    # A type the dump does not create itself (an array, a table's row type, a multirange) is made by the
    # object it has an internal dependency on: a column of type "t[]" needs table t.
    made_by: dict[int, tuple[str, int]] = {}
    for classid, objid, _, refclassid, refobjid, deptype, *_ in rows:
        if classid == "pg_type" and deptype == "i" and refclassid in ("pg_type", "pg_class"):
            made_by[objid] = (refclassid, refobjid)

    def relation(oid: int) -> Node | None:
        if oid in tables:
            return ("table", oid)
        if oid in views:
            return ("view", oid)
        if oid in composite:
            return ("type", composite[oid])
        return None

    def referenced(catalog: str, oid: int, seen: frozenset[int] = frozenset()) -> Node | None:
        if catalog == "pg_proc":
            return ("proc", oid) if oid in functions else None
        if catalog == "pg_class":
            return relation(oid)
        if catalog == "pg_constraint":
            return ("constraint", oid)
        if oid in types:
            return ("type", oid)
        owner = made_by.get(oid)
        if owner is None or oid in seen:
            return None
        return referenced(owner[0], owner[1], seen | {oid})

    graph = Graph()
    for classid, objid, _, refclassid, refobjid, deptype, generated_of, domain_of, view_of in rows:
        depender: Node | None = None
        if classid == "pg_type" and objid in types and deptype != "i":
            depender = ("type", objid)
        elif classid == "pg_class" and deptype != "i":
            depender = relation(objid)
        elif classid == "pg_proc" and objid in functions:
            depender = ("proc", objid)
        elif classid == "pg_attrdef" and generated_of is not None and generated_of in tables:
            # Only generated columns: other defaults are set after all functions exist.
            depender = ("table", generated_of)
        elif classid == "pg_constraint" and domain_of:
            depender = ("domcheck", objid) if objid in domain_checks else (
                ("type", domain_of) if domain_of in types else None)
        elif classid == "pg_rewrite" and view_of in views:
            depender = ("view", view_of)
        if depender is None:
            continue
        need = referenced(refclassid, refobjid)
        if need is not None and need != depender:
            graph.needs.setdefault(depender, set()).add(need)
    return graph


def order(nodes: list[Node], graph: Graph) -> list[Node]:
    """``nodes`` sorted so that each comes after what it needs; otherwise in the given order.

    Needs outside ``nodes`` are taken as met (they are created in another part of the dump). A cycle,
    which the server's own rules make very unlikely here, is broken at its first node in the given order.
    """
    position = {node: index for index, node in enumerate(nodes)}
    waiting = {node: {need for need in graph.needs.get(node, ()) if need in position} for node in nodes}
    needed_by: dict[Node, list[Node]] = {}
    for node, needs in waiting.items():
        for need in needs:
            needed_by.setdefault(need, []).append(node)
    ready = [position[node] for node, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    done: set[Node] = set()
    result: list[Node] = []
    while len(result) < len(nodes):
        if not ready:
            heapq.heappush(ready, min(position[node] for node in nodes if node not in done))
        node = nodes[heapq.heappop(ready)]
        if node in done:
            continue
        done.add(node)
        result.append(node)
        for dependent in needed_by.get(node, ()):
            needs = waiting[dependent]
            needs.discard(node)
            if not needs and dependent not in done:
                heapq.heappush(ready, position[dependent])
    return result
