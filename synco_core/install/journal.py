"""The install journal: what a running install is about to replace, on disk before it replaces it.

An install replaces a project's databases and folders one after another. Each engine's swap is crash-safe
on its own, and :mod:`synco_core.install.state` records what the install replaced, but only once it has
succeeded. Killed in between (``kill -9``, power loss), the project would be left half old and half new.
So before each step the install writes ``<project>/.synco-install-journal.json`` (fsynced, renamed into
place, folder fsynced) naming what it is about to replace and where the previous content is kept, and
marks the step done once it is. The journal is removed only after the install record is written, or after
a failed install has been undone.

Finding a journal means an install, or the undo of a failed one, never finished: :func:`recover` puts
every step back, newest first (the previous database through the engine's rollback, each folder from its
kept copy, the last install's kept copy of it moved back beside it), and forgets the last install's record
only when a database step may have swapped (its engine's swap replaced that install's kept copy). Every
undo step is safe to repeat, so a kill during recovery is recovered by the next run. Crash points
(``SYNCO_DEBUG_KILL_AT``, see :mod:`synco_core.engines.crashpoints`): ``install:journal:database-started``,
``install:database:failed``, ``install:journal:database-swapping`` (:mod:`synco_core.install.run`),
``install:journal:database-done``, ``install:journal:files-started``, ``install:journal:files-done``,
``install:journal:recorded`` and, during an undo, ``install:journal:database-undone``,
``files:undo:exchanged`` and ``install:journal:files-undone``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from synco_core.engines import crashpoints, default_files
from synco_core.engines.default_files import BACKUP_SUFFIX, carry_over
from synco_core.errors import SyncoError
from synco_core.fsutil import create_fresh
from synco_core.install import owned
from synco_core.install.state import read_json_file, record_path
from synco_core.nospace import NO_SPACE_ERRNOS, no_space
from synco_core.recordversion import RECORD_VERSION, damaged, listed_texts, record_version
from synco_core.trees import remove_tree

log = logging.getLogger(__name__)

JOURNAL_FILE = ".synco-install-journal.json"
#: Where a folder's new content goes while it is being thrown away (beside the folder, as the kept copy).
DISCARD_SUFFIX = ".synco-discard"
#: Where the default file installer builds a folder's new content (``install_tree``).
STAGING_SUFFIX = ".synco-new"

State = Literal["started", "done", "undoing", "undone"]
#: The version of a journal an older synco, reading version 1, would misread: one holding a database step that
#: has not begun its swap (``swapBegun`` false: such a synco journaled a database step only at the dump's end
#: and undid any it found through the engine's rollback, which puts the last install's kept copy in, the
#: database of the install before under this one's folders), or a folder step that moves the last install's
#: kept copy aside (``parked``: one from before that undid the folder and left that copy at
#: ``.<folder>.synco-older``, the last install's rollback then missing it). Reading version 2 it refuses the
#: journal in one line, saying to upgrade, nothing changed. Every other journal is version 1, read right.
JOURNAL_VERSION = 2


def default_backup(path: Path) -> Path:
    """Where the default file installer keeps a replaced folder (``.<name>.synco-previous``)."""
    return path.with_name("." + path.name + BACKUP_SUFFIX)


@dataclass
class JournalStep:
    """One step of an install as the journal names it."""

    kind: Literal["database", "files"]
    #: The file set (``dbDump``, ``dbDump-<name>``, a files set's name).
    name: str
    state: State = "started"
    #: Files: the folder replaced, where its previous content is kept, whether there was one.
    path: Path | None = None
    backup: Path | None = None
    existed: bool = False
    #: Files: entries carried from the previous content into the new one (moved back on undo).
    kept: tuple[str, ...] = ()
    #: Files: the outermost folder above ``path`` that the step creates (None when the parent exists).
    created_from: Path | None = None
    #: Files: where the last install's kept copy of the folder waits (``.<folder>.synco-older``) while this
    #: install runs: dropped once it is recorded, put back as the kept copy when it is undone. None when the
    #: folder had no kept copy.
    parked: Path | None = None
    #: Files: the last install's note of what it put into the folder waits beside it (``.synco-older.installed``).
    parked_note: bool = False
    #: Files: both are aside (:func:`park` done): from here on the step's kept name is this install's.
    parked_done: bool = False
    #: Database: the engine began its swap (:attr:`~synco_core.values.InstallOptions.before_swap`). Until then
    #: the step is journaled while it loads (held at the dump's end, verifying, cleaning up after a failure):
    #: the target and the last install's kept copy are as they were, and the undo only has the engine drop what
    #: it left (its scratch copy), never roll back (which would put that older kept copy in). True when read
    #: from the journal of a synco that journaled a database step only once its engine had read the whole dump.
    swap_begun: bool = False
    #: Database, once done: the install created the database (the engine kept no previous content).
    created: bool = False
    #: Database, once done: the engine replaced the content inside the database and kept no copy of what it
    #: held (a PostgreSQL role without CREATEDB), so no undo can put that back.
    in_place: bool = False


@dataclass
class InstallJournal:
    """The journal of one install in ``project_dir``; each change is on disk before the call returns."""

    project_dir: Path
    session: str = ""
    steps: list[JournalStep] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def file(self) -> Path:
        return self.project_dir / JOURNAL_FILE

    def begin(self, step: JournalStep) -> JournalStep:
        """Write ``step`` as started, before anything of it happens."""
        with self._lock:
            self.steps.append(step)
            try:
                self._write()
            except JournalWriteError:
                # Not on disk, so not begun: nothing of it may happen.
                self.steps.pop()
                raise
        crashpoints.reached(f"install:journal:{step.kind}-started")
        return step

    def mark(self, step: JournalStep, state: State) -> None:
        with self._lock:
            step.state = state
            self._write()
        if state in ("done", "undone"):
            crashpoints.reached(f"install:journal:{step.kind}-{state}")

    def update(self) -> None:
        """Write the steps again after one of them learnt more (where its content went)."""
        with self._lock:
            self._write()

    def close(self) -> None:
        """The install is recorded (or wholly undone): nothing is left to recover."""
        with self._lock:
            self.file.unlink(missing_ok=True)
            _sync_folder(self.project_dir)

    def _write(self) -> None:
        data = {"version": JOURNAL_VERSION if any(_misread_by_older(s) for s in self.steps) else RECORD_VERSION,
                "session": self.session,
                "steps": [_step_json(s, self.project_dir) for s in self.steps]}
        temp = self.file.with_name(self.file.name + ".tmp")
        try:
            fd = create_fresh(temp, private=True)
            try:
                os.write(fd, (json.dumps(data, indent=2) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.file)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise JournalWriteError(self.file, exc) from exc
        _sync_folder(self.project_dir)


class JournalWriteError(SyncoError):
    """The journal could not be written (a full disk, a read-only project): one line naming it."""

    def __init__(self, file: Path, exc: OSError) -> None:
        if exc.errno in NO_SPACE_ERRNOS:
            message = str(no_space(file.parent, f"the install journal ({file.name})"))
        else:
            message = f"cannot write the install journal {file}: {exc.strerror or exc}"
        super().__init__(message)


def _sync_folder(folder: Path) -> None:
    """Make a rename or removal in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _relative(path: Path | None, project_dir: Path) -> str:
    if path is None:
        return ""
    try:
        return path.relative_to(project_dir).as_posix()
    except ValueError:
        return str(path)


