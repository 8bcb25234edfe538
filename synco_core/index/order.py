"""Index order: paths sorted as plain strings, and a walk of a folder that yields its files in that order.

An index lists files by their path relative to the set (``a/b.jpg``), sorted as Python sorts strings (by
code point, which for UTF-8 text is also byte order). Go synco v2 and earlier synco indexes are JSON objects
whose keys were sorted the same way (Go's encoding/json sorts map keys by bytes), so every index that was
ever written sorted already is in index order.

A walk gets there one folder at a time: the names of a folder are sorted with ``/`` appended to those of
folders, so the folder ``a`` (key ``a/``) comes after the file ``a-b`` (``-`` sorts before ``/``) and before
``a0``, exactly where its content ``a/...`` falls among the full paths. Memory holds the sorted listing of
the folders on the way down, never the tree.

Both ends of a transfer use this order: the source writes its index in it, and a receiver merges the index
with a walk of its own folder (:func:`merge_sorted`) to find what is missing, changed or gone.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from synco_core import leftout
from synco_core.globs import ExcludeMatcher

log = logging.getLogger(__name__)

A = TypeVar("A")
B = TypeVar("B")
#: A record whose first field is its path, in a stream sorted by path.
R = TypeVar("R", bound=tuple[Any, ...])

#: ``skip_folder(entry, relative)`` is True for a folder the walk must neither yield nor enter.
SkipFolder = Callable[[os.DirEntry[str], str], bool]


class OrderError(ValueError):
    """Paths that should be in index order are not (a bug in a writer, or a hostile index)."""


def _listing(folder: str) -> list[tuple[str, os.DirEntry[str]]]:
    """The entries of ``folder`` with their sort keys (``name/`` for folders that are not links), sorted."""
    try:
        with os.scandir(folder) as scan:
            keyed = [(entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name, entry)
                     for entry in scan]
    except OSError as exc:
        leftout.unless_exhausted(exc)
        leftout.skipped(log, "skipping %s: %s", folder, exc.strerror or exc)
        return []
    # Names are unique in a folder, and so are the keys: the entries themselves are never compared.
    keyed.sort(key=lambda item: item[0])
    return keyed


def _folder_listing(folder: str) -> list[tuple[str, os.DirEntry[str]]]:
    """:func:`_listing` of a folder found by the walk, when it is still that folder from before to after.

    A folder is listed by its path, which follows a link: one swapped for a link to ``/`` (or to the
    application) after its parent was listed would have the walk list, and go on into, whatever the link
    leads to. Its ``lstat`` before and after the listing must show the same real folder; otherwise it is
    left out as changed.
    """
    try:
        before = os.lstat(folder)
    except OSError as exc:
        leftout.unless_exhausted(exc)
        before = None
    listing = _listing(folder) if before is not None and stat.S_ISDIR(before.st_mode) else []
    try:
        after = os.lstat(folder)
    except OSError as exc:
        leftout.unless_exhausted(exc)
        after = None
    if before is None or after is None or not stat.S_ISDIR(after.st_mode) or (
            (before.st_dev, before.st_ino) != (after.st_dev, after.st_ino)) or not stat.S_ISDIR(before.st_mode):
        leftout.skipped(log, "skipping %s: it is no longer the folder that was listed", folder)
        return []
    return listing


def sorted_walk(root: Path | str, exclude: Iterable[str] | ExcludeMatcher = (),
                skip_folder: SkipFolder | None = None) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Everything below ``root`` as (relative posix path, directory entry), files in index order.

    A folder is yielded right before its content; links are yielded but never followed into. An excluded
    path is neither yielded nor, for a folder, entered; nor is a folder ``skip_folder`` refuses. A folder that
    cannot be read is skipped with a warning (but running out of descriptors or memory raises). The walk keeps an
    explicit stack, so deep trees cost neither recursion nor a chain of generators per level.
    """
    return ((relative, entry) for relative, entry, _info in _walk(root, exclude, skip_folder, False))


def sorted_walk_lstat(root: Path | str, exclude: Iterable[str] | ExcludeMatcher = (),
                      skip_folder: SkipFolder | None = None, after: str | None = None,
                      ) -> Iterator[tuple[str, os.DirEntry[str], os.stat_result | None]]:
    """:func:`sorted_walk` with the ``lstat`` of everything that is not a folder (None for a folder, or for
    an entry gone meanwhile).

    ``after`` resumes a walk: only paths after it are yielded, and a folder whose whole content comes
    before it is neither listed nor stat'ed (a walk handed over to another process part way, see
    :mod:`synco_core.serve.walkprocess`).

    Each ``lstat`` is made relative to a descriptor of its folder instead of by the entry's full path: the
    kernel then resolves one name instead of the whole path, which on a few hundred thousand files is a
    third of the walk. Both ends need the stat of every file (serve its fingerprint, receive its size and
    mtime).
    """
    return _walk(root, exclude, skip_folder, True, after)


