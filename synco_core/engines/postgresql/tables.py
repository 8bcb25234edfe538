"""Tables as the dump creates them, and their constraints and indexes after the data.

:func:`create_table` writes one ordinary, partitioned or foreign table with its columns (identity and
generated columns, collations, a foreign table's column options), inheritance, partition bound and key,
access method, typed-table type and storage options, then :func:`table_settings` the per-column settings
(statistics target, storage, compression, options such as ``n_distinct``) and the replica identity.

A partition is created with ``PARTITION OF`` when its columns are in its parent's order; one whose
columns are in another order (it was created on its own and attached) is created with its own column
list and attached, so it keeps that order. A table that inherits (``INHERITS`` puts the parents' columns
first) in another order is rebuilt with its parents column by column (:func:`replayed_families`, from
:mod:`.inheritance`), so that its inherited columns stay inherited; where that finds no way, it is created
on its own and made to inherit, and its columns become its own.

An object in a tablespace other than the database's default goes there when the loading server has a
tablespace of that name, and to the default tablespace otherwise (:func:`in_tablespace`): a laptop
rarely has production's tablespaces, and a dump must load anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from synco_core.engines.postgresql import inheritance
from synco_core.engines.postgresql.catalog import USER_SCHEMA, Column, Quoter, Sequence, Table, fetch, literal
from synco_core.engines.postgresql.objects import Key, Node, SchemaObject, options_clause


def with_index_options(definition: str, options: list[str]) -> str:
    """A primary key's or unique constraint's definition (``pg_get_constraintdef``) with its index's storage
    parameters: ``WITH (...)`` comes before the ``DEFERRABLE`` and ``INITIALLY DEFERRED`` the server ends
    the definition with, which are the only words it may write after the column lists."""
    tail = ""
    for word in (" INITIALLY DEFERRED", " DEFERRABLE"):
        if definition.endswith(word):
            definition, tail = definition[:-len(word)], word + tail
    return f"{definition} WITH ({', '.join(options)}){tail}"


def in_tablespace(tablespace: str | None, statements: str) -> str:
    """``statements`` run with ``default_tablespace`` set to ``tablespace`` when the loading server has it."""
    if not tablespace:
        return statements
    name = literal(tablespace)
    return (f"SELECT pg_catalog.set_config('default_tablespace', CASE WHEN EXISTS (SELECT 1 FROM "
            f"pg_catalog.pg_tablespace WHERE spcname = {name}) THEN {name} ELSE '' END, false);\n"
            f"{statements}SET default_tablespace = '';\n")


def _with(table: Table) -> str:
    options = list(table.reloptions or []) + [f"toast.{option}" for option in table.toast_options or []]
    return f"\nWITH ({', '.join(options)})" if options else ""


def _column(q: Quoter, table: Table, number: int, column: Column,
            identity: Mapping[tuple[int, int], Sequence]) -> str:
    line = f"    {q(column.name)} {column.type}"
    if table.kind == "f":
        line += options_clause(column.fdw_options, q)
    if column.collation:
        line += f" COLLATE {column.collation}"
    if column.generated:
        line += f" GENERATED ALWAYS AS ({column.default}) STORED"
    if column.identity:
        seq = identity.get((table.oid, number))
        kind = "ALWAYS" if column.identity == "a" else "BY DEFAULT"
        line += f" GENERATED {kind} AS IDENTITY"
        if seq is not None:
            line += f" (\n        SEQUENCE NAME {q.qualified(seq.schema, seq.name)} {seq.options()}\n    )"
    if column.not_null:
        line += " NOT NULL"
    return line


def create_table(q: Quoter, table: Table, by_oid: Mapping[int, Table],
                 identity: Mapping[tuple[int, int], Sequence]) -> str:
    """The statements that create ``table`` (before its data, defaults and constraints)."""
    name = q.qualified(table.schema, table.name)
    unlogged = "UNLOGGED " if table.persistence == "u" else ""
    keyword = "FOREIGN TABLE" if table.kind == "f" else "TABLE"
    foreign = ""
    if table.kind == "f":
        foreign = f"\nSERVER {q(table.server or '')}" + options_clause(table.foreign_options, q)
    using = f"\nUSING {q(table.access_method)}" if table.access_method else ""
    parent = by_oid.get(table.parent) if table.parent is not None else None
    if parent is not None and [c.name for c in table.columns] == [c.name for c in parent.columns]:
        statement = (f"CREATE {unlogged}{keyword} {name} PARTITION OF {q.qualified(parent.schema, parent.name)}\n"
                     f"    {table.partition_bound}")
        if table.partition_key:
            statement += f"\n    PARTITION BY {table.partition_key}"
        statements = statement + using + _with(table) + foreign + ";\n"
        # A partition takes its columns from the parent; only a NOT NULL of its own needs adding.
        parent_not_null = {c.name for c in parent.columns if c.not_null}
        for column in table.columns:
            if column.not_null and column.name not in parent_not_null:
                statements += f"ALTER TABLE ONLY {name} ALTER COLUMN {q(column.name)} SET NOT NULL;\n"
        return statements + table_settings(q, table, name)
    lines = []
    inherited_not_null = []
    parents = [by_oid[p] for p in table.inherits if p in by_oid]
    # INHERITS puts the parents' columns first; a child whose columns are in another order (it was created
    # on its own, then made to inherit) is created with its own column list and made to inherit afterwards.
    inherited = list(dict.fromkeys(c.name for p in parents for c in p.columns))
    in_order = [c.name for c in table.columns][:len(inherited)] == inherited
    later_parents = [] if in_order else parents
    if later_parents:
        parents = []
    for number, column in enumerate(table.columns, start=1):
        if table.of_type:
            # A typed table's columns come from its type; only their constraints are its own.
            if column.not_null:
                lines.append(f"    {q(column.name)} WITH OPTIONS NOT NULL")
            continue
        if parent is None and not column.is_local and not later_parents:
            # A column that only comes from an inherited parent is created by INHERITS; a NOT NULL of its
            # own is added.
            if column.not_null and not any(c.name == column.name and c.not_null for p in parents for c in p.columns):
                inherited_not_null.append(column.name)
            continue
        lines.append(_column(q, table, number, column, identity))
    statement = f"CREATE {unlogged}{keyword} {name}"
    if table.of_type:
        statement += f" OF {table.of_type}"
    if lines or not table.of_type:
        statement += " (\n" + ",\n".join(lines) + "\n)"
    if parents:
        statement += "\nINHERITS (" + ", ".join(q.qualified(p.schema, p.name) for p in parents) + ")"
    if table.partition_key:
        statement += f"\nPARTITION BY {table.partition_key}"
    statements = statement + using + _with(table) + foreign + ";\n"
    for column_name in inherited_not_null:
        statements += f"ALTER TABLE ONLY {name} ALTER COLUMN {q(column_name)} SET NOT NULL;\n"
    if parent is not None:
        # Created with its own column order: attached to its parent afterwards.
        statements += (f"ALTER TABLE ONLY {q.qualified(parent.schema, parent.name)} ATTACH PARTITION {name}\n"
                       f"    {table.partition_bound};\n")
    for later in later_parents:
        statements += f"ALTER TABLE ONLY {name} INHERIT {q.qualified(later.schema, later.name)};\n"
    return statements + table_settings(q, table, name)


def replayed_families(q: Quoter, tables: list[Table],
                      identity: Mapping[tuple[int, int], Sequence]) -> tuple[dict[int, str], list[list[int]]]:
    """The statements that create the tables of inheritance families :mod:`.inheritance` rebuilds column by
    column, by table OID, and each family's tables in the order their statements must run."""
    statements: dict[int, str] = {}
    orders: list[list[int]] = []
    for family in inheritance.families(tables):
        plan = inheritance.replay(family)
        if plan is None:
            continue
        by_oid = {t.oid: t for t in family}
        for oid, steps in plan.groups.items():
            text = ""
            for step in steps:
                name = q.qualified(step.table.schema, step.table.name)
                if step.create:
                    so_far = {o: inheritance.current(by_oid[o], count) for o, count in step.parents.items()}
                    text += create_table(q, inheritance.current(step.table, step.count), so_far, identity)
                else:
                    column = step.table.columns[step.count - 1]
                    # Not ONLY: the column reaches the children, as it did when the parent gained it.
                    text += (f"ALTER TABLE {name} ADD COLUMN "
                             f"{_column(q, step.table, step.count, column, identity).strip()};\n"
                             + column_settings(q, name, column))
            statements[oid] = text
        # Columns that reached a child from its parent: the child's own NOT NULL and settings.
        last = next(reversed(plan.groups))
        for table in family:
            name = q.qualified(table.schema, table.name)
            parents = [by_oid[p] for p in table.inherits]
            for column in table.columns[plan.created_with[table.oid]:]:
                if column.is_local:
                    continue
                if column.not_null and not any(c.name == column.name and c.not_null
                                               for p in parents for c in p.columns):
                    statements[last] += f"ALTER TABLE ONLY {name} ALTER COLUMN {q(column.name)} SET NOT NULL;\n"
                statements[last] += column_settings(q, name, column)
        orders.append(list(plan.groups))
    return statements, orders


