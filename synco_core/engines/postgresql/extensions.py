"""Extensions: how they are created, the rows of their configuration tables, and privileges changed on
their members.

``CREATE EXTENSION`` recreates an extension's objects, so the dump leaves its members out, with two
exceptions that ``pg_dump`` also carries:

- configuration tables and sequences an extension marked with ``pg_extension_config_dump``: their rows
  (those the extension's condition selects, e.g. the ones a user added) and positions are data of the
  database, not of the extension; with them, the position of the extension's own sequence behind a
  configuration table's serial or identity column (PostGIS's ``topology.topology_id_seq``), which
  ``pg_dump`` leaves at its start, so the copy's next id would be one its rows hold already;
- privileges granted or revoked on members after the extension was created (``pg_init_privs`` holds what
  the extension itself set), with the owners (``--owners``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import Quoter, fetch, manifest_key
from synco_core.engines.postgresql.extversions import create_statement
from synco_core.engines.postgresql.objects import SchemaObject
from synco_core.engines.postgresql.ordering import Graph, order


def read_extensions(conn: psycopg.Connection[Any], q: Quoter) -> list[tuple[SchemaObject, str]]:
    """Extensions other than the built-in ones (plpgsql), each with the schema it lives in, an extension
    after those it requires (``requires`` in its control file), otherwise by name.

    ``create`` holds only ``CREATE EXTENSION``, at the source's version (:mod:`.extversions`): the caller
    creates the schema first when no other part of the dump does (an extension's own schema).
    """
    found = {oid: (SchemaObject(("pg_extension", oid), "extension", "EXTENSION", q(name),
                                create_statement(q(name), q(schema), version)), schema)
             # Built-in extensions (plpgsql) have OIDs below FirstNormalObjectId and exist in every database.
             for oid, name, schema, version in fetch(conn, """
                SELECT e.oid, e.extname, n.nspname, e.extversion FROM pg_catalog.pg_extension e
                JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                WHERE e.oid >= 16384 ORDER BY e.extname""")}
    graph = Graph()
    for oid, required in fetch(conn, """
            SELECT d.objid, d.refobjid FROM pg_catalog.pg_depend d
            WHERE d.classid = 'pg_catalog.pg_extension'::regclass
              AND d.refclassid = 'pg_catalog.pg_extension'::regclass"""):
        graph.needs.setdefault(("extension", oid), set()).add(("extension", required))
    return [found[oid] for _, oid in order([("extension", oid) for oid in found], graph)]


@dataclass
class ConfigRelation:
    """A configuration table or sequence of an extension."""

    oid: int
    schema: str
    name: str
    kind: str  # 'r' or 'S'
    #: The extension's row condition, as it gave it (``WHERE NOT builtin``, or "").
    condition: str
    #: Columns the rows are copied with (not the generated ones).
    columns: list[str]
    #: The configuration tables this one's foreign keys refer to (its rows must come after theirs).
    refers_to: set[int] = field(default_factory=set)

    @property
    def display(self) -> str:
        return manifest_key(self.schema, self.name)


def read_config_relations(conn: psycopg.Connection[Any]) -> list[ConfigRelation]:
    """The configuration tables and sequences (with the extension's sequences behind a configuration table's
    columns), each table after the configuration tables its foreign keys
    refer to (PostGIS topology's ``topology.layer`` refers to ``topology.topology``), otherwise by name.

    ``CREATE EXTENSION`` made those foreign keys, so the rows are checked as they are copied in, unlike a
    table of the dump's own, whose keys are added after all the data.
    """
    found: dict[int, ConfigRelation] = {}
    for oid, schema, name, kind, condition, columns in fetch(conn, """
            WITH config AS (
                SELECT x.relid, x.condition FROM pg_catalog.pg_extension e
                CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(e.extconfig), pg_catalog.unnest(e.extcondition))
                     AS x(relid, condition))
            SELECT c.oid, n.nspname, c.relname, c.relkind, COALESCE(x.condition, ''),
                   ARRAY(SELECT a.attname FROM pg_catalog.pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                         ORDER BY a.attnum)
            FROM (SELECT relid, condition FROM config
                  UNION
                  -- The extension's own sequence behind a configuration table's serial or identity column
                  -- (topology.topology_id_seq): without its position the copy hands out ids the rows it
                  -- got already hold. pg_dump leaves it at its start.
                  SELECT d.objid, '' FROM pg_catalog.pg_depend d JOIN config ON config.relid = d.refobjid
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
                    AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
                    AND d.objid NOT IN (SELECT relid FROM config)
                    AND EXISTS (SELECT FROM pg_catalog.pg_depend m
                                WHERE m.classid = 'pg_catalog.pg_class'::regclass AND m.objid = d.objid
                                  AND m.refclassid = 'pg_catalog.pg_extension'::regclass AND m.deptype = 'e')
                 ) AS x
            JOIN pg_catalog.pg_class c ON c.oid = x.relid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'S') ORDER BY n.nspname, c.relname"""):
        found[oid] = ConfigRelation(oid, schema, name, kind, condition, list(columns))
    graph = Graph()
    # A table referring to itself needs nothing of another; its rows are copied in the order they are read.
    for referring, referred in fetch(conn, """
            SELECT conrelid, confrelid FROM pg_catalog.pg_constraint
            WHERE contype = 'f' AND conrelid <> confrelid
              AND conrelid = ANY(%s::pg_catalog.oid[]) AND confrelid = ANY(%s::pg_catalog.oid[])""",
                                     (list(found), list(found))):
        graph.needs.setdefault(("config", referring), set()).add(("config", referred))
        found[int(referring)].refers_to.add(int(referred))
    return [found[oid] for _, oid in order([("config", oid) for oid in found], graph)]


def changed_member_privileges(conn: psycopg.Connection[Any]) -> list[tuple[str, str, list[str]]]:
    """Members of extensions whose privileges differ from what the extension set: (GRANT target, owner,
    ACL), for schemas, tables, sequences, functions and types."""
    rows = fetch(conn, """
        SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || c.oid::pg_catalog.regclass::text,
               pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text[], i.initprivs::text[]
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_depend d
             ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
        LEFT JOIN pg_catalog.pg_init_privs i ON i.classoid = 'pg_catalog.pg_class'::regclass AND i.objoid = c.oid
             AND i.objsubid = 0
        WHERE c.relacl IS DISTINCT FROM i.initprivs
        UNION ALL
        SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || p.oid::pg_catalog.regprocedure::text,
               pg_catalog.pg_get_userbyid(p.proowner), p.proacl::text[], i.initprivs::text[]
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_depend d
             ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
        LEFT JOIN pg_catalog.pg_init_privs i ON i.classoid = 'pg_catalog.pg_proc'::regclass AND i.objoid = p.oid
        WHERE p.proacl IS DISTINCT FROM i.initprivs
        UNION ALL
        SELECT 'TYPE ' || pg_catalog.format_type(t.oid, NULL), pg_catalog.pg_get_userbyid(t.typowner),
               t.typacl::text[], i.initprivs::text[]
        FROM pg_catalog.pg_type t JOIN pg_catalog.pg_depend d
             ON d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
        LEFT JOIN pg_catalog.pg_init_privs i ON i.classoid = 'pg_catalog.pg_type'::regclass AND i.objoid = t.oid
        WHERE t.typacl IS DISTINCT FROM i.initprivs
        UNION ALL
        SELECT 'SCHEMA ' || pg_catalog.quote_ident(n.nspname), pg_catalog.pg_get_userbyid(n.nspowner),
               n.nspacl::text[], i.initprivs::text[]
        FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_depend d
             ON d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e'
        LEFT JOIN pg_catalog.pg_init_privs i ON i.classoid = 'pg_catalog.pg_namespace'::regclass
             AND i.objoid = n.oid
        WHERE n.nspacl IS DISTINCT FROM i.initprivs
        ORDER BY 1""")
    # An ACL of NULL means the built-in defaults, which GRANT cannot restore; no statement has that effect
    # on a member that had privileges of its own, and none sets it there either.
    return [(target, owner, acl) for target, owner, acl, _ in rows if acl is not None]


def after_the_schema(conn: psycopg.Connection[Any], relations: list[ConfigRelation], naming_late: set[int]) -> set[int]:
    """The configuration tables whose rows are copied once the schema is complete (after the triggers,
    comments, owners and privileges; before the dump's own event triggers) rather than with the other rows:

    - ``naming_late``: those whose rows name objects created after the rows (:mod:`.regvalues`);
    - those of an extension with event triggers of its own. Such an extension watches DDL against what
      its configuration says: periods' ``rename_following`` takes a period foreign key whose triggers
      are missing for a renamed one and stops the load at the next ``ALTER TABLE`` (``pg_dump``'s script
      fails there too), and its ``health_checks`` refuses any ``GRANT`` while a history table still has
      its owner's default privileges. With its configuration empty while the schema is made, it finds
      nothing to check;
    - and the configuration tables whose foreign keys refer to one of those, directly or not
      (``CREATE EXTENSION`` made those keys, so their rows come after the rows they refer to).
    """
    result = set(naming_late) | {int(relid) for (relid,) in fetch(conn, """
        SELECT pg_catalog.unnest(e.extconfig) FROM pg_catalog.pg_extension e
        WHERE EXISTS (SELECT FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_event_trigger'::pg_catalog.regclass
                        AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                        AND d.refobjid = e.oid AND d.deptype = 'e')""")}
    changed = True
    while changed:
        changed = False
        for relation in relations:
            if relation.oid not in result and relation.refers_to & result:
                result.add(relation.oid)
                changed = True
    return result
