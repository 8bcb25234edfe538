"""The schemas an object's expressions need in ``search_path`` while the dump loads, beyond what they name.

The dump loads under an empty ``search_path`` and every definition the server prints names its objects
with their schemas, but two things still resolve names through the path when the load evaluates them:

- operators no SQL construct can name qualified (``IS DISTINCT FROM``, ``NULLIF``): see
  :meth:`.schema.Schema._find_paths`;
- the bodies of functions written in SQL (not SQL-standard) or another procedural language, without a
  ``search_path`` setting of their own. ``CREATE EXTENSION`` ran an extension's script with its schema
  and the schemas of the extensions it requires in the path, and such bodies name their neighbours
  unqualified (``earthdistance``'s ``ll_to_earth`` reads ``cube(...)::earth``); an application's own
  function does the same under the application's path (the common ``immutable_unaccent(text)`` wrapper
  calls ``unaccent(...)``). Loaded under the empty path, an index, a check, a domain check, a generated
  column or a materialized view calling one fails (``type "earth" does not exist``), as ``pg_dump``'s
  output does.

A call through a function with a SQL-standard body counts too: the server records what such a body calls
in ``pg_depend``. A call through any other body is invisible to the catalog.
"""

from __future__ import annotations

from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import INNER_TYPES, fetch, server_version_num


def function_body_schemas(conn: psycopg.Connection[Any], session_path: list[str]) -> list[tuple[str, int, list[str]]]:
    """(catalog, object id, schemas) of every object calling a function whose body finds names through
    ``search_path``, with the schemas that body was written for.

    An extension's function: those its script ran under, the extension's own and then those of the
    extensions it requires. Any other function: the schemas of ``session_path`` (the source database's
    own path, as a session of the dumping role starts with it, which is the path the application's
    sessions most likely had when they built the index or stored the row) and the function's own schema.
    """
    # SQL-standard bodies (PostgreSQL 14+) bind their names when created; they need no path.
    atomic = "p.prosqlbody IS NULL" if server_version_num(conn) >= 140000 else "true"
    return [(str(catalog), int(oid), list(schemas)) for catalog, oid, schemas in fetch(conn, f"""
        WITH RECURSIVE extension_path(extension, nspname) AS (
            SELECT e.oid, n.nspname
            FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
            UNION ALL
            SELECT d.objid, n.nspname
            FROM pg_catalog.pg_depend d
            JOIN pg_catalog.pg_extension r ON r.oid = d.refobjid
            JOIN pg_catalog.pg_namespace n ON n.oid = r.extnamespace
            WHERE d.classid = 'pg_catalog.pg_extension'::regclass
              AND d.refclassid = 'pg_catalog.pg_extension'::regclass
        ), path_bound(oid, schemas) AS (
            SELECT p.oid, CASE WHEN m.refobjid IS NULL THEN %s::text[] || n.nspname::text
                               ELSE ARRAY(SELECT x.nspname::text FROM extension_path x
                                          WHERE x.extension = m.refobjid) END
            FROM pg_catalog.pg_proc p
            JOIN pg_catalog.pg_language l ON l.oid = p.prolang
            JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
            LEFT JOIN pg_catalog.pg_depend m ON m.classid = 'pg_catalog.pg_proc'::regclass AND m.objid = p.oid
                AND m.refclassid = 'pg_catalog.pg_extension'::regclass AND m.deptype = 'e'
            WHERE l.lanname NOT IN ('internal', 'c') AND {atomic}
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) setting
                              WHERE setting LIKE 'search\\_path=%%')
        ), callers(classid, objid, schemas) AS (
            SELECT d.classid, d.objid, b.schemas
            FROM pg_catalog.pg_depend d JOIN path_bound b ON d.refobjid = b.oid
            WHERE d.refclassid = 'pg_catalog.pg_proc'::regclass AND d.deptype IN ('n', 'a')
            UNION
            SELECT d.classid, d.objid, c.schemas
            FROM pg_catalog.pg_depend d JOIN callers c ON d.refobjid = c.objid
            WHERE c.classid = 'pg_catalog.pg_proc'::regclass AND d.refclassid = 'pg_catalog.pg_proc'::regclass
              AND d.deptype IN ('n', 'a')
        )
        SELECT c.relname, callers.objid, array_agg(DISTINCT schema) FILTER (WHERE schema <> 'pg_catalog')
        FROM callers
        JOIN pg_catalog.pg_class c ON c.oid = callers.classid
        CROSS JOIN LATERAL pg_catalog.unnest(callers.schemas) AS schema
        GROUP BY c.relname, callers.objid
        HAVING count(*) FILTER (WHERE schema <> 'pg_catalog') > 0""", (session_path,))]


