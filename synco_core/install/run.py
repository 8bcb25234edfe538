"""Installing a received session into the local instance: database and files, all or nothing.

``synco install DIR`` and ``synco receive --install`` read ``DIR/.synco-received.json`` (written by
receive), detect the local project with the same plugins the source used, show what will be replaced
and ask, then call ``install_database`` and ``install_files``. The database installers swap atomically
and keep the previous content; if a later step fails, every step already done is undone (the database
rolled back, replaced folders moved back), so a failed install leaves the local instance as it was.
A successful install records what it replaced in the project (:mod:`synco_core.install.state`), and
:func:`rollback_install` (``synco db rollback`` run in the project) puts database and folders back.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from synco_core import folderlock
from synco_core.childenv import child_environment
from synco_core.databases import DB_SET_NAME, NAMED_SET_PREFIX, database_of_set, for_database_set
from synco_core.destinations import check_destination
from synco_core.detection import detect
from synco_core.engines import crashpoints
from synco_core.engines.default_files import carry_dotfiles, carry_excluded, excluded_candidates, installed_folder
from synco_core.engines.dispatch import install_with_engine, rollback_with_engine
from synco_core.errors import ConfigError, NotConfirmedError, SyncoError
from synco_core.globs import ExcludeMatcher
from synco_core.install import owned
from synco_core.install.atend import at_end
from synco_core.install.journal import (
    InstallJournal,
    JournalStep,
    default_backup,
    dotfile_candidates,
    drop_parked,
    forget_given_up,
    in_place_note,
    park,
    parks,
    prepare_folder,
    recover,
    replaced_in_place,
    undo_steps,
)
from synco_core.install.owned import ForeignFilesError
from synco_core.install.plan import (
    InstallPlan,
    InstallStep,
    Received,
    ReceivedSet,
    check_engine,
    check_target,
    load_received,
    local_hosts_of,
    plan_install,
    warn_outside_dump,
)
from synco_core.install.recordcheck import check_journal, check_state, set_folders
from synco_core.install.requirements import NOTHING_CHANGED, check_requirements
from synco_core.install.state import (
    InstallState,
    ReplacedFolder,
    forget_state,
    left_kept,
    read_state,
    swap_folder,
    write_state,
)
from synco_core.plugins import SyncoPluginManager, get_plugin_manager
from synco_core.receive.deletions import RunDeletions
from synco_core.redaction import error_line, message_of
from synco_core.rewriting import install_rewriter
from synco_core.values import (
    DatabaseConfig,
    FilesInstallResult,
    Framework,
    InstallOptions,
    InstallResult,
    ReceivedFileSet,
)

if TYPE_CHECKING:  # streamed.py builds on this module; run_install only takes its result
    from synco_core.install.streamed import EarlyDatabaseInstall

log = logging.getLogger(__name__)

#: Said of the kept copies an install (or rollback) leaves from earlier installs.
_LEFT_TEXT = ("Left as they are, from an earlier install (no rollback puts them back; remove them once they are "
              "no longer wanted)")

@dataclass
class InstallReport:
    database: InstallResult | None = None
    #: The named databases installed, by set name (``dbDump-<name>``).
    named_databases: dict[str, InstallResult] = field(default_factory=dict)
    files: list[FilesInstallResult] = field(default_factory=list)
    post_install_run: bool = False
    #: Kept copies of earlier installs this one left as they are (it left their sets out), described.
    left: list[str] = field(default_factory=list)


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
        if step.in_place:
            # Nothing to put back (the engine kept no copy): the caller says what the database holds now.
            log.debug("%s was replaced in place: no previous content to put back", step.name)
            return
        target = for_database_set(framework, step.name)
        if target.database is None:
            raise ConfigError(f"cannot put back the database of {step.name}: the local project has none now")
        # A database the install created is dropped: there was none before (known only once the step is
        # done: a step killed before its swap may have left the previous database without a kept copy).
        # Killed before its swap began, the step changed neither the target nor its kept copy, the last
        # install's: the engine only drops what it left (a scratch copy); a rollback would put that copy in.
        repair = step.state == "started" and not step.swap_begun
        options = InstallOptions(yes=True, force_remote_target=True, local_hosts=local_hosts_of(framework),
                                 discard_replaced=True, drop_created=step.created, repair_only=repair)
        try:
            result = rollback_with_engine(target.database, options, manager)
        except SyncoError as exc:
            if nothing_ok and "nothing to roll back" in str(exc):
                log.debug("%s: %s", step.name, exc)
                return
            raise
        if repair:
            log.debug("%s: the install was stopped before its swap; %s", step.name, result.note or "nothing left")
            return
        log.info("put the previous content of %s back after the failed install",
                 target.database.url(mask_password=True))
        if result.note:
            log.info("%s", result.note)
    return undo


def recover_interrupted(framework: Framework, manager: SyncoPluginManager | None = None) -> str | None:
    """Put the project back as it was before an install that was killed; the one line saying so, or None."""
    manager = manager or get_plugin_manager()
    known = manager

    def check(journal: InstallJournal) -> None:
        check_journal(journal, set_folders(framework, known))

    return recover(framework.project_dir, database_undoer(framework, manager), forget_state, check)


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
    earlier: InstallState | None = None,
) -> InstallReport:
    """Install every step of ``plan``; on failure undo what was done and re-raise.

    ``installed_database``: the database step loading since it arrived, while the files were arriving (see
    :class:`ReceiveInstall`), held at its dump's end: it goes on to its swap at its turn, after the folders,
    and is rolled back like any step if a later one fails.
    ``earlier``: the last install's record, as the caller read it (read here otherwise).
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
    else:
        # No question showed them: said before the swap, in one line per database; the one loaded early, while
        # the files arrived, was named before its swap already (streamed.py).
        early = installed_database.name if installed_database is not None else None
        for database_step in (s for s in plan.steps if s.kind == "database" and s.name != early):
            warn_outside_dump(framework, database_step.name, database_step.source.manifest, force_remote_target,
                              manager)
    for database_step in (s for s in plan.steps if s.kind == "database"):
        check_engine(framework, database_step.name, database_step.source.engine)

    report = InstallReport()
    if earlier is None:
        earlier = earlier_record(framework, manager)
    journal = installed_database.journal if installed_database is not None else None
    undo = _Undo(journal=journal or InstallJournal(framework.project_dir, plan.received.session))
    # The last install's record (and the kept copies it names) stays until this install is recorded in its
    # place, or until one of its steps gives a kept copy up (see gave_up_kept): a failure before that finds
    # the project, and what `synco db rollback` would put back, as they were.
    loading: EarlyDatabaseInstall | None = None
    try:
        def loads_early(step: InstallStep) -> bool:
            return step.kind == "database" and installed_database is not None and installed_database.name == step.name

        # A SQLite file inside a folder a files step replaces (Rails keeps its databases in storage/, which is
        # also Active Storage's root) must be in place before that folder is swapped.
        database = framework.database
        database_file = (Path(database.name) if database is not None and database.engine == "sqlite"
                         and any(s.kind == "database" and s.name == DB_SET_NAME for s in plan.steps) else None)

        def order(step: InstallStep) -> int:
            if step.kind == "database":
                # The databases go in last: their swap gives up the last install's kept copy, which no undo
                # brings back. The one loaded early first of them: held at its dump's end, it keeps what its
                # engine locks (SQLite: the target's folder, which a named database may share), so a database
                # step before it would wait for that lock until it gave up.
                return 1 if loads_early(step) else 2
            if database_file is not None and database_file.is_relative_to(step.target):
                return 3
            return 0

        for step in sorted(plan.steps, key=order):
            if loads_early(step):
                assert installed_database is not None
                loading = installed_database
                report.database = installed_database.wait()
            elif step.kind == "database":
                # Another of the project's databases, installed as the default one is, into its own target.
                target = for_database_set(framework, step.name)
                # Known to the clean-up below before its thread starts: a stop landing in start() still finds
                # the load to end (a thread started a moment before the stop would otherwise load unwaited for).
                loading = _database_load(step.source, target, force_remote_target, manager, undo, plan.terminate)
                loading.start()
                result = loading.wait()
                if step.name.startswith(NAMED_SET_PREFIX):
                    report.named_databases[step.name] = result
                else:
                    report.database = result
            else:
                report.files.append(_install_files(framework, step, undo, manager))
            loading = None
        # Inside: a stop (Ctrl-C, SIGTERM) before the journal goes undoes the install, rather than ending with
        # "stopped" while the journal is left for the next command to undo an install it reported as done.
        report.left = _record(plan, report, undo, earlier)
        crashpoints.reached("install:journal:recorded")
        assert undo.journal is not None
        undo.journal.close()
    except BaseException as exc:
        for load in (loading, installed_database):
            if load is not None:
                # A database step runs in a thread of its own: it ends first, swapped or (short of its swap,
                # the early load still loading or held at the dump's end) not, before the journal is undone.
                load.stop()
        _undo(undo, framework, manager)
        if installed_database is not None:
            installed_database.undone()
        kept = replaced_in_place(undo.journal) if undo.journal is not None else []
        if kept and isinstance(exc, Exception):
            # The folders went back, the database could not: one line says both, and what to do.
            raise SyncoError(f"{_failure_text(exc)}; the folders are as they were, but "
                             f"{in_place_note(kept)}") from exc
        if kept:
            log.error("%s", in_place_note(kept)[0].upper() + in_place_note(kept)[1:])
        raise
    _drop_parked(undo.journal)
    if framework.post_install and post_install:
        run_post_install(framework)
        report.post_install_run = True
    return report


