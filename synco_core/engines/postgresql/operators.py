"""Operators, operator families and classes, and access methods of a database.

An operator is written with its function, argument types, commutator and negator (an operator not yet
created when another names it is made as a shell and filled in by its own ``CREATE OPERATOR``),
selectivity estimators and the HASHES / MERGES flags.

Operator classes are written as ``pg_dump`` writes them: the family first (``CREATE OPERATOR FAMILY``),
then the family's members that belong to no class (``ALTER OPERATOR FAMILY ... ADD``), then each class
with ``FAMILY`` and its own members. :class:`OperatorClasses` also says which class or family each member
belongs to, so the members' operators and functions are created before it. Members added to a built-in
family (``ALTER OPERATOR FAMILY integer_ops USING btree ADD ...``), which ``pg_dump`` leaves out, are
added to it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import USER_SCHEMA, Quoter, fetch, not_extension_member
from synco_core.engines.postgresql.objects import Key, Node, SchemaObject, definition_options


def read_operators(conn: psycopg.Connection[Any], q: Quoter) -> list[SchemaObject]:
    objects = []
    for row in fetch(conn, f"""
            SELECT o.oid, n.nspname, o.oprname, pg_catalog.pg_get_userbyid(o.oprowner),
                   CASE WHEN o.oprleft <> 0 THEN pg_catalog.format_type(o.oprleft, NULL) END,
                   CASE WHEN o.oprright <> 0 THEN pg_catalog.format_type(o.oprright, NULL) END,
                   o.oprcode::pg_catalog.regproc::text,
                   (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || c.oprname FROM pg_catalog.pg_operator c
                    JOIN pg_catalog.pg_namespace cn ON cn.oid = c.oprnamespace WHERE c.oid = o.oprcom),
                   (SELECT pg_catalog.quote_ident(nn.nspname) || '.' || x.oprname FROM pg_catalog.pg_operator x
                    JOIN pg_catalog.pg_namespace nn ON nn.oid = x.oprnamespace WHERE x.oid = o.oprnegate),
                   CASE WHEN o.oprrest <> 0 THEN o.oprrest::pg_catalog.regproc::text END,
                   CASE WHEN o.oprjoin <> 0 THEN o.oprjoin::pg_catalog.regproc::text END,
                   o.oprcanhash, o.oprcanmerge
            FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
            WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_operator', 'o.oid')}
              -- An operator named as another's commutator or negator but never defined is a shell.
              AND o.oprcode <> 0
            ORDER BY o.oid"""):
        (oid, schema, name, owner, left, right, function, commutator, negator, restrict, join, hashes,
         merges) = row
        options = definition_options(
            ("FUNCTION", function), ("LEFTARG", left), ("RIGHTARG", right),
            ("COMMUTATOR", f"OPERATOR({commutator})" if commutator else None),
            ("NEGATOR", f"OPERATOR({negator})" if negator else None), ("RESTRICT", restrict), ("JOIN", join),
            ("HASHES", hashes), ("MERGES", merges))
        # Operator names are not identifiers: they are never quoted.
        qualified = f"{q(schema)}.{name}"
        create = f"CREATE OPERATOR {qualified} {options};\n"
        objects.append(SchemaObject(("pg_operator", oid), "operator", "OPERATOR",
                                    f"{qualified} ({left or 'NONE'}, {right or 'NONE'})", create, owner))
    return objects


def read_access_methods(conn: psycopg.Connection[Any], q: Quoter) -> list[SchemaObject]:
    """Table and index access methods of the database's own."""
    objects = []
    for oid, name, kind, handler in fetch(conn, f"""
            SELECT a.oid, a.amname, a.amtype, a.amhandler::pg_catalog.regproc::text FROM pg_catalog.pg_am a
            WHERE a.oid >= 16384 AND {not_extension_member('pg_am', 'a.oid')} ORDER BY a.oid"""):
        create = f"CREATE ACCESS METHOD {q(name)} TYPE {'TABLE' if kind == 't' else 'INDEX'} HANDLER {handler};\n"
        objects.append(SchemaObject(("pg_am", oid), "am", "ACCESS METHOD", q(name), create))
    return objects


@dataclass
class _Member:
    """An operator or support function of an operator family, and what it belongs to."""

    key: Key
    owner: Key  # ("pg_opclass", oid) or ("pg_opfamily", oid)
    text: str
    #: Its operator or function belongs to an extension (which adds the member itself).
    of_extension: bool


