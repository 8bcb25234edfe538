"""The default ``install_files``: copy a received set to ``project_dir / relative_base_path``.

Registered ``trylast`` like any built-in, so a framework plugin with its own layout (Flow's resource
storage) answers first. The previous folder is moved aside (``.<folder>.synco-previous``) and only removed
by the next install: the install records it in the project (``.synco-install.json``, see
:mod:`synco_core.install.run`), and ``synco db rollback`` run in the project swaps it back with the database.

Files are hard-linked from the received folder where it is on the same file system (copied otherwise):
tens of thousands of uploads then install in a fraction of a second and take no second copy of disk
space. That is safe because receive never writes into an existing file: a changed file arrives as a new
file renamed over the old name, which leaves the installed link alone. A tool that edits an installed
file in place edits the received copy too; the next receive sees the changed size or mtime and fetches
the file again.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath

from synco_core import hookimpl
from synco_core.engines import crashpoints
from synco_core.errors import ConfigError, SyncoError
from synco_core.fsutil import make_folders, safe_relative_path
from synco_core.install import owned
from synco_core.nospace import NO_SPACE_ERRNOS, NoSpaceError, no_space
from synco_core.partfiles import is_receive_part
from synco_core.permissions import keep_mode_of
from synco_core.trees import Choice, copy_tree, remove_tree, select_entries, tree_size
from synco_core.values import FilesInstallResult, Framework, ReceivedFileSet

BACKUP_SUFFIX = ".synco-previous"


class _LinkOrCopy:
    """A ``copytree`` copy function: hard links while the file system allows them, copies after that."""

    def __init__(self) -> None:
        self.linking = True

    def __call__(self, source: str, destination: str) -> str:
        if self.linking:
            try:
                os.link(source, destination, follow_symlinks=False)
                return destination
            except OSError:
                # Another file system (EXDEV), no link support, or a link count limit: copy from now on.
                self.linking = False
        return str(shutil.copy2(source, destination, follow_symlinks=False))


#: A part file a receive left (after ``--allow-missing``, or an older receive's): the install leaves it out,
#: where the next receive continues it, instead of copying half a file into the application's folder.
_receive_part = is_receive_part


def installed_folder(destination: Path) -> Path:
    """The folder an install into ``destination`` replaces: ``destination``, or the folder it leads to when it
    is a link (a deploy tool's shared uploads, a Docker volume), which keeps the link in place."""
    return Path(os.path.realpath(destination)) if destination.is_symlink() else destination


def install_tree(source_dir: Path, destination: Path, keep: Sequence[str] = ()) -> FilesInstallResult:
    """Replace ``destination`` by a copy of ``source_dir``; keep the old one beside it until next time.

    The copy is built under a temporary name next to the destination and swapped in, so a failure in the
    middle leaves the destination exactly as it was. ``keep`` names folders (relative to ``destination``)
    that belong to something else and were not sent (Laravel 10's public disk inside ``storage/app``):
    they move from the previous folder into the new one instead of disappearing with it.

    What the copy holds is noted beside it first (:mod:`synco_core.install.owned`), so that an undo removes
    only that, never an upload the application wrote since. Where the system can (Linux), the new folder and
    the live one swap names in one step: the folder is never missing, so the application cannot create it
    again half-way; elsewhere a folder the application created in between stops the install in one line,
    all three folders kept.

    A ``destination`` that is a link is written through, as ``rsync -a source/ destination/`` does: the
    folder it leads to is replaced (its copy and its previous content beside it), and the link stays.
    """
    destination = installed_folder(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.with_name(destination.name + ".synco-new")
    # A dot name keeps the previous copy out of directory listings and web servers' reach.
    backup = destination.with_name("." + destination.name + BACKUP_SUFFIX)
    remove_tree(staging)
    if os.path.lexists(destination):
        # Only the newest previous state is kept; an older backup would restore the wrong content.
        drop_kept_copy(destination, backup)
    files = 0
    replaced = False
    manifest: owned.Manifest | None = None
    try:
        files = copy_tree(source_dir, staging, _LinkOrCopy(), skip=_receive_part)
        # The folder replaced keeps who may enter and write it (a local web server's group, a private 0700).
        keep_mode_of(staging, destination)
        manifest = owned.write_manifest(staging, owned.manifest_path(destination))
        crashpoints.reached("files:install:staged")
        if os.path.lexists(destination):
            if owned.exchange(staging, destination):
                replaced = True
                crashpoints.reached("files:install:kept")
                # The staging name holds the previous content now.
                os.replace(staging, backup)
            else:
                os.replace(destination, backup)
                replaced = True
                crashpoints.reached("files:install:kept")
                _rename_in(staging, destination, backup)
        else:
            os.replace(staging, destination)
        crashpoints.reached("files:install:replaced")
    except BaseException as exc:
        if manifest is None or owned.identity(staging) == manifest.root:
            remove_tree(staging, ignore_errors=True)
        if isinstance(exc, OSError) and not replaced:
            raise _install_failed(destination, exc, source_dir) from exc
        raise
    kept = []
    if replaced:
        for relative in keep:
            if carry_over(backup, destination, safe_relative_path(relative)):
                kept.append(str(relative))
    return FilesInstallResult(destination=destination, files=files, backup=backup if replaced else None,
                              kept=tuple(kept))


def _rename_in(staging: Path, destination: Path, backup: Path) -> None:
    """The second of two renames, where names cannot be exchanged: a folder the application created at
    ``destination`` since the first (a new upload) stops the install, every folder kept where it is."""
    try:
        os.replace(staging, destination)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR, errno.ENOTDIR):
            raise
        raise owned.ForeignFilesError(
            f"cannot install into {destination}: the application created it again while it was being replaced "
            f"(it holds {owned.named(owned.foreign_entries(destination, None)) or 'a new entry'}); nothing was "
            f"removed: the previous content is in {backup}") from exc


def drop_kept_copy(destination: Path, backup: Path) -> None:
    """Remove the kept copy ``backup`` of ``destination`` (a next install makes its own).

    A kept copy that is the content of an earlier install (a rollback took it out, with the uploads the
    application wrote into it meanwhile) loses only what that install put there: anything else stops this
    install in one line, nothing removed but the install's own files.
    """
    earlier = owned.read_manifest(owned.manifest_path(destination))
    if earlier is not None and owned.identity(backup) == earlier.root:
        stays = owned.remove_owned(backup, earlier)
        if stays:
            raise owned.kept_copy_holds_foreign_files(destination, backup, stays)
    else:
        remove_tree(backup)
    owned.remove_manifest(destination)


def _install_failed(destination: Path, exc: OSError, source_dir: Path) -> SyncoError:
    """One line for a copy that failed before anything was replaced (a full disk, a refused folder)."""
    if exc.errno in NO_SPACE_ERRNOS:
        try:
            # The copy beside the folder takes the set's size (nothing is linked from another disk).
            needed: int | None = tree_size(source_dir, skip=is_receive_part)
        except OSError:
            needed = None
        said = no_space(destination, f"the copy of {source_dir.name} that replaces it", needed)
        return NoSpaceError(f"{said} ({destination} was left as it was)")
    if exc.errno == errno.ENAMETOOLONG:
        # Its copy is made by full paths: a set nesting folders past the system's path limit (a private tar
        # extracted by descriptors may) is refused, naming the path cut short (it may take kilobytes).
        named = str(exc.filename) if isinstance(exc.filename, str) else str(source_dir)
        shown = named if len(named) <= 160 else f"{named[:100]}...{named[-50:]}"
        return SyncoError(f"cannot install into {destination}: {source_dir.name} holds a path longer than this "
                          f"system allows ({shown}); it was left as it was")
    where = f" ({exc.filename})" if isinstance(exc.filename, str) else ""
    return SyncoError(f"cannot install into {destination}: {exc.strerror or exc}{where}; it was left as it was")


def carry_over(source: Path, destination: Path, relative: PurePosixPath) -> bool:
    """Move ``source/relative`` to ``destination/relative`` unless the latter holds something; True if moved."""
    old = source.joinpath(*relative.parts)
    new = destination.joinpath(*relative.parts)
    if not os.path.lexists(old):
        return False
    if new.is_dir() and not new.is_symlink() and not any(new.iterdir()):
        # The source packs an excluded folder as an empty directory entry; it stands for "not sent".
        new.rmdir()
    if os.path.lexists(new):
        return False
    make_folders(new.parent)
    # The destination may be live: what the application put there since the look above stays.
    return owned.rename_new(old, new)


def install_named_root(roots: Mapping[str, Path], name: str, source_dir: Path) -> FilesInstallResult | None:
    """Install set ``name`` into ``roots[name]`` with :func:`install_tree`; None when ``roots`` has no ``name``.

    ``roots`` are a project's named file roots (Laravel's disks, Django's storages). A root inside the one
    being replaced belongs to another set, which the source left out of this one: it is kept.
    """
    destination = roots.get(name)
    if destination is None:
        return None
    keep = [root.relative_to(destination).as_posix() for other, root in roots.items()
            if other != name and root != destination and root.is_relative_to(destination)]
    return install_tree(source_dir, destination, keep)


def dotfile_candidates(previous: Path, destination: Path) -> Iterator[PurePosixPath]:
    """The entries of ``previous`` that :func:`carry_dotfiles` looks at, relative, in a stable order.

    Dot-named entries at any depth, looked for only in folders the new content has too; a dot-folder is
    one entry. Each folder is listed before its entries are yielded, so moving one meanwhile is safe.
    """

    def choose(relative: str, is_folder: bool) -> Choice:
        if relative.rpartition("/")[2].startswith("."):
            return Choice.TAKE
        return Choice.ENTER if is_folder and destination.joinpath(relative).is_dir() else Choice.SKIP

    return (PurePosixPath(relative) for relative in select_entries(previous, choose))


def carry_dotfiles(previous: Path, destination: Path) -> list[str]:
    """Move the dotfiles of ``previous`` the new ``destination`` lacks into it; returns their relative paths.

    A public set leaves names starting with a dot out (the project's ``.gitignore`` in Laravel's
    ``storage/app/public``): installing it must not make them vanish from the project. Folders are
    looked into only where the new content has them too; a dot-folder moves as a whole.
    """
    moved: list[str] = []
    for path in dotfile_candidates(previous, destination):
        if carry_over(previous, destination, path):
            moved.append(path.as_posix())
            crashpoints.reached("files:install:dotfile-carried")
    return moved


def excluded_candidates(previous: Path, keep: Callable[[str], bool]) -> Iterator[PurePosixPath]:
    """The entries of ``previous`` that ``keep`` matches (serve's exclude rules), relative, in a stable order.

    A matched folder is one entry (everything below it is the laptop's too); the others are looked into at
    any depth, whether the new content has them or not: a folder that holds only excluded files stays, as
    rsync keeps it. Each folder is listed before its entries are yielded, so moving one meanwhile is safe.
    """

    def choose(relative: str, is_folder: bool) -> Choice:
        if keep(relative):
            return Choice.TAKE
        return Choice.ENTER if is_folder else Choice.SKIP

    return (PurePosixPath(relative) for relative in select_entries(previous, choose))


def carry_excluded(previous: Path, destination: Path, keep: Callable[[str], bool]) -> list[str]:
    """Move the entries of ``previous`` that ``keep`` matches, and the new ``destination`` lacks, into it;
    returns their relative paths.

    What serve's exclude rules left out of a set (a local cache, a developer's files, a local database) was
    never the server's to replace: installing the set, or receiving a private set again, must not make it
    vanish from the laptop (:mod:`synco_core.receive.kept`).
    """
    moved: list[str] = []
    for path in excluded_candidates(previous, keep):
        if carry_over(previous, destination, path):
            moved.append(path.as_posix())
            crashpoints.reached("files:install:excluded-carried")
    return moved


@hookimpl(trylast=True)
def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult | None:
    if not file_set.relative_base_path:
        raise ConfigError(f"file set {file_set.name!r} has no destination path (relativeBasePath)")
    relative = safe_relative_path(file_set.relative_base_path)
    return install_tree(source_dir, framework.project_dir.joinpath(*relative.parts))
