"""What the install record and journal may name: only this project's own set folders, kept copies and databases.

Both files live in the project, so a cloned repository (or an unpacked archive) can carry them: their content is
not synco's word but anyone's. A rollback or a recovery swaps, moves and removes whatever folder they name, so a
planted one naming ``/home/user/.ssh`` (or ``../..``, or a path through a link) had that folder replaced by
content from the repository. Each field that names a folder must therefore name exactly what an install into
the local project would have written there now: a folder of one of the file sets the local project lists
(resolved as the install resolves it, a link of the set's own folder followed), the kept copy beside it
(``.<folder>.synco-previous``, or ``.<folder>.<name>`` a plugin chose), the parked copy beside it, an entry
inside it. Anything else stops the command in one line naming the file and the field, before anything changes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from synco_core.databases import DB_SET_NAME
from synco_core.destinations import local_destination
from synco_core.engines.default_files import installed_folder
from synco_core.errors import ConfigError, UnsafePathError
from synco_core.install.journal import JOURNAL_FILE, InstallJournal, default_backup, parked_path
from synco_core.install.state import STATE_FILE, InstallState, refused_field
from synco_core.names import safe_relative_path
from synco_core.plugins import SyncoPluginManager
from synco_core.values import FileSetOptions, Framework

log = logging.getLogger(__name__)


def set_folders(framework: Framework, manager: SyncoPluginManager) -> set[Path]:
    """The folders an install into ``framework``'s project replaces, one per file set it lists (absolute)."""
    from synco_core.detection import list_file_sets

    sets = {file_set.name: file_set for file_set in list_file_sets(framework, FileSetOptions(all=True), manager)}
    folders: set[Path] = set()
    for name in sets:
        try:
            destination = local_destination(framework, name, "", sets)
        except ConfigError as exc:
            log.debug("%s", exc)  # Nothing is installed there, so no record may name it either.
            continue
        folders.add(Path(os.path.abspath(installed_folder(destination.path))))
    return folders


def _check_kept(file: Path, field: str, kept: tuple[str, ...]) -> None:
    for entry in kept:
        try:
            safe_relative_path(entry)
        except UnsafePathError as exc:
            raise refused_field(file, field, str(exc)) from None


def _check_folder(file: Path, field: str, path: Path, folders: set[Path]) -> None:
    if Path(os.path.abspath(path)) not in folders:
        raise refused_field(file, field, f"{path} is not the folder of a file set of this project")


def _check_beside(file: Path, field: str, value: Path | None, expected: Path) -> None:
    if value is not None and Path(os.path.abspath(value)) != Path(os.path.abspath(expected)):
        raise refused_field(file, field, f"{value} is not {expected.name} beside the set's folder")


def _check_backup(file: Path, field: str, backup: Path, path: Path) -> None:
    """The kept copy is beside the folder, named after it: ``.<folder>.synco-previous`` for the core's
    installer, ``.<folder>.<anything>`` for a plugin that keeps its own (see ``FilesInstallResult.backup``)."""
    backup, path = Path(os.path.abspath(backup)), Path(os.path.abspath(path))
    if backup.parent != path.parent or not backup.name.startswith(f".{path.name}."):
        raise refused_field(file, field, f"{backup} is not a kept copy beside the set's folder (.{path.name}.*)")


def check_state(state: InstallState, framework: Framework, folders: set[Path]) -> None:
    """Refuse ``state`` (read from the project) unless each field names this project's own places."""
    file = Path(os.path.abspath(state.project_dir)) / STATE_FILE
    for index, folder in enumerate(state.folders):
        _check_folder(file, f"folders[{index}].path", folder.path, folders)
        _check_backup(file, f"folders[{index}].backup", folder.backup, folder.path)
        _check_kept(file, f"folders[{index}].kept", folder.kept)
    backups = {default_backup(path) for path in folders}
    for index, item in enumerate(state.left):
        if item.kind == "folder" and Path(os.path.abspath(item.name)) not in backups:
            raise refused_field(file, f"left[{index}].name", f"{item.name} is not the kept copy of a file set's folder")
    if state.database and (framework.database is None
                           or state.database != framework.database.url(mask_password=True)):
        # The value is not repeated: it is the record's word, and the configured one may hold a user name.
        raise refused_field(file, "database", "it is not the database the project's configuration names")
    sets = [DB_SET_NAME] * bool(state.database) + state.named_databases
    for name in state.created_databases:
        if name not in sets:
            raise refused_field(file, "createdDatabases", f"{name!r} is not a database the record says it replaced")


def check_journal(journal: InstallJournal, folders: set[Path]) -> None:
    """Refuse ``journal`` (read from the project) unless each folder step names this project's own places."""
    project = Path(os.path.abspath(journal.project_dir))
    file = project / JOURNAL_FILE
    for index, step in enumerate(journal.steps):
        if step.kind != "files":
            continue  # A database step names a file set: its database is the configuration's (for_database_set).
        field = f"steps[{index}]"
        if step.path is None or step.backup is None:
            raise refused_field(file, f"{field}.path", "a folder step names no folder")
        _check_folder(file, f"{field}.path", step.path, folders)
        _check_backup(file, f"{field}.backup", step.backup, step.path)
        _check_beside(file, f"{field}.parked", step.parked, parked_path(step.path))
        _check_kept(file, f"{field}.kept", step.kept)
        if step.created_from is not None:
            created = Path(os.path.abspath(step.created_from))
            path = Path(os.path.abspath(step.path))
            if created == project or not created.is_relative_to(project) or not path.is_relative_to(created) \
                    or path == created:
                raise refused_field(file, f"{field}.createdFrom",
                                    f"{step.created_from} is not a folder of this project above the set's folder")
