"""The dump options a session really uses, and the strict-mode check of the sanitising rules.

``serve``, ``serve --plan`` and ``synco pull`` all go through :func:`resolve_dump_options`, so what the plan
shows is exactly what the dump applies: the framework's smart transfer (unless ``--all``), the sanitising
profile and ``.synco.yml`` rules (unless ``--no-sanitize``).

``--no-sanitize`` drops the column rewrites only. Tables without rows, row filters and "newest N rows"
stay: they mostly leave out what is useless on a laptop (sessions, caches, queues, password reset tokens)
and a user who wants those rows too has ``--all`` for the smart part; the loud warning and the meta say
what was shipped raw.
"""

from __future__ import annotations

import dataclasses

from synco_core.engines.dispatch import inspect_with_engine
from synco_core.errors import ConfigError
from synco_core.plugins import SyncoPluginManager
from synco_core.values import DatabaseConfig, DatabaseInventory, DumpOptions, Framework

#: How many unclassified names the strict-mode error lists before it only counts the rest.
STRICT_LIST_LIMIT = 10


def resolve_dump_options(framework: Framework, base: DumpOptions | None = None, *, all: bool = False,
                         sanitize: bool = True) -> DumpOptions:
    """``base`` (default: the framework's dump options) with the smart transfer and ``--no-sanitize`` applied."""
    options = (base or framework.dump_options).effective(all=all)
    if not sanitize:
        options = dataclasses.replace(options, sanitize=())
    return options


def describe_rules(options: DumpOptions) -> list[str]:
    """The rules of ``options`` in words, as the engines report them (used when an engine reports none)."""
    rules = [f"{t}: rows left out (structure only)" for t in options.exclude_tables]
    rules += [f"{t}: only rows where {cond}" for t, cond in options.where.items()]
    rules += [f"{t}: only the newest {n} rows by {col}" for t, (col, n) in options.keep_newest.items()]
    rules += [rule.describe() for rule in options.sanitize]
    return rules


def table_key(name: str) -> str:
    """The name a table is matched by: PostgreSQL's default schema ``public.`` is implied, as in inventories."""
    return name[len("public."):] if name.startswith("public.") else name


def strict_violations(options: DumpOptions, inventory: DatabaseInventory) -> list[str]:
    """Tables and ``table.column`` names that ``options`` neither keep nor mask, in inventory order.

    A table none of whose columns is classified is listed by its name alone.

    A table counts as covered when its rows are left out or it is declared safe in ``keep``; otherwise
    each column must have a sanitising rule or be declared safe as ``table.column``. Views are skipped:
    they hold no rows of their own, and the tables they read from are checked themselves.
    """
    no_rows = {table_key(t) for t in options.exclude_tables}
    kept = {table_key(k) for k in options.keep}
    masked = {(table_key(rule.table), rule.column) for rule in options.sanitize}
    missing: list[str] = []
    for table in inventory.tables:
        if table.kind != "table":
            continue
        name = table_key(table.name)
        if name in no_rows or name in kept:
            continue
        columns = [c for c in table.columns if (name, c) not in masked and f"{name}.{c}" not in kept]
        # A table none of whose columns is classified (typically a new table) is named once, not per column.
        if columns and len(columns) == len(table.columns):
            missing.append(name)
        else:
            missing.extend(f"{name}.{column}" for column in columns)
    return missing


def format_names(names: list[str], limit: int = STRICT_LIST_LIMIT) -> str:
    """``a, b, c`` or ``a, b, ... (and 12 more)``, so a long list still fits on one line."""
    shown = ", ".join(names[:limit])
    return shown + (f" (and {len(names) - limit} more)" if len(names) > limit else "")


def check_strict(database: DatabaseConfig, options: DumpOptions, *, sanitize: bool = True,
                 manager: SyncoPluginManager | None = None,
                 inventory: DatabaseInventory | None = None) -> DatabaseInventory | None:
    """Refuse (:class:`ConfigError`) a strict-mode dump that would ship an unclassified column.

    ``options`` are the resolved options (:func:`resolve_dump_options`). Under ``--no-sanitize`` strict
    mode refuses outright: the project declared that nothing unmasked may leave the server, and only
    editing ``.synco.yml`` (not a command-line flag) can take that back. Returns the inventory it
    inspected (None when not strict), so a caller can reuse it.
    """
    if not options.strict:
        return None
    if not sanitize:
        raise ConfigError("--no-sanitize is refused in strict mode (.synco.yml sanitize: strict: true); "
                          "remove strict: true to ship raw data")
    inventory = inventory or inspect_with_engine(database, manager)
    missing = strict_violations(options, inventory)
    if missing:
        raise ConfigError(
            f"strict sanitising: {len(missing)} table(s)/column(s) neither masked nor kept: {format_names(missing)}; "
            "mask them (sanitize.columns), declare them safe (sanitize.keep) or leave the table's rows out "
            "(sanitize.no_rows) in .synco.yml")
    return inventory
