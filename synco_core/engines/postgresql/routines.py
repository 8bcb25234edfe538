"""Functions, procedures, aggregates, procedural languages and transforms of a database.

Functions and procedures are written with the server's own ``pg_get_functiondef``. Aggregates have no
such function: ``CREATE AGGREGATE`` is built from ``pg_aggregate`` (plain, moving-aggregate, ordered-set
and hypothetical-set forms, with combine, serialisation, final-modify and parallel settings), naming only
what differs from the defaults, as ``pg_dump`` does.

A procedural language of the database's own is written with its handler, inline and validator
functions. ``pg_dump`` writes a bare ``CREATE LANGUAGE`` when those functions are built-in ones, which
PostgreSQL 13 and later read as ``CREATE EXTENSION`` and refuse for a language no extension provides.
"""

from __future__ import annotations

from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import USER_SCHEMA, Quoter, fetch, literal, not_extension_member
from synco_core.engines.postgresql.objects import SchemaObject, definition_options


def read_functions(conn: psycopg.Connection[Any], q: Quoter) -> list[SchemaObject]:
    """Functions, window functions and procedures."""
    objects = []
    for oid, definition, schema, name, arguments, kind, owner, acl in fetch(conn, f"""
            SELECT p.oid, pg_catalog.pg_get_functiondef(p.oid), n.nspname, p.proname,
                   pg_catalog.pg_get_function_identity_arguments(p.oid), p.prokind,
                   pg_catalog.pg_get_userbyid(p.proowner), p.proacl::text[]
            FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
            WHERE {USER_SCHEMA.format('n')} AND p.prokind IN ('f', 'p', 'w')
              AND {not_extension_member('pg_proc', 'p.oid')}
              -- Range constructors belong to their type (an internal dependency) and come with it.
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep
                              WHERE dep.classid = 'pg_catalog.pg_proc'::regclass
                                AND dep.objid = p.oid AND dep.deptype = 'i')
            ORDER BY p.oid"""):
        keyword = "PROCEDURE" if kind == "p" else "FUNCTION"
        signature = f"{q.qualified(schema, name)}({arguments})"
        objects.append(SchemaObject(("pg_proc", oid), "proc", keyword, signature, definition.rstrip() + ";\n\n",
                                    owner, acl, f"{keyword} {signature}"))
    return objects


def _modify(code: str) -> str:
    return {"r": "READ_ONLY", "s": "SHAREABLE", "w": "READ_WRITE"}[code]


def read_aggregates(conn: psycopg.Connection[Any], q: Quoter) -> list[SchemaObject]:
    """Aggregates of every kind, as ``CREATE AGGREGATE`` statements."""
    objects = []
    for row in fetch(conn, f"""
            SELECT p.oid, n.nspname, p.proname, pg_catalog.pg_get_function_arguments(p.oid),
                   pg_catalog.pg_get_function_identity_arguments(p.oid), p.oid::pg_catalog.regprocedure::text,
                   pg_catalog.pg_get_userbyid(p.proowner), p.proacl::text[], p.proparallel, a.aggkind,
                   a.aggtransfn::pg_catalog.regproc::text, pg_catalog.format_type(a.aggtranstype, NULL),
                   a.aggtransspace, a.agginitval,
                   a.aggfinalfn::pg_catalog.regproc::text, a.aggfinalextra, a.aggfinalmodify,
                   a.aggcombinefn::pg_catalog.regproc::text, a.aggserialfn::pg_catalog.regproc::text,
                   a.aggdeserialfn::pg_catalog.regproc::text,
                   a.aggmtransfn::pg_catalog.regproc::text, a.aggminvtransfn::pg_catalog.regproc::text,
                   CASE WHEN a.aggmtranstype <> 0 THEN pg_catalog.format_type(a.aggmtranstype, NULL) END,
                   a.aggmtransspace, a.aggminitval,
                   a.aggmfinalfn::pg_catalog.regproc::text, a.aggmfinalextra, a.aggmfinalmodify,
                   CASE WHEN a.aggsortop <> 0 THEN
                     (SELECT 'OPERATOR(' || pg_catalog.quote_ident(son.nspname) || '.' || so.oprname || ')'
                      FROM pg_catalog.pg_operator so JOIN pg_catalog.pg_namespace son ON son.oid = so.oprnamespace
                      WHERE so.oid = a.aggsortop) END
            FROM pg_catalog.pg_proc p
            JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
            JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid
            WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_proc', 'p.oid')}
            ORDER BY p.oid"""):
        (oid, schema, name, arguments, identity, regprocedure, owner, acl, parallel, kind, transfn, transtype,
         transspace, initval, finalfn, finalextra, finalmodify, combinefn, serialfn, deserialfn, mtransfn,
         minvtransfn, mtranstype, mtransspace, minitval, mfinalfn, mfinalextra, mfinalmodify, sortop) = row
        # The final function's default access to the state: read-only for plain aggregates, read-write
        # for ordered-set and hypothetical-set ones.
        default_modify = "r" if kind == "n" else "w"
        has_final, has_moving_final = finalfn != "-", mfinalfn != "-"
        options = definition_options(
            ("SFUNC", transfn), ("STYPE", transtype), ("SSPACE", transspace),
            ("INITCOND", literal(initval) if initval is not None else None), ("FINALFUNC", finalfn),
            ("FINALFUNC_EXTRA", has_final and finalextra),
            ("FINALFUNC_MODIFY", _modify(finalmodify) if has_final and finalmodify != default_modify else None),
            ("COMBINEFUNC", combinefn), ("SERIALFUNC", serialfn), ("DESERIALFUNC", deserialfn),
            ("MSFUNC", mtransfn), ("MINVFUNC", minvtransfn), ("MSTYPE", mtranstype),
            ("MSSPACE", mtransspace if mtranstype else None),
            ("MINITCOND", literal(minitval) if mtranstype and minitval is not None else None),
            ("MFINALFUNC", mfinalfn), ("MFINALFUNC_EXTRA", has_moving_final and mfinalextra),
            ("MFINALFUNC_MODIFY",
             _modify(mfinalmodify) if has_moving_final and mfinalmodify != default_modify else None),
            ("SORTOP", sortop), ("PARALLEL", {"s": "SAFE", "r": "RESTRICTED"}.get(parallel)),
            ("HYPOTHETICAL", kind == "h"))
        qualified = q.qualified(schema, name)
        create = f"CREATE AGGREGATE {qualified}({arguments}) {options};\n\n"
        # GRANT names an aggregate like a function, with its arguments in one list (no ORDER BY); with an
        # empty search path regprocedure prints it schema-qualified.
        objects.append(SchemaObject(("pg_proc", oid), "proc", "AGGREGATE", f"{qualified}({identity})", create,
                                    owner, acl, f"FUNCTION {regprocedure}"))
    return objects


