"""Types, domains and their constraints, collations, casts and encoding conversions of a database.

Every reader returns :class:`~.objects.SchemaObject` entries built from the catalogs, in the session the
dumper set up (empty ``search_path``, so ``format_type`` and the ``reg*`` casts print every user name
schema-qualified).

Types: enums, ranges (with their subtype operator class, collation, canonical and difference functions
and multirange name), composite types (with their attributes' collations), domains, base types (with
their input/output and other support functions) and shell types never defined. Array, row and multirange
types come with the object that makes them.

A domain constraint is written inside ``CREATE DOMAIN`` unless it names another object of the dump (a
function or operator whose own signature may use the domain): then it is its own step, ``ALTER DOMAIN ...
ADD CONSTRAINT``, once that object exists. A ``NOT VALID`` constraint is added after the data, still
``NOT VALID``: rows loaded after it would be checked against it, and ``CREATE DOMAIN`` has no way to
say it. One that calls a function whose body may read tables (SQL, PL/pgSQL ...) is added ``NOT VALID``
in its place and validated after the data: validating plans the expression, which inlines a SQL body and
fails while a table it reads does not exist yet; ``COPY`` still checks every row against it (the tables
whose rows pass through it are loaded after the others). A domain that a column reaches through an array,
composite or range cannot be validated (the server refuses any ``ALTER DOMAIN`` check on it then): its
constraint is added validated in its place, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import (
    INNER_TYPES,
    USER_SCHEMA,
    Quoter,
    fetch,
    literal,
    not_extension_member,
)
from synco_core.engines.postgresql.objects import SchemaObject, definition_options


@dataclass
class DomainCheck:
    """A domain constraint created on its own (``ALTER DOMAIN ... ADD CONSTRAINT``)."""

    oid: int
    domain: str
    name: str
    definition: str
    #: NOT VALID: added after the data.
    after_data: bool
    #: Added ``NOT VALID`` and validated after the data (see the module's description).
    validated_after_data: bool = False
    #: Calls a function whose body may read tables: the rows that pass through it are loaded last.
    reads: bool = False

    def statement(self, quote: Quoter) -> str:
        not_valid = " NOT VALID" if self.validated_after_data else ""
        return f"ALTER DOMAIN {self.domain} ADD CONSTRAINT {quote(self.name)} {self.definition}{not_valid};\n"

    def validation(self, quote: Quoter) -> str:
        return f"ALTER DOMAIN {self.domain} VALIDATE CONSTRAINT {quote(self.name)};\n"


@dataclass
class Types:
    """The types of the database and the domain constraints that are separate steps."""

    objects: list[SchemaObject]
    #: By type OID: the ``typrelid`` of composite types (their attributes are recorded on that relation).
    relids: dict[int, int]
    #: Domain constraints created on their own, by constraint OID.
    checks: dict[int, DomainCheck]
    #: Domain constraints written inside ``CREATE DOMAIN``, by constraint OID: their domain's OID and name.
    inline_checks: dict[int, tuple[int, str]]
    #: Base and range types, whose support functions may need a shell type first.
    shell_candidates: list[int]


_ALIGNMENT = {"c": "char", "s": "int2", "i": "int4", "d": "double"}
_STORAGE = {"p": "plain", "e": "external", "m": "main", "x": "extended"}


def read_types(conn: psycopg.Connection[Any], q: Quoter) -> Types:
    rows = fetch(conn, f"""
        SELECT t.oid, n.nspname, t.typname, t.typtype, pg_catalog.pg_get_userbyid(t.typowner), t.typacl::text[],
               pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull,
               COALESCE(pg_catalog.pg_get_expr(t.typdefaultbin, 0), t.typdefault),
               CASE WHEN t.typtype = 'd' AND t.typcollation <> bt.typcollation THEN
                 (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                  FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                  WHERE co.oid = t.typcollation) END,
               t.typrelid, t.typisdefined
        FROM pg_catalog.pg_type t
        JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
        LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
        WHERE {USER_SCHEMA.format('n')} AND (t.typtype IN ('e', 'r', 'c', 'd', 'b') OR
                                              (t.typtype = 'p' AND NOT t.typisdefined))
          AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
          -- Array and multirange types belong to the type they are made for.
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::regclass
                          AND d.objid = t.oid AND d.deptype = 'i')
          AND {not_extension_member('pg_type', 't.oid')}
        ORDER BY t.oid""")
    domains = [row[0] for row in rows if row[3] == "d"]
    constraints: dict[int, list[tuple[int, str, str, bool, bool, bool]]] = {}
    for typid, oid, conname, definition, validated, foreign, reads in fetch(conn, """
            SELECT c.contypid, c.oid, c.conname, pg_catalog.pg_get_constraintdef(c.oid), c.convalidated,
                   -- Whether the constraint names an object of its own schema's (a function, an operator),
                   -- rather than only its domain and built-in objects.
                   EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                           WHERE d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid
                             AND d.refobjid >= 16384 AND d.refobjid <> c.contypid
                             AND d.refclassid <> 'pg_catalog.pg_namespace'::regclass),
                   -- Whether it calls a function with a body that may read tables (SQL, PL/pgSQL ...).
                   EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                           JOIN pg_catalog.pg_proc p ON p.oid = d.refobjid
                           JOIN pg_catalog.pg_language l ON l.oid = p.prolang
                           WHERE d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid
                             AND d.refclassid = 'pg_catalog.pg_proc'::regclass AND p.oid >= 16384
                             AND l.lanname NOT IN ('internal', 'c'))
            FROM pg_catalog.pg_constraint c WHERE c.contypid = ANY(%s) ORDER BY c.conname""", (domains,)):
        constraints.setdefault(typid, []).append((oid, conname, definition, validated, foreign, reads))
    contained = _domains_in_containers(conn)

    result = Types([], {}, {}, {}, [])
    for oid, schema, name, kind, owner, acl, base, not_null, default, collation, relid, _ in rows:
        qualified = q.qualified(schema, name)
        keyword = "DOMAIN" if kind == "d" else "TYPE"
        if kind == "e":
            labels = [row[0] for row in fetch(conn, "SELECT enumlabel FROM pg_catalog.pg_enum "
                                                    "WHERE enumtypid = %s ORDER BY enumsortorder", (oid,))]
            create = f"CREATE TYPE {qualified} AS ENUM (\n    " + ",\n    ".join(map(literal, labels)) + "\n);\n"
        elif kind == "r":
            create = _range(conn, oid, qualified)
            result.shell_candidates.append(oid)
        elif kind == "c":
            create = _composite(conn, q, relid, qualified)
            result.relids[oid] = relid
        elif kind == "b":
            create = _base(conn, oid, qualified)
            result.shell_candidates.append(oid)
        elif kind == "p":
            create = f"CREATE TYPE {qualified};\n"
        else:
            parts = [f"CREATE DOMAIN {qualified} AS {base}"]
            if collation:
                parts.append(f"COLLATE {collation}")
            if default is not None:
                parts.append(f"DEFAULT {default}")
            if not_null:
                parts.append("NOT NULL")
            for con_oid, conname, definition, validated, foreign, reads in constraints.get(oid, []):
                if validated and not foreign:
                    parts.append(f"CONSTRAINT {q(conname)} {definition}")
                    result.inline_checks[con_oid] = (oid, conname)
                else:
                    result.checks[con_oid] = DomainCheck(con_oid, qualified, conname, definition, not validated,
                                                         validated and reads and oid not in contained, reads)
            create = "\n    ".join(parts) + ";\n"
        result.objects.append(SchemaObject(("pg_type", oid), "type", keyword, qualified, create, owner, acl,
                                           f"{keyword} {qualified}"))
    return result


def _domains_in_containers(conn: psycopg.Connection[Any]) -> set[int]:
    """The domains a column of a table, view or type reaches through an array, composite, range or
    multirange (directly or through domains over them)."""
    return {int(row[0]) for row in fetch(conn, """
        WITH RECURSIVE reached(typid, contained) AS (
            SELECT a.atttypid, false FROM pg_catalog.pg_attribute a
            WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid >= 16384
            UNION
            SELECT inner_type.typid, r.contained OR t.typtype <> 'd'
            FROM reached r
            JOIN pg_catalog.pg_type t ON t.oid = r.typid
            """ + INNER_TYPES + """
        )
        SELECT r.typid FROM reached r JOIN pg_catalog.pg_type t ON t.oid = r.typid
        WHERE r.contained AND t.typtype = 'd'""")}


def _range(conn: psycopg.Connection[Any], oid: int, qualified: str) -> str:
    subtype, opclass, collation, canonical, subdiff, multirange = fetch(conn, """
        SELECT pg_catalog.format_type(r.rngsubtype, NULL),
               -- Only what differs from the subtype's defaults is named, as CREATE TYPE would choose them.
               CASE WHEN NOT oc.opcdefault THEN
                 pg_catalog.quote_ident(ocn.nspname) || '.' || pg_catalog.quote_ident(oc.opcname) END,
               CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation THEN
                 (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                  FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                  WHERE co.oid = r.rngcollation) END,
               CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::pg_catalog.regproc::text END,
               CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::pg_catalog.regproc::text END,
               pg_catalog.format_type(r.rngmultitypid, NULL)
        FROM pg_catalog.pg_range r
        JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype
        JOIN pg_catalog.pg_opclass oc ON oc.oid = r.rngsubopc
        JOIN pg_catalog.pg_namespace ocn ON ocn.oid = oc.opcnamespace
        WHERE r.rngtypid = %s""", (oid,))[0]
    options = definition_options(("SUBTYPE", subtype), ("MULTIRANGE_TYPE_NAME", multirange),
                                 ("SUBTYPE_OPCLASS", opclass), ("COLLATION", collation), ("CANONICAL", canonical),
                                 ("SUBTYPE_DIFF", subdiff))
    return f"CREATE TYPE {qualified} AS RANGE {options};\n"


def _composite(conn: psycopg.Connection[Any], q: Quoter, relid: int, qualified: str) -> str:
    attributes = fetch(conn, """
        SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
               CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN
                 (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                  FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                  WHERE co.oid = a.attcollation) END
        FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", (relid,))
    body = ",\n    ".join(f"{q(att)} {typ}" + (f" COLLATE {coll}" if coll else "") for att, typ, coll in attributes)
    return f"CREATE TYPE {qualified} AS (\n    {body}\n);\n"


