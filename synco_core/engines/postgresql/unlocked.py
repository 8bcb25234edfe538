"""Objects the dump cannot lock (functions, types, schemas, sequences ...), and telling when another session
changed one while the dump ran.

The dump's share locks keep its tables and views as the snapshot has them; nothing in SQL locks a function,
a type or a schema that way, and reading a sequence's position locks it only for that moment (the dump
lets go of such locks: docs/engines.md, "Many tables"). The snapshot still shows them as they
were, but ``pg_get_functiondef()``, ``format_type()`` and the other functions that print definitions read
the server's current catalogue: a function dropped after the snapshot printed as NULL (the dump failed on
a Python error), and a sequence dropped or renamed failed it with PostgreSQL's line and no advice. So the
dump notes the row version (``xmin``) of every object of the database in these catalogues as its snapshot
sees them (:func:`note`), and compares them with the server's current ones (:func:`changed`) when it ends
or fails: an object changed or dropped meanwhile stops it in one line saying to run it again. Objects
created meanwhile are not the snapshot's and are left alone (temporary tables make types all the time).
"""

from __future__ import annotations

from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import fetch
from synco_core.engines.postgresql.connection import connect
from synco_core.errors import DatabaseError
from synco_core.values import DatabaseConfig

#: The catalogues of the objects the dump describes but does not lock, with the column naming the schema of
#: each object where it has one. Tables, views and their rules, triggers and policies are locked (their DDL
#: waits for the dump), so of pg_class only sequences count.
CATALOGUES = {
    "pg_proc": "pronamespace", "pg_type": "typnamespace", "pg_namespace": "oid", "pg_constraint": "connamespace",
    "pg_collation": "collnamespace", "pg_operator": "oprnamespace", "pg_opclass": "opcnamespace",
    "pg_opfamily": "opfnamespace", "pg_conversion": "connamespace", "pg_ts_config": "cfgnamespace",
    "pg_ts_dict": "dictnamespace", "pg_ts_parser": "prsnamespace", "pg_ts_template": "tmplnamespace",
    "pg_statistic_ext": "stxnamespace", "pg_extension": "", "pg_cast": "", "pg_language": "", "pg_event_trigger": "",
    "pg_foreign_data_wrapper": "", "pg_foreign_server": "", "pg_user_mapping": "", "pg_publication": "",
    "pg_transform": "", "pg_am": "", "pg_default_acl": ""}
#: The first OID of objects made after initdb: the built-in ones never change.
FIRST_USER_OID = 16384
#: Other sessions' temporary objects come and go with them (and their types with their tables): never the
#: dump's.
_NOT_TEMPORARY = ("{column} NOT IN (SELECT oid FROM pg_catalog.pg_namespace "
                  "WHERE nspname LIKE 'pg\\_temp\\_%' OR nspname LIKE 'pg\\_toast\\_temp\\_%')")


def _versions_of(catalogue: str, namespace: str, also: str = "") -> str:
    conditions = [f"oid >= {FIRST_USER_OID}", *([_NOT_TEMPORARY.format(column=namespace)] if namespace else []),
                  *([also] if also else [])]
    return f"SELECT '{catalogue}', oid, xmin::text FROM pg_catalog.{catalogue} WHERE {' AND '.join(conditions)}"


#: (catalogue, oid) -> xmin: which version of each object a catalogue holds.
Versions = dict[tuple[str, int], str]

# A role that is not a superuser may not read every catalogue (pg_user_mapping holds the mappings' passwords):
# such a catalogue is left out of the comparison rather than failing the dump of a role pg_dump serves.
_READABLE = ("SELECT name FROM pg_catalog.unnest(%s::text[]) AS name "
             "WHERE pg_catalog.has_table_privilege('pg_catalog.' || name, 'SELECT')")


def _versions(readable: set[str]) -> str:
    return " UNION ALL ".join([*(_versions_of(name, column) for name, column in CATALOGUES.items()
                                 if name in readable),
                               _versions_of("pg_class", "relnamespace", "relkind = 'S'")])


def note(conn: psycopg.Connection[Any]) -> Versions:
    """The versions of the unlocked objects that ``conn``'s snapshot sees, in the catalogues its role may read."""
    readable = {str(row[0]) for row in fetch(conn, _READABLE, (list(CATALOGUES),))}
    return {(str(catalogue), int(oid)): str(xmin) for catalogue, oid, xmin in fetch(conn, _versions(readable))}


def changed(database: DatabaseConfig, noted: Versions) -> list[str]:
    """What another session has changed or dropped among ``noted`` since (``function public.f(integer)
    changed``, ``a schema dropped``; a few at most), or an empty list. Read on a connection of its own: the
    dump's sees its snapshot, or may be in a failed transaction."""
    try:
        with connect(database) as conn:
            current = note(conn)
            moved = [key for key, xmin in noted.items() if current.get(key) != xmin]
            shown: list[str] = []
            for catalogue, oid in moved[:3]:
                if (catalogue, oid) not in current:
                    shown.append(f"a {_KINDS.get(catalogue, 'object')} dropped")
                    continue
                rows = fetch(conn, "SELECT pg_catalog.pg_describe_object(%s::regclass, %s, 0)", (catalogue, oid))
                shown.append(f"{rows[0][0] if rows and rows[0][0] else 'an object'} changed")
            return shown + ([f"{len(moved) - 3} more"] if len(moved) > 3 else [])
    except (psycopg.Error, DatabaseError):
        return []  # The server is gone, say: the dump's own error says more than this could.


#: What a dropped object was, by its catalogue (the server can no longer describe it).
_KINDS = {"pg_proc": "function", "pg_type": "type", "pg_namespace": "schema", "pg_class": "sequence",
          "pg_constraint": "constraint", "pg_extension": "extension", "pg_collation": "collation",
          "pg_operator": "operator", "pg_foreign_server": "foreign server", "pg_publication": "publication"}