def _misread_by_older(step: JournalStep) -> bool:
    """A step a synco reading version 1 journals would undo otherwise than this one (see :data:`JOURNAL_VERSION`)."""
    if step.kind == "database":
        return step.state == "started" and not step.swap_begun
    return parks(step)


def _step_json(step: JournalStep, project_dir: Path) -> dict[str, Any]:
    return {"kind": step.kind, "name": step.name, "state": step.state, "path": _relative(step.path, project_dir),
            "backup": _relative(step.backup, project_dir), "existed": step.existed, "kept": list(step.kept),
            "createdFrom": _relative(step.created_from, project_dir), "created": step.created,
            "inPlace": step.in_place, "parked": _relative(step.parked, project_dir), "parkedNote": step.parked_note,
            "parkedDone": step.parked_done, "swapBegun": step.swap_begun}


def _path(entry: dict[str, Any], key: str, index: int, project_dir: Path, journal: Path) -> Path | None:
    value = entry.get(key, "")
    if value == "":
        return None
    if not isinstance(value, str):
        raise damaged(journal, "install journal")
    return record_path(value, project_dir, journal, f"steps[{index}].{key}")


def read_journal(project_dir: Path) -> InstallJournal | None:
    """The journal of an install that never finished in ``project_dir``; None when there is none."""
    project_dir = Path(os.path.abspath(project_dir))  # as the install's own paths are (see read_state)
    file = project_dir / JOURNAL_FILE
    data = read_json_file(file, "install journal")
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise damaged(file, "install journal")
    record_version(data, file, "install journal", JOURNAL_VERSION)
    steps = []
    for index, entry in enumerate(data["steps"]):
        if (not isinstance(entry, dict) or entry.get("kind") not in ("database", "files")
                or entry.get("state") not in ("started", "done", "undoing", "undone")
                or not isinstance(entry.get("name"), str)):
            raise damaged(file, "install journal")
        steps.append(JournalStep(kind=entry["kind"], name=entry["name"], state=entry["state"],
                                 path=_path(entry, "path", index, project_dir, file),
                                 backup=_path(entry, "backup", index, project_dir, file),
                                 existed=bool(entry.get("existed")),
                                 kept=listed_texts(entry.get("kept"), str(damaged(file, "install journal"))),
                                 created_from=_path(entry, "createdFrom", index, project_dir, file),
                                 created=entry.get("created") is True, in_place=entry.get("inPlace") is True,
                                 parked=_path(entry, "parked", index, project_dir, file),
                                 parked_note=entry.get("parkedNote") is True,
                                 parked_done=entry.get("parkedDone") is True,
                                 swap_begun=entry.get("swapBegun", True) is True))
    return InstallJournal(project_dir, str(data.get("session") or ""), steps)


