"""Planning an install: what a received folder holds, what it would replace locally, and whether the target is local."""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from synco_core import hostilejson
from synco_core.databases import NAMED_SET_PREFIX, database_of_set
from synco_core.ddev import outside_ddev_hint
from synco_core.destinations import local_destination, local_file_sets
from synco_core.engines.default_files import dotfile_candidates, excluded_candidates, installed_folder
from synco_core.engines.dispatch import inspect_with_engine
from synco_core.errors import ConfigError, SyncoError
from synco_core.fsutil import safe_relative_path
from synco_core.globs import ExcludeMatcher
from synco_core.install.outsidedump import outside_line, tables_outside
from synco_core.install.removals import files_lost
from synco_core.partfiles import is_receive_part
from synco_core.plugins import SyncoPluginManager, get_plugin_manager
from synco_core.receive.deletions import RunDeletions
from synco_core.receive.kept import keep_patterns
from synco_core.recordversion import damaged, listed_texts, record_version
from synco_core.rewriting import read_source_settings
from synco_core.sizes import human_size
from synco_core.trees import Choice, select_entries, tree_size
from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DumpRequirements,
    Framework,
    InstallOptions,
    TableManifest,
)
from synco_core.wire import WireFileSet, WireFormatError

log = logging.getLogger(__name__)

RECEIVED_FILE = ".synco-received.json"


@dataclass
class ReceivedSet:
    """One file set of a received session, as it lies in the target folder."""

    name: str
    #: ``database``, ``public`` or ``private``.
    kind: str
    path: Path
    relative_base_path: str = ""
    engine: str = ""
    format: str = "sql"
    manifest: dict[str, TableManifest] = field(default_factory=dict)
    sanitize_rules: list[str] = field(default_factory=list)
    #: What the set took to download (a dump's compressed, encrypted artifact), when the record says.
    download_bytes: int | None = None
    #: What the source's plugins published with the dump (``source_settings``), by plugin name.
    source_settings: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Serve's exclude rules of a file set (:mod:`synco_core.receive.kept`): what they match in the folder the
    #: install replaces is the laptop's own and is carried into the new content.
    keep: tuple[str, ...] = ()
    #: What the dump needs of the loading server (the meta's ``requires``), None when the session recorded none.
    requires: DumpRequirements | None = None

    @property
    def size_bytes(self) -> int:
        """What the install puts into the project: a folder's part files (a receive's download cut short) stay."""
        if self.path.is_file():
            return self.path.stat().st_size
        return tree_size(self.path, skip=is_receive_part)


@dataclass
class Received:
    """What ``.synco-received.json`` says is in a target folder."""

    folder: Path
    session: str
    framework_name: str
    sets: list[ReceivedSet]