def read_languages(conn: psycopg.Connection[Any], q: Quoter) -> list[SchemaObject]:
    """Procedural languages of the database's own (not those an extension creates)."""
    objects = []
    for oid, name, trusted, handler, inline, validator, owner, acl in fetch(conn, f"""
            SELECT l.oid, l.lanname, l.lanpltrusted, l.lanplcallfoid::pg_catalog.regproc::text,
                   CASE WHEN l.laninline <> 0 THEN l.laninline::pg_catalog.regproc::text END,
                   CASE WHEN l.lanvalidator <> 0 THEN l.lanvalidator::pg_catalog.regproc::text END,
                   pg_catalog.pg_get_userbyid(l.lanowner), l.lanacl::text[]
            FROM pg_catalog.pg_language l
            WHERE l.lanispl AND l.oid >= 16384 AND {not_extension_member('pg_language', 'l.oid')}
            ORDER BY l.oid"""):
        create = f"CREATE {'TRUSTED ' if trusted else ''}LANGUAGE {q(name)} HANDLER {handler}"
        if inline:
            create += f" INLINE {inline}"
        if validator:
            create += f" VALIDATOR {validator}"
        objects.append(SchemaObject(("pg_language", oid), "language", "LANGUAGE", q(name), create + ";\n",
                                    owner, acl, f"LANGUAGE {q(name)}"))
    return objects


def read_transforms(conn: psycopg.Connection[Any], q: Quoter) -> list[SchemaObject]:
    """Transforms (``CREATE TRANSFORM FOR type LANGUAGE lang``)."""
    objects = []
    for oid, type_name, language, from_sql, to_sql in fetch(conn, f"""
            SELECT t.oid, pg_catalog.format_type(t.trftype, NULL), l.lanname,
                   CASE WHEN t.trffromsql <> 0 THEN t.trffromsql::pg_catalog.regprocedure::text END,
                   CASE WHEN t.trftosql <> 0 THEN t.trftosql::pg_catalog.regprocedure::text END
            FROM pg_catalog.pg_transform t JOIN pg_catalog.pg_language l ON l.oid = t.trflang
            WHERE t.oid >= 16384 AND {not_extension_member('pg_transform', 't.oid')}
            ORDER BY t.oid"""):
        functions = []
        if from_sql:
            functions.append(f"FROM SQL WITH FUNCTION {from_sql}")
        if to_sql:
            functions.append(f"TO SQL WITH FUNCTION {to_sql}")
        name = f"FOR {type_name} LANGUAGE {q(language)}"
        objects.append(SchemaObject(("pg_transform", oid), "transform", "TRANSFORM", name,
                                    f"CREATE TRANSFORM {name} ({', '.join(functions)});\n"))
    return objects
