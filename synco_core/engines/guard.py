"""The checks every installer runs before replacing a database: is it local, and did the user agree.

Shared by the built-in engines (and open to third-party ones), so the refusal and the question read the
same whatever the engine.
"""

from __future__ import annotations

from synco_core.errors import ConfigError, NotConfirmedError
from synco_core.values import DatabaseConfig, InstallOptions


def check_target(database: DatabaseConfig, options: InstallOptions, action: str, engine_label: str,
                 where: str, note: str = "") -> None:
    """Refuse a non-local target (unless forced) and ask before ``action`` (unless ``options.yes``).

    :param action: what is about to happen, as a verb: ``replace``, ``roll back``.
    :param engine_label: the engine as users know it (``MySQL``, ``PostgreSQL``, ``SQLite``).
    :param where: host, socket or file path, without credentials.
    :param note: a sentence added to the question (what is kept for rollback).
    """
    if not (database.is_local(options.local_hosts) or options.force_remote_target):
        raise ConfigError(f"refusing to {action} {engine_label} database {database.name!r} on {where}: it is not on "
                          "this machine (pass --force-remote-target, or name the host as local in .synco.yml)")
    if options.yes:
        return
    verb = f"{action} {engine_label} database {database.name!r} on {where}"
    if options.confirm is None:
        raise NotConfirmedError(verb, asked=False)
    question = f"{action.capitalize()} {engine_label} database {database.name!r} on {where}?"
    if note:
        question += " " + note
    if not options.confirm(question):
        raise NotConfirmedError(verb, asked=True)
