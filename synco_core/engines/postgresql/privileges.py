"""Owners, privileges and default privileges, written only when the dump keeps owners (``--owners``).

An object's privileges are written as ``REVOKE ALL`` from ``PUBLIC`` and the owner, then one ``GRANT``
per privilege of its access control list: the loaded object ends with exactly the source's list, whatever
the defaults were. A privilege granted by another role than the owner (through ``WITH GRANT OPTION``) is
granted as that role (``SET SESSION AUTHORIZATION``), so the grantor is kept too.

Default privileges (``ALTER DEFAULT PRIVILEGES``) are written the same way: for a schema, the privileges
that are added to the defaults; for a role as a whole, the list that replaces the built-in defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import Quoter, fetch

_ACL_CODES = {
    "r": "SELECT", "w": "UPDATE", "a": "INSERT", "d": "DELETE", "D": "TRUNCATE", "x": "REFERENCES", "t": "TRIGGER",
    "X": "EXECUTE", "U": "USAGE", "C": "CREATE", "c": "CONNECT", "T": "TEMPORARY", "m": "MAINTAIN",
}


def _role(text: str, start: int, stop: str) -> tuple[str, int]:
    """The role name of an ``aclitem`` text starting at ``start`` (quoted or not) and where it ends."""
    if text.startswith('"', start):
        name, index = "", start + 1
        while index < len(text):
            if text[index] == '"':
                if text.startswith('""', index):
                    name, index = name + '"', index + 2
                    continue
                return name, index + 1
            name, index = name + text[index], index + 1
        return name, index
    end = text.find(stop, start)
    end = len(text) if end == -1 else end
    return text[start:end], end


def acl_items(acl: list[str]) -> Iterator[tuple[str, str, str, bool]]:
    """``aclitem`` texts -> (grantee role or "" for PUBLIC, grantor, privilege, grantable) per privilege."""
    for item in acl:
        grantee, index = _role(item, 0, "=")
        codes, _, rest = item[index + 1:].partition("/")
        grantor, _ = _role(rest, 0, "\0")
        for position, code in enumerate(codes):
            if code in _ACL_CODES:
                grantable = position + 1 < len(codes) and codes[position + 1] == "*"
                yield grantee, grantor, _ACL_CODES[code], grantable


def grant_statements(q: Quoter, target: str, owner: str, acl: list[str], columns: str = "") -> str:
    """``GRANT`` statements that give ``target`` (``TABLE public.t``) the privileges of ``acl``.

    ``columns`` (``" (a)"``) makes them column privileges. Grants made by a role other than the owner are
    made as that role.
    """
    lines = []
    for grantee, grantor, privilege, grantable in acl_items(acl):
        who = q(grantee) if grantee else "PUBLIC"
        statement = f"GRANT {privilege}{columns} ON {target} TO {who}{' WITH GRANT OPTION' if grantable else ''};\n"
        if grantor and grantor != owner:
            statement = (f"SET SESSION AUTHORIZATION {q(grantor)};\n{statement}RESET SESSION AUTHORIZATION;\n")
        lines.append(statement)
    return "".join(lines)


def privilege_statements(q: Quoter, target: str, owner: str, acl: list[str]) -> str:
    """``REVOKE ALL`` then the grants of ``acl``: the object ends with exactly these privileges."""
    return (f"REVOKE ALL ON {target} FROM PUBLIC;\nREVOKE ALL ON {target} FROM {q(owner)};\n"
            + grant_statements(q, target, owner, acl))


_DEFAULT_KINDS = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}


def default_privileges(conn: psycopg.Connection[Any], q: Quoter) -> str:
    """``ALTER DEFAULT PRIVILEGES`` statements reproducing ``pg_default_acl``."""
    lines = []
    for role, schema, kind, acl in fetch(conn, """
            SELECT pg_catalog.pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype, d.defaclacl::text[]
            FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
            ORDER BY 1, 2 NULLS FIRST, 3"""):
        prefix = f"ALTER DEFAULT PRIVILEGES FOR ROLE {q(role)}" + (f" IN SCHEMA {q(schema)}" if schema else "")
        objects = _DEFAULT_KINDS[kind]
        if schema is None:
            # A role-wide entry replaces the built-in defaults: start from none.
            lines.append(f"{prefix} REVOKE ALL ON {objects} FROM PUBLIC;\n")
            lines.append(f"{prefix} REVOKE ALL ON {objects} FROM {q(role)};\n")
        for grantee, _, privilege, grantable in acl_items(acl):
            who = q(grantee) if grantee else "PUBLIC"
            lines.append(f"{prefix} GRANT {privilege} ON {objects} TO {who}"
                         f"{' WITH GRANT OPTION' if grantable else ''};\n")
    return "".join(lines)