def _base(conn: psycopg.Connection[Any], oid: int, qualified: str) -> str:
    (length, by_value, align, storage, category, preferred, delimiter, element, collatable, default,
     *functions) = fetch(conn, """
        SELECT t.typlen, t.typbyval, t.typalign, t.typstorage, t.typcategory, t.typispreferred, t.typdelim,
               CASE WHEN t.typelem <> 0 THEN pg_catalog.format_type(t.typelem, NULL) END, t.typcollation <> 0,
               t.typdefault,
               t.typinput::pg_catalog.regproc::text, t.typoutput::pg_catalog.regproc::text,
               t.typreceive::pg_catalog.regproc::text, t.typsend::pg_catalog.regproc::text,
               t.typmodin::pg_catalog.regproc::text, t.typmodout::pg_catalog.regproc::text,
               t.typanalyze::pg_catalog.regproc::text, t.typsubscript::pg_catalog.regproc::text
        FROM pg_catalog.pg_type t WHERE t.oid = %s""", (oid,))[0]
    names = ("INPUT", "OUTPUT", "RECEIVE", "SEND", "TYPMOD_IN", "TYPMOD_OUT", "ANALYZE", "SUBSCRIPT")
    options = definition_options(
        ("INTERNALLENGTH", "VARIABLE" if length == -1 else str(length)), *zip(names, functions, strict=True),
        ("DEFAULT", literal(default) if default is not None else None), ("ELEMENT", element),
        ("CATEGORY", literal(category)), ("PREFERRED", "true" if preferred else None),
        ("DELIMITER", literal(delimiter) if delimiter != "," else None), ("ALIGNMENT", _ALIGNMENT[align]),
        ("STORAGE", _STORAGE[storage]), ("COLLATABLE", "true" if collatable else None), ("PASSEDBYVALUE", by_value))
    return f"CREATE TYPE {qualified} {options};\n"


