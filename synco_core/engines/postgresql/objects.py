"""The objects a PostgreSQL dump creates, and the names other statements give them.

Every schema object the dumper writes is a :class:`SchemaObject`: the statements that create it, the node
it is ordered by (see :mod:`.ordering`), and how ``COMMENT ON``, ``SECURITY LABEL ON``, ``ALTER ... OWNER
TO`` and ``GRANT`` name it. The readers of the object kinds (:mod:`.datatypes`, :mod:`.routines`,
:mod:`.operators`, ...) return them; the dumper keeps them by their catalog key, the ``(catalog, OID)``
pair under which ``pg_depend``, ``pg_description`` and ``pg_seclabel`` record an object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from synco_core.engines.postgresql.catalog import literal

#: ``(catalog, OID)``, the catalog without its ``pg_catalog.`` prefix: ``("pg_operator", 16392)``.
Key = tuple[str, int]
#: An object in the creation order: ``(kind, OID)``, as :mod:`.ordering` sorts them.
Node = tuple[str, int]


@dataclass
class SchemaObject:
    """One object of the dump.

    ``keyword`` and ``name`` together are what ``COMMENT ON`` and ``ALTER ... OWNER TO`` take
    (``OPERATOR CLASS`` + ``public.int_ops USING btree``). ``grant`` is what ``GRANT ... ON`` takes, None
    for objects without privileges. ``owner`` is None for objects that have no owner of their own (casts,
    access methods) or whose owner follows another object's (a sequence owned by a column).
    """

    key: Key
    kind: str
    keyword: str
    name: str
    create: str = ""
    owner: str | None = None
    acl: list[str] | None = None
    grant: str | None = None

    @property
    def label(self) -> str:
        return f"{self.keyword} {self.name}"

    @property
    def node(self) -> Node:
        return (self.kind, self.key[1])

    def describe(self) -> str:
        """The object in messages: ``operator class public.int_ops USING btree``."""
        return f"{self.keyword.lower()} {self.name}"


def options_clause(options: list[str] | None, quote: Callable[[str], str]) -> str:
    """`` OPTIONS (a 'x', b 'y')`` from a catalog's ``name=value`` option list ("" when there are none).

    Option names are identifiers, their values string literals.
    """
    if not options:
        return ""
    items = []
    for option in options:
        name, _, value = option.partition("=")
        items.append(f"{quote(name)} {literal(value)}")
    return " OPTIONS (" + ", ".join(items) + ")"


class Registry:
    """The objects a dump creates, by catalog key, and the ones it leaves out (``--skip-unsupported``)."""

    def __init__(self) -> None:
        self.objects: dict[Key, SchemaObject] = {}
        self.skipped: set[Key] = set()

    def kept(self, key: Key) -> bool:
        return key not in self.skipped

    def register(self, objects: list[SchemaObject]) -> list[SchemaObject]:
        """The objects that are not left out, remembered for comments, labels and owners."""
        kept = [obj for obj in objects if obj.key not in self.skipped]
        for obj in kept:
            self.objects[obj.key] = obj
        return kept


def definition_options(*pairs: tuple[str, object]) -> str:
    """The option list of a ``CREATE TYPE / OPERATOR / AGGREGATE ... (...)`` statement, one per line.

    A pair with a value gives ``NAME = value``; None, "", ``-`` (an unset ``regproc``), False and 0 mean
    "not set" and give nothing; True gives the bare ``NAME`` (a flag such as ``HASHES``).
    """
    items = []
    for name, value in pairs:
        if value is True:
            items.append(name)
        elif value is not None and value is not False and value not in ("", "-", 0):
            items.append(f"{name} = {value}")
    return "(\n    " + ",\n    ".join(items) + "\n)"


def do_block(body: str) -> str:
    """``body`` as an anonymous PL/pgSQL block, dollar-quoted with a tag the body does not hold."""
    number = 0
    while f"$synco{number}$" in body:
        number += 1
    tag = f"$synco{number}$"
    return f"DO {tag}\nBEGIN\n{body}\nEND\n{tag};\n"


def if_roles_exist(statement: str, roles: list[str], what: str) -> str:
    """``statement`` run only where every role in ``roles`` exists; elsewhere a warning naming ``what``.

    Without ``--owners`` a dump does not expect production's roles where it is loaded, and a statement
    naming a missing one would stop the load.
    """
    names = ", ".join(literal(role) for role in sorted(set(roles)))
    return do_block(
        f"    IF (SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname IN ({names})) = {len(set(roles))} THEN\n"
        f"        EXECUTE {literal(statement.strip().rstrip(';'))};\n"
        "    ELSE\n"
        f"        RAISE WARNING '%', {literal(what + ' is not created: a role it names does not exist here')};\n"
        "    END IF;")


def unless_error(statement: str, condition: str, what: str) -> str:
    """``statement`` run where it can be; where it fails with ``condition`` (an error name), a warning."""
    return do_block(
        f"    EXECUTE {literal(statement.strip().rstrip(';'))};\n"
        f"EXCEPTION WHEN {condition} THEN\n"
        f"    RAISE WARNING '%', {literal(what + ': ')} || SQLERRM;")
