"""Installing a received session into the local instance: database and files, all or nothing.

``synco install DIR`` and ``synco receive --install`` read ``DIR/.synco-received.json`` (written by
receive), detect the local project with the same plugins the source used, show what will be replaced
and ask, then call ``install_database`` and ``install_files``. The database installers swap atomically
and keep the previous content; if a later step fails, every step already done is undone (the database
rolled back, replaced folders moved back), so a failed install leaves the local instance as it was.
A successful install records what it replaced in the project (:mod:`synco_core.install_state`), and
:func:`rollback_install` (``synco db rollback`` run in the project) puts database and folders back.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from synco_core.databases import DB_SET_NAME, NAMED_SET_PREFIX, database_of_set, for_database_set
from synco_core.destinations import check_destination, local_destination, local_file_sets
from synco_core.detection import detect
from synco_core.engines import crashpoints
from synco_core.engines.default_files import carry_dotfiles
from synco_core.engines.dispatch import inspect_with_engine, install_with_engine, rollback_with_engine
from synco_core.errors import ConfigError, NotConfirmedError, SyncoError
from synco_core.fsutil import safe_relative_path
from synco_core.install_journal import (
    InstallJournal,
    JournalStep,
    default_backup,
    dotfile_candidates,
    prepare_folder,
    recover,
    undo_steps,
)
from synco_core.install_state import (
    InstallState,
    ReplacedFolder,
    forget_state,
    read_state,
    swap_folder,
    write_state,
)
from synco_core.plugins import SyncoPluginManager, get_plugin_manager
from synco_core.rewriting import install_rewriter, read_source_settings
from synco_core.sizes import human_size
from synco_core.values import (
    DatabaseConfig,
    FilesInstallResult,
    Framework,
    InstallOptions,
    InstallResult,
    ReceivedFileSet,
    TableManifest,
)

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

    @property
    def size_bytes(self) -> int:
        if self.path.is_file():
            return self.path.stat().st_size
        return _tree_size(str(self.path))


def _tree_size(folder: str) -> int:
    """Bytes of the regular files under ``folder`` (links not followed): one stat per file, none per folder."""
    total = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                total += _tree_size(entry.path)
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    return total


@dataclass
class Received:
    """What ``.synco-received.json`` says is in a target folder."""

    folder: Path
    session: str
    framework_name: str
    sets: list[ReceivedSet]


def load_received(folder: Path) -> Received:
    """Read ``folder/.synco-received.json``; a one-line ConfigError when it is missing or malformed."""
    state_file = folder / RECEIVED_FILE
    try:
        data = json.loads(state_file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{folder} holds no received session (no {RECEIVED_FILE}); run synco receive first") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{state_file} is unreadable: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("fileSets"), list):
        raise ConfigError(f"{state_file} is not a synco receive record")
    sets = [received_set(folder, entry, state_file) for entry in data["fileSets"]]
    return Received(folder, str(data.get("session") or ""), str(data.get("frameworkName") or ""), sets)


def received_set(folder: Path, entry: object, state_file: Path | None = None) -> ReceivedSet:
    """One entry of ``.synco-received.json`` (as receive records it) as a :class:`ReceivedSet`."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ConfigError(f"{state_file or folder / RECEIVED_FILE} has a malformed file set entry")
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
        sanitize_rules=[str(r) for r in entry.get("sanitizeRules") or []],
        download_bytes=_download_bytes(entry.get("wire")),
        source_settings=read_source_settings(entry.get("sourceSettings")),
    )


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

    def describe(self, *, remote_ok: bool = False, manager: SyncoPluginManager | None = None) -> list[str]:
        """The install question's lines: each target with the incoming size and what is there now.

        ``remote_ok``: measure the local database even when it is not on this machine (the user passed
        ``--force-remote-target``); otherwise such a database is not even connected to for its size.
        """
        lines = [f"Local project: {self.framework.name} in {self.framework.project_dir}"]
        for step in self.steps:
            lines.append(f"  replace {step.kind:<9} {step.target}  <- {step.name} ({step.sizes()})")
            lines.append(f"      current: {current_content(self.framework, step, remote_ok, manager)[1]}")
            for rule in step.source.sanitize_rules:
                # Sessions of earlier versions recorded MySQL's rules as "sanitised <rule>": said once here.
                lines.append(f"      sanitised at the source: {rule.removeprefix('sanitised ')}")
        return lines

    def to_json(self, *, remote_ok: bool = False, manager: SyncoPluginManager | None = None) -> dict[str, Any]:
        steps = []
        for s in self.steps:
            current_bytes, current = current_content(self.framework, s, remote_ok, manager)
            steps.append({"kind": s.kind, "name": s.name, "target": s.target, "sizeBytes": s.size_bytes,
                          "downloadBytes": s.source.download_bytes,
                          "currentSizeBytes": current_bytes, "current": current})
        return {
            "framework": self.framework.name,
            "projectDir": str(self.framework.project_dir),
            "steps": steps,
            "postInstall": [" ".join(cmd) for cmd in self.framework.post_install],
        }


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
            size = folder.stat().st_size if folder.is_file() else _tree_size(str(folder))
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
                 manager: SyncoPluginManager | None = None) -> InstallPlan:
    """What installing ``received`` into ``framework``'s project would replace; checks inputs exist.

    Where each file set goes is the local project's decision (:mod:`synco_core.destinations`): the
    session's ``relativeBasePath`` only has to agree with it, and a set the project does not know, or a
    place outside the project or inside ``.git``, ``vendor``, ``node_modules`` or a ``bin``, is refused
    before anything is replaced.
    """
    steps = []
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
                raise ConfigError(f"the local {framework.name} project has no database configured to install into")
            steps.append(InstallStep("database", item.name, item, database.url(mask_password=True), item.size_bytes))
        elif item.kind in ("public", "private"):
            destination = local_destination(framework, item.name, item.relative_base_path, local_sets)
            local_item = dataclasses.replace(item, relative_base_path=destination.relative_base_path)
            steps.append(InstallStep("files", item.name, local_item, str(destination.path), item.size_bytes))
        else:
            log.warning("skipping received set %s of unknown kind %r", item.name, item.kind)
    if only:
        unknown = set(only) - {s.name for s in received.sets}
        if unknown:
            raise ConfigError(f"not in the received session: {', '.join(sorted(unknown))}")
    return InstallPlan(framework, received, steps)


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


