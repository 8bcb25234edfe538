"""Comparing a public set with the local folder: the streamed index merged with a sorted walk of the
folder, the files to fetch spooled to disk past a few thousand.
"""

from __future__ import annotations

import marshal
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from synco_core.errors import SyncoError
from synco_core.index.order import merge_sorted, sorted_walk_lstat
from synco_core.receive.files import (
    _Destinations,
    _sha1_of,
    resumable_bytes,
)
from synco_core.receive.packfetch import PackSource
from synco_core.receive.treedigest import SummarisedEntries, TreeDigest
from synco_core.wire import PublicIndexEntry

#: How a file to fetch is fetched: pipelined with others from the session's host, alone (another host,
#: or a part file to continue with a Range), or out of its pack.
WHOLE, ALONE, PACKED = 0, 1, 2


#: Files to fetch kept in memory before the list goes to a spool file (a re-sync's few hundred never do).
SPOOL_AFTER = 4096


IndexItems = Iterable[tuple[str, PublicIndexEntry]]


@dataclass
class PublicPlan:
    """How a public set compares with the local folder, before anything is downloaded.

    Counts only: the files to fetch themselves go to a :class:`TodoSpool`, never into a list that grows
    with the set.
    """

    #: Files in the index.
    listed: int = 0
    todo_files: int = 0
    todo_bytes: int = 0
    skipped: int = 0
    skipped_bytes: int = 0
    #: Index paths refused before any request (unsafe, or leading out of the folder through a link).
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: Local files the index does not list (leftover part files included), in index order.
    vanished: list[str] = field(default_factory=list)
    #: Files to fetch by kind (:data:`WHOLE`, :data:`ALONE`, :data:`PACKED`).
    kinds: list[int] = field(default_factory=lambda: [0, 0, 0])
    #: The digest of the index's paths, sizes and mtimes (:mod:`synco_core.receive.treedigest`): what the
    #: folder holds once every file is current. None when the index has SHA-1 entries.
    tree: TreeDigest | None = None


class TodoSpool:
    """The files a receive will fetch, in index order: in memory up to :data:`SPOOL_AFTER`, then in a file.

    Records are marshalled tuples (plain str/int/bool/None, written and read by this process only) in
    blocks, so a first sync of a million files costs a file of a few dozen MB instead of the memory. Each
    block is written with its length and read back whole: ``marshal.load`` on a file object asks the file
    for every object of the block (a method call each), which cost a first sync of 300,000 files 1.5 s.
    """

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder
        self._memory: list[tuple[Any, ...]] = []
        self._file: BinaryIO | None = None
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        self.count = 0

    def add(self, kind: int, relative: str, entry: PublicIndexEntry) -> None:
        # A plain tuple of the entry's fields: marshal takes no named tuple.
        self._memory.append((kind, relative, *entry))
        self.count += 1
        if len(self._memory) >= SPOOL_AFTER:
            self._spill()

    def _spill(self) -> None:
        if self._file is None:
            folder = self._folder
            if folder is None:
                self._temp = tempfile.TemporaryDirectory(prefix="synco-todo-")
                folder = Path(self._temp.name)
            self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (closed in close())
        block = marshal.dumps(self._memory)
        self._file.write(len(block).to_bytes(8, "little") + block)
        self._memory = []

    def __iter__(self) -> Iterator[tuple[int, str, PublicIndexEntry]]:
        blocks: Iterator[list[tuple[Any, ...]]]
        if self._file is None:
            blocks = iter([self._memory])
        else:
            if self._memory:
                self._spill()
            self._file.seek(0)
            blocks = self._blocks(self._file)
        for block in blocks:
            for kind, relative, *fields in block:
                yield kind, relative, PublicIndexEntry(*fields)

    @staticmethod
    def _blocks(handle: BinaryIO) -> Iterator[list[tuple[Any, ...]]]:
        while len(head := handle.read(8)) == 8:
            size = int.from_bytes(head, "little")
            block = handle.read(size)
            if len(block) != size:
                raise EOFError("the spool of files to fetch is truncated")
            yield marshal.loads(block)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None