def _drop_parked(journal: InstallJournal) -> None:
    """The install is recorded (its journal gone): the last install's kept copies of the folders it replaced
    go. What cannot (the application's files in a copy a rollback took out) stays, said in a warning; the next
    install of the folder tries again."""
    for step in journal.steps:
        if step.kind != "files" or not parks(step) or step.path is None:
            continue
        try:
            stays = drop_parked(step.path, step.parked)
        except (OSError, SyncoError) as exc:
            # Another user's files in it (the web server's thumbnails): the next install of the folder stops on
            # it in one line, until it is removed by hand.
            detail = message_of(exc) if isinstance(exc, SyncoError) else exc.strerror or str(exc)
            log.warning("could not remove %s, the older kept copy of %s: %s", step.parked, step.path, detail)
            continue
        if stays:
            log.warning("%s, the older kept copy of %s, keeps files an install did not put there (%s): move them "
                        "out of it, then remove it", step.parked, step.path, owned.named(stays))


def _failure_text(exc: Exception) -> str:
    """What failed, as the command line would say it alone (a message of the core's own, a path the system
    refused, else the exception's class and message)."""
    if isinstance(exc, SyncoError):
        return message_of(exc)
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"cannot use {os.fsdecode(exc.filename)}: {exc.strerror}"
    return error_line(exc)