@dataclass
class InstallReport:
    database: InstallResult | None = None
    #: The named databases installed, by set name (``dbDump-<name>``).
    named_databases: dict[str, InstallResult] = field(default_factory=dict)
    files: list[FilesInstallResult] = field(default_factory=list)
    post_install_run: bool = False


@dataclass
class _Undo:
    """What the install replaced, for its record; the journal says how to undo it."""

    folders: list[ReplacedFolder] = field(default_factory=list)
    journal: InstallJournal | None = None


def database_undoer(framework: Framework, manager: SyncoPluginManager) -> Callable[[JournalStep, bool], None]:
    """How a journaled database step is undone: the engine's rollback, dropping the install's content.

    ``nothing_ok``: the step may have been killed before the engine swapped anything (or after its undo
    already ran), so an engine with nothing to roll back means the database is as it was.
    """
    def undo(step: JournalStep, nothing_ok: bool) -> None:
        target = for_database_set(framework, step.name)
        if target.database is None:
            raise ConfigError(f"cannot put back the database of {step.name}: the local project has none now")
        # A database the install created is dropped: there was none before (known only once the step is
        # done: a step killed before its swap may have left the previous database without a kept copy).
        options = InstallOptions(yes=True, force_remote_target=True, local_hosts=local_hosts_of(framework),
                                 discard_replaced=True, drop_created=step.created)
        try:
            result = rollback_with_engine(target.database, options, manager)
        except SyncoError as exc:
            if nothing_ok and "nothing to roll back" in str(exc):
                log.debug("%s: %s", step.name, exc)
                return
            raise
        log.info("put the previous content of %s back after the failed install",
                 target.database.url(mask_password=True))
        if result.note:
            log.info("%s", result.note)
    return undo