def _remove(path: Path) -> None:
    remove_tree(path)


def prepare_folder(step: JournalStep) -> None:
    """Before a folder step is journaled: check the last install's kept copy can go, drop leftovers.

    That kept copy is not dropped yet: :func:`park` moves it aside once the step is journaled, and it goes
    only once the whole install is recorded (:func:`drop_parked`), so an install that fails or is killed
    before puts it back, and the last install's record still rolls it back. Without it at the kept name, a
    kept copy found during recovery is certainly the content this install replaced. A kept copy that holds
    the application's files (see :func:`default_files.drop_kept_copy`), or a leftover of an undo holding
    any, stops the install in one line instead, before anything changes.
    """
    assert step.path is not None and step.backup is not None
    missing = step.path.parent
    while not os.path.lexists(missing) and missing != missing.parent:
        step.created_from = missing
        missing = missing.parent
    parked = parked_path(step.path)
    # Left by an install killed after it was recorded: older than the kept copy there now.
    stays = drop_parked(step.path, parked)
    if stays:
        raise owned.ForeignFilesError(f"cannot replace {step.path}: {parked}, an older kept copy, holds files an "
                                      f"install did not put there ({owned.named(stays)}); move them out of it, then "
                                      "install again")
    if os.path.lexists(step.backup):
        _refuse_kept_with_foreign_files(step.path, step.backup)
        step.parked = parked
    step.parked_note = os.path.lexists(owned.manifest_path(step.path))
    discard = _discard(step.path)
    stays = owned.remove_owned(discard, None)
    if stays:
        raise owned.ForeignFilesError(f"cannot replace {step.path}: {discard} holds files an earlier undo kept "
                                      f"there ({owned.named(stays)}); move them out of it, then install again")
    _remove(step.path.with_name(step.path.name + STAGING_SUFFIX))
    _sync_folder(step.path.parent)


def parked_path(path: Path) -> Path:
    return path.with_name("." + path.name + owned.PARKED_SUFFIX)


def _parked_note(path: Path) -> Path:
    return path.with_name("." + path.name + owned.PARKED_MANIFEST_SUFFIX)


def _refuse_kept_with_foreign_files(path: Path, backup: Path) -> None:
    """The refusal :func:`default_files.drop_kept_copy` makes, made before anything moves: a kept copy that is
    the content of an earlier install (a rollback took it out) holds files that install did not put there."""
    earlier = owned.read_manifest(owned.manifest_path(path))
    if earlier is not None and owned.identity(backup) == earlier.root:
        foreign = owned.foreign_entries(backup, earlier)
        if foreign:
            raise owned.kept_copy_holds_foreign_files(path, backup, foreign)


