"""The databases of a project: the one a session dumps by default, and the other named ones.

A framework has one default database (:attr:`Framework.database`, the file set ``dbDump`` as Go synco
named it) and may name others (:attr:`Framework.databases`: Django's aliases besides ``default``, Rails'
databases besides ``primary``). The others are never dumped unless asked for: ``serve --only
dbDump-<name>`` (or ``pull --only``) adds the file set ``dbDump-<name>``, and an install puts it into the
local project's database of the same name. One naming rule, here, for serve, plan, detect and install.
"""

from __future__ import annotations

import dataclasses
import re

from synco_core.errors import ConfigError
from synco_core.values import DatabaseConfig, Framework

#: The file set of the default database, as Go synco calls it; ``--only dbDump`` selects it.
DB_SET_NAME = "dbDump"
#: The file set of the named database ``<name>`` is ``dbDump-<name>``.
NAMED_SET_PREFIX = DB_SET_NAME + "-"
#: What a database name may hold to become part of a set name (and so of file names and URLs).
_NAME = re.compile(r"[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*")


def usable_name(name: str) -> bool:
    """True when ``name`` can name a database's file set: letters, digits, ``_``, ``.`` and inner ``-``."""
    return bool(_NAME.fullmatch(name)) and name not in (".", "..")


def database_set_name(name: str) -> str:
    """The file set of the named database ``name`` (``analytics`` -> ``dbDump-analytics``)."""
    if not usable_name(name):
        raise ConfigError(f"database name {name!r} cannot name a file set (letters, digits, '_', '.', '-' only)")
    return NAMED_SET_PREFIX + name


def is_database_set(set_name: str) -> bool:
    """True for ``dbDump`` and every ``dbDump-<name>``: the names ``--only`` gives to databases."""
    return set_name == DB_SET_NAME or set_name.startswith(NAMED_SET_PREFIX)


def named_sets(framework: Framework) -> dict[str, DatabaseConfig]:
    """The named databases of ``framework`` by their file set names (those with a usable name)."""
    return {NAMED_SET_PREFIX + name: database for name, database in framework.databases.items()
            if usable_name(name)}


def database_of_set(framework: Framework, set_name: str) -> DatabaseConfig | None:
    """The database of ``framework`` that the file set ``set_name`` is dumped from or installed into.

    ``dbDump`` (and any database set of a session that knows no names, such as Go synco's) is the default
    database; ``dbDump-<name>`` is the database ``<name>``, None when the project has none of that name.
    """
    if set_name.startswith(NAMED_SET_PREFIX):
        return framework.databases.get(set_name[len(NAMED_SET_PREFIX):])
    return framework.database


def requested_named_sets(framework: Framework, only: tuple[str, ...]) -> list[str]:
    """The named databases' sets that ``--only`` asks for, in its order; an unknown one is a ConfigError."""
    known = named_sets(framework)
    wanted = [name for name in only if name.startswith(NAMED_SET_PREFIX)]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        available = ", ".join([DB_SET_NAME] * (framework.database is not None) + list(known)) or "none"
        raise ConfigError(f"--only {', '.join(unknown)}: the {framework.name} project has no such database "
                          f"(databases: {available})")
    return list(dict.fromkeys(wanted))


def for_database_set(framework: Framework, set_name: str) -> Framework:
    """``framework`` with the database of ``set_name`` as its database, for dumping and installing that one.

    The copy shares everything else (settings, file sets, dump options): the plugins' ``default_dump_options``
    see the named database as the framework's, and the core filters their rules against its inventory.
    """
    if set_name == DB_SET_NAME:
        return framework
    database = database_of_set(framework, set_name)
    if database is None:
        raise ConfigError(f"the {framework.name} project has no database {set_name[len(NAMED_SET_PREFIX):]!r} "
                          f"(file set {set_name})")
    return dataclasses.replace(framework, database=database, databases={})
