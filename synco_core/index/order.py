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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from synco_core.globs import ExcludeMatcher

log = logging.getLogger(__name__)

A = TypeVar("A")
B = TypeVar("B")

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
        log.warning("skipping %s: %s", folder, exc.strerror or exc)
        return []
    # Names are unique in a folder, and so are the keys: the entries themselves are never compared.
    keyed.sort(key=lambda item: item[0])
    return keyed


def sorted_walk(root: Path | str, exclude: Iterable[str] | ExcludeMatcher = (),
                skip_folder: SkipFolder | None = None) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Everything below ``root`` as (relative posix path, directory entry), files in index order.

    A folder is yielded right before its content; links are yielded but never followed into. An excluded
    path is neither yielded nor, for a folder, entered; nor is a folder ``skip_folder`` refuses. A folder
    that cannot be read is skipped with a warning. The walk keeps an explicit stack, so deep trees cost
    neither recursion nor a chain of generators per level.
    """
    excluded = exclude if isinstance(exclude, ExcludeMatcher) else ExcludeMatcher(exclude)
    stack: list[tuple[Iterator[tuple[str, os.DirEntry[str]]], str]] = [(iter(_listing(str(root))), "")]
    while stack:
        entries, prefix = stack[-1]
        for key, entry in entries:
            relative = prefix + entry.name
            if excluded and excluded(relative):
                continue
            if key[-1] == "/":
                if skip_folder is not None and skip_folder(entry, relative):
                    continue
                yield relative, entry
                stack.append((iter(_listing(entry.path)), relative + "/"))
                break
            yield relative, entry
        else:
            stack.pop()


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
    """
    lefts, rights = in_order(left), in_order(right)
    a, b = next(lefts, None), next(rights, None)
    while a is not None or b is not None:
        if a is not None and (b is None or a[0] < b[0]):
            yield a[0], a[1], None
            a = next(lefts, None)
        elif b is not None and (a is None or b[0] < a[0]):
            yield b[0], None, b[1]
            b = next(rights, None)
        elif a is not None and b is not None:
            yield a[0], a[1], b[1]
            a, b = next(lefts, None), next(rights, None)