def parks(step: JournalStep) -> bool:
    return step.parked is not None or step.parked_note


def park(step: JournalStep, journal: InstallJournal) -> None:
    """Once ``step`` is journaled: move the last install's kept copy of its folder and its note aside, then
    note that in the journal. Until then an undo only moves back what it finds aside (:func:`unpark`): the
    kept name still holds the last install's copy, not this install's."""
    if not parks(step):
        return
    assert step.path is not None
    if step.parked_note:
        os.replace(owned.manifest_path(step.path), _parked_note(step.path))
    if step.parked is not None:
        assert step.backup is not None
        os.replace(step.backup, step.parked)
    _sync_folder(step.path.parent)
    step.parked_done = True
    journal.update()


def unpark(step: JournalStep) -> None:
    """Put the last install's kept copy of the folder and its note back at their names, where those are free
    (this install's own are gone: not made yet, or undone); safe to run again."""
    assert step.path is not None and step.backup is not None
    if step.parked is not None and os.path.lexists(step.parked) and not os.path.lexists(step.backup):
        os.replace(step.parked, step.backup)
    note = _parked_note(step.path)
    if step.parked_note and os.path.lexists(note) and not os.path.lexists(owned.manifest_path(step.path)):
        os.replace(note, owned.manifest_path(step.path))
    _sync_folder(step.path.parent)


def drop_parked(path: Path, parked: Path | None = None) -> owned.Found:
    """The install is recorded: the last install's kept copy of ``path``, moved aside, goes (only what that
    install put there, when a rollback took it out: the rest, the application's, stays and is returned)."""
    parked = parked or parked_path(path)
    note = _parked_note(path)
    stays = owned.Found()
    if os.path.lexists(parked):
        earlier = owned.read_manifest(note)
        if earlier is not None and owned.identity(parked) == earlier.root:
            stays = owned.remove_owned(parked, earlier)
        else:
            _remove(parked)
    if not stays and os.path.lexists(note):
        note.unlink()
    return stays


def _discard(path: Path) -> Path:
    return path.with_name("." + path.name + DISCARD_SUFFIX)


def dotfile_candidates(previous: Path, destination: Path) -> list[str]:
    """Every entry ``carry_dotfiles(previous, destination)`` could move, found without moving anything."""
    return [path.as_posix() for path in default_files.dotfile_candidates(previous, destination)]