def recover_interrupted(framework: Framework, manager: SyncoPluginManager | None = None) -> str | None:
    """Put the project back as it was before an install that was killed; the one line saying so, or None."""
    manager = manager or get_plugin_manager()
    return recover(framework.project_dir, database_undoer(framework, manager), forget_state)


def run_install(
    plan: InstallPlan,
    *,
    yes: bool = False,
    confirm: Callable[[str], bool] | None = None,
    force_remote_target: bool = False,
    local_hosts: tuple[str, ...] = (),
    post_install: bool = False,
    manager: SyncoPluginManager | None = None,
    installed_database: EarlyDatabaseInstall | None = None,
) -> InstallReport:
    """Install every step of ``plan``; on failure undo what was done and re-raise.

    ``installed_database``: the database step already ran while the files were arriving (see
    :class:`ReceiveInstall`); it counts as done here, and is rolled back like any step if a later one fails.
    """
    manager = manager or get_plugin_manager()
    framework = plan.framework
    for database_step in (s for s in plan.steps if s.kind == "database"):
        check_target(for_database_set(framework, database_step.name), force_remote_target, local_hosts)
    if not yes:
        if confirm is None:
            raise NotConfirmedError("install", asked=False)
        question = "\n".join([*plan.describe(remote_ok=force_remote_target, manager=manager),
                              "Replace this local content?"])
        if not confirm(question):
            raise NotConfirmedError("install", asked=True)

    report = InstallReport()
    journal = installed_database.journal if installed_database is not None else None
    undo = _Undo(journal=journal or InstallJournal(framework.project_dir, plan.received.session))
    # The kept copies the last record names are about to be replaced by this install's.
    forget_state(framework.project_dir)
    try:
        def loading(step: InstallStep) -> bool:
            return step.kind == "database" and installed_database is not None and installed_database.name == step.name

        # A SQLite file inside a folder a files step replaces (Rails keeps its databases in storage/, which is
        # also Active Storage's root) must be in place before that folder is swapped.
        database = framework.database
        loading_file = (Path(database.name) if installed_database is not None and database is not None
                        and database.engine == "sqlite" else None)

        def order(step: InstallStep) -> int:
            if loading(step):
                return 1
            if step.kind == "files" and loading_file is not None and loading_file.is_relative_to(step.target):
                return 2
            return 0

        # A database still loading in the background is waited for last: the files go in meanwhile.
        for step in sorted(plan.steps, key=order):
            if loading(step):
                assert installed_database is not None
                report.database = installed_database.wait()
            elif step.kind == "database" and step.name.startswith(NAMED_SET_PREFIX):
                # Another of the project's databases, installed as the default one is, into its own target.
                named = for_database_set(framework, step.name)
                report.named_databases[step.name] = _install_database(step.source, named, force_remote_target,
                                                                      local_hosts, manager, journal=undo.journal)
            elif step.kind == "database":
                report.database = _install_database(step.source, framework, force_remote_target, local_hosts,
                                                    manager, journal=undo.journal)
            else:
                report.files.append(_install_files(framework, step, undo, manager))
    except BaseException:
        _undo(undo, framework, manager)
        if installed_database is not None:
            installed_database.undone()
        raise
    _record(plan, report, undo)
    crashpoints.reached("install:journal:recorded")
    assert undo.journal is not None
    undo.journal.close()
    if framework.post_install and post_install:
        run_post_install(framework)
        report.post_install_run = True
    return report


