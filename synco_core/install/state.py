"""What the last install replaced, kept in the project so ``synco db rollback`` can put all of it back.

The database engines keep the previous content themselves (``__synco_prev``, ``<file>.synco-previous``);
the folders replaced by ``install_files`` are kept beside them (``.<dir>.synco-previous``), but only the
install knows which ones it replaced. It records them in ``<project>/.synco-install.json``; a rollback
swaps each folder with its kept copy (as the engines swap the database), so a second rollback undoes
the first.
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from synco_core import hostilejson
from synco_core.databases import DB_SET_NAME
from synco_core.engines.default_files import BACKUP_SUFFIX, carry_over
from synco_core.errors import ConfigError, UnsafePathError
from synco_core.fsutil import atomic_output, safe_relative_path
from synco_core.install import owned
from synco_core.recordversion import RECORD_VERSION, damaged, listed_texts, record_version

STATE_FILE = ".synco-install.json"


@dataclass(frozen=True)
class ReplacedFolder:
    """A folder an install replaced (or created), and where the content to put back lies."""

    path: Path
    backup: Path
    #: True while ``backup`` holds the content to put back; False when the install created ``path``
    #: (putting back then means: no folder there).
    previous: bool
    #: Nested folders of other sets carried from the old content into the new (``install_tree``'s keep).
    kept: tuple[str, ...] = ()

    @staticmethod
    def created(path: Path) -> ReplacedFolder:
        return ReplacedFolder(path, path.with_name("." + path.name + BACKUP_SUFFIX), previous=False)

    @property
    def side(self) -> Path:
        """Where a rollback's swap passes the current content where names cannot be exchanged."""
        return self.path.with_name(self.path.name + ".synco-swap")

    def check(self) -> None:
        """A one-line ConfigError when the kept copy is gone (before anything is swapped); a swap cut short
        leaves it in the current content's place (:func:`swap_folder` moves it back first)."""
        if self.previous and not os.path.lexists(self.backup) and not os.path.lexists(self.side):
            raise ConfigError(f"cannot put back {self.path}: its previous content {self.backup} is gone")


@dataclass
class InstallState:
    """``.synco-install.json``: the database (masked URL) and folders the last install replaced."""

    project_dir: Path
    session: str = ""
    #: The database the install replaced (masked URL), or "" when it installed files only.
    database: str = ""
    folders: list[ReplacedFolder] = field(default_factory=list)
    #: The named databases it replaced too, by file set (``dbDump-<name>``).
    named_databases: list[str] = field(default_factory=list)
    #: The databases (by file set) that did not exist before the install: a rollback drops them.
    created_databases: list[str] = field(default_factory=list)
    #: Kept copies earlier installs left of what this one did not replace (an ``--only`` install): no
    #: rollback puts them back, so they are named, each as a folder's kept copy or a database's set.
    left: list[LeftKept] = field(default_factory=list)


@dataclass(frozen=True)
class LeftKept:
    """A kept copy an earlier install left that the last one did not replace (it left the set out)."""

    kind: Literal["folder", "database"]
    #: A folder's kept copy (``.<folder>.synco-previous``), or a database's file set (``dbDump-<name>``).
    name: str

    def describe(self, project_dir: Path) -> str:
        if self.kind == "folder":
            return _relative(Path(self.name), project_dir)
        return f"the previous content of the {self.name} database, kept by its engine"


def left_kept(earlier: InstallState | None, replaced_folders: list[Path],
              replaced_databases: list[str]) -> list[LeftKept]:
    """The kept copies ``earlier`` (the record an install found) named that an install replacing
    ``replaced_folders`` and ``replaced_databases`` (file sets) leaves as they are, still there."""
    if earlier is None:
        return []
    taken = {path.with_name("." + path.name + BACKUP_SUFFIX) for path in replaced_folders}
    found = [LeftKept("folder", str(f.backup)) for f in earlier.folders if f.previous]
    databases = ([DB_SET_NAME] if earlier.database else []) + earlier.named_databases
    found += [LeftKept("database", name) for name in databases if name not in earlier.created_databases]
    left: list[LeftKept] = []
    for item in [*found, *earlier.left]:
        if item in left:
            continue
        if item.kind == "folder" and (Path(item.name) in taken or not os.path.lexists(item.name)):
            continue
        if item.kind == "database" and item.name in replaced_databases:
            continue
        left.append(item)
    return left


def swap_folder(folder: ReplacedFolder) -> ReplacedFolder:
    """Put ``folder.backup`` in place of ``folder.path`` and keep what was there as the backup.

    Returns the folder as it is afterwards, so swapping that again restores the install. Folders carried
    over at install time move back into whichever content is in place. Both names are exchanged in one step
    where the system can, so the application never finds the folder missing; elsewhere the current content
    passes through ``<folder>.synco-swap``, and one a killed rollback left there is moved back first. Nothing
    is removed but an empty leftover: a folder the application created in between stops it in one line.
    """
    folder.check()
    side = folder.side
    _settle_side(folder, side)
    had_current = os.path.lexists(folder.path)
    if not (had_current and folder.previous and owned.exchange(folder.path, folder.backup)):
        if had_current:
            os.replace(folder.path, side)
        if folder.previous:
            try:
                os.replace(folder.backup, folder.path)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                raise owned.ForeignFilesError(
                    f"cannot put back {folder.path}: the application created it again meanwhile; nothing was "
                    f"removed: the content taken out is in {side}, the one to put back in {folder.backup}") from exc
        else:
            # A copy left from an older install, not the content this one replaced: only an empty one goes.
            stays = owned.remove_owned(folder.backup, None)
            if stays:
                raise owned.ForeignFilesError(
                    f"cannot take out {folder.path}: {folder.backup} is in the way and holds files "
                    f"({owned.named(stays)}); move them out of it, then run the command again")
        if had_current:
            os.replace(side, folder.backup)
    if had_current and folder.previous:
        for relative in folder.kept:
            carry_over(folder.backup, folder.path, PurePosixPath(relative))
    return replace(folder, previous=had_current)