def _walk(root: Path | str, exclude: Iterable[str] | ExcludeMatcher, skip_folder: SkipFolder | None,
          with_lstat: bool, after: str | None = None) -> Iterator[tuple[str, os.DirEntry[str], os.stat_result | None]]:
    matcher = exclude if isinstance(exclude, ExcludeMatcher) else ExcludeMatcher(exclude)
    excluded: Callable[[str], object] | None = matcher if matcher else None
    # Patterns that match names alone judge an entry by its name (its folders were judged on the way down);
    # the others go on from where the entry's folder left them (ExcludeMatcher.entry), never from the root.
    by_name = matcher.name_only
    by_path = excluded is not None and by_name is None
    # Per level: its entries, its prefix, (with_lstat) a descriptor of the folder or -1, and the patterns' state.
    stack: list[tuple[Iterator[tuple[str, os.DirEntry[str]]], str, int, frozenset[int]]] = []
    lstat = os.lstat
    try:
        stack.append((iter(_listing(str(root))), "", _open_folder(str(root), None) if with_lstat else -1,
                      matcher.root() if by_path else frozenset()))
        while stack:
            entries, prefix, folder_fd, state = stack[-1]
            after_name = state
            for key, entry in entries:
                relative = prefix + entry.name
                if after is not None:
                    # Entries come in index order: the first one past ``after`` ends the skipping for good.
                    if key[-1] == "/" and after.startswith(relative + "/"):
                        pass
                    elif prefix + key <= after:
                        continue
                    else:
                        after = None
                if by_path:
                    matched, after_name = matcher.entry(state, entry.name)
                    if matched:
                        continue
                elif by_name is not None and by_name(entry.name):
                    continue
                if key[-1] == "/":
                    if skip_folder is not None and skip_folder(entry, relative):
                        continue
                    yield relative, entry, None
                    stack.append((iter(_folder_listing(entry.path)), relative + "/",
                                  _open_folder(entry.name, folder_fd) if with_lstat and len(stack) < MAX_FOLDER_FDS
                                  else -1, matcher.inside(after_name) if by_path else state))
                    break
                if with_lstat:
                    try:
                        info = lstat(entry.name, dir_fd=folder_fd) if folder_fd >= 0 else entry.stat(
                            follow_symlinks=False)
                    except OSError:
                        info = None
                    yield relative, entry, info
                else:
                    yield relative, entry, None
            else:
                stack.pop()
                if folder_fd >= 0:
                    os.close(folder_fd)
    finally:
        for _entries, _prefix, folder_fd, _state in stack:
            if folder_fd >= 0:
                os.close(folder_fd)


#: Folders a walk keeps open at once for relative lstats (one per level); deeper ones are stat'ed by full path,
#: so a deep tree never runs the process out of descriptors (which would make listings fail).
MAX_FOLDER_FDS = 64
#: How a walk opens a folder for its lstats: never through a link (a walk never enters one).
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def _open_folder(name: str, parent_fd: int | None) -> int:
    """A descriptor of a folder for relative lstats; -1 when it cannot be opened (the entry's own full-path
    stat is used then)."""
    try:
        if parent_fd is None:
            return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        return os.open(name, _FOLDER_FLAGS, dir_fd=parent_fd) if parent_fd >= 0 else -1
    except OSError:
        return -1


def seek(records: Iterator[R], pending: R | None, path: str) -> R | None:
    """The first record, of ``pending`` (the one a previous seek stopped at) and then ``records``, whose path
    is not before ``path``; None once ``records`` end. Asked in path order, it reads a sorted stream once."""
    while pending is None or pending[0] < path:
        pending = next(records, None)
        if pending is None:
            return None
    return pending


def in_order(items: Iterable[tuple[str, A]]) -> Iterator[tuple[str, A]]:
    """``items`` passed through, raising :class:`OrderError` as soon as a path is not after the one before."""
    last: str | None = None
    for item in items:
        if last is not None and item[0] <= last:
            raise OrderError(f"{item[0]!r} comes after {last!r}: not in index order")
        last = item[0]
        yield item


def merge_sorted(left: Iterable[tuple[str, A]], right: Iterable[tuple[str, B]],
                 ) -> Iterator[tuple[str, A | None, B | None]]:
    """Join two streams in index order by path: (path, left item or None, right item or None).

    A receiver merges the index (left) with a walk of its folder (right): only left means missing locally,
    only right means gone from the source, both means compare the two. Each stream must be strictly
    increasing; :class:`OrderError` otherwise, since a merge of unsorted input would pair the wrong files.
    (The order is checked here, in the merge's own loop, rather than by :func:`in_order` around each
    stream: a generator layer per entry costs a receive of 300,000 files a few tenths of a second.)
    """
    lefts, rights = iter(left), iter(right)
    a, b = next(lefts, None), next(rights, None)
    last_a = last_b = None
    while a is not None or b is not None:
        if a is not None and (b is None or a[0] < b[0]):
            yield a[0], a[1], None
            last_a = a[0]
            a = next(lefts, None)
            if a is not None and a[0] <= last_a:
                raise OrderError(f"{a[0]!r} comes after {last_a!r}: not in index order")
        elif b is not None and (a is None or b[0] < a[0]):
            yield b[0], None, b[1]
            last_b = b[0]
            b = next(rights, None)
            if b is not None and b[0] <= last_b:
                raise OrderError(f"{b[0]!r} comes after {last_b!r}: not in index order")
        elif a is not None and b is not None:
            yield a[0], a[1], b[1]
            last_a, last_b = a[0], b[0]
            a, b = next(lefts, None), next(rights, None)
            if a is not None and a[0] <= last_a:
                raise OrderError(f"{a[0]!r} comes after {last_a!r}: not in index order")
            if b is not None and b[0] <= last_b:
                raise OrderError(f"{b[0]!r} comes after {last_b!r}: not in index order")