def _install_database(item: ReceivedSet, framework: Framework, force_remote_target: bool,
                      local_hosts: tuple[str, ...], manager: SyncoPluginManager,
                      stream: BinaryIO | None = None, journal: InstallJournal | None = None) -> InstallResult:
    """Install ``item`` (read from ``stream`` instead of its file when given), journaled in ``journal``."""
    assert framework.database is not None
    if journal is None:
        return _load_database(item, framework, force_remote_target, local_hosts, manager, stream)
    # The older kept copy goes first (the project's record of it is given up already): a kept copy found
    # after a kill is then this install's, and the recovery knows to put it back.
    forget_state(framework.project_dir)
    discard = InstallOptions(yes=True, force_remote_target=force_remote_target, local_hosts=local_hosts)
    if manager.hook.discard_kept_database(database=framework.database, options=discard) is None:
        log.debug("the %s engine keeps its older kept copy until its swap", framework.database.engine)
    step = journal.begin(JournalStep("database", item.name))
    try:
        result = _load_database(item, framework, force_remote_target, local_hosts, manager, stream)
    except BaseException:
        # An engine that fails leaves the database as it was: there is nothing of this step to undo (an
        # undo would put an older install's kept copy in).
        journal.mark(step, "undone")
        raise
    step.created = result.backup is None
    journal.mark(step, "done")
    return result


def _load_database(item: ReceivedSet, framework: Framework, force_remote_target: bool,
                   local_hosts: tuple[str, ...], manager: SyncoPluginManager,
                   stream: BinaryIO | None = None) -> InstallResult:
    assert framework.database is not None
    # Asked while the local database still holds its previous content (a plugin may read its URL there).
    rewriter = install_rewriter(framework, item.source_settings, manager)
    options = InstallOptions(
        format=item.format,
        manifest=item.manifest,
        yes=True,  # The whole plan was confirmed once already.
        force_remote_target=force_remote_target,
        local_hosts=local_hosts,
        rewriter=rewriter,
    )
    with item.path.open("rb") if stream is None else stream as dump:
        result = install_with_engine(framework.database, dump, options, manager)
    if rewriter is not None:
        if result.rewritten_values is None:
            log.warning("the %s engine did not apply the value rewriter (%s): values were loaded unchanged",
                        result.engine, rewriter.description or "no description")
        else:
            log.info("rewrote %d values while loading (%s)", result.rewritten_values, rewriter.description)
    return result


def _install_files(framework: Framework, step: InstallStep, undo: _Undo,
                   manager: SyncoPluginManager) -> FilesInstallResult:
    item = step.source
    kind: Literal["public", "private"] = "public" if item.kind == "public" else "private"
    file_set = ReceivedFileSet(name=item.name, kind=kind, relative_base_path=item.relative_base_path)
    destination = Path(step.target)
    # Checked again now: a set installed before this one may have changed what the path leads to.
    check_destination(framework.project_dir, destination, item.name)
    existed = os.path.lexists(destination)
    journal = undo.journal
    assert journal is not None
    entry = JournalStep("files", item.name, path=destination, backup=default_backup(destination), existed=existed)
    prepare_folder(entry)
    journal.begin(entry)
    result: FilesInstallResult | None = manager.hook.install_files(
        framework=framework, file_set=file_set, source_dir=item.path
    )
    if result is None:
        raise ConfigError(f"no plugin installed file set {item.name!r}")
    entry.path = result.destination
    entry.backup = result.backup or entry.backup
    entry.kept = result.kept
    if kind == "public" and result.backup is not None and result.backup.is_dir():
        # Public sets leave dotfiles out (.gitignore, .htaccess): the project's own stay where they are.
        # Journaled before they move, so an undo killed halfway through knows to move them back.
        entry.kept = (*result.kept, *dotfile_candidates(result.backup, result.destination))
        journal.update()
        result.kept = (*result.kept, *carry_dotfiles(result.backup, result.destination))
        entry.kept = result.kept
    journal.mark(entry, "done")
    if result.backup is not None:
        undo.folders.append(ReplacedFolder(result.destination, result.backup, previous=True, kept=result.kept))
    elif not existed and result.destination == destination:
        undo.folders.append(ReplacedFolder.created(destination))
    else:
        log.warning("%s kept no copy of the folder it replaced at %s: a rollback cannot put it back", item.name,
                    result.destination)
    if result.destination != destination:
        # A plugin placed the set by its own rules; the same limits hold, or the install is undone.
        check_destination(framework.project_dir, result.destination, item.name)
    return result


