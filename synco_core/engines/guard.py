"""The checks every installer runs before replacing a database: is it local, is it synco's own, and did the
user agree.

Shared by the built-in engines (and open to third-party ones), so the refusal and the question read the
same whatever the engine.
"""

from __future__ import annotations

from collections.abc import Mapping

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


def refuse_derived_name(name: str, roles: Mapping[str, str], engine_label: str, where: str,
                        fold_case: bool = False) -> None:
    """Refuse a target named as synco names what it keeps beside another target.

    ``roles`` maps each suffix the engine adds to a target's name (``__synco_prev``) to what it holds there
    (``the previous content``). An install into ``shop__synco_prev`` would replace the kept copy of ``shop``
    (and take the install lock of another name, so it would not even wait for one of ``shop``): a later
    rollback of ``shop`` then put in content that had never been there. ``fold_case``: the server or file
    system may not tell ``SHOP__SYNCO_PREV`` from ``shop__synco_prev``.
    """
    compared = name.casefold() if fold_case else name
    for suffix, role in roles.items():
        own = suffix.casefold() if fold_case else suffix
        if compared.endswith(own) and len(compared) > len(own):
            base = name[:-len(suffix)].lstrip(".") or name[:-len(suffix)]
            raise ConfigError(f"{engine_label} database {name!r} on {where} cannot be installed into or rolled back: "
                              f"synco keeps {role} of {base!r} under that name (names ending in "
                              f"{', '.join(roles)} are synco's own); use another name")
