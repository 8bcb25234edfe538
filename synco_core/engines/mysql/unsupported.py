"""What a MySQL/MariaDB dump cannot carry or was told to leave out, and what depends on it.

A dump must always load. So before anything is written, the dumper looks for what it cannot reproduce on
another server, and refuses with one line naming it, or with ``--skip-unsupported`` (``DumpOptions.
skip_unsupported``) leaves it out and names it in a warning:

- tables whose rows live elsewhere (engines FEDERATED, CONNECT, SPIDER, VP, OQGRAPH, S3): their copy would
  reach out to the production's remote servers, or need their credentials;
- tables of engines the server cannot rename into another database (Mroonga): synco's install moves every
  table between databases in one ``RENAME TABLE`` (:mod:`.swap`), which would fail on them;
- the history of a system-versioned table kept as transaction ids: the ids mean nothing on another
  server, and MariaDB accepts no history rows for such tables (its current rows are dumped);
- routines and events whose text the user may not see (the server shows only their names);
- triggers, routines and events the user may not see at all (:mod:`.visibility`, given as ``unseen``): the
  server hides even their names, so nothing tells whether there are any;
- views the server keeps but creates no more, given as ``broken`` with the reason: those it cannot open (a
  table, column or function they read was dropped after them), those ``WITH CHECK OPTION`` that a view they
  read made not updatable since; their ``CREATE VIEW`` fails the load;
- triggers naming ``NEW.col`` or ``OLD.col`` of a column their table no longer has (given as ``stale``): the
  server keeps them but creates no such trigger;
- views, triggers, routines and events that synco's loader refuses to create (:mod:`.loadable`: dynamic
  SQL, ``FLUSH``, setting global variables ...);
- tables, views and sequences named like the install's own journal and marker tables (``__synco_journal``,
  ``__synco_moving``): the install's swap needs those names, and would fail on them;
- views, triggers, routines and events made over a connection in a character set in which a letter's
  second byte may be a backslash or a backtick (sjis, cp932, gbk, big5, gb18030): the server keeps their
  text in those bytes and they must be created over such a connection again, which the loader's gate
  refuses (docs/security.md: it could not read the statements as the server does).

Routines left out on request (``--no-routines``) and events not asked for (``--events``) are named too.
Whatever is left out takes with it the views that read it (creating them would fail) and the triggers on
its tables or calling it, transitively; they are named as well.

Views that read other databases of the source server are dumped as they are (as mariadb-dump does: the
other database may well be there too), with a warning naming them and those databases, since the server
checks a view's tables when it creates it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from synco_core.engines.mysql import schema
from synco_core.engines.mysql.swap import NAMED, OWN_TABLES, UNMOVABLE_ENGINES
from synco_core.errors import DatabaseError
from synco_core.listing import some_names

log = logging.getLogger(__name__)

#: Engines whose table holds no rows of its own here: a link to another server or an external store.
EXTERNAL_ENGINES = frozenset({"FEDERATED", "CONNECT", "SPIDER", "VP", "OQGRAPH", "S3"})
#: Character sets in which a letter's second byte may be a quote's, a backslash's or a backtick's: no loader
#: of synco reads a statement sent in them (the gate refuses such a connection).
SPLIT_LETTER_CHARSETS = frozenset({"big5", "cp932", "gbk", "sjis", "gb18030"})
_IDENTIFIER = re.compile(rb"`((?:[^`]|``)*)`|\"((?:[^\"]|\"\")*)\"|([0-9A-Za-z_$\x80-\xff]+)")


@dataclass
class LeftOut:
    """What the dump leaves out, by name, and why (in words, for the warning)."""

    #: Tables left out whole (their structure and rows).
    tables: set[str] = field(default_factory=set)
    #: System-versioned tables dumped without their history.
    history: set[str] = field(default_factory=set)
    views: set[str] = field(default_factory=set)
    triggers: set[str] = field(default_factory=set)
    routines: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)


def check(conn: object, db: str, tables: dict[str, str], engines: dict[str, str], objects: schema.Objects,
          hidden: list[schema.HiddenDefinition], *, skip: bool, routines: bool, events: bool,
          unseen: list[str] | None = None,
          refused: Iterable[tuple[schema.Definition, str]] = (),
          broken: Iterable[tuple[str, str]] = (), stale: Iterable[tuple[str, str]] = ()) -> LeftOut:
    """Decide what the dump leaves out (see the module docstring); raise instead when that is something
    it cannot carry and ``skip`` is off. ``refused``: the definitions synco's loader would refuse to create,
    with its reason (:mod:`.loadable`)."""
    left = LeftOut()
    unsupported: list[str] = []
    for made, reason in refused:
        {"VIEW": left.views, "TRIGGER": left.triggers, "EVENT": left.events}.get(made.kind, left.routines).add(
            made.name)
        unsupported.append(f"{made.kind.lower()} {made.name} (synco's loader refuses it: {reason})")
    for view, reason in sorted(broken):
        left.views.add(view)
        unsupported.append(f"view {view} ({reason})")
    for trigger, reason in sorted(stale):
        left.triggers.add(trigger)
        unsupported.append(f"trigger {trigger} ({reason})")
    for table in sorted(tables):
        engine = engines.get(table, "").upper()
        if table in OWN_TABLES:
            (left.views if tables[table] == "VIEW" else left.tables).add(table)
            kind = {"VIEW": "view", "SEQUENCE": "sequence"}.get(tables[table], "table")
            unsupported.append(f"{kind} {table} (the name of the install's own journal or marker table)")
        elif engine in EXTERNAL_ENGINES:
            left.tables.add(table)
            unsupported.append(f"table {table} (engine {engine}: its rows live elsewhere)")
        elif engine in UNMOVABLE_ENGINES:
            left.tables.add(table)
            unsupported.append(f"table {table} (engine {engines[table]}: MariaDB cannot move it to another "
                               "database, which synco's install does)")
        elif tables[table] == "SYSTEM VERSIONED" and schema.transaction_versioned(conn, db, table):
            left.history.add(table)
            unsupported.append(f"the history of table {table} (system versioning by transaction ids)")
    for definition in hidden:
        if (definition.kind == "EVENT" and not events) or (definition.kind != "EVENT" and not routines):
            continue
        (left.events if definition.kind == "EVENT" else left.routines).add(definition.name)
        unsupported.append(f"{definition.kind.lower()} {definition.name} (its text is hidden from this user: it "
                           "needs SHOW CREATE ROUTINE or SELECT on mysql.proc, or to be the definer)")
    unsupported += unseen or []
    for made in [*objects.views, *objects.triggers, *(objects.routines if routines else []),
                 *(objects.events if events else [])]:
        charset = (made.charset_client or "").lower()
        if charset in SPLIT_LETTER_CHARSETS:
            {"VIEW": left.views, "TRIGGER": left.triggers, "EVENT": left.events}.get(made.kind, left.routines).add(
                made.name)
            unsupported.append(f"{made.kind.lower()} {made.name} (made over a {charset} connection, whose letters "
                               "may hold a quote's byte: it cannot be loaded)")
    if unsupported and not skip:
        raise DatabaseError("the database has objects a dump cannot carry: " + some_names(unsupported, NAMED, "; ")
                            + " (--skip-unsupported dumps without them)")
    left.reasons = unsupported
    if not routines:
        names = sorted(r.name for r in objects.routines) + sorted(h.name for h in hidden if h.kind != "EVENT")
        left.routines.update(names)
        if names:
            left.reasons.append("routines " + some_names(names, NAMED) + " (--no-routines)")
    if not events:
        names = sorted(e.name for e in objects.events) + sorted(h.name for h in hidden if h.kind == "EVENT")
        left.events.update(names)
        if names:
            left.reasons.append("events " + some_names(names, NAMED) + " (--events dumps them)")
    _dependents(left, objects)
    if left.reasons:
        log.warning("left out of the dump: %s", some_names(left.reasons, NAMED, "; "))
    return left


_QUALIFIED = re.compile(rb"`((?:[^`]|``)+)`\.`")


def warn_other_databases(views: list[schema.Definition], databases: set[str], db: str) -> None:
    """Name the views that qualify a name with another database of the server (see the module docstring);
    the catalog, ``information_schema``, is on every server.

    The server writes a view's text with every name quoted and another database's tables qualified, so
    a quoted name before a dot that is another database's is one (or an alias of the same name)."""
    others: dict[str, set[str]] = {}
    for view in views:
        for match in _QUALIFIED.finditer(view.create):
            name = match.group(1).replace(b"``", b"`").decode("utf-8", "surrogateescape")
            if name != db and name in databases and name.lower() != "information_schema":
                others.setdefault(view.name, set()).add(name)
    if others:
        log.warning("views that read other databases, which a copy needs too: %s", "; ".join(
            f"{view} ({', '.join(sorted(names))})" for view, names in sorted(others.items())))