def _members(conn: psycopg.Connection[Any]) -> list[_Member]:
    members = []
    for catalog, oid, owner_catalog, owner_oid, _, text, of_extension in fetch(conn, """
            SELECT 'pg_amop', ao.oid,
                   COALESCE(d.refclassid, 'pg_catalog.pg_opfamily'::regclass)::pg_catalog.regclass::text,
                   COALESCE(d.refobjid, ao.amopfamily), ao.amopstrategy,
                   'OPERATOR ' || ao.amopstrategy || ' ' || ao.amopopr::pg_catalog.regoperator::text ||
                   CASE WHEN ao.amoppurpose = 'o' THEN
                     (SELECT ' FOR ORDER BY ' || pg_catalog.quote_ident(sn.nspname) || '.'
                             || pg_catalog.quote_ident(sf.opfname)
                      FROM pg_catalog.pg_opfamily sf JOIN pg_catalog.pg_namespace sn ON sn.oid = sf.opfnamespace
                      WHERE sf.oid = ao.amopsortfamily)
                   ELSE '' END,
                   EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.pg_operator'::regclass
                           AND e.objid = ao.amopopr AND e.deptype = 'e')
            -- A member of a built-in family has no dependency on it (built-in objects are pinned).
            FROM pg_catalog.pg_amop ao LEFT JOIN pg_catalog.pg_depend d
                 ON d.classid = 'pg_catalog.pg_amop'::regclass AND d.objid = ao.oid
                    AND d.refclassid IN ('pg_catalog.pg_opclass'::regclass, 'pg_catalog.pg_opfamily'::regclass)
            WHERE ao.oid >= 16384
            UNION ALL
            SELECT 'pg_amproc', ap.oid,
                   COALESCE(d.refclassid, 'pg_catalog.pg_opfamily'::regclass)::pg_catalog.regclass::text,
                   COALESCE(d.refobjid, ap.amprocfamily), ap.amprocnum,
                   'FUNCTION ' || ap.amprocnum || ' (' || pg_catalog.format_type(ap.amproclefttype, NULL) || ', '
                   || pg_catalog.format_type(ap.amprocrighttype, NULL) || ') '
                   || ap.amproc::pg_catalog.regprocedure::text,
                   EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.pg_proc'::regclass
                           AND e.objid = ap.amproc AND e.deptype = 'e')
            FROM pg_catalog.pg_amproc ap LEFT JOIN pg_catalog.pg_depend d
                 ON d.classid = 'pg_catalog.pg_amproc'::regclass AND d.objid = ap.oid
                    AND d.refclassid IN ('pg_catalog.pg_opclass'::regclass, 'pg_catalog.pg_opfamily'::regclass)
            WHERE ap.oid >= 16384
            ORDER BY 1, 5, 6"""):
        members.append(_Member((catalog, oid), (owner_catalog, owner_oid), text, of_extension))
    return members


@dataclass
class OperatorClasses:
    """Operator families and classes, and the node each member operator or function belongs to."""

    objects: list[SchemaObject]
    parts: dict[Key, Node]


def read_operator_classes(conn: psycopg.Connection[Any], q: Quoter) -> OperatorClasses:
    members = _members(conn)
    result = OperatorClasses([], {})
    families = {}
    for oid, schema, name, method, owner in fetch(conn, f"""
            SELECT f.oid, n.nspname, f.opfname, a.amname, pg_catalog.pg_get_userbyid(f.opfowner)
            FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace
            JOIN pg_catalog.pg_am a ON a.oid = f.opfmethod
            WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_opfamily', 'f.oid')}
            ORDER BY f.oid"""):
        label = f"{q.qualified(schema, name)} USING {q(method)}"
        families[oid] = label
        loose = [m.text for m in members if m.owner == ("pg_opfamily", oid)]
        create = f"CREATE OPERATOR FAMILY {label};\n"
        if loose:
            create += f"ALTER OPERATOR FAMILY {label} ADD\n    " + ",\n    ".join(loose) + ";\n"
        result.objects.append(SchemaObject(("pg_opfamily", oid), "opfamily", "OPERATOR FAMILY", label, create,
                                           owner))
    for oid, schema, name, method, family, owner, default, input_type, storage in fetch(conn, f"""
            SELECT c.oid, n.nspname, c.opcname, a.amname,
                   pg_catalog.quote_ident(fn.nspname) || '.' || pg_catalog.quote_ident(f.opfname),
                   pg_catalog.pg_get_userbyid(c.opcowner), c.opcdefault, pg_catalog.format_type(c.opcintype, NULL),
                   CASE WHEN c.opckeytype <> 0 THEN pg_catalog.format_type(c.opckeytype, NULL) END
            FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace
            JOIN pg_catalog.pg_am a ON a.oid = c.opcmethod
            JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily
            JOIN pg_catalog.pg_namespace fn ON fn.oid = f.opfnamespace
            WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_opclass', 'c.oid')}
            ORDER BY c.oid"""):
        label = f"{q.qualified(schema, name)} USING {q(method)}"
        items = [m.text for m in members if m.owner == ("pg_opclass", oid)]
        # A class names at least one item; one with no members of its own names its storage type.
        if storage or not items:
            items.append(f"STORAGE {storage or input_type}")
        create = (f"CREATE OPERATOR CLASS {q.qualified(schema, name)}\n    {'DEFAULT ' if default else ''}FOR TYPE "
                  f"{input_type} USING {q(method)} FAMILY {family} AS\n    " + ",\n    ".join(items) + ";\n")
        result.objects.append(SchemaObject(("pg_opclass", oid), "opclass", "OPERATOR CLASS", label, create, owner))
    # Operators and functions added to a built-in family (ALTER OPERATOR FAMILY integer_ops ... ADD), which
    # pg_dump leaves out: added back to the same family. Those of an extension come with it.
    added: dict[int, list[str]] = {}
    for member in members:
        if member.owner[0] == "pg_opfamily" and member.owner[1] < 16384 and not member.of_extension:
            added.setdefault(member.owner[1], []).append(member.text)
    for oid, schema, name, method in fetch(conn, """
            SELECT f.oid, n.nspname, f.opfname, a.amname
            FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace
            JOIN pg_catalog.pg_am a ON a.oid = f.opfmethod
            WHERE f.oid = ANY(%s) ORDER BY f.oid""", (list(added),)):
        label = f"{q.qualified(schema, name)} USING {q(method)}"
        create = f"ALTER OPERATOR FAMILY {label} ADD\n    " + ",\n    ".join(added[oid]) + ";\n"
        # Not the family's own key: the built-in family's comment and owner are not the dump's to write.
        result.objects.append(SchemaObject(("built-in family", oid), "opfamily", "OPERATOR FAMILY", label, create))
    kinds = {"pg_opclass": "opclass", "pg_opfamily": "opfamily"}
    for member in members:
        result.parts[member.key] = (kinds[member.owner[0]], member.owner[1])
    return result
