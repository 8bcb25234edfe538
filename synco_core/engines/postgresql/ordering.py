"""The order in which the dump creates its schema objects, from ``pg_depend``.

A fixed order of kinds (types, then tables, then functions) fails for ordinary schemas: a generated
column or a domain CHECK may call a user function, a column may have another table's row type, an
operator class needs its operators and they their functions, an aggregate needs its transition function,
and a SQL-standard function body (``BEGIN ATOMIC``) is bound to the tables, views, operators and
aggregates it reads when it is created. So the dump, like ``pg_dump``, sorts the objects by the
dependencies the server records:

- every object waits for the objects its definition names, as ``pg_depend`` records them. The dumper
  says which catalog entries belong to which object it creates (:func:`read_graph`'s ``parts``): an
  operator class's member operators, a generated column's expression, a view's rewrite rule, a domain's
  constraints;
- a type made by another object (an array type, a table's row type, a multirange) stands for that object;
- a function that a type needs for its definition (a base type's input and output functions, a range's
  canonical function) while its own signature names that type is created against a shell type
  (``CREATE TYPE name;``) first, as ``pg_dump`` does (:meth:`Graph.use_shells`);
- objects that need a view or an index-backed constraint to exist are created after the views, in one
  order with them (:meth:`Graph.late`), unless what is created before the data needs them: then the
  views they need are created early (:mod:`.earlyviews`); bodies in other languages are not checked
  while loading, so they never wait.

Within what the dependencies allow, the order the dumper lists the objects in is kept.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import fetch
from synco_core.engines.postgresql.objects import Key, Node

#: Kinds of objects that exist only after the data: an object of another kind that needs one waits for them.
AFTER_DATA = frozenset({"view", "constraint", "rule"})


@dataclass
class Graph:
    """What each object needs, among the objects the dump creates."""

    needs: dict[Node, set[Node]] = field(default_factory=dict)
    #: The node of every catalog entry the dump creates (see :func:`read_graph`).
    parts: Mapping[Key, Node] = field(default_factory=dict)
    #: Types made by another object (an array type, a row type): the catalog key of their maker.
    made_by: dict[int, Key] = field(default_factory=dict)

    def resolve(self, key: Key, seen: frozenset[int] = frozenset()) -> Node | None:
        """The node that creates the catalog entry ``key``: a type made by another object (an array type, a
        table's or a view's row type, a multirange) stands for that object; None for what the dump does
        not create."""
        node = self.parts.get(key)
        if node is not None:
            return node
        owner = self.made_by.get(key[1]) if key[0] == "pg_type" else None
        if owner is None or key[1] in seen:
            return None
        return self.resolve(owner, seen | {key[1]})

    def late(self, candidates: Iterable[Node]) -> set[Node]:
        """The candidates that must wait for the views: they need one, an index-backed constraint, or such a
        candidate (an aggregate whose transition function reads a view in a SQL-standard body)."""
        late: set[Node] = set()
        pending = list(candidates)
        changed = True
        while changed:
            changed = False
            for node in pending:
                if node in late:
                    continue
                if any(need[0] in AFTER_DATA or need in late for need in self.needs.get(node, ())):
                    late.add(node)
                    changed = True
        return late

    def use_shells(self, types: Iterable[int]) -> set[int]:
        """Break the cycle between a type and the functions its definition needs; return the types that
        get a shell.

        A base type needs its input and output functions, whose signatures name the type: such a function
        needs the type's shell (``("shell", oid)``) instead, and the type itself is created after it.
        """
        shelled: set[int] = set()
        for oid in types:
            node: Node = ("type", oid)
            for need in list(self.needs.get(node, ())):
                needs_back = self.needs.get(need)
                if need[0] == "proc" and needs_back is not None and node in needs_back:
                    needs_back.discard(node)
                    needs_back.add(("shell", oid))
                    shelled.add(oid)
        return shelled


def read_graph(conn: psycopg.Connection[Any], parts: Mapping[Key, Node]) -> Graph:
    """Read ``pg_depend`` for the objects of the dump.

    ``parts`` maps the catalog key of every object the dump creates, and of every catalog entry that is
    created as part of one, to that object's node: a table's generated-column default (``pg_attrdef``)
    to the table, a view's ``_RETURN`` rule (``pg_rewrite``) to the view, an operator class's members
    (``pg_amop``, ``pg_amproc``) to the class. Entries not in ``parts`` impose no order, except types made
    by another object (an array type, a table's row type, a multirange), which stand for that object.
    """
    rows = fetch(conn, """
        SELECT d.classid::pg_catalog.regclass::text, d.objid, d.refclassid::pg_catalog.regclass::text, d.refobjid,
               d.deptype
        FROM pg_catalog.pg_depend d
        -- Every user object has an OID from FirstNormalObjectId on; built-in objects need no order.
        WHERE d.objid >= 16384 AND d.refobjid >= 16384 AND d.deptype IN ('n', 'a', 'i')""")

    graph = Graph(parts=parts)
    # A type the dump does not create itself is made by the object it has an internal dependency on.
    for classid, objid, refclassid, refobjid, deptype in rows:
        if classid == "pg_type" and deptype == "i" and refclassid in ("pg_type", "pg_class"):
            graph.made_by[objid] = (refclassid, refobjid)
    for classid, objid, refclassid, refobjid, deptype in rows:
        # An internal dependency says "is part of", not "needs": the part comes with its owner.
        if deptype == "i":
            continue
        depender = parts.get((classid, objid))
        if depender is None:
            continue
        need = graph.resolve((refclassid, refobjid))
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