def load_received(folder: Path) -> Received:
    """Read ``folder/.synco-received.json``; a one-line ConfigError when it is missing or malformed, or when
    other users may rearrange the folder (what it holds would then be theirs to choose)."""
    from synco_core.receive.session import check_target_not_shared

    check_target_not_shared(folder, "receive into a folder of your own (--target) and install from there")
    state_file = folder / RECEIVED_FILE
    try:
        data = hostilejson.loads(state_file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{folder} holds no received session (no {RECEIVED_FILE}); run synco receive first") from None
    except ValueError as exc:
        raise damaged(state_file, "receive record", str(exc), unparsed=True) from exc
    except OSError as exc:
        raise ConfigError(f"{state_file} is unreadable: {exc.strerror or exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("fileSets"), list):
        raise damaged(state_file, "receive record")
    record_version(data, state_file, "receive record")
    sets = [received_set(folder, entry, state_file) for entry in data["fileSets"]]
    return Received(folder, str(data.get("session") or ""), str(data.get("frameworkName") or ""), sets)


def received_set(folder: Path, entry: object, state_file: Path | None = None) -> ReceivedSet:
    """One entry of ``.synco-received.json`` (as receive records it) as a :class:`ReceivedSet`."""
    malformed = f"{state_file or folder / RECEIVED_FILE} has a malformed file set entry"
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ConfigError(malformed)
    local = safe_relative_path(str(entry.get("path") or entry["name"]))
    manifest = {}
    tables = entry.get("tables") or {}
    if isinstance(tables, dict):
        for table, info in tables.items():
            if isinstance(info, dict) and isinstance(info.get("rows"), int):
                manifest[str(table)] = TableManifest(rows=info["rows"], checksum=info.get("checksum"))
    return ReceivedSet(
        name=entry["name"],
        kind=str(entry.get("kind") or ""),
        path=folder.joinpath(*local.parts),
        relative_base_path=str(entry.get("relativeBasePath") or ""),
        engine=str(entry.get("engine") or ""),
        format=str(entry.get("format") or "sql"),
        manifest=manifest,
        sanitize_rules=list(listed_texts(entry.get("sanitizeRules"), malformed)),
        download_bytes=_download_bytes(entry.get("wire")),
        source_settings=read_source_settings(entry.get("sourceSettings")),
        keep=_checked_patterns(keep_patterns(entry.get("wire")), malformed),
        requires=_requirements(entry.get("wire"), malformed),
    )


def _requirements(wire: object, malformed: str) -> DumpRequirements | None:
    """What a dump needs of the loading server, from the meta entry receive recorded (``wire``)."""
    if not isinstance(wire, dict):
        return None
    try:
        dump = WireFileSet.from_json(wire).dump
    except WireFormatError as exc:
        raise ConfigError(f"{malformed}: {exc}") from None
    return dump.requires if dump is not None else None


def _checked_patterns(patterns: tuple[str, ...], malformed: str) -> tuple[str, ...]:
    """``patterns``, refused here (before the install changes anything) when the matcher refuses one: the
    record was written by receive, which checked them, so only an edited record holds such a pattern."""
    try:
        ExcludeMatcher(patterns)
    except ConfigError as exc:
        raise ConfigError(f"{malformed}: {exc}") from None
    return patterns


def _download_bytes(wire: object) -> int | None:
    """The size a set took to download, from the meta entry receive recorded (``wire``), when it is there."""
    if not isinstance(wire, dict):
        return None
    for key in ("mysqlDump", "postgresDump", "sqliteDump", "privateEncryptedFiles", "publicFiles"):
        detail = wire.get(key)
        if isinstance(detail, dict):
            size = detail.get("encryptedSizeBytes") if key != "publicFiles" else detail.get("sizeBytes")
            return size if isinstance(size, int) else None
    return None


@dataclass
class InstallStep:
    """One thing the install will replace, for the confirmation and ``--plan``."""

    kind: str
    name: str
    source: ReceivedSet
    target: str
    size_bytes: int

    def sizes(self) -> str:
        """The size the set took to download (what receive showed and counted), and what it unpacked to."""
        downloaded = self.source.download_bytes
        if downloaded is None or downloaded == self.size_bytes:
            return human_size(self.size_bytes)
        unpacked = "of SQL" if self.kind == "database" and self.source.format == "sql" else "unpacked"
        return f"{human_size(downloaded)} downloaded, {human_size(self.size_bytes)} {unpacked}"


@dataclass
class InstallPlan:
    framework: Framework
    received: Received
    steps: list[InstallStep]
    #: The database installs end the other sessions on their targets (``--no-terminate``: wait for them).
    terminate: bool = True

    def describe(self, *, remote_ok: bool = False, manager: SyncoPluginManager | None = None) -> list[str]:
        """The install question's lines: each target with the incoming size and what is there now.

        ``remote_ok``: measure the local database even when it is not on this machine (the user passed
        ``--force-remote-target``); otherwise such a database is not even connected to for its size.
        """
        lines = [f"Local project: {self.framework.name} in {self.framework.project_dir}"]
        for step in self.steps:
            lines.append(f"  replace {step.kind:<9} {step.target}  <- {step.name} ({step.sizes()})")
            lines.append(f"      current: {current_content(self.framework, step, remote_ok, manager)[1]}")
            carried = carried_over(step)
            if carried:
                lines.append(f"      kept ({len(carried)}, carried into the new content): "
                             + ", ".join(carried[:CARRIED_NAMED]) + (" ..." if len(carried) > CARRIED_NAMED else ""))
            outside = tables_outside_dump(self.framework, step, remote_ok, manager)
            if outside:
                lines.append(f"      {outside_line(outside)}")
            for rule in step.source.sanitize_rules:
                # Sessions of earlier versions recorded MySQL's rules as "sanitised <rule>": said once here.
                lines.append(f"      sanitised at the source: {rule.removeprefix('sanitised ')}")
        return lines

    def to_json(self, *, remote_ok: bool = False, manager: SyncoPluginManager | None = None) -> dict[str, Any]:
        steps = []
        for s in self.steps:
            current_bytes, current = current_content(self.framework, s, remote_ok, manager)
            step: dict[str, Any] = {"kind": s.kind, "name": s.name, "target": s.target, "sizeBytes": s.size_bytes,
                                    "downloadBytes": s.source.download_bytes,
                                    "currentSizeBytes": current_bytes, "current": current,
                                    "carriedOver": carried_over(s) if s.kind == "files" else []}
            if s.kind == "database":
                step["notInDump"] = tables_outside_dump(self.framework, s, remote_ok, manager)
            steps.append(step)
        return {
            "framework": self.framework.name,
            "projectDir": str(self.framework.project_dir),
            "steps": steps,
            "postInstall": [" ".join(cmd) for cmd in self.framework.post_install],
        }


#: The entries carried over that the install's question names (the rest counted).
CARRIED_NAMED = 5


def carried_over(step: InstallStep) -> list[str]:
    """What installing files ``step`` carries from the folder it replaces into the new content, relative, sorted:
    what the set's exclude rules match (a matched folder is one entry) and, for a public set, the dot-named
    entries of the folders the new content has too; only those the new content lacks (the others are
    replaced). Looked at only when the question or the plan is shown: the install finds them itself."""
    if step.kind != "files":
        return []
    folder = installed_folder(Path(step.target))
    received = step.source.path
    if not folder.is_dir():
        return []
    found: set[PurePosixPath] = set()
    if step.source.keep:
        found.update(excluded_candidates(folder, ExcludeMatcher(step.source.keep)))
    if step.source.kind == "public":
        found.update(dotfile_candidates(folder, received))
    # A part file of the received set is not installed: the project's entry of that name is carried over.
    return sorted(path.as_posix() for path in found
                  if is_receive_part(path.name) or not os.path.lexists(received.joinpath(*path.parts)))
def tables_outside_dump(framework: Framework, step: InstallStep, remote_ok: bool = False,
                        manager: SyncoPluginManager | None = None) -> list[str]:
    """The tables of the local database ``step`` replaces that its dump does not hold (:mod:`.outsidedump`);
    [] when there is nothing to compare (files, no manifest, a database not on this machine or not readable)."""
    if step.kind != "database":
        return []
    return tables_outside_set(framework, step.name, step.source.manifest, remote_ok, manager)


def tables_outside_set(framework: Framework, set_name: str, manifest: dict[str, TableManifest],
                       remote_ok: bool = False, manager: SyncoPluginManager | None = None) -> list[str]:
    """:func:`tables_outside_dump` of the database set ``set_name`` whose dump holds ``manifest``'s tables."""
    if not manifest:
        return []
    inventory = local_inventory(framework, set_name, remote_ok, manager)
    return tables_outside(inventory, manifest) if inventory is not None else []


def local_inventory(framework: Framework, set_name: str, remote_ok: bool = False,
                    manager: SyncoPluginManager | None = None) -> DatabaseInventory | None:
    """The tables of the local database ``set_name`` goes into; None when it is not on this machine or not
    readable (nothing is then said about it)."""
    database = database_of_set(framework, set_name)
    if database is None or (not remote_ok and not database.is_local(local_hosts_of(framework))):
        return None
    try:
        return inspect_with_engine(database, manager)
    except SyncoError as exc:
        log.debug("the local database was not compared with the dump: %s", exc)
        return None


def warn_outside_dump(framework: Framework, set_name: str, manifest: dict[str, TableManifest],
                      remote_ok: bool = False, manager: SyncoPluginManager | None = None,
                      inventory: DatabaseInventory | None = None) -> None:
    """Say in one warning line which local tables the install of ``set_name`` moves aside although its dump
    lacks them: where no question showed them (``--yes``), before the database is changed. ``inventory``: the
    local database's tables read before a load began (a streamed dump's manifest is known only at its end,
    when the load may hold locks an inspection would wait for)."""
    if not manifest:
        return
    if inventory is None:
        inventory = local_inventory(framework, set_name, remote_ok, manager)
    outside = tables_outside(inventory, manifest) if inventory is not None else []
    if outside:
        database = database_of_set(framework, set_name)
        where = database.url(mask_password=True) if database is not None else set_name
        log.warning("%s %s", where, outside_line(outside))


def current_content(framework: Framework, step: InstallStep, remote_ok: bool = False,
                    manager: SyncoPluginManager | None = None) -> tuple[int | None, str]:
    """What ``step`` would replace as it is now: (bytes or None when not known, a short description).

    Measured only when the question is asked (an install with ``--yes`` skips it): a folder's files are
    summed, a database's size comes from its engine's ``inspect_database`` statistics (no table is read).
    """
    if step.kind == "files":
        folder = Path(step.target)
        if not os.path.lexists(folder):
            return 0, "nothing (the folder does not exist yet)"
        try:
            size = folder.stat().st_size if folder.is_file() else tree_size(folder)
        except OSError as exc:
            return None, f"not measured ({exc.strerror or exc})"
        return size, human_size(size)
    database = database_of_set(framework, step.name)
    if database is None:
        return None, "no database"
    if not remote_ok and not database.is_local(local_hosts_of(framework)):
        return None, "not measured (the database is not on this machine)"
    try:
        inventory = inspect_with_engine(database, manager)
    except SyncoError as exc:
        return None, f"not measured ({exc})"
    tables = [t for t in inventory.tables if t.kind == "table"]
    if not tables:
        return 0, "an empty database"
    count = f"{len(tables)} table{'s' if len(tables) != 1 else ''}"
    size = sum(t.size_bytes for t in tables)
    if size <= 0:
        return None, f"{count}, size not known"
    return size, f"{human_size(size)} in {count}"


def plan_install(received: Received, framework: Framework, only: tuple[str, ...] = (),
                 manager: SyncoPluginManager | None = None, max_delete: int | None = None,
                 delete_excluded: bool = False, receive_deleted: RunDeletions | None = None,
                 terminate: bool = True) -> InstallPlan:
    """What installing ``received`` into ``framework``'s project would replace; checks inputs exist.

    Where each file set goes is the local project's decision (:mod:`synco_core.destinations`): the
    session's ``relativeBasePath`` only has to agree with it, and a set the project does not know, or a
    place outside the project or inside ``.git``, ``vendor``, ``node_modules`` or a ``bin``, is refused
    before anything is replaced. So is, without ``max_delete``, a file set received empty that would empty a
    local folder (:func:`emptying_refusal`), and with it (``--max-delete N``) an install that would take
    more than N files out of the project's folders in all (:func:`synco_core.install.removals.files_lost`),
    with what ``receive_deleted`` says the same run's receive removed counted once.
    """
    steps = []
    removing: list[tuple[str, int]] = []
    already = receive_deleted or RunDeletions()
    wanted = [item for item in received.sets if not only or item.name in only]
    local_sets = local_file_sets(framework, [item.name for item in wanted if item.kind in ("public", "private")],
                                 manager)
    for item in wanted:
        if not item.path.exists():
            raise ConfigError(f"received set {item.name!r} is missing its data at {item.path}; run receive again")
        if item.kind == "database":
            database = database_of_set(framework, item.name)
            if database is None and item.name.startswith(NAMED_SET_PREFIX):
                name = item.name.removeprefix(NAMED_SET_PREFIX)
                raise ConfigError(f"the local {framework.name} project has no database {name!r} to install "
                                  f"{item.name} into (leave it out with --only)")
            if database is None:
                raise ConfigError(f"the local {framework.name} project has no database configured to install into"
                                  + outside_ddev_hint(framework.project_dir, os.environ))
            steps.append(InstallStep("database", item.name, item, database.url(mask_password=True), item.size_bytes))
        elif item.kind in ("public", "private"):
            destination = local_destination(framework, item.name, item.relative_base_path, local_sets)
            keep = ExcludeMatcher(item.keep) if item.keep and not delete_excluded else None
            if max_delete is None:
                refusal = emptying_refusal(item, destination.path, None, keep)
                if refusal is not None:
                    raise ConfigError(refusal)
            else:
                removing.append((item.name, files_lost(destination.path, item.path, keep, item.kind == "public",
                                                       already.paths.get(item.name, ()))))
            # With --delete-excluded what the rules match goes with the folder: nothing of it is carried over.
            local_item = dataclasses.replace(item, relative_base_path=destination.relative_base_path,
                                             keep=() if delete_excluded else item.keep)
            steps.append(InstallStep("files", item.name, local_item, str(destination.path), item.size_bytes))
        else:
            log.warning("skipping received set %s of unknown kind %r", item.name, item.kind)
    if only:
        unknown = set(only) - {s.name for s in received.sets}
        if unknown:
            raise ConfigError(f"not in the received session: {', '.join(sorted(unknown))}")
    _refuse_one_database_twice(framework, steps)
    if max_delete is not None:
        refusal = install_limit_refusal(removing, already.total, max_delete)
        if refusal is not None:
            raise ConfigError(refusal)
    return InstallPlan(framework, received, steps, terminate)


def install_limit_refusal(removing: list[tuple[str, int]], deleted_before: int, max_delete: int) -> str | None:
    """Why an install that takes ``removing`` files (per set name) out of the project is over ``--max-delete``
    (a total over the run: ``deleted_before`` went in its receive), or None."""
    total = sum(count for _name, count in removing)
    if deleted_before + total <= max_delete:
        return None
    parts = ", ".join(f"{name} {count}" for name, count in removing if count)
    before = f" after the {deleted_before} the receive removed" if deleted_before else ""
    return (f"installing would remove {total} local file(s) of the project in all ({parts}){before}, more than "
            f"--max-delete {max_delete}; nothing was installed")


#: The port a database URL without one reaches.
_DEFAULT_PORTS = {"mysql": 3306, "postgresql": 5432}


def _database_identity(database: DatabaseConfig) -> tuple[object, ...]:
    """What tells two local databases apart: the SQLite file as the disk resolves it, else the server (host,
    port with its default filled in, socket) and the database's name."""
    if database.engine == "sqlite":
        return ("sqlite", os.path.realpath(database.name))
    return (database.engine, (database.host or "").lower(), database.port or _DEFAULT_PORTS.get(database.engine),
            database.socket or "", database.name)


def _refuse_one_database_twice(framework: Framework, steps: list[InstallStep]) -> None:
    """Two database sets bound for one local database (a ``replica`` alias naming where ``default`` does): the
    second swap would replace the first's content and its kept copy, so neither is installed."""
    refuse_one_database_twice(framework, [step.name for step in steps if step.kind == "database"])


def refuse_one_database_twice(framework: Framework, set_names: list[str]) -> None:
    """A one-line ConfigError when two of the database sets ``set_names`` would go into one local database."""
    seen: dict[tuple[object, ...], str] = {}
    for name in set_names:
        database = database_of_set(framework, name)
        if database is None:
            continue
        first = seen.setdefault(_database_identity(database), name)
        if first != name:
            raise ConfigError(f"{first} and {name} would both be installed into {database.url(mask_password=True)}: "
                              f"the local {framework.name} project names one database for both; install one of "
                              f"them (--only {first} or --only {name}) or point them at different databases")


def _holds_a_file(folder: Path) -> bool:
    """True when ``folder`` holds a file the install would put into the project (a part file is not one)."""

    def choose(relative: str, is_folder: bool) -> Choice:
        if is_folder:
            return Choice.ENTER
        return Choice.SKIP if is_receive_part(relative) else Choice.TAKE

    return next(select_entries(folder, choose), None) is not None


def _files_lost(folder: Path, keep: ExcludeMatcher | None) -> int:
    """The files (anything but a folder) under ``folder`` an install of empty content would take away: not
    what the set's exclude rules keep, nor the dotfiles at its top, which the install carries over."""

    def choose(relative: str, is_folder: bool) -> Choice:
        if (relative.startswith(".") and "/" not in relative) or (keep is not None and keep(relative)):
            return Choice.SKIP
        return Choice.ENTER if is_folder else Choice.TAKE

    return sum(1 for _file in select_entries(folder, choose))


def emptying_refusal(item: ReceivedSet, destination: Path, max_delete: int | None,
                     keep: ExcludeMatcher | None = None) -> str | None:
    """Why installing the file set ``item``, received with no file at all, may not replace ``destination``.

    receive ``--delete`` refuses to empty a set the server lists no file in (an unmounted share looks like
    that: :func:`synco_core.receive.public.delete_refusal`), but a first receive into a new folder has nothing
    to remove, and its empty copy would then replace the project's folder at the install (kept, so a
    rollback brings it back; still the laptop's uploads gone from the site). The same rule holds here:
    ``--max-delete N`` allows up to N lost files; without it, none. ``keep``: the set's exclude rules (None
    with ``--delete-excluded``, whose entries then go too).
    """
    if not item.path.is_dir() or _holds_a_file(item.path) or not destination.is_dir():
        return None
    lost = _files_lost(destination, keep)
    if not lost or (max_delete is not None and lost <= max_delete):
        return None
    limit = f"more than --max-delete {max_delete}" if max_delete is not None else "pass --max-delete " + str(lost) \
        + " if it was emptied on purpose"
    return (f"received set {item.name!r} holds no file, and installing it would remove all {lost} local file(s) "
            f"of {destination} (a share not mounted on the server looks like this); nothing was changed: {limit}")


def local_hosts_of(framework: Framework) -> tuple[str, ...]:
    """Extra host names the project declares local (``local_hosts`` in its settings)."""
    return tuple(str(h) for h in framework.settings.get("local_hosts", ()))


def check_target(framework: Framework, force_remote_target: bool = False,
                 local_hosts: tuple[str, ...] | None = None) -> None:
    """Refuse a database that is not on this machine unless forced (a one-line :class:`ConfigError`).

    ``receive --install`` calls this before downloading anything, so a local configuration that points at
    production is refused before the transfer rather than after it.
    """
    database = framework.database
    if database is None or force_remote_target:
        return
    if not database.is_local(local_hosts_of(framework) if local_hosts is None else local_hosts):
        raise ConfigError(
            f"refusing to replace {database.engine} database {database.name!r} on {database.host}: it is not "
            "on this machine (pass --force-remote-target if you really mean it)"
        )


def check_engine(framework: Framework, set_name: str, engine: str | None) -> None:
    """Refuse a dump of one engine for a local database of another, in one line, before anything is replaced
    (and, from ``receive --install``, downloaded). No engine converts another's dump: a PostgreSQL dump fed to
    SQLite (production on PostgreSQL, the laptop on Django's default SQLite) failed half-way through the load
    with the SQL error of its first statement."""
    database = database_of_set(framework, set_name)
    if database is None or not engine or engine == database.engine:
        return
    raise ConfigError(
        f"{set_name} is a {engine} dump but the local database {database.url(mask_password=True)} is "
        f"{database.engine}: synco loads a dump only into a database of the same engine (point the local "
        f"project at a {engine} database)"
    )


def check_install_target(framework: Framework, force_remote_target: bool = False,
                         manager: SyncoPluginManager | None = None) -> None:
    """Ask the engine whether an install could replace the local database (reachable, rights to create and
    replace it): a :class:`~synco_core.DatabaseError` now rather than after the download. An engine that
    does not implement the check is trusted."""
    database = framework.database
    if database is None:
        return
    manager = manager or get_plugin_manager()
    options = InstallOptions(force_remote_target=force_remote_target, local_hosts=local_hosts_of(framework))
    if manager.hook.check_install_target(database=database, options=options) is None:
        log.debug("no engine checks %s databases before an install", database.engine)
