"""Which views, triggers, routines and events of a database synco's loader would refuse to create.

The loader's gate (:mod:`.gate`) refuses what reaches beyond the database a dump is installed into, in a
routine's body too: dynamic SQL (``PREPARE``/``EXECUTE``, whose text it cannot see), ``FLUSH``, ``KILL``,
setting global variables, ``LOAD_FILE`` ... A procedure doing partition maintenance with dynamic SQL is
common, and a dump carrying it would fail to load. So the dumper puts every definition through the same
gate first, in the order and under the session the dump writes it in, and :mod:`.unsupported` refuses
those (or leaves them out). Names of other databases are judged only for the system databases every server
has (a function reading ``mysql.time_zone_name``): the gate refuses a name of another database only where
that database exists on the server loaded into, which the dump cannot know of the others.
"""

from __future__ import annotations

import logging
from typing import Any

from synco_core.engines.mysql import schema
from synco_core.engines.mysql.gate import RefusedStatement, StatementGate, session_letters

log = logging.getLogger(__name__)

#: Databases every MariaDB server has (``information_schema`` the gate reads as a catalog anyone may read).
_SYSTEM_DATABASES = ("mysql", "performance_schema", "sys")


def refused(conn: Any, db: str, objects: schema.Objects, *, routines: bool,
            events: bool) -> list[tuple[schema.Definition, str]]:
    """Each definition the dump would write that the loader's gate refuses, with the gate's reason."""
    gate = StatementGate([db], [name for name in _SYSTEM_DATABASES if name != db.lower()])
    found: list[tuple[schema.Definition, str]] = []
    # The dump's order: routines before the views that may call them, triggers after the data, events last.
    ordered = [*(objects.routines if routines else []), *objects.views, *objects.triggers,
               *(objects.events if events else [])]
    letters: dict[str, str | None] = {}
    for definition in ordered:
        _observe(conn, gate, definition, letters)
        try:
            gate.check(definition.create, 0)
        except RefusedStatement as refusal:
            found.append((definition, refusal.reason))
    return found


def warn_other_databases(conn: Any, db: str, definitions: list[schema.Definition], databases: set[str]) -> None:
    """Name the triggers, routines and events that name other databases of the source server: the loader
    refuses them where those databases exist (a dump acts on its own database only), and creates them where
    they do not."""
    gate = StatementGate([db], [name for name in databases if name.lower() != db.lower()])
    named: list[str] = []
    letters: dict[str, str | None] = {}
    for definition in definitions:
        _observe(conn, gate, definition, letters)
        others = gate.databases_named(definition.create)
        if others:
            named.append(f"{definition.kind.lower()} {definition.name} ({', '.join(sorted(others))})")
    if named:
        log.warning("routines, triggers and events that name other databases (synco's loader refuses them where "
                    "those databases exist): %s", "; ".join(named))


def _observe(conn: Any, gate: StatementGate, definition: schema.Definition, letters: dict[str, str | None]) -> None:
    """Tell ``gate`` the session ``definition`` is written under (``letters``: the server's, by character set)."""
    charset = definition.charset_client or "utf8mb4"
    if charset not in letters:
        letters[charset] = session_letters(conn, charset)
    gate.observe(charset, definition.sql_mode, letters[charset])