def read_collations(conn: psycopg.Connection[Any], q: Quoter) -> list[SchemaObject]:
    """Collations of one's own (libc and ICU, deterministic or not)."""
    objects = []
    # to_jsonb reads the locale columns whatever this server version calls them (colliculocale in 15,
    # colllocale from 17 on).
    for oid, schema, name, owner, row in fetch(conn, f"""
            SELECT c.oid, n.nspname, c.collname, pg_catalog.pg_get_userbyid(c.collowner), pg_catalog.to_jsonb(c)
            FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
            WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_collation', 'c.oid')}
            ORDER BY c.oid"""):
        provider = {"i": "icu", "c": "libc", "b": "builtin"}.get(row["collprovider"], "libc")
        options = [f"provider = {provider}"]
        if not row.get("collisdeterministic", True):
            options.append("deterministic = false")
        locale = row.get("colliculocale") or row.get("colllocale")
        collate, ctype = row.get("collcollate"), row.get("collctype")
        if provider != "libc" and locale:
            options.append(f"locale = {literal(locale)}")
        elif collate == ctype:
            options.append(f"locale = {literal(collate or '')}")
        else:
            options.append(f"lc_collate = {literal(collate or '')}, lc_ctype = {literal(ctype or '')}")
        if row.get("collicurules"):
            options.append(f"rules = {literal(row['collicurules'])}")
        qualified = q.qualified(schema, name)
        objects.append(SchemaObject(("pg_collation", oid), "collation", "COLLATION", qualified,
                                    f"CREATE COLLATION {qualified} ({', '.join(options)});\n", owner))
    return objects


