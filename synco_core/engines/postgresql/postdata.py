"""Objects created after the data: rules, triggers, policies, statistics objects, publications and event
triggers.

Each reader takes ``relations``, the qualified names of the tables, views and foreign tables the dump
creates by OID, and leaves out what belongs to any other relation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import USER_SCHEMA, Quoter, fetch, literal, not_extension_member
from synco_core.engines.postgresql.objects import SchemaObject, if_roles_exist

_ENABLED = {"D": "DISABLE {}", "R": "ENABLE REPLICA {}", "A": "ENABLE ALWAYS {}"}


def _on_relations(q: Quoter, relations: Mapping[int, str], rows: list[tuple[Any, ...]], catalog: str,
                  keyword: str) -> list[SchemaObject]:
    """Rules or triggers: ``(oid, relation, name, definition, enabled state)`` rows of the dumped relations."""
    objects = []
    for oid, relid, name, definition, enabled in rows:
        table = relations.get(relid)
        if table is None:
            continue
        create = definition.strip().rstrip(";") + ";\n"
        if enabled in _ENABLED:
            create += f"ALTER TABLE {table} {_ENABLED[enabled].format(keyword + ' ' + q(name))};\n"
        objects.append(SchemaObject((catalog, oid), keyword.lower(), keyword, f"{q(name)} ON {table}", create))
    return objects


def read_rules(conn: psycopg.Connection[Any], q: Quoter, relations: Mapping[int, str]) -> list[SchemaObject]:
    """Rules other than views' own (``_RETURN``), INSTEAD and ALSO, with their enabled state."""
    return _on_relations(q, relations, fetch(conn, """
        SELECT r.oid, r.ev_class, r.rulename, pg_catalog.pg_get_ruledef(r.oid), r.ev_enabled
        FROM pg_catalog.pg_rewrite r WHERE r.rulename <> '_RETURN' ORDER BY r.ev_class, r.rulename"""),
                         "pg_rewrite", "RULE")


def read_triggers(conn: psycopg.Connection[Any], q: Quoter, relations: Mapping[int, str]) -> list[SchemaObject]:
    """Triggers (partitions' clones of their parent's come with it), with their enabled state, and the
    state of each clone that has one of its own."""
    objects = _on_relations(q, relations, fetch(conn, """
        SELECT t.oid, t.tgrelid, t.tgname, pg_catalog.pg_get_triggerdef(t.oid, false), t.tgenabled
        FROM pg_catalog.pg_trigger t WHERE NOT t.tgisinternal AND t.tgparentid = 0 ORDER BY t.tgname"""),
                           "pg_trigger", "TRIGGER")
    by_oid = {obj.key[1]: obj for obj in objects}
    triggers = {oid: (parent, relid, name, enabled) for oid, parent, relid, name, enabled in fetch(conn, """
        SELECT t.oid, t.tgparentid, t.tgrelid, t.tgname, t.tgenabled FROM pg_catalog.pg_trigger t
        WHERE NOT t.tgisinternal""")}

    def lineage(oid: int) -> list[int]:
        chain = [oid]
        while triggers[chain[-1]][0] in triggers:
            chain.append(triggers[chain[-1]][0])
        return chain

    # Whether ALTER TABLE on a partitioned table passes the state on to the partitions' clones depends on
    # the server's minor version: every clone that differs from its parent, or is not plainly enabled,
    # is set on its own (ONLY), shallowest first, after its root trigger.
    clones = sorted((len(lineage(oid)), oid) for oid, (parent, *_) in triggers.items() if parent != 0)
    for _, oid in clones:
        parent, relid, name, enabled = triggers[oid]
        root = by_oid.get(lineage(oid)[-1])
        table = relations.get(relid)
        if root is None or table is None or (enabled == "O" and triggers[parent][3] == "O"):
            continue
        state = _ENABLED.get(enabled, "ENABLE {}").format(f"TRIGGER {q(name)}")
        root.create += f"ALTER TABLE ONLY {table} {state};\n"
    return objects


def read_trigger_clones(conn: psycopg.Connection[Any], q: Quoter,
                        relations: Mapping[int, str]) -> list[SchemaObject]:
    """Partitions' clones of their parents' triggers, which the parents' statements create: for their
    comments only."""
    return [SchemaObject(("pg_trigger", oid), "trigger", "TRIGGER", f"{q(name)} ON {relations[relid]}")
            for oid, relid, name in fetch(conn, """
                SELECT t.oid, t.tgrelid, t.tgname FROM pg_catalog.pg_trigger t
                WHERE NOT t.tgisinternal AND t.tgparentid <> 0 ORDER BY t.oid""")
            if relid in relations]


def read_policies(conn: psycopg.Connection[Any], q: Quoter, relations: Mapping[int, str], *,
                  owners: bool) -> list[SchemaObject]:
    """Row security policies (whether a table enforces them is part of the table).

    A policy names roles. Without the owners (``owners``) the roles of the source are not expected where
    the dump loads: a policy naming any but ``PUBLIC`` is created only where they all exist.
    """
    objects = []
    commands = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}
    for oid, relid, policy, permissive, command, roles, using, check in fetch(conn, """
            SELECT p.oid, p.polrelid, p.polname, p.polpermissive, p.polcmd,
                   ARRAY(SELECT pg_catalog.pg_get_userbyid(r) FROM unnest(p.polroles) r WHERE r <> 0),
                   pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)
            FROM pg_catalog.pg_policy p ORDER BY p.polname"""):
        table = relations.get(relid)
        if table is None:
            continue
        grantees = [q(role) for role in roles] or ["PUBLIC"]
        statement = (f"CREATE POLICY {q(policy)} ON {table} AS {'PERMISSIVE' if permissive else 'RESTRICTIVE'} "
                     f"FOR {commands[command]} TO {', '.join(grantees)}")
        if using is not None:
            statement += f" USING ({using})"
        if check is not None:
            statement += f" WITH CHECK ({check})"
        create = statement + ";\n"
        if roles and not owners:
            create = if_roles_exist(create, list(roles), f"policy {q(policy)} on {table}")
        objects.append(SchemaObject(("pg_policy", oid), "policy", "POLICY", f"{q(policy)} ON {table}", create))
    return objects