def _settle_side(folder: ReplacedFolder, side: Path) -> None:
    """Undo a swap a kill cut short, told by the content it left under ``side``."""
    if not os.path.lexists(side):
        return
    if not os.path.lexists(folder.path):
        os.replace(side, folder.path)  # Killed after the current content was moved aside.
    elif folder.previous and not os.path.lexists(folder.backup):
        # Killed after the kept copy was moved in: both go back where they were.
        os.replace(folder.path, folder.backup)
        os.replace(side, folder.path)
    else:
        raise owned.ForeignFilesError(
            f"cannot swap {folder.path}: {side}, left by an interrupted rollback, is there too; nothing was "
            f"changed: keep what you want at {folder.path} and {folder.backup}, move {side} away, then run the "
            "command again")


def _relative(path: Path, project_dir: Path) -> str:
    try:
        return path.relative_to(project_dir).as_posix()
    except ValueError:
        return str(path)  # Installed outside the project by a plugin: kept absolute.


def refused_field(file: Path, field: str, why: str) -> ConfigError:
    """The one line refusing a record or journal found in the project whose ``field`` names what it must not."""
    return ConfigError(f"{file}: refusing its field {field}: {why}; nothing was changed (remove {file.name} if "
                       "you did not make it)")


def record_path(value: str, project_dir: Path, file: Path, field: str) -> Path:
    """A path as a record names it: absolute (a set folder that is a link out of the project, judged by
    :mod:`synco_core.install.recordcheck`) or relative to the project, never leaving it by ``..``."""
    if Path(value).is_absolute():
        return Path(value)
    try:
        return project_dir.joinpath(*safe_relative_path(value).parts)
    except UnsafePathError as exc:
        raise refused_field(file, field, str(exc)) from None


def _resolve(value: object, project_dir: Path, state_file: Path, field: str) -> Path:
    if not isinstance(value, str) or not value:
        raise damaged(state_file, "install record")
    return record_path(value, project_dir, state_file, field)


def write_state(state: InstallState) -> None:
    data: dict[str, Any] = {
        "version": RECORD_VERSION,
        "session": state.session,
        "database": state.database,
        "namedDatabases": state.named_databases,
        "createdDatabases": state.created_databases,
        "left": [{"kind": item.kind, "name": _relative(Path(item.name), state.project_dir)
                  if item.kind == "folder" else item.name} for item in state.left],
        "folders": [
            {"path": _relative(f.path, state.project_dir), "backup": _relative(f.backup, state.project_dir),
             "previous": f.previous, "kept": list(f.kept)}
            for f in state.folders
        ],
    }
    with atomic_output(state.project_dir / STATE_FILE, ".tmp", private=True) as out:
        out.write((json.dumps(data, indent=2) + "\n").encode())


def read_json_file(file: Path, what: str) -> object | None:
    """A record's JSON (``what``: ``install record``, ...); None when the file does not exist, a one-line error
    saying what to do when it cannot be read or is not JSON (cut short, edited)."""
    try:
        data: object = hostilejson.loads(file.read_text())
        return data
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise damaged(file, what, str(exc), unparsed=True) from exc
    except OSError as exc:
        raise ConfigError(f"{file} is unreadable: {exc.strerror or exc}") from exc


def read_state(project_dir: Path) -> InstallState | None:
    """The last install's record, or None when the project has none."""
    # Its paths are compared with the install's own, which are absolute: a project typed as "." (receive's
    # default) made every kept copy look like another install's.
    project_dir = Path(os.path.abspath(project_dir))
    state_file = project_dir / STATE_FILE
    data = read_json_file(state_file, "install record")
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("folders"), list):
        raise damaged(state_file, "install record")
    record_version(data, state_file, "install record")
    folders = []
    for index, entry in enumerate(data["folders"]):
        if not isinstance(entry, dict):
            raise damaged(state_file, "install record")
        folders.append(ReplacedFolder(
            path=_resolve(entry.get("path"), project_dir, state_file, f"folders[{index}].path"),
            backup=_resolve(entry.get("backup"), project_dir, state_file, f"folders[{index}].backup"),
            previous=bool(entry.get("previous")),
            kept=listed_texts(entry.get("kept"), str(damaged(state_file, "install record"))),
        ))
    named = data.get("namedDatabases") or []
    created = data.get("createdDatabases") or []
    for names in (named, created):
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise damaged(state_file, "install record")
    left = []
    listed = data.get("left") or []
    if not isinstance(listed, list):
        raise damaged(state_file, "install record")
    for index, entry in enumerate(listed):
        if not isinstance(entry, dict) or entry.get("kind") not in ("folder", "database") or not isinstance(
                entry.get("name"), str):
            raise damaged(state_file, "install record")
        name = entry.get("name")
        place = f"left[{index}].name"
        left.append(LeftKept(entry["kind"], str(_resolve(name, project_dir, state_file, place))
                             if entry["kind"] == "folder" else str(name)))
    return InstallState(project_dir, str(data.get("session") or ""), str(data.get("database") or ""), folders,
                        named_databases=named, created_databases=created, left=left)


def forget_state(project_dir: Path) -> None:
    """An install is starting: the kept copies the record names are about to be replaced."""
    (project_dir / STATE_FILE).unlink(missing_ok=True)