def _dependents(left: LeftOut, objects: schema.Objects) -> None:
    """Add the views and triggers that read or call what is left out, directly or through each other.

    A name is counted wherever it appears as an identifier in the object's text (quoted or not), which can
    only leave out more than needed (a column named like a left-out table), never less.
    """
    gone = left.tables | left.routines | left.views
    changed = True
    while changed:
        changed = False
        for view in objects.views:
            if view.name not in left.views and names_in(view.create) & gone:
                left.views.add(view.name)
                gone.add(view.name)
                left.reasons.append(f"view {view.name} (reads what is left out)")
                changed = True
    for trigger in objects.triggers:
        if trigger.table in left.tables or names_in(trigger.create) & gone:
            left.triggers.add(trigger.name)
            left.reasons.append(f"trigger {trigger.name} (on or calling what is left out)")


def names_in(statement: bytes) -> set[str]:
    """Every identifier in ``statement``, quoted or bare (string literals are not told apart)."""
    found = set()
    for match in _IDENTIFIER.finditer(statement):
        backtick, double, bare = match.groups()
        if backtick is not None:
            name = backtick.replace(b"``", b"`")
        elif double is not None:
            name = double.replace(b'""', b'"')
        else:
            name = bare
        found.add(name.decode("utf-8", "surrogateescape"))
    return found