def undo_folder(step: JournalStep) -> None:
    """Put back what a folder step replaced, whatever point it reached; safe to run again after a kill.

    The new content and the kept copy swap names in one step where the system can (else the new content is
    renamed aside before the kept copy is renamed in), so the folder is always either whole old or whole
    new content. Only what the install put there is removed (:mod:`synco_core.install.owned`): a folder
    holding anything else (uploads the application wrote since) stops the undo in one line naming it and
    where the previous content is, nothing changed; the next run tries again.
    """
    assert step.path is not None and step.backup is not None
    path, backup, discard = step.path, step.backup, _discard(step.path)
    staging = path.with_name(path.name + STAGING_SUFFIX)
    if parks(step) and not step.parked_done:
        # Killed while the last install's kept copy was moved aside, before anything else of the step: only
        # that is put back (what is at the kept name is still that copy).
        unpark(step)
        return
    manifest = owned.read_manifest(owned.manifest_path(path))
    if manifest is not None and manifest.root not in {owned.identity(p) for p in (path, backup, discard, staging)}:
        manifest = None  # The note of a folder no longer there (an earlier install's): it says nothing of this one.
    if os.path.lexists(staging):
        if manifest is not None and owned.identity(staging) != manifest.root and not os.path.lexists(backup):
            # Killed right after the exchange: the staging name holds the previous content.
            os.replace(staging, backup)
        else:
            _remove(staging)  # The new content, never live: the application cannot have written into it.
    _drop_discard(path, discard, manifest)
    if manifest is not None and owned.identity(backup) == manifest.root:
        # Killed right after this undo's exchange: the kept name holds the install's content now.
        os.replace(backup, discard)
        _drop_discard(path, discard, manifest)
    if os.path.lexists(backup):
        if manifest is None and os.path.isdir(path) and not os.path.islink(path):
            # No note of what the install put there: nothing in it can be told from the application's, so it
            # is all kept aside; the folder itself is noted, for a run cut short after the swap below.
            manifest = owned.note_folder_only(path)
        if os.path.lexists(path) and manifest is not None and not manifest.blind:
            _refuse_foreign(path, owned.foreign_entries(path, manifest, step.kept),
                            f"its previous content is in {backup}")
        # The previous content is kept: whatever lies at the path now is (part of) the new content.
        for relative in step.kept:
            for holder in (path, discard):
                if os.path.lexists(holder):
                    carry_over(holder, backup, PurePosixPath(relative))
        if os.path.lexists(path) and owned.exchange(path, backup):
            crashpoints.reached("files:undo:exchanged")
            os.replace(backup, discard)
        else:
            if os.path.lexists(path):
                os.replace(path, discard)
            try:
                os.replace(backup, path)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                raise owned.ForeignFilesError(
                    f"cannot put back {path}: the application created it again meanwhile; nothing was removed: "
                    f"its previous content is in {backup}, the install's in {discard}; move the application's "
                    f"files out of {path}, then run the command again") from exc
        _sync_folder(path.parent)
    elif not step.existed and os.path.lexists(path) and step.state != "undone":
        # The install created the folder: putting back means no folder there.
        if manifest is not None and not manifest.blind:
            _refuse_foreign(path, owned.foreign_entries(path, manifest), "there was no folder there before the install")
        os.replace(path, discard)
        _sync_folder(path.parent)
    _drop_discard(path, discard, manifest, final=True)
    # The install is undone: its note goes (before the folders it created, which hold it).
    owned.remove_manifest(path)
    if step.created_from is not None and not os.path.lexists(path):
        # Folders the step created above its own go too, as long as nothing else was put in them.
        folder = path.parent
        while folder.is_relative_to(step.created_from):
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                break
            folder = folder.parent


def _refuse_foreign(path: Path, foreign: owned.Found, previous: str) -> None:
    if foreign:
        raise owned.ForeignFilesError(
            f"cannot put back {path}: it holds files the install did not put there, written since "
            f"({owned.named(foreign)}); nothing was put back ({previous}): move those files out of {path}, "
            "then run the command again")


def _drop_discard(path: Path, discard: Path, manifest: owned.Manifest | None, final: bool = False) -> None:
    """Remove the install's content set aside in ``discard``; what else is there stops the undo in one line.
    Without a note of that content it all stays, said once (``final``: the undo's last look)."""
    if manifest is None or manifest.blind:
        # No note of what the install put there (a journal of an older synco, an install killed before its
        # plugin's content was noted): what is there may hold the application's uploads, so it all stays.
        stays = owned.remove_owned(discard, None)
        if stays and final:
            log.warning("%s was put back; what the install had put there is kept in %s (%s), with anything the "
                        "application wrote into it since, as synco has no note of which files are the install's: "
                        "move out what you want to keep, then remove %s", path, discard, owned.named(stays), discard)
        return
    stays = owned.remove_owned(discard, manifest)
    if stays:
        raise owned.ForeignFilesError(
            f"files written into {path} while it was being put back are kept in {discard} ({owned.named(stays)}); "
            f"move them out of it, then run the command again")


def recover(project_dir: Path, undo_database: Callable[[JournalStep, bool], None],
            forget: Callable[[Path], None], check: Callable[[InstallJournal], None] | None = None) -> str | None:
    """Put back what an unfinished install in ``project_dir`` replaced; one line saying so, None without one.

    ``undo_database(step, tolerate_nothing)`` rolls a database step back through its engine
    (``tolerate_nothing``: the engine may have nothing to roll back, the step having been killed before its
    swap); ``forget`` drops the install record. Raises a :class:`SyncoError` naming what could not be put
    back, leaving the journal for the next run. ``check`` refuses a journal naming places that are not the
    project's own (:mod:`synco_core.install.recordcheck`) before anything is put back.
    """
    journal = read_journal(project_dir)
    if journal is None:
        return None
    if check is not None:
        check(journal)
    forget_given_up(journal, forget)
    undo_steps(journal, undo_database)
    journal.close()
    kept = replaced_in_place(journal)
    replaced = [s.name for s in journal.steps if s.name not in kept and may_have_replaced(s)]
    line = (f"An install in {project_dir} was interrupted before it finished: put back what it had replaced "
            f"({', '.join(replaced) or ('nothing else' if kept else 'nothing yet')})")
    return line + (f"; {in_place_note(kept)}" if kept else "")


