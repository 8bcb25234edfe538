"""Whether the rows a sanitised dump copies still meet the table's constraints where the copy is loaded.

A rule rewrites values on the source, but the table's constraints are only met when the copy is loaded: a
value its column's type refuses (a number out of range, a domain's CHECK), a row breaking a CHECK constraint,
NULL in a NOT NULL column, or two rows with one key of a unique index (over columns, expressions such as
``lower(email)``, or a partial one) made a dump that every load refused, after the download. These checks run
while the dump is planned, on the rows the dump copies (after ``where`` and ``keep_newest``) as the copy
holds them, and stop in one line naming the rule and the constraint (:mod:`synco_core.sanitizenulls`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import Quoter, Table, fetch, server_version_num
from synco_core.engines.postgresql.quotedvalues import error_without_value
from synco_core.errors import ConfigError
from synco_core.sanitizenulls import (
    always_null,
    breaks_check,
    may_collide,
    may_give_null,
    null_into_not_null,
    orphan_rows,
    refused_by_type,
    same_key_twice,
)
from synco_core.values import SanitizeRule

#: Runs one query of a check on the source (with the table's search path, its locks let go) and returns its rows.
Probe = Callable[[str], list[tuple[Any, ...]]]


def length_limit(column_type: str) -> int | None:
    """The length a type cuts a longer value to (``character varying(20)``, ``character(2)``, ``bit
    varying(8)``), None for a type that cuts nothing: an ``email`` or ``hash`` cut to it may give two rows one
    value."""
    name, _, rest = column_type.partition("(")
    if name not in ("character varying", "character", "bit varying", "bit") or not rest.endswith(")"):
        return None
    return int(rest[:-1]) if rest[:-1].isdigit() else None


def _key_columns(conn: psycopg.Connection[Any], table: Table) -> int:
    """How many columns the table's primary key has (an ``email`` address is made of them)."""
    rows = fetch(conn, "SELECT i.indnkeyatts FROM pg_catalog.pg_index i WHERE i.indrelid = %s AND i.indisprimary",
                 (table.oid,))
    return int(rows[0][0]) if rows else 0


def with_generated(conn: psycopg.Connection[Any], q: Quoter, table: Table, rows: str) -> str:
    """``rows`` (a parenthesised SELECT of the copied rows) with ``table``'s stored generated columns added,
    computed from the copied values as the load computes them (a unique key or CHECK over ``lower(email)``
    stored in a column), aliased as the table."""
    alias = q(table.name)
    generated = [f"({expression}) AS {q(name)}" for name, expression in fetch(conn, """
        SELECT a.attname, pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = %s AND a.attgenerated = 's' AND NOT a.attisdropped ORDER BY a.attnum""", (table.oid,))]
    if not generated:
        return f"{rows} AS {alias}"
    return f"(SELECT {alias}.*, {', '.join(generated)} FROM {rows} AS {alias}) AS {alias}"


def check_rows(probe: Probe, conn: psycopg.Connection[Any], q: Quoter, table: Table, source: str,
               sanitised: dict[str, tuple[SanitizeRule, str]]) -> None:
    """Stop when a rule's values cannot be loaded into ``table``: ``source`` is the subquery of the rows the
    dump copies (``(SELECT ... ) AS name``, the rewritten columns under their own names); ``sanitised`` maps a
    column to its rule and the expression of its value."""
    types = {c.name: c for c in table.columns}
    # Generated columns are computed from the rewritten values (``source`` holds them, :func:`with_generated`).
    generated = {c.name for c in table.columns if c.generated}
    for column, (rule, _) in sanitised.items():
        if types[column].not_null and always_null(rule):
            raise null_into_not_null(rule)
    nulls = [column for column, (rule, _) in sanitised.items() if types[column].not_null and may_give_null(rule)]
    checks = [(name, expression, [c for c in used if c in sanitised])
              for name, expression, used in fetch(conn, """
                SELECT c.conname, pg_catalog.pg_get_expr(c.conbin, c.conrelid),
                       ARRAY(SELECT a.attname FROM pg_catalog.pg_attribute a
                             WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey))
                FROM pg_catalog.pg_constraint c
                WHERE c.conrelid = %s AND c.contype = 'c' AND c.convalidated ORDER BY c.conname""", (table.oid,))
              if set(used) & ({*sanitised, *generated})]
    if not nulls and not checks and all(always_null(rule) for rule, _ in sanitised.values()):
        return  # NULL is a value of every type: there is nothing to read.
    items = [f"pg_catalog.bool_or({q(column)} IS NULL)" for column in nulls]
    items += [f"pg_catalog.bool_or(NOT ({expression}))" for _, expression, _ in checks]
    # The server computes only the values a query uses: counting each rewritten column makes it compute them
    # all, as the COPY will, so that a value the column's type refuses fails here.
    items += [f"pg_catalog.count({q(column)})" for column in sanitised if column not in nulls]
    try:
        found = probe(f"SELECT {', '.join(items)} FROM {source}")[0]
    except psycopg.Error as exc:
        if not isinstance(exc, (psycopg.DataError, psycopg.IntegrityError)):
            raise
        raise _refused_value(probe, q, source, sanitised, exc) from None
    for column, hit in zip(nulls, found[:len(nulls)], strict=False):
        if hit:
            raise null_into_not_null(sanitised[column][0])
    for (name, expression, columns), hit in zip(checks, found[len(nulls):], strict=False):
        if hit:
            raise breaks_check(sanitised[(columns or list(sanitised))[0]][0], table.display, name, expression)