def _undo(undo: _Undo, framework: Framework, manager: SyncoPluginManager) -> None:
    """Put back what the steps done so far replaced; report (not raise) what could not be put back.

    The journal drives the undo, as it drives the recovery after a kill: a kill during this undo is
    finished by the next install or rollback in the project.
    """
    assert undo.journal is not None
    forget_state(framework.project_dir)
    try:
        undo_steps(undo.journal, database_undoer(framework, manager))
    except SyncoError as exc:
        log.error("could not put everything back after a failed install: %s", exc)
        return
    undo.journal.close()


def _record(plan: InstallPlan, report: InstallReport, undo: _Undo) -> None:
    """Write what this install replaced into the project, for :func:`rollback_install`."""
    framework = plan.framework
    database = framework.database.url(mask_password=True) if report.database and framework.database else ""
    created = [s.name for s in undo.journal.steps if s.kind == "database" and s.created] if undo.journal else []
    state = InstallState(framework.project_dir, plan.received.session, database, list(undo.folders),
                         named_databases=list(report.named_databases), created_databases=created)
    try:
        write_state(state)
    except OSError as exc:
        log.warning("could not record the install for rollback in %s: %s", framework.project_dir, exc.strerror)


def rollback_install(framework: Framework, *, yes: bool = False, confirm: Callable[[str], bool] | None = None,
                     force_remote_target: bool = False,
                     manager: SyncoPluginManager | None = None) -> list[str] | None:
    """Put back the database and the folders the project's last install replaced, together.

    None when the project holds no install record (the caller then rolls back the database alone). Every
    kept copy is checked and the question asked before anything changes; the database goes first (the
    engine swaps it atomically), then the folders; if a folder cannot be swapped, the ones already swapped
    and the database are swapped again, so a failed rollback changes nothing. Returns what was put back.
    """
    manager = manager or get_plugin_manager()
    recovered = recover_interrupted(framework, manager)
    if recovered is not None:
        # An install killed before it finished is undone: the project is back where the rollback would lead.
        return [recovered]
    state = read_state(framework.project_dir)
    if state is None:
        return None
    if state.database and framework.database is None:
        raise ConfigError("the last install replaced a database, but the local project has none configured now")
    # The default database first, then the named ones the install replaced (``dbDump-<name>``).
    set_names = [DB_SET_NAME] * bool(state.database) + state.named_databases
    databases: list[DatabaseConfig] = []
    created: list[DatabaseConfig] = []
    for set_name in set_names:
        database = database_of_set(framework, set_name)
        if database is None:
            raise ConfigError(f"the last install replaced the database of {set_name}, but the local project has "
                              f"no database {set_name.removeprefix(NAMED_SET_PREFIX)!r} now")
        check_target(for_database_set(framework, set_name), force_remote_target)
        (created if set_name in state.created_databases else databases).append(database)
    for folder in state.folders:
        folder.check()
    targets = [f"database {database.url(mask_password=True)}" for database in databases] + [
        f"folder {folder.path}" for folder in state.folders
    ]
    dropped = [f"database {database.url(mask_password=True)} (the install created it)" for database in created]
    if dropped:
        targets += [f"drop {line}" for line in dropped]
    if not targets:
        raise SyncoError(f"nothing to roll back: the last install in {framework.project_dir} replaced nothing")
    if not yes:
        if confirm is None:
            raise NotConfirmedError("roll back", asked=False)
        question = "\n".join(["Put back what the last install replaced:", *("  " + t for t in targets),
                              "Roll back?"])
        if not confirm(question):
            raise NotConfirmedError("roll back", asked=True)
    options = InstallOptions(yes=True, force_remote_target=force_remote_target, local_hosts=local_hosts_of(framework))
    rolled_back: list[DatabaseConfig] = []
    try:
        for database in databases:
            rollback_with_engine(database, options, manager)
            rolled_back.append(database)
    except SyncoError:
        # A rollback swaps: swapping the ones done again puts them back as they were.
        for database in reversed(rolled_back):
            rollback_with_engine(database, options, manager)
        raise
    swapped: list[ReplacedFolder] = []
    try:
        for folder in state.folders:
            swapped.append(swap_folder(folder))
    except (OSError, ConfigError) as exc:
        for done in reversed(swapped):
            try:
                swap_folder(done)
            except (OSError, ConfigError) as again:
                log.error("could not swap %s back: %s", done.path, again)
        for database in reversed(databases):
            rollback_with_engine(database, options, manager)
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SyncoError(f"could not put back {state.folders[len(swapped)].path}: {detail}; "
                         "the database and folders are as they were") from exc
    # Dropped last: the one step a failure could not swap back.
    drop = InstallOptions(yes=True, force_remote_target=force_remote_target, local_hosts=local_hosts_of(framework),
                          drop_created=True)
    for database in created:
        rollback_with_engine(database, drop, manager)
    lines = [f"Put back {t}" for t in targets if not t.startswith("drop ")] + [f"Dropped {t}" for t in dropped]
    if created:
        # A dropped database cannot be brought back by another rollback: the record has done its job.
        forget_state(framework.project_dir)
        return lines
    # Swapped again, the record now undoes this rollback, as the database's kept copy does.
    state.folders = swapped
    write_state(state)
    return lines