def column_settings(q: Quoter, name: str, column: Column) -> str:
    """A column's statistics target, storage, compression and options."""
    settings = []
    if column.statistics is not None:
        settings.append(f"SET STATISTICS {column.statistics}")
    if column.storage is not None:
        settings.append(f"SET STORAGE {column.storage}")
    if column.compression is not None:
        settings.append(f"SET COMPRESSION {column.compression}")
    if column.options:
        settings.append(f"SET ({', '.join(column.options)})")
    return "".join(f"ALTER TABLE ONLY {name} ALTER COLUMN {q(column.name)} {setting};\n" for setting in settings)


def table_settings(q: Quoter, table: Table, name: str) -> str:
    """Per-column statistics targets, storage, compression and options, and the replica identity (not
    USING INDEX, which comes with the indexes)."""
    statements = "".join(column_settings(q, name, column) for column in table.columns)
    identity = {"f": "FULL", "n": "NOTHING"}.get(table.replica_identity)
    if identity is not None and table.kind != "f":
        statements += f"ALTER TABLE ONLY {name} REPLICA IDENTITY {identity};\n"
    return statements


@dataclass
class Keys:
    """Constraints and indexes of the dumped tables, as statements in the order they are run."""

    #: Primary key, unique, check and exclusion constraints and indexes, leaf tables first, with their
    #: ordering nodes (one that calls a function reading a view waits for the views).
    keys: list[tuple[Node, str]] = field(default_factory=list)
    #: ``ALTER INDEX ... ATTACH PARTITION``: a partition's index joins its parent's, once both exist.
    attach: list[str] = field(default_factory=list)
    #: Replica identities and ``CLUSTER ON``, which name an index that must exist first.
    replica_identity: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    #: The referencing and referenced table of each of ``foreign``, in its order.
    foreign_tables: list[tuple[int, int]] = field(default_factory=list)
    #: Indexes of materialized views, by view OID (created right after the view).
    view_indexes: dict[int, list[SchemaObject]] = field(default_factory=dict)
    #: Constraints and indexes for comments, by catalog key.
    objects: list[SchemaObject] = field(default_factory=list)
    #: Index-backed constraints (a SQL-standard function body may need one), check constraints and indexes
    #: (which may call a function): their ordering nodes.
    parts: dict[Key, Node] = field(default_factory=dict)