def _install_database(item: ReceivedSet, framework: Framework, force_remote_target: bool,
                      local_hosts: tuple[str, ...], manager: SyncoPluginManager,
                      stream: BinaryIO | None = None, journal: InstallJournal | None = None,
                      terminate: bool = True, at_dump_end: Callable[[], None] | None = None) -> InstallResult:
    """Install ``item`` (read from ``stream`` instead of its file when given), journaled in ``journal``;
    ``terminate``: see :attr:`InstallOptions.terminate_sessions`; ``at_dump_end``: run when the engine has read
    the whole dump, before it verifies and swaps (the early load waits there for the rest of the install).

    The step is journaled before the load starts, so that a kill while it loads (or waits at the dump's end)
    has the recovery drop the engine's scratch copy too: left there, it made the next ``synco db rollback``
    stop at dropping it and put the folders back alone. The engine notes the start of its swap
    (``before_swap``): until then the target and the last install's kept copy are as they were, so an undo
    only has the engine drop what it left (never a rollback, which would put that older kept copy in, as
    after a kill between a failed verification's clean-up and the step's "undone"). So the last install's
    kept copy stays until the swap itself replaces it: an install that fails before its swap leaves it to
    ``synco db rollback``, as it leaves the record. Run in a thread of its own
    (:class:`~synco_core.install.streamed.EarlyDatabaseInstall`): a stop (Ctrl-C, SIGTERM) lands in the main
    thread, never between the engine's swap and the step's "done".
    """
    assert framework.database is not None
    if journal is None:
        return _load_database(item, framework, force_remote_target, local_hosts, manager, stream, terminate)
    step = JournalStep("database", item.name)

    def swapping() -> None:
        step.swap_begun = True
        journal.update()
        crashpoints.reached("install:journal:database-swapping")

    source = item.path.open("rb") if stream is None else stream
    try:
        journal.begin(step)
        result = _load_database(item, framework, force_remote_target, local_hosts, manager,
                                source if at_dump_end is None else at_end(source, at_dump_end), terminate,
                                before_swap=swapping)
    except BaseException:
        if any(begun is step for begun in journal.steps):
            # An engine that fails leaves the database as it was: there is nothing of this step to undo (an
            # undo would put the last install's kept copy in).
            crashpoints.reached("install:database:failed")
            journal.mark(step, "undone")
        raise
    finally:
        source.close()  # Also when the engine was never reached (a plugin's value rewriter failed first).
    # An engine that does not announce its swap: it is done now.
    step.swap_begun = True
    step.created = result.backup is None and not result.replaced_in_place
    step.in_place = result.replaced_in_place
    journal.mark(step, "done")
    return result