def run_post_install(framework: Framework) -> None:
    """Run the framework's post-install commands in the project directory, stopping at the first failure."""
    for argv in framework.post_install:
        log.info("running %s", " ".join(argv))
        try:
            completed = subprocess.run(argv, cwd=framework.project_dir, check=False)
        except OSError as exc:
            raise SyncoError(f"post-install step {' '.join(argv)!r} could not start: {exc.strerror}") from exc
        if completed.returncode != 0:
            raise SyncoError(f"post-install step {' '.join(argv)!r} failed with exit status {completed.returncode}")


def install_received(
    folder: Path,
    project_dir: Path,
    *,
    framework_name: str | None = None,
    only: tuple[str, ...] = (),
    yes: bool = False,
    confirm: Callable[[str], bool] | None = None,
    force_remote_target: bool = False,
    post_install: bool = False,
    echo: Callable[[str], None] = print,
    framework: Framework | None = None,
    installed_database: EarlyDatabaseInstall | None = None,
    site_url: str | None = None,
) -> InstallReport:
    """The whole install: read the received folder, detect the local project, confirm, install.

    ``framework``: the local project when the caller detected it already; ``installed_database``: see
    :func:`run_install`; ``site_url``: the local site's URL (``--site-url``), for plugins that rewrite URLs.
    """
    received = load_received(folder)
    framework = framework or detect(project_dir, framework_name, side="destination")
    if installed_database is None:
        recovered = recover_interrupted(framework)
        if recovered is not None:
            echo(recovered)
    if site_url:
        framework.site_url = site_url
    plan = plan_install(received, framework, only)
    if not plan.steps:
        raise ConfigError(f"nothing to install from {folder}")
    local_hosts = local_hosts_of(framework)
    report = run_install(plan, yes=yes, confirm=confirm, force_remote_target=force_remote_target,
                         local_hosts=local_hosts, post_install=post_install, installed_database=installed_database)
    if report.database is not None:
        db = report.database
        echo(f"Installed database {db.database}: {db.tables} tables, {db.rows} rows"
             + (f" (previous content kept as {db.backup})" if db.backup else ""))
        if db.rewritten_values:
            echo(f"Rewrote {db.rewritten_values} values while loading, for the local site")
    for set_name, named in report.named_databases.items():
        echo(f"Installed database {named.database} ({set_name}): {named.tables} tables, {named.rows} rows"
             + (f" (previous content kept as {named.backup})" if named.backup else ""))
    for files in report.files:
        echo(f"Installed {files.files} files into {files.destination}")
    if report.database is not None or report.named_databases or report.files:
        echo("synco db rollback, run in the project, puts back what this install replaced")
    if framework.post_install and not report.post_install_run:
        echo("Next, run in the project (or pass --post-install):")
        for argv in framework.post_install:
            echo("  " + " ".join(argv))
    return report