def read_keys(conn: psycopg.Connection[Any], q: Quoter, tables: list[Table], skipped: set[Key]) -> Keys:
    by_oid = {t.oid: t for t in tables}

    # A partitioned table's constraints and indexes are created on it alone (ONLY), each partition's with
    # its own name, and then attached, as pg_dump does: a cascade from the parent would name the
    # partitions' indexes itself, and would complete a parent index that only some partitions have.
    def depth(table: Table) -> int:
        level = 0
        while table.parent is not None and table.parent in by_oid:
            table, level = by_oid[table.parent], level + 1
        return level

    order = {t.oid: (0 if t.kind != "p" else 1, -depth(t), t.schema, t.name) for t in tables}
    result = Keys()
    inherited = {parent for t in tables for parent in t.inherits}
    keys: list[tuple[Any, Node, str]] = []
    foreign: list[tuple[Any, str, tuple[int, int]]] = []
    for oid, relid, conname, contype, definition, is_local, has_parent, tablespace, refers, index_options in fetch(
            conn, """
            SELECT con.oid, con.conrelid, con.conname, con.contype, pg_catalog.pg_get_constraintdef(con.oid),
                   con.conislocal, con.conparentid <> 0,
                   (SELECT ts.spcname FROM pg_catalog.pg_class ic JOIN pg_catalog.pg_tablespace ts
                    ON ts.oid = ic.reltablespace WHERE ic.oid = con.conindid), con.confrelid,
                   (SELECT ic.reloptions::text[] FROM pg_catalog.pg_class ic WHERE ic.oid = con.conindid)
            FROM pg_catalog.pg_constraint con
            WHERE con.conrelid = ANY(%s) AND con.contype IN ('p', 'u', 'c', 'x', 'f')
            ORDER BY con.conname""", (list(by_oid),)):
        table = by_oid.get(relid)
        if table is None or ("pg_constraint", oid) in skipped:
            continue
        table_name = q.qualified(table.schema, table.name)
        result.objects.append(SchemaObject(("pg_constraint", oid), "constraint", "CONSTRAINT",
                                           f"{q(conname)} ON {table_name}"))
        if contype in ("p", "u", "x"):
            result.parts[("pg_constraint", oid)] = ("constraint", oid)
        # A partition's copy of its parent's check or foreign key is created by the parent's statement;
        # its index-backed constraints are its own, attached to the parent's below.
        if contype in ("c", "f") and (not is_local or has_parent):
            continue
        # A check constraint of a table with inheritance children must reach them too (PostgreSQL
        # refuses ONLY there); on partitioned tables checks and foreign keys cascade to the partitions.
        only = "" if (table.kind == "p" and contype in ("c", "f")) or (contype == "c" and relid in inherited) \
            else "ONLY "
        keyword = "FOREIGN TABLE" if table.kind == "f" else "TABLE"
        if contype in ("p", "u") and index_options:
            # The server prints an exclusion constraint's index options, but not a key's (pg_dump adds them
            # itself too): without them the key's index came back with the default parameters.
            definition = with_index_options(definition, index_options)
        statement = f"ALTER {keyword} {only}{table_name}\n    ADD CONSTRAINT {q(conname)} {definition};\n"
        statement = in_tablespace(tablespace, statement)
        if contype == "f":
            foreign.append((order[relid], statement, (int(relid), int(refers))))
        else:
            node = ("constraint", oid) if contype != "c" else ("check", oid)
            result.parts[("pg_constraint", oid)] = node
            keys.append((order[relid], node, statement))
    index_rows: list[tuple[Any, Node, str]] = []
    attach: list[tuple[Any, int, str]] = []
    names: dict[int, str] = {}
    cascaded: set[int] = set()
    for (index_oid, relid, schema, index_name, definition, clustered, replica, constraint_index, tablespace,
         statistics, parent_index, relation, cascades) in fetch(conn, f"""
            SELECT i.indexrelid, i.indrelid,
                   (SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid = ic.relnamespace), ic.relname,
                   pg_catalog.pg_get_indexdef(i.indexrelid), i.indisclustered,
                   i.indisreplident, EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con
                                             WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')),
                   (SELECT ts.spcname FROM pg_catalog.pg_tablespace ts WHERE ts.oid = ic.reltablespace),
                   ARRAY(SELECT a.attnum || ' ' || a.attstattarget FROM pg_catalog.pg_attribute a
                         WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0 ORDER BY a.attnum),
                   (SELECT inh.inhparent FROM pg_catalog.pg_inherits inh WHERE inh.inhrelid = i.indexrelid),
                   i.indrelid::pg_catalog.regclass::text,
                   i.indisvalid AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits inh
                                            JOIN pg_catalog.pg_class part ON part.oid = inh.inhrelid
                                            WHERE inh.inhparent = i.indrelid AND part.relkind = 'f')
            FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
            -- An index whose CREATE INDEX CONCURRENTLY failed is not used, and pg_dump leaves it out too.
            WHERE (i.indisvalid OR (SELECT t.relkind FROM pg_catalog.pg_class t WHERE t.oid = i.indrelid) = 'p')
              -- Not the system's, nor other sessions' temporary tables': one dropped after the snapshot has no
              -- definition left to print ("cache lookup failed"), and these are never dumped.
              AND ic.relnamespace IN (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE {USER_SCHEMA.format('n')})
            ORDER BY ic.relname"""):
        if ("pg_class", index_oid) in skipped:
            continue
        owner = by_oid.get(relid)
        qualified_index = q.qualified(schema, index_name)
        names[index_oid] = qualified_index
        if parent_index is not None and owner is not None:
            attach.append((order[relid], parent_index, qualified_index))
        if owner is not None:
            owner_name = q.qualified(owner.schema, owner.name)
            if replica:
                result.replica_identity.append(f"ALTER TABLE ONLY {owner_name} REPLICA IDENTITY USING INDEX "
                                               f"{q(index_name)};\n")
            if clustered:
                result.replica_identity.append(f"ALTER TABLE {owner_name} CLUSTER ON {q(index_name)};\n")
        if constraint_index:
            # Created by its constraint, but named by a comment of its own (COMMENT ON INDEX).
            result.objects.append(SchemaObject(("pg_class", index_oid), "index", "INDEX", qualified_index))
            continue
        statement = definition + ";\n"
        if cascades:
            # An index on a partitioned table with a foreign partition (which has no index) would stay
            # invalid when made with ONLY and attached: it is made for all partitions at once, adopting
            # the partitions' indexes created before it.
            statement = definition.replace(" ON ONLY ", " ON ", 1) + ";\n"
            cascaded.add(index_oid)
        for setting in statistics:
            number, target = setting.split(" ")
            statement += f"ALTER INDEX {qualified_index} ALTER COLUMN {number} SET STATISTICS {target};\n"
        statement = in_tablespace(tablespace, statement)
        if owner is not None:
            result.objects.append(SchemaObject(("pg_class", index_oid), "index", "INDEX", qualified_index))
            result.parts[("pg_class", index_oid)] = ("index", index_oid)
            index_rows.append((order[relid], ("index", index_oid), statement))
        else:
            # Indexes on materialized views are created right after the view.
            if clustered:
                statement += f"ALTER MATERIALIZED VIEW {relation} CLUSTER ON {q(index_name)};\n"
            result.view_indexes.setdefault(relid, []).append(
                SchemaObject(("pg_class", index_oid), "index", "INDEX", qualified_index, statement))
    result.keys = [(node, statement) for _, node, statement in sorted(keys + index_rows, key=lambda item: item[0])]
    result.attach = [f"ALTER INDEX {names[parent]} ATTACH PARTITION {child};\n"
                     for _, parent, child in sorted(attach, key=lambda item: item[0])
                     if parent in names and parent not in cascaded]
    foreign.sort(key=lambda item: item[0])
    result.foreign = [statement for _, statement, _ in foreign]
    result.foreign_tables = [pair for _, _, pair in foreign]
    return result