def _refused_value(probe: Probe, q: Quoter, source: str, sanitised: dict[str, tuple[SanitizeRule, str]],
                   exc: psycopg.Error) -> ConfigError:
    """The rule whose value the column's type refused, found by reading each rewritten column alone (the
    server leaves the source's other columns unread)."""
    reason = error_without_value(exc, (exc.diag.message_primary or str(exc)).strip())
    for column, (rule, _) in sanitised.items():
        try:
            probe(f"SELECT pg_catalog.count({q(column)}) FROM {source}")
        except (psycopg.DataError, psycopg.IntegrityError) as each:
            return refused_by_type(rule, error_without_value(each, (each.diag.message_primary or str(each)).strip()))
    return refused_by_type(next(iter(sanitised.values()))[0], reason)


def refuse_collisions(probe: Probe, conn: psycopg.Connection[Any], table: Table, source: str,
                      sanitised: dict[str, tuple[SanitizeRule, str]]) -> None:
    """Stop on a rule giving two copied rows one key of a unique index of ``table``: over columns or
    expressions, partial or not, as the copy would hold the values."""
    types = {c.name: c.type for c in table.columns}
    limits = {column: length_limit(types[column]) for column in sanitised}
    key_columns = _key_columns(conn, table) if any(limits.values()) else 0
    colliding = {column for column, (rule, _) in sanitised.items() if may_collide(rule, limits[column], key_columns)}
    if not colliding:
        return
    generated = {c.name for c in table.columns if c.generated}
    nulls = "i.indnullsnotdistinct" if server_version_num(conn) >= 150000 else "false"
    for index, keys, predicate, used, not_distinct in fetch(conn, f"""
            SELECT c.relname,
                   ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k, false)
                         FROM pg_catalog.generate_series(1, i.indnkeyatts) k),
                   pg_catalog.pg_get_expr(i.indpred, i.indrelid),
                   ARRAY(SELECT a.attname FROM pg_catalog.pg_depend d
                         JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = i.indexrelid
                           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjsubid > 0
                         UNION SELECT a.attname FROM pg_catalog.pg_attribute a
                         WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)),
                   {nulls}
            FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = %s AND i.indisunique AND i.indisvalid ORDER BY c.relname""", (table.oid,)):
        if not set(used) & colliding and not (set(used) & generated):
            continue  # A generated column computed from a rewritten one may take one value twice too.
        values = [f"({key})" for key in keys]
        where = [] if not_distinct else [f"{value} IS NOT NULL" for value in values]
        if predicate is not None:
            where.append(f"({predicate})")
        if probe(f"SELECT 1 FROM {source} WHERE {' AND '.join(where or ['true'])} "
                 f"GROUP BY {', '.join(values)} HAVING pg_catalog.count(*) > 1 LIMIT 1"):
            rule = sanitised[sorted(set(used) & colliding or colliding)[0]][0]
            raise same_key_twice(rule, table.display, [key.strip('"') for key in keys], index)


def refuse_orphans(probe: Callable[[int, str], list[tuple[Any, ...]]], conn: psycopg.Connection[Any], q: Quoter,
                   copied: dict[int, str | None], filtered: dict[int, str],
                   rewritten: dict[int, dict[str, SanitizeRule]], names: dict[int, str]) -> None:
    """Stop when the copy would hold a row whose foreign key points at a row it does not hold: the parent's
    rows left out or filtered (``where``, ``keep_newest``), or a rule rewriting the key on one side only.

    ``copied`` maps a table to the subquery of the rows the dump copies (None: no rows); ``filtered`` a table
    whose rows the dump leaves out or filters to what does it, in words; ``rewritten`` a table to its rules;
    ``probe(table, query)`` runs a query under the table's search path."""
    changed = list({*filtered, *rewritten})
    if not changed:
        return
    for constraint, child, parent, child_columns, parent_columns in fetch(conn, """
            SELECT c.conname, c.conrelid, c.confrelid,
                   ARRAY(SELECT a.attname FROM pg_catalog.unnest(c.conkey) WITH ORDINALITY k(n, i)
                         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
                   ARRAY(SELECT a.attname FROM pg_catalog.unnest(c.confkey) WITH ORDINALITY k(n, i)
                         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)
            FROM pg_catalog.pg_constraint c
            WHERE c.contype = 'f' AND c.convalidated AND (c.conrelid = ANY (%s) OR c.confrelid = ANY (%s))
            ORDER BY c.conname""", (changed, changed)):
        rules = [*(rule for column, rule in rewritten.get(parent, {}).items() if column in parent_columns),
                 *(rule for column, rule in rewritten.get(child, {}).items() if column in child_columns)]
        if parent not in filtered and not rules:
            continue
        if child not in copied or parent not in copied or copied[child] is None:
            continue  # A partitioned table's keys are checked through its partitions; a table without rows is fine.
        where = " AND ".join(f"c.{q(column)} IS NOT NULL" for column in child_columns)
        parent_rows = copied[parent]
        query = f"SELECT 1 FROM {copied[child]} AS c WHERE {where}"
        if parent_rows is not None:
            match = " AND ".join(f"p.{q(p)} = c.{q(c)}" for p, c in zip(parent_columns, child_columns, strict=True))
            query += f" AND NOT EXISTS (SELECT 1 FROM {parent_rows} AS p WHERE {match})"
        if probe(child, query + " LIMIT 1"):
            cause = filtered[parent] if parent in filtered else f"sanitize rule {rules[0].describe()}"
            raise orphan_rows(cause, names[child], child_columns, names[parent], constraint)
