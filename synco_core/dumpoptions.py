"""The dump options of a session, resolved once into one value, and the strict-mode check of them.

``serve``, ``serve --plan``, ``synco pull`` and ``synco detect`` all go through :func:`resolve_session_dump`,
so what the plan shows is exactly what the dump applies:

1. the database's inventory is read once (``inspect_database``), when a plugin declares default options or
   strict mode needs it;
2. every plugin's ``default_dump_options`` for that inventory are joined, and the rules naming tables or
   columns the database does not have are dropped (a plugin may declare rules for optional tables);
3. the framework's own ``dump_options`` (with ``.synco.yml`` applied by ``amend_framework``) go on top;
4. the smart transfer is applied (unless ``--all``) and the column rewrites dropped under ``--no-sanitize``;
5. strict mode refuses a table or column that is neither masked nor kept.

``--no-sanitize`` drops the column rewrites only. Tables without rows, row filters and "newest N rows"
stay: they mostly leave out what is useless on a laptop (sessions, caches, queues, password reset tokens)
and a user who wants those rows too has ``--all`` for the smart part; the loud warning and the meta say
what was shipped raw.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from synco_core.databases import DB_SET_NAME, for_database_set
from synco_core.engines.dispatch import inspect_with_engine
from synco_core.errors import ConfigError, SyncoError
from synco_core.listing import some_names
from synco_core.pluginanswers import dump_options_problem
from synco_core.plugins import DISABLE_PLUGINS_ENV, SyncoPluginManager, get_plugin_manager
from synco_core.tablenames import ENGINES_FOLDING_COLUMNS, name_parts, readings, resolve_column
from synco_core.values import DatabaseConfig, DatabaseInventory, DumpOptions, Framework, SanitizeRule

log = logging.getLogger(__name__)

#: How many unclassified names the strict-mode error lists before it only counts the rest.
STRICT_LIST_LIMIT = 10


@dataclass(frozen=True)
class SessionDump:
    """The dump options of one session, resolved once, with what the checks and the reports need."""

    #: What the engine applies: the smart transfer and ``--no-sanitize`` taken into account.
    options: DumpOptions
    #: The framework's options before ``--all`` and ``--no-sanitize`` (what ``detect`` shows).
    configured: DumpOptions
    #: The database's tables as they were inspected for this session (None: not inspected or not reachable).
    inventory: DatabaseInventory | None
    #: The column rewrites are applied (``--no-sanitize`` turns them off).
    sanitize: bool = True

    @property
    def dropped_rewrites(self) -> tuple[SanitizeRule, ...]:
        """The column rewrites ``--no-sanitize`` leaves out (empty when sanitising)."""
        return () if self.sanitize else self.configured.sanitize


#: Passed as ``inventory`` to have :func:`resolve_session_dump` inspect the database itself.
INSPECT: DatabaseInventory = DatabaseInventory(engine="", server_version="")


def resolve_session_dump(framework: Framework, *, all: bool = False, sanitize: bool = True,
                         manager: SyncoPluginManager | None = None, inventory: DatabaseInventory | None = INSPECT,
                         check: bool = True) -> SessionDump:
    """The dump options a session of ``framework`` uses, and the inventory they were resolved against.

    ``inventory`` is the database's when the caller has read it already (``serve --plan``), None when it
    could not be read; by default it is read here when needed. ``check`` runs the strict-mode check (a
    :class:`ConfigError` when it refuses); ``serve --plan`` reports instead of refusing.
    """
    manager = manager or get_plugin_manager()
    if check and framework.dump_options.strict and not sanitize:
        # Refused before the database is even asked: no flag can take strict mode back.
        raise _raw_strict_refusal()
    if inventory is INSPECT:
        inventory = inspect_for_options(framework, manager, required=check, sanitize=sanitize)
    configured = framework_dump_options(framework, inventory, manager)
    options = configured.effective(all=all)
    if not sanitize:
        options = dataclasses.replace(options, sanitize=())
    dump = SessionDump(options=options, configured=configured, inventory=inventory, sanitize=sanitize)
    if check and framework.database is not None:
        check_strict(framework.database, options, sanitize=sanitize, manager=manager, inventory=inventory)
    return dump


def resolve_database_dump(framework: Framework, set_name: str, *, all: bool = False, sanitize: bool = True,
                          manager: SyncoPluginManager | None = None, inventory: DatabaseInventory | None = INSPECT,
                          check: bool = True) -> SessionDump:
    """The dump options of the database set ``set_name`` (``dbDump`` or a named ``dbDump-<name>``).

    A named database gets the plugins' defaults as the default one does (filtered against its own
    inventory). The framework's explicit options (``.synco.yml``) were written for the default database:
    for a named one, the rules naming tables or columns it lacks are left out, as the plugins' are, while
    strict mode (a promise about every database the project ships) stays. ``inventory`` and ``check`` are
    :func:`resolve_session_dump`'s.
    """
    if set_name == DB_SET_NAME:
        return resolve_session_dump(framework, all=all, sanitize=sanitize, manager=manager, inventory=inventory,
                                    check=check)
    manager = manager or get_plugin_manager()
    target = for_database_set(framework, set_name)
    assert target.database is not None
    if inventory is INSPECT:
        inventory = None
        try:
            inventory = inspect_with_engine(target.database, manager)
        except SyncoError:
            if check and target.dump_options.strict:
                raise
            log.debug("could not inspect %s for its dump options", target.database.url(mask_password=True))
    if inventory is not None:
        target = dataclasses.replace(target, dump_options=present_in(target.dump_options, inventory))
    return resolve_session_dump(target, all=all, sanitize=sanitize, manager=manager, inventory=inventory,
                                check=check)


def inspect_for_options(framework: Framework, manager: SyncoPluginManager, *, required: bool = True,
                        sanitize: bool = False) -> DatabaseInventory | None:
    """The inventory the options are resolved against, read once; None when not needed or not readable.

    It is needed when a plugin declares default dump options (they are filtered against it) or strict mode
    is on. Strict mode cannot do without it, so there an unreachable database is an error (unless not
    ``required``: ``detect`` only shows the options). So is a session that sanitises (``required`` and
    ``sanitize``: ``serve``) whose engine could not read it: the sanitising rules a plugin derives from the
    tables there (a multisite's other sites, Symfony's user table) would be missing, and those tables would
    ship raw. An engine that cannot inspect at all (no ``inspect_database``) leaves the defaults unfiltered,
    and the dump reports the real problem.
    """
    database = framework.database
    strict = framework.dump_options.strict
    if database is None or not (strict or manager.pm.hook.default_dump_options.get_hookimpls()):
        return None
    if strict and required:
        return inspect_with_engine(database, manager)
    if sanitize and required:
        answer: DatabaseInventory | None = manager.hook.inspect_database(database=database)
        return answer
    try:
        return inspect_with_engine(database, manager)
    except Exception as exc:  # Any failure only means "unknown" here, never a failed detect or plan.
        log.debug("could not inspect %s for the default dump options: %s", database.url(mask_password=True), exc)
        return None


def framework_dump_options(framework: Framework, inventory: DatabaseInventory | None,
                           manager: SyncoPluginManager | None = None) -> DumpOptions:
    """Every plugin's ``default_dump_options`` (filtered against ``inventory``) with the framework's own on top."""
    manager = manager or get_plugin_manager()
    defaults = DumpOptions()
    # Fail closed: a profile skipped because its plugin raised would ship the columns it masks.
    for plugin, answer in manager.call_each("default_dump_options", framework=framework, inventory=inventory,
                                            fail_closed=True):
        if not isinstance(answer, DumpOptions):
            raise ConfigError(f"plugin {plugin} answered default_dump_options with a {type(answer).__name__}, "
                              f"not DumpOptions ({DISABLE_PLUGINS_ENV}={plugin} leaves it out)")
        problem = dump_options_problem(answer)
        if problem is not None:
            raise ConfigError(f"plugin {plugin} answered default_dump_options with DumpOptions whose {problem} "
                              f"({DISABLE_PLUGINS_ENV}={plugin} leaves it out)")
        defaults = merge_dump_options(defaults, answer)
    if inventory is not None:
        defaults = present_in(defaults, inventory, every_schema=True)
    return merge_dump_options(defaults, framework.dump_options)


def merge_dump_options(base: DumpOptions, top: DumpOptions) -> DumpOptions:
    """``top`` applied over ``base``: lists joined, a filter or a column rewrite of ``top`` replaces ``base``'s.

    The settings that are not lists of rules (``format``, ``routines``, ``owners``, ...) are ``top``'s;
    strict mode is on when either asks for it.
    """
    rules = {(rule.table, rule.column): rule for rule in base.sanitize}
    for rule in top.sanitize:
        rules[(rule.table, rule.column)] = rule
    return dataclasses.replace(
        top,
        exclude_tables=tuple(dict.fromkeys((*base.exclude_tables, *top.exclude_tables))),
        where={**dict(base.where), **dict(top.where)},
        keep_newest={**dict(base.keep_newest), **dict(top.keep_newest)},
        sanitize=tuple(rules.values()),
        smart_exclude_tables=tuple(dict.fromkeys((*base.smart_exclude_tables, *top.smart_exclude_tables))),
        smart_where={**dict(base.smart_where), **dict(top.smart_where)},
        strict=base.strict or top.strict,
        keep=tuple(dict.fromkeys((*base.keep, *top.keep))),
    )


_V = TypeVar("_V")


def present_in(options: DumpOptions, inventory: DatabaseInventory, *, every_schema: bool = False) -> DumpOptions:
    """``options`` without the rules naming a table (or column) ``inventory`` does not have.

    With ``every_schema`` (a plugin's default rules), a name without a schema that finds a table of that name
    in several PostgreSQL schemas becomes one rule per table: the plugin names its tables as the application's
    ``search_path`` finds them, and the whole database is dumped, so the rule masks that kind of table wherever
    it lies (the user cannot qualify a plugin's rule, and the engine refuses an ambiguous name). A rule naming
    the table with its schema wins over one made so. The user's own rules stay as written: the engine refuses
    an ambiguous one in one line naming the schemas.

    Names match as the engines match them: exactly (case included), PostgreSQL's ``public.`` implied, and a
    name without a schema also finding the table of that name in another schema. Where the engine ignores
    the case of names (``inventory.tables_ignore_case``, ``columns_ignore_case``: SQLite, MySQL's columns, and
    its tables under ``lower_case_table_names``) a rule whose name differs only in case is kept, renamed as the
    inventory spells it, so the engine's own exact checks find it: a ``WP_`` prefix on a server that stores
    ``wp_users`` must not lose the rules of ``WP_users``. Views are not tables: rules naming one are dropped,
    as it has no rows of its own.
    """
    names = _InventoryNames(inventory, every_schema=every_schema)
    dropped = [t for t in (*options.exclude_tables, *options.smart_exclude_tables, *options.where,
                           *options.keep_newest, *options.smart_where) if names.table(t) is None]
    # One rule per column: a rule that names it exactly wins over one that only differs in case, and one
    # naming its schema over one a bare name made for every schema.
    sanitize: dict[tuple[str, str], tuple[int, SanitizeRule]] = {}
    for rule in options.sanitize:
        found = names.every_table(rule.table)
        if not found:
            dropped.append(f"{rule.table}.{rule.column}")
        for table in found:
            column = names.column(table, rule.column)
            if column is None:
                dropped.append(f"{rule.table}.{rule.column}")
                continue
            rank = 0 if len(found) > 1 else 2 if (table, column) == (rule.table, rule.column) else 1
            key = (table, column)
            if rank == 2 or rank > sanitize.get(key, (-1, rule))[0]:
                sanitize[key] = (rank, dataclasses.replace(rule, table=table, column=column))
    if dropped:
        log.debug("default dump options for tables or columns the database lacks, left out: %s",
                  ", ".join(dict.fromkeys(dropped)))
    return dataclasses.replace(
        options,
        exclude_tables=names.tables(options.exclude_tables),
        smart_exclude_tables=names.tables(options.smart_exclude_tables),
        where=names.by_table(options.where),
        keep_newest=names.by_table(options.keep_newest),
        smart_where=names.by_table(options.smart_where),
        sanitize=tuple(rule for _, rule in sanitize.values()),
    )


class _InventoryNames:
    """The tables and columns of an inventory, looked up as its engine looks them up (see :func:`present_in`)."""

    def __init__(self, inventory: DatabaseInventory, *, every_schema: bool = False) -> None:
        self.every_schema = every_schema
        #: A name without a schema -> the tables of that name, by their keys, in every schema.
        self.in_schemas: dict[str, list[str]] = {}
        self.public_columns: dict[str, set[str]] = {}
        self.fold_tables = inventory.tables_ignore_case
        self.fold_columns = inventory.columns_ignore_case
        self.engine = inventory.engine
        self.columns: dict[str, set[str]] = {}
        #: Folded name -> the name as the inventory spells it (the bare name for a name found without schema).
        self.spelling: dict[str, str] = {}
        #: Folded column name -> the column as the inventory spells it, per table key.
        self.column_spelling: dict[str, dict[str, str]] = {}
        for table in inventory.tables:
            if table.kind != "table":
                continue
            key = table_key(table.name)
            # Qualified, public's too: each must name its one table to the engine.
            self.in_schemas.setdefault(key.rsplit(".", 1)[-1], []).append(key if "." in key else "public." + key)
            if "." not in key:
                # Public's own columns: under the bare name, the columns of every schema's table are joined.
                self.public_columns["public." + key] = set(table.columns)
            for name in (key, key.rsplit(".", 1)[-1]):
                self.columns.setdefault(name, set()).update(table.columns)
                self.spelling.setdefault(name.lower(), name)
                spelt = self.column_spelling.setdefault(name, {})
                for column in table.columns:
                    spelt.setdefault(column.lower(), column)

    def table(self, name: str) -> str | None:
        """``name`` when the inventory has that table, its own spelling when the case differs, else None.

        A name written quoted (``"a=b"``) is found as the engines find it (:func:`table_keys`), and given as
        the inventory names it: the rule of a name written so was left out here as naming no table."""
        if table_key(name) in self.columns:
            return name
        found = {key for key in table_keys(name) if key in self.columns}
        if not found and self.fold_tables:
            found = {spelt for key in table_keys(name) if (spelt := self.spelling.get(key.lower())) is not None}
        if len(found) > 1:
            return name  # Two tables: kept as written, for the engine to refuse as ambiguous in one line.
        return found.pop() if found else None

    def column(self, table: str, column: str) -> str | None:
        found = self.public_columns.get(table) if self.every_schema else None
        if found is None:
            found = self.columns.get(table_key(table), set())
        if column in found:
            return column
        if self.engine in ENGINES_FOLDING_COLUMNS:
            # As the engine finds it: SQLite's ASCII case, MySQL's case, PostgreSQL's lower-cased unquoted name.
            return resolve_column(column, found, self.engine)
        if self.fold_columns:
            return self.column_spelling.get(table_key(table), {}).get(column.lower())
        return None

    def every_table(self, name: str) -> list[str]:
        """The tables ``name`` finds: one (:meth:`table`), or with ``every_schema`` each table a name without
        a schema finds in several schemas, by its key (``tenant2.users``)."""
        found = self.table(name)
        if found is None:
            return []
        parts = name_parts(name)
        if self.every_schema and self.engine == "postgresql" and (parts is None or len(parts) == 1):
            keys = self.in_schemas.get(table_key(found), [])
            if len(keys) > 1:
                return keys
        return [found]

    def tables(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(found for name in names for found in self.every_table(name)))

    def by_table(self, by_table: Mapping[str, _V]) -> dict[str, _V]:
        # A qualified name's value wins over the one a bare name gave every schema.
        spread = {found: value for table, value in by_table.items() for found in self.every_table(table)}
        return {**spread, **{found: value for table, value in by_table.items()
                             if len(every := self.every_table(table)) == 1 for found in every}}



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


def table_keys(name: str) -> set[str]:
    """The inventory names a rule's ``name`` may match (:func:`table_key` of each of its readings, see
    :func:`synco_core.tablenames.readings`): ``"a=b"`` is MySQL's and SQLite's table ``a=b``, and a PostgreSQL
    manifest key (``"a.b"``) is itself. The engines refuse a name that matches two tables."""
    return {table_key(reading) for reading in readings(name)}


def strict_violations(options: DumpOptions, inventory: DatabaseInventory) -> list[str]:
    """Tables and ``table.column`` names that ``options`` neither keep nor mask, in inventory order.

    A table none of whose columns is classified is listed by its name alone.

    A table counts as covered when its rows are left out or it is declared safe in ``keep``; otherwise
    each column must have a sanitising rule or be declared safe as ``table.column``. Views are skipped:
    they hold no rows of their own, and the tables they read from are checked themselves.
    """
    _refuse_ambiguous_keep(options.keep, inventory)
    no_rows = {key for t in options.exclude_tables for key in table_keys(t)}
    kept = {key for k in options.keep for key in table_keys(k)}
    masked = {(key, rule.column) for rule in options.sanitize for key in table_keys(rule.table)}
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


def _refuse_ambiguous_keep(keep: tuple[str, ...], inventory: DatabaseInventory) -> None:
    """Refuse a ``keep`` name that reads as two tables or columns (``"x"`` where tables ``x`` and ``"x"`` both
    exist): no engine reads ``keep``, so declaring both safe would let the one not meant ship raw. The other
    rules' names are refused by the engines (:mod:`synco_core.tablenames`)."""
    names = {table_key(table.name) for table in inventory.tables}
    names |= {f"{table_key(table.name)}.{column}" for table in inventory.tables for column in table.columns}
    for written in keep:
        found = [key for key in dict.fromkeys(table_key(reading) for reading in readings(written)) if key in names]
        if len(found) > 1:
            raise ConfigError(f"name {written!r} in sanitize.keep is ambiguous: it names {found[0]!r} (its quotes "
                              f"read as quoting) and {found[1]!r} (as written); quote the second's table name "
                              "again to name it alone")


def format_names(names: list[str], limit: int = STRICT_LIST_LIMIT) -> str:
    """``a, b, c`` or ``a, b (and 12 more)``, so a long list still fits on one line."""
    return some_names(names, limit)


def check_strict(database: DatabaseConfig, options: DumpOptions, *, sanitize: bool = True,
                 manager: SyncoPluginManager | None = None,
                 inventory: DatabaseInventory | None = None) -> DatabaseInventory | None:
    """Refuse (:class:`ConfigError`) a strict-mode dump that would ship an unclassified column.

    ``options`` are the resolved options (:attr:`SessionDump.options`). Under ``--no-sanitize`` strict
    mode refuses outright: the project declared that nothing unmasked may leave the server, and only
    editing ``.synco.yml`` (not a command-line flag) can take that back. Returns the inventory it
    inspected (None when not strict), so a caller can reuse it.
    """
    if not options.strict:
        return None
    if not sanitize:
        raise _raw_strict_refusal()
    inventory = inventory or inspect_with_engine(database, manager)
    missing = strict_violations(options, inventory)
    if missing:
        raise ConfigError(
            f"strict sanitising: {len(missing)} table(s)/column(s) neither masked nor kept: {format_names(missing)}; "
            "mask them (sanitize.columns), declare them safe (sanitize.keep) or leave the table's rows out "
            "(sanitize.no_rows) in .synco.yml")
    return inventory


def _raw_strict_refusal() -> ConfigError:
    return ConfigError("--no-sanitize is refused in strict mode (.synco.yml sanitize: strict: true); "
                       "remove strict: true to ship raw data")