def read_casts(conn: psycopg.Connection[Any]) -> list[SchemaObject]:
    """Casts of one's own: with a function, binary-coercible (``WITHOUT FUNCTION``) or through I/O."""
    objects = []
    for oid, source, target, method, context, function in fetch(conn, """
            SELECT c.oid, pg_catalog.format_type(c.castsource, NULL), pg_catalog.format_type(c.casttarget, NULL),
                   c.castmethod, c.castcontext,
                   CASE WHEN c.castfunc <> 0 THEN c.castfunc::pg_catalog.regprocedure::text END
            FROM pg_catalog.pg_cast c
            WHERE c.oid >= 16384 AND NOT EXISTS (
                -- extension members, and the casts a range type makes for its multirange (internal)
                SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_cast'::regclass
                AND d.objid = c.oid AND d.deptype IN ('e', 'i'))
            ORDER BY c.oid"""):
        how = {"f": f"WITH FUNCTION {function}", "i": "WITH INOUT", "b": "WITHOUT FUNCTION"}[method]
        usage = {"i": " AS IMPLICIT", "a": " AS ASSIGNMENT", "e": ""}[context]
        name = f"({source} AS {target})"
        objects.append(SchemaObject(("pg_cast", oid), "cast", "CAST", name,
                                    f"CREATE CAST {name} {how}{usage};\n"))
    return objects


def read_conversions(conn: psycopg.Connection[Any], q: Quoter) -> list[SchemaObject]:
    """Encoding conversions (``CREATE CONVERSION``)."""
    objects = []
    for oid, schema, name, source, target, function, default, owner in fetch(conn, f"""
            SELECT c.oid, n.nspname, c.conname, pg_catalog.pg_encoding_to_char(c.conforencoding),
                   pg_catalog.pg_encoding_to_char(c.contoencoding), c.conproc::pg_catalog.regproc::text,
                   c.condefault, pg_catalog.pg_get_userbyid(c.conowner)
            FROM pg_catalog.pg_conversion c JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
            WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_conversion', 'c.oid')}
            ORDER BY c.oid"""):
        qualified = q.qualified(schema, name)
        create = (f"CREATE {'DEFAULT ' if default else ''}CONVERSION {qualified} FOR {literal(source)} "
                  f"TO {literal(target)} FROM {function};\n")
        objects.append(SchemaObject(("pg_conversion", oid), "conversion", "CONVERSION", qualified, create, owner))
    return objects