class StreamedDump(Protocol):
    """A dump still arriving (:class:`synco_core.pull.dumpstream.DumpStream`), as an install reads it."""

    set_name: str
    engine: str
    format: str
    #: Filled in when the whole dump has arrived, before :meth:`reader` reports its end.
    manifest: dict[str, TableManifest]
    #: What the source's plugins published with the dump (announced when the stream starts).
    source_settings: dict[str, dict[str, str]]

    @property
    def failed(self) -> bool: ...

    def reader(self) -> BinaryIO: ...


class EarlyDatabaseInstall:
    """The database step of an install, run in a thread as soon as the dump has arrived.

    A pull's database loads while its files are still downloading, instead of after them. Only when no
    confirmation is pending (``--yes``): nothing may change before the user has said yes. The engine's
    install is atomic on its own (scratch database, verify, swap), so an install that fails or never
    starts leaves the local database as it was; one that succeeded is rolled back (:meth:`rollback`)
    when the receive or a later install step fails.
    """

    def __init__(self, framework: Framework, item: ReceivedSet, *, force_remote_target: bool = False,
                 manager: SyncoPluginManager | None = None, stream: StreamedDump | None = None,
                 journal: InstallJournal | None = None) -> None:
        self.name = item.name
        #: The install's journal, begun here: the rest of the install's steps are added to it.
        self.journal = journal or InstallJournal(framework.project_dir)
        self._framework = framework
        self._manager = manager or get_plugin_manager()
        self._result: InstallResult | None = None
        self._error: BaseException | None = None
        self._rolled_back = False
        #: Loading from a dump that is still arriving (see :meth:`ReceiveInstall.start_streamed`).
        self.stream = stream
        self._thread = threading.Thread(target=self._run, args=(item, force_remote_target),
                                        name="synco-install-database", daemon=True)
        self._thread.start()

    def _run(self, item: ReceivedSet, force_remote_target: bool) -> None:
        try:
            dump = self.stream.reader() if self.stream is not None else None
            self._result = _install_database(item, self._framework, force_remote_target,
                                             local_hosts_of(self._framework), self._manager, dump, self.journal)
        except BaseException as exc:  # Raised in the waiting thread by wait().
            self._error = exc

    def broken_stream(self) -> bool:
        """True when this install read a dump stream that broke off: it failed, and the target is as it was."""
        if self.stream is None or not self.stream.failed:
            return False
        self._thread.join()
        return self._result is None

    def wait(self) -> InstallResult:
        """The install's result once it is done; its error, raised here, if it failed."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def rollback(self) -> None:
        """Put the previous database back if this install replaced it (once; reports, never raises)."""
        if self._thread.is_alive():
            log.warning("waiting for the database load to end, to leave the local database as it was")
        self._thread.join()
        if self._rolled_back:
            return
        self._rolled_back = True
        if not self.journal.steps:
            return
        # Undone through the journal (a load that failed has its step "started": the engine undid it already).
        forget_state(self._framework.project_dir)
        try:
            undo_steps(self.journal, database_undoer(self._framework, self._manager))
        except SyncoError as exc:
            log.error("could not roll the database back after a failed install: %s", exc)
            return
        self.journal.close()

    def undone(self) -> None:
        """The install's own undo put this database back (with the rest of its journal)."""
        self._rolled_back = True


