"""Whole folder trees: their size, a copy of one, a walk through one, their removal (whole, or filtered).

Each walks with an explicit stack and holds a bounded number of descriptors, whatever the tree's depth:
``shutil.rmtree`` keeps one descriptor per level and ``shutil.copytree``, ``os.walk`` (before Python 3.12) and
a recursive ``scandir`` one Python frame per level, so a tree a few hundred folders deep (a hostile session's,
or an ordinary one under macOS's default ``ulimit -n 256``) ended an install in ``Too many open files`` or a
``RecursionError``.

:func:`remove_tree` also removes what its owner made read-only (a folder of mode 0555 cannot lose its
entries, even to its owner), and when something still cannot go (it belongs to another user, such as the
web server's thumbnails) it fails in one line naming that path, its owner and the reason. Filtered
(``keep``), it removes only what an install put into a folder (:mod:`synco_core.install.owned`), with the same
walk; :func:`walk_tree` lists a tree with it too.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from synco_core.errors import SyncoError
from synco_core.renames import rename_noreplace_at

log = logging.getLogger(__name__)

#: Folders :func:`remove_tree` keeps open at once; deeper ones are reached again from the deepest kept one.
MAX_HELD_FOLDERS = 32

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
_REFUSED = (errno.EACCES, errno.EPERM)


class TreeRemovalError(SyncoError):
    """Part of a tree could not be removed; the message names it (full path), its owner and the reason."""


def _entries(folder: str) -> list[os.DirEntry[str]]:
    """The entries of ``folder``, its descriptor closed before anything else is opened."""
    with os.scandir(folder) as scan:
        return list(scan)


def tree_size(root: Path | str, skip: Callable[[str], bool] | None = None) -> int:
    """Bytes of the regular files under ``root`` (links not followed), by the walk of :func:`walk_tree`: any
    depth and any path length. A file whose name ``skip`` answers True for is not counted (as
    :func:`copy_tree` leaves it out)."""
    total = 0

    def add(relative: str, info: os.stat_result) -> None:
        nonlocal total
        if stat.S_ISREG(info.st_mode) and not (skip is not None and skip(relative.rpartition("/")[2])):
            total += info.st_size

    walk_tree(root, add)
    return total


def copy_tree(source: Path, destination: Path, copy_file: Callable[[str, str], object],
              skip: Callable[[str], bool] | None = None) -> int:
    """Copy the folder ``source`` to the new folder ``destination``; the number of entries that are not folders.

    As ``shutil.copytree(symlinks=True)`` does: links are copied as links, files through ``copy_file(src, dst)``,
    and each folder gets its source's mode and times once its content is in. An entry that is not a folder and
    whose name ``skip`` answers True for is left out. The first failure is raised as the ``OSError`` naming its
    file.
    """
    copied = 0
    os.mkdir(destination)
    # (source folder, its copy, listed yet): a folder comes back once its content is copied, for its stat.
    pending: list[tuple[str, str, bool]] = [(str(source), str(destination), False)]
    while pending:
        folder, copy, listed = pending.pop()
        if listed:
            shutil.copystat(folder, copy, follow_symlinks=False)
            continue
        pending.append((folder, copy, True))
        for entry in _entries(folder):
            target = os.path.join(copy, entry.name)
            if entry.is_dir(follow_symlinks=False):
                os.mkdir(target)
                pending.append((entry.path, target, False))
                continue
            if skip is not None and skip(entry.name):
                continue
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), target)
            else:
                copy_file(entry.path, target)
            copied += 1
    return copied


#: Called with an entry's path below the root (``a/b.jpg``) and its ``lstat``, for every entry that is not a
#: folder; True keeps the entry where it is.
Keep = Callable[[str, os.stat_result], bool]
#: Called with an entry's path below the root and its ``lstat``; folders come after what they hold.
Visit = Callable[[str, os.stat_result], None]

_NOT_A_FOLDER = (errno.ELOOP, errno.ENOTDIR)


def remove_tree(path: Path | str, ignore_errors: bool = False, keep: Keep | None = None) -> None:
    """Remove ``path`` (a folder with everything in it, a file or a link; nothing when there is nothing).

    Links are removed, never followed; every folder is entered by a descriptor opened without following a
    link, so a folder swapped for a link meanwhile is removed as the link, never emptied through it. A folder
    of this user that lacks the owner's read, write or search bit gets them first. What still cannot be
    removed raises :class:`TreeRemovalError`; with ``ignore_errors``, as ``shutil.rmtree``'s, it stays and
    everything else that can go still goes.

    ``keep``: only the entries it does not keep go, then the folders left empty (``path`` last); a folder
    still holding something stays. ``path`` itself must then be a folder.
    """
    path = Path(path)
    try:
        _remove(path, keep, tolerant=ignore_errors)
    except TreeRemovalError:
        if not ignore_errors:
            raise
    except OSError as exc:
        if not ignore_errors:
            raise _failure(path, exc, keep is not None) from exc


def walk_tree(path: Path | str, visit: Visit) -> None:
    """Call ``visit`` for every entry below the folder ``path`` (not for ``path`` itself), each folder after
    its content, links not followed; as :func:`remove_tree` walks, so any depth and any path length costs a
    bounded number of descriptors. An entry removed meanwhile is left out; a folder that cannot be read
    raises the ``OSError`` naming it."""
    path = Path(path)

    def entry(folder_fd: int, name: str, relative: str, where: _Where) -> None:
        try:
            info = os.lstat(name, dir_fd=folder_fd)
        except FileNotFoundError:
            return
        visit(relative, info)

    def folder(container_fd: int, name: str, relative: str, where: _Where) -> None:
        if relative:
            entry(container_fd, name, relative, where)

    parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _walk_folder(parent, path.name, path, entry, folder, grant=False)
    finally:
        os.close(parent)


class Choice(enum.Enum):
    """What :func:`select_entries` does with an entry."""

    #: Yield it (a folder taken is one entry: not entered).
    TAKE = "take"
    #: Enter it (a folder; anything else is passed over).
    ENTER = "enter"
    #: Pass it over (a folder is not entered).
    SKIP = "skip"


#: Called with an entry's path below the root (``a/.gitignore``) and whether it is a folder (not a link to one).
Chooser = Callable[[str, bool], Choice]


def select_entries(root: Path | str, choose: Chooser) -> Iterator[str]:
    """The paths below the folder ``root`` (relative, ``/``-separated) that ``choose`` takes, in a stable order
    (names sorted, each folder's entries before what its folders hold), entering only the folders it enters.

    The one pruned walk of the install and its checks (the dotfiles and excluded entries carried over, the
    files an empty set would take away). Each folder is listed whole before any of its entries is yielded,
    so the caller may move what it is given; a folder that cannot be read (or is gone) is passed over. It
    walks with an explicit stack by descriptors, as :func:`walk_tree` does: any depth, any path length,
    a bounded number of descriptors, also while the caller holds the generator between two entries.
    """
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    held = _Held(root_fd, grant=False)
    where = Path(root)
    try:
        # Folders still to list (their names below the root), the next one last.
        pending: list[list[str]] = [[]]
        while pending:
            parts = pending.pop()
            try:
                folder = held.open(parts, where)
            except OSError:
                continue
            try:
                listing = sorted(_listing(folder))
            except OSError:
                continue
            finally:
                os.close(folder)
            prefix = "".join(f"{part}/" for part in parts)
            entered = []
            for name, is_folder in listing:
                choice = choose(prefix + name, is_folder)
                if choice is Choice.TAKE:
                    yield prefix + name
                elif choice is Choice.ENTER and is_folder:
                    entered.append([*parts, name])
            pending.extend(reversed(entered))
    finally:
        held.release()
        os.close(root_fd)


class Lookup:
    """What lies at paths below the folder ``root``, looked up by descriptors, never through a link: any depth
    and any path length, a bounded number of descriptors. The walks above ask about the entries of one folder
    one after another, so the folder last asked about stays open: one open per folder, one ``lstat`` per entry.
    With no folder at ``root`` (or a link there), nothing is below it."""

    def __init__(self, root: Path | str) -> None:
        self._where = Path(root)
        try:
            self._root_fd = os.open(root, _FOLDER_FLAGS)
        except OSError:
            self._root_fd = -1
        self._held = _Held(self._root_fd, grant=False)
        #: The folder (below the root) whose descriptor ``_folder_fd`` is; -1 when it is not a folder there.
        self._folder: str | None = None
        self._folder_fd = -1

    def has_folder(self, relative: str) -> bool:
        """Whether ``relative`` (``""``: the root) is a folder, with none of the names above it a link."""
        return self._open(relative) >= 0

    def kind(self, relative: str) -> str:
        """``dir``, ``file`` (anything that is not a folder, a link too) or ``""`` (nothing there)."""
        folder, _, name = relative.rpartition("/")
        folder_fd = self._open(folder)
        if folder_fd < 0:
            return ""
        try:
            mode = os.lstat(name, dir_fd=folder_fd).st_mode
        except OSError:
            return ""
        return "dir" if stat.S_ISDIR(mode) else "file"

    def _open(self, folder: str) -> int:
        if folder != self._folder:
            self._close_folder()
            self._folder = folder
            if self._root_fd >= 0:
                with contextlib.suppress(OSError):
                    self._folder_fd = self._held.open(folder.split("/") if folder else [], self._where)
        return self._folder_fd

    def _close_folder(self) -> None:
        if self._folder_fd >= 0:
            os.close(self._folder_fd)
        self._folder, self._folder_fd = None, -1

    def close(self) -> None:
        self._close_folder()
        self._held.release()
        if self._root_fd >= 0:
            os.close(self._root_fd)
            self._root_fd = -1

    def __enter__(self) -> Lookup:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def empty_folders(root: Path | str, keep: Callable[[str], bool] | None = None) -> Iterator[str]:
    """The folders below ``root`` that hold nothing but folders that hold nothing, deepest first (relative).

    A link, to a folder too, is something; so is a folder ``keep`` matches (relative path), and every folder
    above it. By the walk of :func:`walk_tree`: any depth and any path length; memory holds the folders
    found to hold something whose own folder is not done yet, never the tree.
    """
    holding: set[str] = set()
    found: list[str] = []

    def visit(relative: str, info: os.stat_result) -> None:
        parent = relative.rpartition("/")[0]
        if stat.S_ISDIR(info.st_mode):
            if relative in holding:
                holding.discard(relative)
            elif keep is None or not keep(relative):
                found.append(relative)
                return
        if parent:
            holding.add(parent)

    walk_tree(root, visit)
    return iter(found)


def remove_empty_folders(root: Path | str, keep: Callable[[str], bool] | None = None,
                         root_too: bool = False) -> None:
    """Remove the folders below ``root`` that hold nothing once the empty folders in them went, deepest first
    (``root`` too when ``root_too``); never through a link, nothing but empty folders (``rmdir``): what holds
    anything, or ``keep`` matches (relative path), stays, and so does every folder above it. Any depth and any
    path length; a folder that cannot be read or removed stays."""
    path = Path(root)

    def nothing(_folder_fd: int, _name: str, _relative: str, _where: _Where) -> None:
        pass

    def folder(container_fd: int, name: str, relative: str, _where: _Where) -> None:
        if (relative or root_too) and (keep is None or not relative or not keep(relative)):
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=container_fd)

    try:
        parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        _walk_folder(parent, path.name, path, nothing, folder, grant=False, tolerant=True)
    except OSError:
        pass
    finally:
        os.close(parent)


def _remove(path: Path, keep: Keep | None, tolerant: bool = False) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        if keep is not None:
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        path.unlink()
        return

    def entry(folder_fd: int, name: str, relative: str, where: _Where) -> None:
        if keep is None:
            _removed(os.unlink, folder_fd, name, where)
            return
        try:
            info = os.lstat(name, dir_fd=folder_fd)
        except FileNotFoundError:
            return
        if not keep(relative, info):
            _remove_checked(folder_fd, name, relative, info, keep, where)

    def folder(container_fd: int, name: str, relative: str, where: _Where) -> None:
        try:
            _removed(os.rmdir, container_fd, name, where)
        except OSError as exc:
            # Filtered, a folder still holding what was kept stays (with it, every folder above it).
            if keep is None or exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise

    on_entry: _Step = _tolerating(entry) if tolerant else entry
    on_folder: _Step = _tolerating(folder) if tolerant else folder
    parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _walk_folder(parent, path.name, path, on_entry, on_folder, grant=True, tolerant=tolerant)
    finally:
        os.close(parent)


def _tolerating(step: _Step) -> _Step:
    """``step``, its failure passed over: what cannot be removed stays, the rest of the tree still goes."""

    def tolerated(folder_fd: int, name: str, relative: str, where: _Where) -> None:
        with contextlib.suppress(OSError):
            step(folder_fd, name, relative, where)

    return tolerated
#: Names an entry about to be removed by a filtered removal takes meanwhile (``.synco-undo-<pid>-<random>``).
ASIDE_PREFIX = ".synco-undo-"


def _same(first: os.stat_result, second: os.stat_result) -> bool:
    return (first.st_ino, first.st_dev, first.st_mode, first.st_size, first.st_mtime_ns) == \
        (second.st_ino, second.st_dev, second.st_mode, second.st_size, second.st_mtime_ns)


def _remove_checked(folder_fd: int, name: str, relative: str, checked: os.stat_result, keep: Keep,
                    where: _Where) -> None:
    """Remove the entry ``name`` that ``keep`` judged by ``checked``, and nothing the application put under
    its name since.

    An unlink by name removes whatever the name holds when it runs: an upload renamed over the entry after
    the check would go in its place. So the entry is first renamed aside, to a name no one else uses, and
    what was taken is checked again there: the object that was judged is removed, anything else is put back
    (never over a name the application wrote again meanwhile: then it stays under the aside name, said in a
    warning) and kept."""
    aside = f"{ASIDE_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
    try:
        os.rename(name, aside, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno not in _REFUSED:
            raise _named(exc, where()) from None
        # A folder of this user without its write bit: _removed grants it, then the rename can go through.
        _removed(lambda *_args, **_kwargs: os.rename(name, aside, src_dir_fd=folder_fd, dst_dir_fd=folder_fd),
                 folder_fd, name, where)
        if not _exists(folder_fd, aside):
            return
    taken = os.lstat(aside, dir_fd=folder_fd)
    if _same(taken, checked) or not keep(relative, taken):
        _removed(os.unlink, folder_fd, aside, where)
        return
    if not rename_noreplace_at(folder_fd, aside, name):
        log.warning("%s was written twice while synco removed its own copy: the earlier one is kept as %s",
                    where(), where().with_name(aside))


def _exists(folder_fd: int, name: str) -> bool:
    try:
        os.lstat(name, dir_fd=folder_fd)
    except FileNotFoundError:
        return False
    return True


class _Held:
    """Descriptors of the last :data:`MAX_HELD_FOLDERS` folders on the way to the one being walked.

    A walk goes down and up one level at a time: going down, the shallowest descriptor is dropped; going up
    past the ones held, the way is opened again from the root (once per that many levels), so a chain of
    folders costs its depth squared over :data:`MAX_HELD_FOLDERS` opens, not its depth squared.
    """

    def __init__(self, root_fd: int, grant: bool) -> None:
        self.root_fd = root_fd
        #: Whether a folder of this user lacking its owner's bits gets them (a removal), or is refused (a listing).
        self.grant = grant
        #: The names down to the deepest folder opened; ``held`` has descriptors of the last of them, by depth.
        self.parts: list[str] = []
        self.held: list[tuple[int, int]] = []

    def open(self, parts: list[str], where: Path) -> int:
        """A descriptor of ``parts`` (below the root) the caller closes."""
        common = _common_length(parts, self.parts)
        del self.parts[common:]
        while self.held and self.held[-1][0] >= common:
            os.close(self.held.pop()[1])
        # From the deepest folder held (the root when going up past them all), down to ``parts``.
        depth, base = self.held[-1] if self.held else (-1, self.root_fd)
        self.parts[depth + 1:] = parts[depth + 1:]
        for level in range(depth + 1, len(parts)):
            base = _open_child(base, where, parts[:level + 1], self.grant)
            self.held.append((level, base))
            if len(self.held) > MAX_HELD_FOLDERS:
                os.close(self.held.pop(0)[1])
        return os.dup(base)

    def release(self) -> None:
        while self.held:
            os.close(self.held.pop()[1])


def _common_length(first: list[str], second: list[str]) -> int:
    """How many leading names ``first`` and ``second`` share.

    A walk moves one level at a time, so the answer is nearly always the shorter length or one less: those
    are tried first as whole-slice comparisons (a loop in C), and a chain 1,200 folders deep costs no Python
    step per level on each move."""
    shorter = min(len(first), len(second))
    for common in (shorter, shorter - 1):
        # Tried longest first: shorter - 1 shared means the next names differ.
        if common >= 0 and first[:common] == second[:common]:
            return common
    low, high = 0, shorter - 1
    # Longest shared prefix by halving: a prefix shared at a length is shared at every shorter one.
    while low < high:
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _open_child(parent_fd: int, base: Path, parts: list[str], grant: bool) -> int:
    """The folder ``parts[-1]`` in ``parent_fd``, given its owner's bits first when ``grant``, this user owns it
    and lacks them; a failure names the full path (``base`` joined with ``parts``)."""
    name = parts[-1]
    try:
        try:
            return os.open(name, _FOLDER_FLAGS, dir_fd=parent_fd)
        except PermissionError:
            if not grant or not _grant_owner(parent_fd, name):
                raise
            return os.open(name, _FOLDER_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        raise _named(exc, base.joinpath(*parts)) from None


def _grant_owner(parent_fd: int, name: str) -> bool:
    """Give the folder ``name`` its owner's read, write and search bits when this user owns it; True if done."""
    info = os.lstat(name, dir_fd=parent_fd)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o700 == 0o700:
        return False
    os.chmod(name, stat.S_IMODE(info.st_mode) | 0o700, dir_fd=parent_fd)
    return True


#: Where an entry is, made only for a message: a ``Path`` per entry would intern every name (pathlib does),
#: and the interned names would grow with the tree.
_Where = Callable[[], Path]
#: ``(descriptor of the folder holding the entry, its name, its path below the root, its full path)``.
_Step = Callable[[int, str, str, _Where], None]


def _walk_folder(parent_fd: int, name: str, where: Path, entry: _Step, folder_done: _Step, grant: bool,
                 tolerant: bool = False) -> None:
    """Walk the folder ``name`` in ``parent_fd`` (``where``): ``entry`` for each entry that is not a folder,
    ``folder_done`` for each folder once ``entry`` or ``folder_done`` ran for all it held, the root last
    (its path below the root is ``""``). Either may remove what it is given. ``tolerant``: a folder below the
    root that cannot be opened or listed is passed over (neither entered nor done), as ``os.walk`` does."""
    held = _Held(parent_fd, grant)
    base = where.parent
    try:
        # (parts below the parent, done yet): a folder comes back once everything in it came.
        pending: list[tuple[list[str], bool]] = [([name], False)]
        while pending:
            parts, done = pending.pop()
            relative = "/".join(parts[1:])
            if done:
                container = held.open(parts[:-1], base) if len(parts) > 1 else os.dup(parent_fd)
                try:
                    folder_done(container, parts[-1], relative, _where(base, parts))
                finally:
                    os.close(container)
                continue
            try:
                folder = held.open(parts, base)
            except OSError as exc:
                if len(parts) == 1 or exc.errno not in (*_NOT_A_FOLDER, errno.ENOENT):
                    if tolerant and len(parts) > 1:
                        continue
                    raise
                if exc.errno != errno.ENOENT:
                    # Listed as a folder, swapped for a link or a file since: that is what it is now.
                    container = held.open(parts[:-1], base)
                    try:
                        entry(container, parts[-1], relative, _where(base, parts))
                    finally:
                        os.close(container)
                continue
            pending.append((parts, True))
            try:
                try:
                    listing = _listing(folder)
                except OSError as exc:
                    if tolerant and len(parts) > 1:
                        pending.pop()
                        continue
                    raise _named(exc, base.joinpath(*parts)) from None
                for entry_name, is_folder in listing:
                    if is_folder:
                        pending.append(([*parts, entry_name], False))
                    else:
                        entry(folder, entry_name, f"{relative}/{entry_name}" if relative else entry_name,
                              _where(base, [*parts, entry_name]))
            finally:
                os.close(folder)
    finally:
        held.release()


def _listing(folder_fd: int) -> list[tuple[str, bool]]:
    """(name, is a folder) of every entry, read whole before any is removed."""
    with os.scandir(folder_fd) as scan:
        return [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in scan]


def _where(base: Path, parts: list[str]) -> _Where:
    return lambda: base.joinpath(*parts)


def _removed(remove: Callable[..., None], folder_fd: int, name: str, where: _Where) -> None:
    """``remove(name, dir_fd=folder_fd)`` (an unlink or rmdir; ``where`` is its full path); a folder of this
    user that refuses it for want of its owner's write bit gets it, once. A failure names the full path."""
    try:
        try:
            remove(name, dir_fd=folder_fd)
            return
        except FileNotFoundError:
            return
        except PermissionError:
            info = os.fstat(folder_fd)
            if info.st_uid != os.geteuid() or info.st_mode & 0o300 == 0o300:
                raise
            os.fchmod(folder_fd, stat.S_IMODE(info.st_mode) | 0o700)
        with contextlib.suppress(FileNotFoundError):
            remove(name, dir_fd=folder_fd)
    except OSError as exc:
        raise _named(exc, where()) from None


def _named(exc: OSError, where: Path) -> OSError:
    """``exc`` naming ``where`` (the calls relative to a descriptor name only the last part)."""
    return OSError(exc.errno, exc.strerror, str(where))


def _failure(path: Path, exc: OSError, filtered: bool) -> TreeRemovalError:
    """One line: what could not be removed (full path), why, whose folder refused it, and what to do."""
    where = exc.filename if isinstance(exc.filename, str) else str(path)
    owner = ""
    if exc.errno in _REFUSED:
        with contextlib.suppress(OSError):
            holder = os.path.dirname(where)
            owner = f" (its folder {holder} belongs to {_user_name(os.lstat(holder).st_uid)})"
    if filtered:
        # What else the folder holds is not synco's to remove: only the entry named can be dealt with.
        return TreeRemovalError(f"cannot remove {where} from {path}: {exc.strerror or exc}{owner}; make it "
                                "removable (as that user, or with sudo), then run the command again")
    return TreeRemovalError(f"cannot remove {where}: {exc.strerror or exc}{owner}; remove {path} yourself "
                            "(as that user, or with sudo), then run the command again")


def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"user {uid}"