def read_statistics(conn: psycopg.Connection[Any], q: Quoter, relations: Mapping[int, str]) -> list[SchemaObject]:
    """Extended statistics objects (``CREATE STATISTICS``) and their statistics targets."""
    objects = []
    for oid, relid, schema, name, definition, target, owner in fetch(conn, f"""
            SELECT s.oid, s.stxrelid, n.nspname, s.stxname, pg_catalog.pg_get_statisticsobjdef(s.oid),
                   s.stxstattarget, pg_catalog.pg_get_userbyid(s.stxowner)
            FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
            WHERE {USER_SCHEMA.format('n')} ORDER BY s.oid"""):
        if relid not in relations:
            continue
        qualified = q.qualified(schema, name)
        create = definition + ";\n"
        if target is not None and target >= 0:
            create += f"ALTER STATISTICS {qualified} SET STATISTICS {target};\n"
        objects.append(SchemaObject(("pg_statistic_ext", oid), "statistics", "STATISTICS", qualified, create,
                                    owner))
    return objects


def read_publications(conn: psycopg.Connection[Any], q: Quoter, relations: Mapping[int, str],
                      skipped: set[tuple[str, int]]) -> list[SchemaObject]:
    """Publications with their tables (column lists and row filters included) and schemas.

    Each table is added with ``ONLY``, as the catalog lists every table a publication has, partitions and
    children included. ``skipped`` holds catalog keys of publication entries to leave out.
    """
    objects = []
    for oid, name, owner, all_tables, row in fetch(conn, """
            SELECT p.oid, p.pubname, pg_catalog.pg_get_userbyid(p.pubowner), p.puballtables, pg_catalog.to_jsonb(p)
            FROM pg_catalog.pg_publication p ORDER BY p.oid"""):
        actions = [action for action, flag in (("insert", "pubinsert"), ("update", "pubupdate"),
                                               ("delete", "pubdelete"), ("truncate", "pubtruncate"))
                   if row.get(flag)]
        options = f"publish = {literal(', '.join(actions))}"
        if row.get("pubviaroot"):
            options += ", publish_via_partition_root = true"
        create = f"CREATE PUBLICATION {q(name)}{' FOR ALL TABLES' if all_tables else ''} WITH ({options});\n"
        for entry, relid, columns, qualification in fetch(conn, """
                SELECT r.oid, r.prrelid,
                       (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
                        FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = r.prrelid AND a.attnum = ANY(r.prattrs::pg_catalog.int2[])),
                       pg_catalog.pg_get_expr(r.prqual, r.prrelid)
                FROM pg_catalog.pg_publication_rel r WHERE r.prpubid = %s ORDER BY r.prrelid""", (oid,)):
            table = relations.get(relid)
            if table is None or ("pg_publication_rel", entry) in skipped:
                continue
            create += f"ALTER PUBLICATION {q(name)} ADD TABLE ONLY {table}"
            create += (f" ({columns})" if columns else "") + (f" WHERE ({qualification})" if qualification else "")
            create += ";\n"
        for entry, schema in fetch(conn, """
                SELECT s.oid, n.nspname FROM pg_catalog.pg_publication_namespace s
                JOIN pg_catalog.pg_namespace n ON n.oid = s.pnnspid WHERE s.pnpubid = %s ORDER BY n.nspname""",
                                   (oid,)):
            if ("pg_publication_namespace", entry) not in skipped:
                create += f"ALTER PUBLICATION {q(name)} ADD TABLES IN SCHEMA {q(schema)};\n"
        objects.append(SchemaObject(("pg_publication", oid), "publication", "PUBLICATION", q(name), create, owner))
    return objects


def read_event_triggers(conn: psycopg.Connection[Any], q: Quoter) -> list[SchemaObject]:
    objects = []
    for oid, name, event, function, tags, enabled, owner in fetch(conn, f"""
            SELECT e.oid, e.evtname, e.evtevent, e.evtfoid::pg_catalog.regproc::text, e.evttags, e.evtenabled,
                   pg_catalog.pg_get_userbyid(e.evtowner)
            FROM pg_catalog.pg_event_trigger e WHERE {not_extension_member('pg_event_trigger', 'e.oid')}
            ORDER BY e.evtname"""):
        create = f"CREATE EVENT TRIGGER {q(name)} ON {q(event)}"
        if tags:
            create += f"\n    WHEN TAG IN ({', '.join(map(literal, tags))})"
        create += f"\n    EXECUTE FUNCTION {function}();\n"
        if enabled in _ENABLED:
            create += f"ALTER EVENT TRIGGER {q(name)} {_ENABLED[enabled].format('').strip()};\n"
        objects.append(SchemaObject(("pg_event_trigger", oid), "event trigger", "EVENT TRIGGER", q(name), create,
                                    owner))
    return objects