def _database_load(item: ReceivedSet, framework: Framework, force_remote_target: bool,
                   manager: SyncoPluginManager, undo: _Undo, terminate: bool) -> EarlyDatabaseInstall:
    """A database step of ``synco install`` (or of a receive that did not load it early), to run in its own
    thread with nothing to wait for once the caller holds it and calls ``start()``: its ``wait()`` gives the
    result, ``stop()`` ends it as a stop requires (also when the stop cut ``start()`` short)."""
    from synco_core.install.streamed import EarlyDatabaseInstall

    return EarlyDatabaseInstall(framework, item, force_remote_target=force_remote_target, manager=manager,
                                journal=undo.journal, terminate=terminate, warned=True)


def _load_database(item: ReceivedSet, framework: Framework, force_remote_target: bool,
                   local_hosts: tuple[str, ...], manager: SyncoPluginManager,
                   stream: BinaryIO | None = None, terminate: bool = True,
                   before_swap: Callable[[], None] | None = None) -> InstallResult:
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
        terminate_sessions=terminate,
        before_swap=before_swap,
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
    # Checked again now: a set installed before this one may have changed what the path leads to.
    check_destination(framework.project_dir, Path(step.target), item.name)
    # A set folder that is a link (to a shared folder) is installed through: its target is what is replaced.
    destination = installed_folder(Path(step.target))
    existed = os.path.lexists(destination)
    journal = undo.journal
    assert journal is not None
    entry = JournalStep("files", item.name, path=destination, backup=default_backup(destination), existed=existed)
    prepare_folder(entry)
    journal.begin(entry)
    park(entry, journal)
    result: FilesInstallResult | None = manager.hook.install_files(
        framework=framework, file_set=file_set, source_dir=item.path
    )
    if result is None:
        raise ConfigError(f"no plugin installed file set {item.name!r}")
    entry.path = result.destination
    entry.backup = result.backup or entry.backup
    entry.kept = result.kept
    note_plugin_install(result.destination, item.path)
    keep = ExcludeMatcher(item.keep) if item.keep else None
    if keep is not None and result.backup is not None and result.backup.is_dir():
        # What serve's exclude rules left out (a local cache, a developer's files) is the laptop's own: it stays.
        # Journaled before it moves, as the dotfiles below.
        entry.kept = (*result.kept, *(path.as_posix() for path in excluded_candidates(result.backup, keep)))
        journal.update()
        result.kept = (*result.kept, *carry_excluded(result.backup, result.destination, keep))
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


def note_plugin_install(destination: Path, received: Path) -> None:
    """Note what a plugin's ``install_files`` put into ``destination``, when it did not (only ``install_tree``
    does), so that an undo removes only that: the entries as in the received folder. Written once the folder
    is live, so the note leaves out anything else found there (the application's), which an undo keeps."""
    note = owned.manifest_path(destination)
    if not destination.is_dir() or destination.is_symlink():
        return
    earlier = owned.read_manifest(note)
    if earlier is not None and earlier.root == owned.identity(destination):
        return
    owned.write_manifest(destination, note, received=received)


def _undo(undo: _Undo, framework: Framework, manager: SyncoPluginManager) -> None:
    """Put back what the steps done so far replaced; report (not raise) what could not be put back.

    The journal drives the undo, as it drives the recovery after a kill: a kill during this undo is
    finished by the next install or rollback in the project.
    """
    assert undo.journal is not None
    forget_given_up(undo.journal, forget_state)
    try:
        undo_steps(undo.journal, database_undoer(framework, manager))
    except SyncoError as exc:
        log.error("could not put everything back after a failed install: %s", exc)
        return
    undo.journal.close()


def earlier_record(framework: Framework, manager: SyncoPluginManager | None = None) -> InstallState | None:
    """The record of the last install, for the kept copies it names (None when there is none, or it is
    unreadable or names places not the project's own: the install that starts gives it up either way)."""
    try:
        state = read_state(framework.project_dir)
        if state is not None:
            check_state(state, framework, set_folders(framework, manager or get_plugin_manager()))
        return state
    except ConfigError as exc:
        log.debug("%s", exc)
        return None