class ReceiveInstall:
    """``--install`` of receive and pull: checks before the download, the database while files arrive.

    Created before the transfer: it detects the local project, refuses a non-local database target and
    asks the engine whether an install could run (:func:`check_install_target`), so nothing is
    downloaded for an install that cannot happen. Receive calls :meth:`set_arrived` for each set it
    completes; with ``yes`` the database set starts installing right away (:class:`EarlyDatabaseInstall`).
    :meth:`finish` installs the rest; :meth:`abandon` undoes the early database install when the transfer
    failed. :mod:`synco_core.install_receive` drives it for ``receive --install`` and ``pull --install``.
    """

    def __init__(self, project_dir: Path, *, yes: bool = False, force_remote_target: bool = False,
                 framework_name: str | None = None, check_database: bool = True,
                 manager: SyncoPluginManager | None = None, site_url: str | None = None) -> None:
        self.project_dir = project_dir
        self.framework = detect(project_dir, framework_name, manager, side="destination")
        if site_url:
            self.framework.site_url = site_url
        self.force_remote_target = force_remote_target
        check_target(self.framework, force_remote_target)
        if check_database:
            check_install_target(self.framework, force_remote_target, manager)
        self._manager = manager
        #: The named databases' sets checked already (``dbDump-<name>``), so each is checked once.
        self.checked: set[str] = set()
        recovered = recover_interrupted(self.framework, manager)
        if recovered is not None:
            log.warning("%s", recovered)
        self.early_database = yes
        self.database: EarlyDatabaseInstall | None = None

    def check_databases(self, set_names: tuple[str, ...] | list[str]) -> None:
        """Check every named database among ``set_names`` as the default one is checked: on this machine,
        reachable, replaceable by this user. Before anything is downloaded; the one-line error names it."""
        for set_name in set_names:
            if not set_name.startswith(NAMED_SET_PREFIX) or set_name in self.checked:
                continue
            name = set_name.removeprefix(NAMED_SET_PREFIX)
            if database_of_set(self.framework, set_name) is None:
                raise ConfigError(f"the local {self.framework.name} project has no database {name!r} to install "
                                  f"{set_name} into (leave it out with --only)")
            named = for_database_set(self.framework, set_name)
            check_target(named, self.force_remote_target, local_hosts_of(self.framework))
            try:
                check_install_target(named, self.force_remote_target, self._manager)
            except SyncoError as exc:
                raise type(exc)(f"database {name!r} ({set_name}) cannot be installed into: {exc}") from exc
            self.checked.add(set_name)

    def start_streamed(self, stream: StreamedDump) -> None:
        """``synco pull``: start loading the dump while it is still arriving, as ``ssh host mysqldump | mysql``
        would (only with ``--yes``, and only into a database of the same engine; otherwise the dump is
        installed from its file once it is complete, as usual)."""
        local = self.framework.database
        if (not self.early_database or self.database is not None or local is None or local.engine != stream.engine
                or not stream.format):
            return
        item = ReceivedSet(name=stream.set_name, kind="database", path=Path(stream.set_name), engine=stream.engine,
                           format=stream.format, manifest=stream.manifest, source_settings=stream.source_settings)
        log.debug("installing %s while it streams in", item.name)
        self.database = EarlyDatabaseInstall(self.framework, item, force_remote_target=self.force_remote_target,
                                             stream=stream)

    def set_arrived(self, folder: Path, entry: dict[str, Any]) -> None:
        if self.database is not None and self.database.broken_stream():
            # The stream broke off but the dump then arrived whole by download: install that instead.
            self.database = None
        if not self.early_database or self.database is not None or entry.get("kind") != "database":
            return
        if str(entry.get("name") or "").startswith(NAMED_SET_PREFIX):
            return  # A named database is installed with the rest, into its own target, at the end.
        if self.framework.database is None:
            return  # plan_install reports this, with the rest, at the end
        item = received_set(folder, entry)
        log.debug("installing %s while the rest arrives", item.name)
        self.database = EarlyDatabaseInstall(self.framework, item, force_remote_target=self.force_remote_target)

    def finish(self, folder: Path, *, only: tuple[str, ...] = (), yes: bool = False,
               confirm: Callable[[str], bool] | None = None, post_install: bool = False,
               echo: Callable[[str], None] = print) -> InstallReport:
        if self.database is not None and only and self.database.name not in only:
            self.abandon()
        try:
            return install_received(folder, self.project_dir, only=only, yes=yes, confirm=confirm,
                                    force_remote_target=self.force_remote_target, post_install=post_install,
                                    echo=echo, framework=self.framework, installed_database=self.database)
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """The transfer (or the install) failed: roll back a database installed early."""
        if self.database is not None:
            self.database.rollback()
            self.database = None
