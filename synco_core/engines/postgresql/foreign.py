"""Foreign-data wrappers, foreign servers and user mappings of a database.

User mappings hold credentials for the remote side. Options that look like secrets (a password, a key,
a token) are left out of the dump unless the caller asks for them (``DumpOptions.secrets``), and the
names of those left out are reported. Mappings name roles: the mapping for ``PUBLIC`` is always written,
the one for the role that dumps is written ``FOR CURRENT_USER`` (it becomes the loading role's, as every
object's owner does), and those for other roles only with the owners (``DumpOptions.owners``), when the
roles are expected to exist where the dump is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import Quoter, fetch, literal, not_extension_member
from synco_core.engines.postgresql.objects import SchemaObject, options_clause

#: Option names of user mappings (and subscriptions) that hold secrets.
SECRET_OPTION = re.compile(r"pass|secret|key|token|credential", re.IGNORECASE)


def read_wrappers_and_servers(conn: psycopg.Connection[Any], q: Quoter) -> list[SchemaObject]:
    objects = []
    for oid, name, handler, validator, options, owner, acl in fetch(conn, f"""
            SELECT w.oid, w.fdwname, CASE WHEN w.fdwhandler <> 0 THEN w.fdwhandler::pg_catalog.regproc::text END,
                   CASE WHEN w.fdwvalidator <> 0 THEN w.fdwvalidator::pg_catalog.regproc::text END,
                   w.fdwoptions, pg_catalog.pg_get_userbyid(w.fdwowner), w.fdwacl::text[]
            FROM pg_catalog.pg_foreign_data_wrapper w
            WHERE w.oid >= 16384 AND {not_extension_member('pg_foreign_data_wrapper', 'w.oid')} ORDER BY w.oid"""):
        create = f"CREATE FOREIGN DATA WRAPPER {q(name)}"
        if handler:
            create += f" HANDLER {handler}"
        if validator:
            create += f" VALIDATOR {validator}"
        create += options_clause(options, q) + ";\n"
        objects.append(SchemaObject(("pg_foreign_data_wrapper", oid), "fdw", "FOREIGN DATA WRAPPER", q(name),
                                    create, owner, acl, f"FOREIGN DATA WRAPPER {q(name)}"))
    for oid, name, wrapper, server_type, version, options, owner, acl in fetch(conn, f"""
            SELECT s.oid, s.srvname, w.fdwname, s.srvtype, s.srvversion, s.srvoptions,
                   pg_catalog.pg_get_userbyid(s.srvowner), s.srvacl::text[]
            FROM pg_catalog.pg_foreign_server s JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
            WHERE s.oid >= 16384 AND {not_extension_member('pg_foreign_server', 's.oid')} ORDER BY s.oid"""):
        create = f"CREATE SERVER {q(name)}"
        if server_type is not None:
            create += f" TYPE {literal(server_type)}"
        if version is not None:
            create += f" VERSION {literal(version)}"
        create += f" FOREIGN DATA WRAPPER {q(wrapper)}" + options_clause(options, q) + ";\n"
        objects.append(SchemaObject(("pg_foreign_server", oid), "server", "SERVER", q(name), create, owner, acl,
                                    f"FOREIGN SERVER {q(name)}"))
    return objects


@dataclass
class UserMappings:
    objects: list[SchemaObject]
    #: ``option on server for role`` of every secret left out.
    secrets_left_out: list[str] = field(default_factory=list)
    #: ``server for role`` of every mapping left out because it names another role (without owners).
    roles_left_out: list[str] = field(default_factory=list)


def read_user_mappings(conn: psycopg.Connection[Any], q: Quoter, *, secrets: bool, owners: bool) -> UserMappings:
    result = UserMappings([])
    for oid, role_oid, role, server, options in fetch(conn, """
            SELECT m.umid, m.umuser, m.usename, m.srvname, m.umoptions FROM pg_catalog.pg_user_mappings m
            WHERE m.srvid >= 16384 ORDER BY m.umid"""):
        if role_oid == 0:
            who = "PUBLIC"
        elif role == _current_user(conn):
            who = "CURRENT_USER"
        elif owners:
            who = q(role)
        else:
            result.roles_left_out.append(f"{q(server)} for {q(role)}")
            continue
        kept = []
        for option in options or []:
            option_name = option.partition("=")[0]
            if not secrets and SECRET_OPTION.search(option_name):
                result.secrets_left_out.append(f"{option_name} on {q(server)} for {role or 'PUBLIC'}")
            else:
                kept.append(option)
        name = f"FOR {who} SERVER {q(server)}"
        result.objects.append(SchemaObject(("pg_user_mapping", oid), "usermapping", "USER MAPPING", name,
                                           f"CREATE USER MAPPING {name}{options_clause(kept, q)};\n"))
    return result


def _current_user(conn: psycopg.Connection[Any]) -> str:
    return str(fetch(conn, "SELECT current_user")[0][0])
