"""The local server checked against what a dump needs (the meta's ``requires``) before it is downloaded.

A storage engine, an extension, a collation, a ``max_allowed_packet`` or a major version the laptop's server
lacks was found by the load, after the whole download. The source records what its dump needs
(:class:`~synco_core.values.DumpRequirements`); ``receive --install`` and ``pull --install`` ask the engine
(``check_dump_requirements``) once the meta is read, before any transfer, and ``install`` before it changes
anything: every missing thing is named in one line with its fix. ``--skip-requirements`` goes on anyway (the
load may fail on what was named then, the local database as it was). A dump whose meta records nothing (Go
synco's, an older synco's) is not checked, as before.
"""

from __future__ import annotations

import logging

from synco_core.databases import database_of_set
from synco_core.errors import ConfigError
from synco_core.listing import some_names
from synco_core.plugins import PluginError, SyncoPluginManager, get_plugin_manager
from synco_core.values import DatabaseConfig, DumpRequirements, Framework

log = logging.getLogger(__name__)

#: The option that installs although the local server lacks what the dump needs.
SKIP_OPTION = "--skip-requirements"
#: What each refusal adds, by the moment it comes.
NOTHING_DOWNLOADED = "nothing was downloaded"
NOTHING_CHANGED = "nothing was changed"


class RequirementsError(ConfigError):
    """The local server lacks what a dump needs."""


def check_requirements(framework: Framework, set_name: str, requires: DumpRequirements | None, *, skip: bool,
                       nothing_done: str, manager: SyncoPluginManager | None = None) -> None:
    """Refuse (one-line :class:`RequirementsError`) a dump set whose requirements the local server of
    ``framework`` lacks; with ``skip`` only warn. ``nothing_done`` says what the refusal left undone."""
    database = database_of_set(framework, set_name)
    if database is not None:
        check_database_requirements(database, f"the dump {set_name}", requires, skip=skip,
                                    nothing_done=nothing_done, manager=manager)


def check_database_requirements(database: DatabaseConfig, dump: str, requires: DumpRequirements | None, *,
                                skip: bool, nothing_done: str, manager: SyncoPluginManager | None = None) -> None:
    """:func:`check_requirements` for ``database`` itself (``synco db load``); ``dump`` names the dump."""
    if requires is None or not requires:
        return
    manager = manager or get_plugin_manager()
    lacking = manager.hook.check_dump_requirements(database=database, requirements=requires)
    if lacking is None:
        log.debug("no engine checks what a dump needs of %s databases", database.engine)
        return
    if not all(isinstance(entry, str) for entry in lacking):
        raise PluginError(f"check_dump_requirements answered {lacking!r} for {database.engine}; it should list "
                          "strings")
    if not lacking:
        return
    line = (f"the local database server lacks what {dump} needs to load into {database.engine} "
            f"database {database.name!r}: {some_names(lacking, 10, '; ')}")
    if skip:
        log.warning("%s; going on (%s): the load may fail on it, the local database then as it was", line,
                    SKIP_OPTION)
        return
    raise RequirementsError(f"{line}; {nothing_done} ({SKIP_OPTION} goes on anyway: the load may then fail on it, "
                            "the local database as it was)")