def _record(plan: InstallPlan, report: InstallReport, undo: _Undo, earlier: InstallState | None) -> list[str]:
    """Write what this install replaced into the project, for :func:`rollback_install`; returns the kept copies
    of earlier installs it left as they are (it left their sets out), which it names too."""
    framework = plan.framework
    database = framework.database.url(mask_password=True) if report.database and framework.database else ""
    created = [s.name for s in undo.journal.steps if s.kind == "database" and s.created] if undo.journal else []
    replaced = [s.name for s in undo.journal.steps if s.kind == "database"] if undo.journal else []
    left = left_kept(earlier, [f.path for f in undo.folders], replaced)
    state = InstallState(framework.project_dir, plan.received.session, database, list(undo.folders),
                         named_databases=list(report.named_databases), created_databases=created, left=left)
    try:
        write_state(state)
    except OSError as exc:
        log.warning("could not record the install for rollback in %s: %s", framework.project_dir, exc.strerror)
    return [item.describe(framework.project_dir) for item in left]


def rollback_install(framework: Framework, *, yes: bool = False, confirm: Callable[[str], bool] | None = None,
                     force_remote_target: bool = False,
                     manager: SyncoPluginManager | None = None) -> list[str] | None:
    """Put back the database and the folders the project's last install replaced, together.

    None when the project holds no install record (the caller then rolls back the database alone). Every
    kept copy is checked and the question asked before anything changes; the database goes first (the
    engine swaps it atomically), then the folders; if a folder cannot be swapped, the ones already swapped
    and the database are swapped again, so a failed rollback changes nothing. Returns what was put back.
    """
    with folderlock.folder_lock(framework.project_dir, folderlock.INSTALL_LOCK, "installing into"):
        return _rollback_install(framework, yes=yes, confirm=confirm, force_remote_target=force_remote_target,
                                 manager=manager or get_plugin_manager())


def _rollback_install(framework: Framework, *, yes: bool, confirm: Callable[[str], bool] | None,
                      force_remote_target: bool, manager: SyncoPluginManager) -> list[str] | None:
    recovered = recover_interrupted(framework, manager)
    if recovered is not None:
        # An install killed before it finished is undone: the project is back where the rollback would lead.
        return [recovered]
    state = read_state(framework.project_dir)
    if state is None:
        return None
    check_state(state, framework, set_folders(framework, manager))
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
    except (OSError, ConfigError, ForeignFilesError) as exc:
        for done in reversed(swapped):
            try:
                swap_folder(done)
            except (OSError, ConfigError) as again:
                log.error("could not swap %s back: %s", done.path, again)
        for database in reversed(databases):
            rollback_with_engine(database, options, manager)
        if isinstance(exc, ForeignFilesError):
            raise SyncoError(f"{exc}; the database and the other folders are as they were") from exc
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SyncoError(f"could not put back {state.folders[len(swapped)].path}: {detail}; "
                         "the database and folders are as they were") from exc
    # Dropped last: the one step a failure could not swap back.
    drop = InstallOptions(yes=True, force_remote_target=force_remote_target, local_hosts=local_hosts_of(framework),
                          drop_created=True)
    for database in created:
        rollback_with_engine(database, drop, manager)
    lines = [f"Put back {t}" for t in targets if not t.startswith("drop ")] + [f"Dropped {t}" for t in dropped]
    left = [item.describe(framework.project_dir) for item in state.left]
    if left:
        lines.append(f"{_LEFT_TEXT}: {', '.join(left)}")
    if created:
        # A dropped database cannot be brought back by another rollback: the record has done its job.
        forget_state(framework.project_dir)
        return lines
    # Swapped again, the record now undoes this rollback, as the database's kept copy does.
    state.folders = swapped
    write_state(state)
    return lines