def _local_files(set_dir: Path) -> Iterator[tuple[str, tuple[str, os.stat_result | None]]]:
    """The files (anything but folders) below ``set_dir``, in index order, each with its path and its
    ``lstat`` (None when it went away meanwhile)."""
    if not set_dir.is_dir():
        return
    for relative, entry, info in sorted_walk_lstat(set_dir):
        if not entry.is_dir(follow_symlinks=False):
            yield relative, (entry.path, info)


def compare_public_files(index: IndexItems | Mapping[str, PublicIndexEntry], set_dir: Path,
                         on_current: Callable[[int], None] | None = None, spool: TodoSpool | None = None,
                         packs: PackSource | None = None) -> PublicPlan:
    """Merge ``index`` (in index order) with a sorted walk of ``set_dir``: what is current, to fetch, gone.

    Neither side is held: the index streams, the walk holds the listings of the folders it is in, and the
    files to fetch go to ``spool`` (when given). ``on_current`` is told the size of every current file.
    Both the real receive and ``receive --plan`` use this, so the plan skips exactly what a receive skips.
    A mapping (tests, callers with a small index) is sorted first.
    """
    items = sorted(index.items()) if isinstance(index, Mapping) else index
    plan = PublicPlan()
    destinations = _Destinations(set_dir)
    # The index worker makes the tree digest of the entries it reads; otherwise it is made here.
    summary = items.summary if isinstance(items, SummarisedEntries) else None
    tree = TreeDigest()
    add_to_tree = tree.add_entry if summary is None else None
    for relative, entry, found in merge_sorted(items, _local_files(set_dir)):
        if entry is None:
            plan.vanished.append(relative)
            continue
        plan.listed += 1
        if add_to_tree is not None:
            add_to_tree(relative, entry)
        if found is not None:
            # The walk enters real folders only, so a file it found has no link on its way: the current
            # ones, most of a re-sync, cost the walk's one lstat and no path object.
            found_path, info = found
            if (info is not None and stat.S_ISREG(info.st_mode) and info.st_size == entry.size_bytes
                    and int(info.st_mtime) == entry.mtime
                    and (not entry.sha1 or _sha1_of(found_path) == entry.sha1.lower())):
                plan.skipped += 1
                plan.skipped_bytes += entry.size_bytes
                if on_current is not None:
                    on_current(entry.size_bytes)
                continue
        try:
            destination = destinations.path(relative)
        except SyncoError as exc:
            plan.refused.append((relative, str(exc)))
            continue
        if packs is not None and packs.may_hold(entry):
            kind = PACKED
        elif entry.absolute or resumable_bytes(destination, entry):
            kind = ALONE
        else:
            kind = WHOLE
        plan.kinds[kind] += 1
        plan.todo_files += 1
        plan.todo_bytes += entry.size_bytes
        if spool is not None:
            spool.add(kind, relative, entry)
    if summary is not None:
        plan.tree = summary.tree if summary.complete else None
    else:
        plan.tree = tree.of_index()
    return plan


def plan_public_files(index: IndexItems | Mapping[str, PublicIndexEntry], set_dir: Path,
                      on_current: Callable[[int], None] | None = None, packs: PackSource | None = None) -> PublicPlan:
    """:func:`compare_public_files` without keeping the files to fetch; writes nothing."""
    return compare_public_files(index, set_dir, on_current, None, packs)


def vanished_files(set_dir: Path, listed: Iterable[str]) -> list[str]:
    """Local files of ``set_dir`` that ``listed`` (index paths, in index order) does not hold, in index order."""
    return [relative for relative, entry, _found in merge_sorted(((path, True) for path in listed),
                                                                _local_files(set_dir)) if entry is None]
