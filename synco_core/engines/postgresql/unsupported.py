"""Objects the dump cannot carry, and everything that depends on them.

A dump that does not load is worse than no dump, so when a database holds an object of a kind listed in
:data:`REFUSED` the dump stops before writing anything, naming them (one line). With
``--skip-unsupported`` it goes on without them, and without every object that depends on one of them
(found through ``pg_depend``, transitively), so that what is written still loads; both lists are logged.

Refused today:

- subscriptions: a database with one cannot be dropped (``DROP DATABASE`` refuses), which would stop
  every later install and rollback of the copy, and dropping the subscription on the copy would drop the
  replication slot on the publisher, i.e. on production.
- what the install's gate (:mod:`.gate`) refuses to create, as it can reach beyond the database: the
  extensions ``dblink``, ``file_fdw``, ``adminpack`` and those of untrusted languages (``plpython3u``,
  PL/R's ``plr``, whose ``install_rcmd`` runs R code, ``plsh``: told by the language, not the name), routines
  of the database's own in C or another language the gate does not let through (an old application's
  ``plpgsql_call_handler`` in C, FreeRADIUS's Cisco H.323 schema), and languages with another handler.
  ``pg_dump`` carries them; a synco dump holding them could never be installed. So are the routines and
  views whose definitions the gate itself refuses (a PL/pgSQL body calling ``pg_terminate_backend``, a
  view over ``pg_ls_dir``): each is put to the gate as the dump would write it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from synco_core.engines.postgresql import gate, rawtext
from synco_core.engines.postgresql.catalog import USER_SCHEMA, fetch, not_extension_member
from synco_core.engines.postgresql.gate import SAFE_HANDLERS, SAFE_LANGUAGES, UNSAFE_EXTENSIONS
from synco_core.engines.postgresql.objects import Key
from synco_core.engines.postgresql.script import strip_comments
from synco_core.errors import DatabaseError


def _literals(words: frozenset[bytes]) -> str:
    """``ARRAY['a', 'b']`` of plain lower-case words (the gate's names, never user text)."""
    return "ARRAY[" + ", ".join(f"'{word.decode()}'" for word in sorted(words)) + "]"


@dataclass(frozen=True)
class Refusal:
    """A kind of object the dump cannot carry: how to find them (catalog, OID, name) and why."""

    kind: str
    reason: str
    query: str


REFUSED: list[Refusal] = [
    Refusal("subscriptions", "a copy could not be dropped, and dropping its subscription drops the publisher's slot",
            """SELECT 'pg_subscription', s.oid, pg_catalog.quote_ident(s.subname) FROM pg_catalog.pg_subscription s
               WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database())
               ORDER BY 3"""),
    Refusal("extensions", "a synco install refuses them: they reach the server's files, programs or other databases",
            f"""SELECT 'pg_extension', e.oid, pg_catalog.quote_ident(e.extname) FROM pg_catalog.pg_extension e
               WHERE e.extname ~* '^(?:{UNSAFE_EXTENSIONS.decode()})$' OR EXISTS (
                   SELECT FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_language l ON l.oid = d.objid
                   WHERE d.classid = 'pg_catalog.pg_language'::pg_catalog.regclass
                     AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                     AND d.refobjid = e.oid AND d.deptype = 'e' AND {gate.UNTRUSTED_LANGUAGE.format('l')})
               ORDER BY 3"""),
    Refusal("languages", "a synco install refuses their handlers: they can reach beyond the database",
            f"""SELECT 'pg_language', l.oid, pg_catalog.quote_ident(l.lanname) FROM pg_catalog.pg_language l
               WHERE l.lanispl AND l.oid >= 16384 AND {not_extension_member('pg_language', 'l.oid')}
                 AND pg_catalog.lower((SELECT h.proname FROM pg_catalog.pg_proc h WHERE h.oid = l.lanplcallfoid))
                     <> ALL ({_literals(SAFE_HANDLERS)})
               ORDER BY 3"""),
    # A language of the database's own with a safe handler is created by the dump, and its routines load.
    Refusal("routines", "a synco install refuses routines in C or untrusted languages: they can reach beyond "
                        "the database",
            f"""SELECT 'pg_proc', p.oid, p.oid::pg_catalog.regprocedure::text || ' (' || l.lanname || ')'
               FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
               WHERE p.oid >= 16384 AND {not_extension_member('pg_proc', 'p.oid')}
                 AND pg_catalog.lower(l.lanname) <> ALL ({_literals(SAFE_LANGUAGES)})
                 AND NOT (l.lanispl AND l.oid >= 16384 AND {not_extension_member('pg_language', 'l.oid')}
                          AND pg_catalog.lower((SELECT h.proname FROM pg_catalog.pg_proc h
                                                WHERE h.oid = l.lanplcallfoid)) = ANY ({_literals(SAFE_HANDLERS)}))
               ORDER BY 3"""),
]


@dataclass
class Unsupported:
    """What the dump leaves out (with ``--skip-unsupported``) or refuses."""

    #: Per refused kind present: (kind, reason, names).
    found: list[tuple[str, str, list[str]]] = field(default_factory=list)
    #: Catalog keys of every object left out: the refused ones and all that depend on them.
    skipped: set[Key] = field(default_factory=set)
    #: Names of the objects left out only because they depend on a refused one.
    dependents: list[str] = field(default_factory=list)

    def summary(self, limit: int = 10) -> str:
        """``2 subscriptions (why): a, b; ...`` on one line."""
        return "; ".join(f"{len(items)} {kind} ({reason}): {names(items, limit)}" for kind, reason, items in self.found)


def names(items: list[str], limit: int) -> str:
    """``a, b, c and 4 more``."""
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def find(conn: psycopg.Connection[Any]) -> Unsupported:
    """The refused objects of the database and, transitively, every object that depends on one."""
    result = Unsupported()
    for refusal in REFUSED:
        rows = fetch(conn, refusal.query)
        if rows:
            result.found.append((refusal.kind, refusal.reason, [str(row[2]) for row in rows]))
            result.skipped.update((str(row[0]).removeprefix("pg_catalog."), int(row[1])) for row in rows)
    refused = [(key, name) for key, name in _refused_by_the_gate(conn) if key not in result.skipped]
    if refused:
        result.found.append(("routines and views", "a synco install refuses what they call: it reaches the "
                             "server's files, processes or other databases", [name for _, name in refused]))
        result.skipped.update(key for key, _ in refused)
    if result.skipped:
        dependents = _dependents(conn, set(result.skipped))
        result.dependents = sorted(name for key, name in dependents.items()
                                   if key not in result.skipped and name is not None)
        result.skipped.update(dependents)
    return result


def _refused_by_the_gate(conn: psycopg.Connection[Any]) -> list[tuple[Key, str]]:
    """The database's own routines and views whose definitions the install's gate refuses, as it would
    find them in the dump (a routine in a language the gate does not let through is refused above)."""
    languages = {rawtext.to_bytes(str(name).lower()) for (name,) in fetch(conn, f"""
        SELECT l.lanname FROM pg_catalog.pg_language l
        WHERE l.lanispl AND l.oid >= 16384 AND {not_extension_member('pg_language', 'l.oid')}""")}
    refused = []
    for catalog, oid, name, definition in fetch(conn, f"""
            SELECT 'pg_proc', p.oid, p.oid::pg_catalog.regprocedure::text, pg_catalog.pg_get_functiondef(p.oid)
            FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
            WHERE p.oid >= 16384 AND p.prokind IN ('f', 'p', 'w') AND {USER_SCHEMA.format('n')}
              AND {not_extension_member('pg_proc', 'p.oid')}
            UNION ALL
            SELECT 'pg_class', c.oid, c.oid::pg_catalog.regclass::text,
                   'CREATE VIEW x AS ' || pg_catalog.pg_get_viewdef(c.oid)
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            -- Not other sessions' temporary views (pg_temp_N), which the dump leaves out and may vanish
            -- while their definitions are read.
            WHERE c.oid >= 16384 AND c.relkind IN ('v', 'm') AND {USER_SCHEMA.format('n')}
              AND {not_extension_member('pg_class', 'c.oid')}
            ORDER BY 3"""):
        text = rawtext.to_bytes(str(definition))
        try:
            gate.check(text, strip_comments(text, mask=True), 0, set(languages))
        except DatabaseError:
            refused.append(((str(catalog), int(oid)), str(name)))
    return refused


def _dependents(conn: psycopg.Connection[Any], roots: set[Key]) -> dict[Key, str | None]:
    """Every object that depends on one of ``roots``, directly or through others, with its description
    (None for an extension's member).

    An object another one is an internal part of (an identity column's sequence, an array type) goes
    with it both ways: leaving out the part leaves out the whole too. What depends on a member of a left-out
    extension (a view calling one of dblink's functions) is left out too; the members themselves, which
    only ``CREATE EXTENSION`` creates, are not named.
    """
    rows = fetch(conn, """
        SELECT d.classid::pg_catalog.regclass::text, d.objid, d.refclassid::pg_catalog.regclass::text, d.refobjid,
               d.deptype
        FROM pg_catalog.pg_depend d WHERE d.objid >= 16384 AND d.deptype IN ('n', 'a', 'i', 'e')""")
    dependers: dict[Key, list[Key]] = {}
    wholes: dict[Key, list[Key]] = {}
    members: set[Key] = set()
    for classid, objid, refclassid, refobjid, deptype in rows:
        part, whole = (classid, objid), (refclassid, refobjid)
        dependers.setdefault(whole, []).append(part)
        if deptype == "i":
            wholes.setdefault(part, []).append(whole)
        elif deptype == "e":
            members.add(part)
    found: set[Key] = set()
    pending = list(roots)
    while pending:
        key = pending.pop()
        for other in dependers.get(key, []) + wholes.get(key, []):
            if other not in found and other not in roots:
                found.add(other)
                pending.append(other)
    if not found:
        return {}
    catalogs = [key[0] for key in found]
    oids = [key[1] for key in found]
    names = fetch(conn, """
        SELECT k.catalog, k.oid, pg_catalog.pg_describe_object(k.catalog::pg_catalog.regclass, k.oid, 0)
        FROM ROWS FROM (pg_catalog.unnest(%s::text[]), pg_catalog.unnest(%s::pg_catalog.oid[])) AS k(catalog, oid)""",
                  (catalogs, oids))
    return {(str(catalog), int(oid)): None if (str(catalog), int(oid)) in members else str(name)
            for catalog, oid, name in names}
