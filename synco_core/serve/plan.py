"""``serve --plan``: what a session would hold, worked out without writing anything.

The plan uses the same decisions as :func:`synco_core.serve.build.build_session` (the resolved dump
options, the smart-skipped sets, ``--only``), but reads only: the database's statistics through
``inspect_database`` (estimates, never a ``COUNT(*)``), and the file trees by walking them or iterating the
plugin's index entries (sizes of files on S3 or a CDN come from those entries; nothing is downloaded).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import asdict, dataclass, field
from typing import Any

from synco_core.databases import DB_SET_NAME, database_of_set, is_database_set, requested_named_sets
from synco_core.detection import list_file_sets
from synco_core.dumpoptions import (
    check_strict,
    describe_rules,
    resolve_database_dump,
    strict_violations,
    table_key,
    table_keys,
)
from synco_core.engines.dispatch import inspect_with_engine
from synco_core.errors import ConfigError, SyncoError
from synco_core.plugins import SyncoPluginManager
from synco_core.serve.build import (
    GO_ENGINE,
    BuildOptions,
    _walk,
    includes_database,
    public_entries,
)
from synco_core.serve.private_tar import admitted
from synco_core.serve.setroot import unavailable_reason
from synco_core.sizes import human_size
from synco_core.values import DatabaseInventory, DumpOptions, FileSet, FileSetOptions, Framework

log = logging.getLogger(__name__)


@dataclass
class TablePlan:
    """One table of the plan: its statistics and what the dump does to it."""

    name: str
    kind: str
    rows_estimate: int
    size_bytes: int
    #: ``all``, ``none`` (structure only), ``filtered`` (a where condition or newest N), ``view``.
    rows: str
    where: str | None = None
    keep_newest: str | None = None
    #: Column -> the rule that replaces it.
    sanitized: dict[str, str] = field(default_factory=dict)


@dataclass
class FileSetPlan:
    """One file set of the plan."""

    name: str
    kind: str
    #: ``included``, ``smart-skipped`` (``--all`` includes it), ``skipped`` (cannot be transferred) or
    #: ``unavailable`` (its folder cannot be read: :mod:`synco_core.serve.setroot`; a public set is published
    #: as such, which no receiver changes its copy of, a private one is left out).
    status: str
    reason: str | None = None
    file_count: int | None = None
    size_bytes: int | None = None
    #: Public sets: how many entries are absolute URLs (fetched from S3/a CDN, not from this server).
    absolute_urls: int | None = None
    error: str | None = None


@dataclass
class DatabasePlan:
    """One database of the plan (the default one's fields are :class:`SessionPlan`'s own, for the JSON
    readers that know one database; the named databases ``--only`` adds are listed as these)."""

    #: The file set: ``dbDump``, or ``dbDump-<name>`` for a named database.
    name: str
    database: dict[str, Any]
    tables: list[TablePlan] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    strict: bool = False
    strict_violations: list[str] = field(default_factory=list)
    refusal: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class SessionPlan:
    """Everything ``serve --plan`` reports."""

    framework: str
    project_dir: str
    sanitize: bool
    database: dict[str, Any] | None = None
    tables: list[TablePlan] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    strict: bool = False
    #: Strict mode: the tables/columns neither masked nor kept (serve would refuse while any is left).
    strict_violations: list[str] = field(default_factory=list)
    #: Why ``serve`` would refuse to start (strict mode, ``--compat``), or None.
    refusal: str | None = None
    file_sets: list[FileSetPlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The project's named databases ``--only dbDump-<name>`` adds.
    named_databases: list[DatabasePlan] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _table_plan(table_name: str, kind: str, rows_estimate: int, size_bytes: int, options: DumpOptions) -> TablePlan:
    key = table_key(table_name)
    plan = TablePlan(name=table_name, kind=kind, rows_estimate=rows_estimate, size_bytes=size_bytes, rows="all")
    if kind != "table":
        plan.rows = "view"
        return plan
    if any(key in table_keys(t) for t in options.exclude_tables):
        plan.rows = "none"
        return plan
    plan.where = next((cond for t, cond in options.where.items() if key in table_keys(t)), None)
    newest = next((spec for t, spec in options.keep_newest.items() if key in table_keys(t)), None)
    if newest is not None:
        plan.keep_newest = f"newest {newest[1]} by {newest[0]}"
    if plan.where is not None or newest is not None:
        plan.rows = "filtered"
    plan.sanitized = {rule.column: rule.shown()
                      for rule in options.sanitize if key in table_keys(rule.table)}
    return plan


def _measure(file_set: FileSet, result: FileSetPlan) -> None:
    """Fill in the file count and total size of ``file_set`` (without reading any file's content)."""
    count = size = absolute = 0
    if file_set.kind == "public":
        for entry in public_entries(file_set):
            count += 1
            size += entry.size
            absolute += entry.is_absolute_url or entry.uri.startswith(("http://", "https://"))
        result.absolute_urls = absolute
    else:
        if file_set.root is None or not file_set.root.is_dir():
            raise ConfigError(f"private file set {file_set.name!r}: folder {file_set.root} does not exist")
        for relative, found in _walk(file_set.root, file_set.left_out):
            # What serve would leave out is not counted: a name no receiver writes, a file it cannot read.
            if not admitted(relative, found.path):
                continue
            try:
                info = found.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and os.access(found.path, os.R_OK):
                count += 1
                size += info.st_size
    result.file_count, result.size_bytes = count, size


def _plan_database(framework: Framework, options: BuildOptions, set_name: str,
                   manager: SyncoPluginManager | None = None) -> DatabasePlan:
    """The plan of one database set: its tables as the engine's statistics see them, and the rules."""
    database = database_of_set(framework, set_name)
    assert database is not None
    part = DatabasePlan(name=set_name, database={"engine": database.engine, "url": database.url(mask_password=True)})
    if options.compat:
        if set_name != DB_SET_NAME:
            part.refusal = f"--compat: Go synco v2 knows one database per session ({DB_SET_NAME}), not {set_name}"
        elif database.engine != GO_ENGINE:
            part.refusal = f"--compat: Go synco v2 can only load MySQL dumps, not {database.engine}"
    inventory: DatabaseInventory | None = None
    try:
        inventory = inspect_with_engine(database, manager)
    except SyncoError as exc:
        part.database["error"] = str(exc)
    # The plan reports what strict mode would refuse instead of refusing, so the check runs below.
    dump = resolve_database_dump(framework, set_name, all=options.all, sanitize=options.sanitize, manager=manager,
                                 inventory=inventory, check=False)
    dump_options = dump.options
    part.strict = dump_options.strict
    part.rules = describe_rules(dump_options)
    if inventory is not None:
        part.database["server_version"] = inventory.server_version
        part.tables = [_table_plan(t.name, t.kind, t.rows_estimate, t.size_bytes, dump_options)
                       for t in inventory.tables]
        if dump_options.strict:
            part.strict_violations = strict_violations(dump_options, inventory)
            try:
                check_strict(database, dump_options, sanitize=options.sanitize, inventory=inventory)
            except ConfigError as exc:
                part.refusal = part.refusal or str(exc)
    if not options.sanitize:
        part.notes.append(f"--no-sanitize: {len(dump.dropped_rewrites)} column rewrite(s) of the sanitising "
                          "rules are not applied; raw values would be shipped")
    return part


def build_plan(framework: Framework, options: BuildOptions, manager: SyncoPluginManager | None = None) -> SessionPlan:
    """Work out the plan of a session of ``framework`` with ``options``; nothing is written."""
    plan = SessionPlan(framework=framework.name, project_dir=str(framework.project_dir), sanitize=options.sanitize)
    if includes_database(framework, options):
        main = _plan_database(framework, options, DB_SET_NAME, manager)
        plan.database, plan.tables, plan.rules = main.database, main.tables, main.rules
        plan.strict, plan.strict_violations, plan.refusal = main.strict, main.strict_violations, main.refusal
        plan.notes.extend(main.notes)
    for set_name in requested_named_sets(framework, options.only):
        named = _plan_database(framework, options, set_name, manager)
        plan.named_databases.append(named)
        plan.refusal = plan.refusal or named.refusal
        plan.notes.extend(f"{set_name}: {note}" for note in named.notes)
    if options.compat:
        # Imported here: the runner imports the builder, and the plan is only ever built from the CLI.
        from synco_core.serve.runner import COMPAT_NOTES

        plan.notes.extend(COMPAT_NOTES)
    wanted = set(options.only)
    file_set_names = tuple(name for name in options.only if not is_database_set(name))
    if not options.only or file_set_names:
        for file_set in list_file_sets(framework, FileSetOptions(all=options.all, only=file_set_names), manager):
            result = FileSetPlan(name=file_set.name, kind=file_set.kind, status="included")
            unreadable = unavailable_reason(file_set.root) if file_set.root is not None and \
                file_set.entries is None and not file_set.skipped_reason else None
            if file_set.skipped_reason:
                result.status, result.reason = "skipped", file_set.skipped_reason
            elif unreadable is not None:
                result.status, result.reason = "unavailable", unreadable
            elif file_set.smart_skip and not options.all and file_set.name not in wanted:
                result.status, result.reason = "smart-skipped", "left out by default; --all includes it"
            # Smart-skipped sets are measured too: the plan is where a user decides whether --all is worth it.
            if result.status not in ("skipped", "unavailable"):
                try:
                    _measure(file_set, result)
                except SyncoError as exc:
                    result.error = str(exc)
            plan.file_sets.append(result)
    return plan


def _database_lines(part: DatabasePlan, sanitize: bool, label: str = "Database") -> list[str]:
    """One database of the plan as text: the server, each table and what the dump does to it."""
    lines = []
    version = part.database.get("server_version")
    engine = f" ({part.database['engine']} {version})" if version else ""
    lines.append(f"{label}: {part.database['url']}{engine}")
    if "error" in part.database:
        lines.append(f"  cannot inspect: {part.database['error']}")
    for table in part.tables:
        what = {"all": "all rows", "none": "NO ROWS (structure only)", "view": "view",
                "filtered": "filtered"}[table.rows]
        details = []
        if table.where:
            details.append(f"where {table.where}")
        if table.keep_newest:
            details.append(table.keep_newest)
        if table.sanitized:
            details.append("sanitised: " + ", ".join(f"{c} -> {r}" for c, r in table.sanitized.items()))
        suffix = f"; {'; '.join(details)}" if details else ""
        size = human_size(table.size_bytes)
        lines.append(f"  {table.name:<32} ~{table.rows_estimate:>9} rows {size:>10}  {what}{suffix}")
    if not sanitize:
        lines.append("  SANITISING OFF (--no-sanitize): column rewrites are not applied")
    if part.strict:
        if part.strict_violations:
            count = len(part.strict_violations)
            lines.append(f"  strict mode: {count} table(s)/column(s) neither masked nor kept: "
                         + ", ".join(part.strict_violations))
        else:
            lines.append("  strict mode: every table and column is masked, kept or without rows")
    return lines


def plan_lines(plan: SessionPlan) -> list[str]:
    """The plan as text for a terminal."""
    lines = [f"Plan for {plan.framework} in {plan.project_dir} (nothing is written)"]
    if plan.database is not None:
        main = DatabasePlan(name=DB_SET_NAME, database=plan.database, tables=plan.tables, rules=plan.rules,
                            strict=plan.strict, strict_violations=plan.strict_violations)
        lines.extend(_database_lines(main, plan.sanitize))
    for named in plan.named_databases:
        lines.extend(_database_lines(named, plan.sanitize, f"Database {named.name}"))
    if plan.file_sets:
        lines.append("File sets:")
        for fs in plan.file_sets:
            counted = (f"{fs.file_count} files, {human_size(fs.size_bytes)}" if fs.file_count is not None else "")
            if fs.absolute_urls:
                counted += f" ({fs.absolute_urls} from absolute URLs)"
            status = fs.status + (f" ({fs.reason})" if fs.reason else "")
            error = f"; {fs.error}" if fs.error else ""
            lines.append(f"  {fs.name:<24} {fs.kind:<8} {status}" + (f": {counted}" if counted else "") + error)
    lines.extend(plan.notes)
    if plan.refusal:
        lines.append(f"serve would refuse to start: {plan.refusal}")
    return lines