def may_have_replaced(step: JournalStep) -> bool:
    """Whether ``step`` may have changed its target: a folder step once begun, a database step once its engine
    began the swap (before, it only loaded a scratch copy beside the target)."""
    return step.kind == "files" or step.swap_begun or step.state not in ("started", "undone")


def gave_up_kept(journal: InstallJournal) -> bool:
    """Whether a database step of ``journal`` (not undone yet) may have been swapped in: the engine's swap
    replaces the last install's kept copy, which the undo does not bring back (a step whose engine failed is
    "undone", one killed before its swap began only loaded: the target and its kept copy are as they were)."""
    return any(step.kind == "database" and step.state != "undone" and may_have_replaced(step)
               for step in journal.steps)


def forget_given_up(journal: InstallJournal, forget: Callable[[Path], None]) -> None:
    """Before ``journal`` is undone: drop the last install's record if a database step gave up the kept copy
    it names. Otherwise the record stays, and ``synco db rollback`` still rolls the last install back (a
    folder whose kept copy a files step dropped stops it in one line naming it, nothing changed: without the
    record it would have rolled the database back alone, beside the folders of another install)."""
    if gave_up_kept(journal):
        forget(journal.project_dir)


def replaced_in_place(journal: InstallJournal) -> list[str]:
    """The database steps of ``journal`` whose engine replaced the content in place: no undo puts it back."""
    return [s.name for s in journal.steps if s.kind == "database" and s.in_place and s.state != "started"]


def in_place_note(names: list[str]) -> str:
    """What the user holds after an undo that could not put back a database replaced in place, and the way back."""
    which = ", ".join(names)
    return (f"the database of {which} keeps what the install loaded: it was replaced in place, and no copy of its "
            "previous content was kept (the role may not create databases), so only a backup of your own brings "
            "that back (synco db load); let the role create databases (ALTER ROLE ... CREATEDB) and installs keep "
            "a copy")


def undo_steps(journal: InstallJournal, undo_database: Callable[[JournalStep, bool], None]) -> None:
    """Undo every step of ``journal`` not undone yet, newest first, marking each as it is undone."""
    unrecorded = False
    for step in reversed(journal.steps):
        if step.state == "undone" and step.kind == "database":
            continue
        try:
            if step.kind == "files" and step.state == "undone" and parks(step):
                # Undone, and killed before the last install's kept copy was back: only that is left to do (the
                # kept name may hold it again, which a second undo would take for this install's).
                unpark(step)
                continue
            if step.kind == "files":
                undo_folder(step)
            else:
                # Killed after the engine's rollback but before "undone" was written, the engine has nothing
                # left to roll back: that is the state "undoing" stands for.
                nothing_ok = step.state in ("started", "undoing")
                if step.state == "done":
                    try:
                        journal.mark(step, "undoing")
                    except JournalWriteError:
                        # A full disk: putting the user's content back matters more than noting it first.
                        unrecorded = True
                undo_database(step, nothing_ok)
        except OSError as exc:
            raise SyncoError(f"could not put back {step.path or step.name} after an interrupted install: "
                             f"{exc.strerror or exc}; run the command again") from exc
        try:
            journal.mark(step, "undone")
        except JournalWriteError:
            unrecorded = True
        if step.kind == "files" and parks(step):
            try:
                unpark(step)
            except OSError as exc:
                raise SyncoError(f"could not put back {step.parked} as the kept copy of {step.path}: "
                                 f"{exc.strerror or exc}; run the command again") from exc
    if unrecorded:
        # Everything is undone, but the journal on disk says otherwise: it goes (a removal needs no space),
        # or a later run would undo again what is already back.
        journal.close()