def run_post_install(framework: Framework) -> None:
    """Run the framework's post-install commands in the project directory, stopping at the first failure.

    They see the environment the project itself would load (``post_install_env``, which the plugin read when
    it found the database) over synco's: without it, Django's ``migrate --check`` read no ``.env`` and
    checked another database than the one just installed, or failed to find one."""
    env = child_environment({**os.environ, **framework.post_install_env})
    for argv in framework.post_install:
        log.info("running %s", " ".join(argv))
        try:
            completed = subprocess.run(argv, cwd=framework.project_dir, check=False, env=env)
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
    earlier: InstallState | None = None,
    delete_excluded: bool = False,
    max_delete: int | None = None,
    terminate: bool = True,
    receive_deleted: RunDeletions | None = None,
    skip_requirements: bool = False,
    requirements_checked: bool = False,
) -> InstallReport:
    """The whole install: read the received folder, detect the local project, confirm, install.

    ``framework``: the local project when the caller detected it already; ``installed_database``, ``earlier``:
    see :func:`run_install`; ``site_url``: the local site's URL (``--site-url``), for plugins that rewrite URLs;
    ``delete_excluded`` (``--delete-excluded``): what serve's exclude rules match in a replaced folder goes
    with it instead of being carried into the new content; ``max_delete`` (``--max-delete N``): how many local
    files the install may take out of the project's folders in all, after the ``receive_deleted`` of the same
    run (:func:`synco_core.install.plan.plan_install`). What each dump needs of the local server is checked
    first (:mod:`synco_core.install.requirements`; ``skip_requirements``: ``--skip-requirements``), unless the
    receive that brought it checked it already (``requirements_checked``).
    """
    received = load_received(folder)
    framework = framework or detect(project_dir, framework_name, side="destination")
    # receive --install holds the install lock already (re-entrant): then it was taken before the early
    # database load. The received folder's lock keeps a receive from rewriting what is being installed.
    with folderlock.folder_lock(framework.project_dir, folderlock.INSTALL_LOCK, "installing into"), \
            folderlock.folder_lock(folder, folderlock.RECEIVE_LOCK, "using"):
        return _install_received(folder, received, framework, only=only, yes=yes, confirm=confirm,
                                 force_remote_target=force_remote_target, post_install=post_install, echo=echo,
                                 installed_database=installed_database, site_url=site_url, earlier=earlier,
                                 delete_excluded=delete_excluded, max_delete=max_delete, terminate=terminate,
                                 receive_deleted=receive_deleted,
                                 skip_requirements=None if requirements_checked else skip_requirements)


def _install_received(
    folder: Path,
    received: Received,
    framework: Framework,
    *,
    only: tuple[str, ...],
    yes: bool,
    confirm: Callable[[str], bool] | None,
    force_remote_target: bool,
    post_install: bool,
    echo: Callable[[str], None],
    installed_database: EarlyDatabaseInstall | None,
    site_url: str | None,
    earlier: InstallState | None,
    delete_excluded: bool = False,
    max_delete: int | None = None,
    terminate: bool = True,
    receive_deleted: RunDeletions | None = None,
    # None: the receive that brought the folder checked the requirements already.
    skip_requirements: bool | None = False,
) -> InstallReport:
    if skip_requirements is not None:
        # Before anything changes (an interrupted install's recovery included): the local server has what
        # each dump needs, or the install is refused in one line.
        for item in received.sets:
            if item.kind == "database" and item.requires is not None and (not only or item.name in only):
                # A database not on this machine is refused before it is asked anything, and one of another
                # engine before it is asked about this one's needs.
                check_target(for_database_set(framework, item.name), force_remote_target, local_hosts_of(framework))
                check_engine(framework, item.name, item.engine)
                check_requirements(framework, item.name, item.requires, skip=skip_requirements,
                                   nothing_done=NOTHING_CHANGED)
    if installed_database is None:
        recovered = recover_interrupted(framework)
        if recovered is not None:
            echo(recovered)
    if site_url:
        framework.site_url = site_url
    plan = plan_install(received, framework, only, max_delete=max_delete, delete_excluded=delete_excluded,
                        receive_deleted=receive_deleted, terminate=terminate)
    if not plan.steps:
        raise ConfigError(f"nothing to install from {folder}")
    if delete_excluded:
        for step in plan.steps:
            step.source = dataclasses.replace(step.source, keep=())
    local_hosts = local_hosts_of(framework)
    report = run_install(plan, yes=yes, confirm=confirm, force_remote_target=force_remote_target,
                         local_hosts=local_hosts, post_install=post_install, installed_database=installed_database,
                         earlier=earlier)
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
    if report.left:
        echo(f"{_LEFT_TEXT}: {', '.join(report.left)}")
    if framework.post_install and not report.post_install_run:
        echo("Next, run in the project (or pass --post-install):")
        for argv in framework.post_install:
            echo("  " + " ".join(argv))
        if framework.post_install_env:
            # Names only: the values may be passwords (a .env's).
            echo(f"  with the project's {', '.join(sorted(framework.post_install_env))} set, as --post-install does")
    return report