def domains_checked_by_copy(conn: psycopg.Connection[Any]) -> dict[int, list[tuple[str, int]]]:
    """Per table: the catalog keys of the domains its rows pass through while ``COPY`` loads them (a
    column of the domain, an array of it, a composite or range type holding it, a domain over one) and of
    their constraints, which ``COPY`` checks."""
    rows = fetch(conn, """
        WITH RECURSIVE reached(relid, typid) AS (
            SELECT a.attrelid, a.atttypid
            FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            UNION
            SELECT r.relid, inner_type.typid
            FROM reached r
            JOIN pg_catalog.pg_type t ON t.oid = r.typid
            """ + INNER_TYPES + """
        )
        SELECT r.relid, 'pg_type', r.typid
        FROM reached r JOIN pg_catalog.pg_type t ON t.oid = r.typid WHERE t.typtype = 'd'
        UNION
        SELECT r.relid, 'pg_constraint', k.oid
        FROM reached r JOIN pg_catalog.pg_constraint k ON k.contypid = r.typid""")
    result: dict[int, list[tuple[str, int]]] = {}
    for relid, catalog, oid in rows:
        result.setdefault(int(relid), []).append((str(catalog), int(oid)))
    return result


def table_query_paths(conn: psycopg.Connection[Any], session_path: list[str]) -> dict[int, list[str]]:
    """Per table: the schemas the function bodies in its indexes' expressions and predicates need.

    The planner reads every index of a table it plans a query on, and inlines the SQL functions their
    expressions call, parsing each body under the session's path: once an ``ll_to_earth(...)`` index
    exists, any query on its table fails under the empty path (``type "earth" does not exist``), not only
    the ``CREATE INDEX``. Such queries are the dump's own (``COPY (SELECT ...)`` with a filter, the checks
    of its rules) and the load's after the indexes (a foreign key's validation, a materialized view's rows).
    """
    owners = {int(index): int(table) for index, table in fetch(conn, """
        SELECT i.indexrelid, i.indrelid FROM pg_catalog.pg_index i""")}
    paths: dict[int, set[str]] = {}
    for catalog, oid, schemas in function_body_schemas(conn, session_path):
        if catalog == "pg_class" and oid in owners:
            paths.setdefault(owners[oid], set()).update(schemas)
    return {table: sorted(schemas) for table, schemas in paths.items()}


def relations_read(conn: psycopg.Connection[Any]) -> dict[int, set[int]]:
    """Per view and materialized view: the tables its query reads, through the views it reads too."""
    direct: dict[int, set[int]] = {}
    for view, relation in fetch(conn, """
            SELECT DISTINCT r.ev_class, d.refobjid FROM pg_catalog.pg_rewrite r
            JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
                AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
            WHERE r.rulename = '_RETURN' AND d.refobjid <> r.ev_class"""):
        direct.setdefault(int(view), set()).add(int(relation))
    reached: dict[int, set[int]] = {}
    for view in direct:
        seen: set[int] = set()
        queue = list(direct[view])
        while queue:
            relation = queue.pop()
            if relation not in seen:
                seen.add(relation)
                queue.extend(direct.get(relation, ()))
        reached[view] = seen
    return reached


def read_under(conn: psycopg.Connection[Any], schemas: list[str] | None) -> None:
    """Set ``search_path`` for the rest of the current (sub)transaction to ``pg_catalog`` and ``schemas``, for
    the dump's queries on a table whose indexes need them (:func:`table_query_paths`); its catalogue reads
    keep the empty path, under which the server prints every name qualified."""
    if schemas:
        conn.execute("SELECT pg_catalog.set_config('search_path', %s, true)",
                     (", ".join(["pg_catalog", *('"' + s.replace('"', '""') + '"' for s in schemas)]),))
