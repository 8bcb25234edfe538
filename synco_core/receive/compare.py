"""Comparing a public set with the local folder: the streamed index merged with a sorted walk of the
folder, the files to fetch spooled to disk past a few thousand.
"""

from __future__ import annotations

import marshal
import os
import secrets
import stat
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from synco_core.beneath import NameTooLong
from synco_core.errors import SyncoError
from synco_core.fsutil import second_of
from synco_core.index.order import merge_sorted, sorted_walk_lstat
from synco_core.names import FOLD_NONE, Folding
from synco_core.receive.files import (
    _Destinations,
    _sha1_of,
    is_current,
    resumable_bytes,
)
from synco_core.receive.knownhashes import KnownHashes
from synco_core.receive.mtimes import same_mtime
from synco_core.receive.packfetch import PackSource
from synco_core.receive.treedigest import SummarisedEntries, TreeDigest
from synco_core.scratch import ScratchFolder, temporary_scratch
from synco_core.wire import PublicIndexEntry

#: How a file to fetch is fetched: pipelined with others from the session's host, alone (another host,
#: or a part file to continue with a Range), or out of its pack.
WHOLE, ALONE, PACKED = 0, 1, 2


#: Files to fetch kept in memory before the list goes to a spool file (a re-sync's few hundred never do).
SPOOL_AFTER = 4096

#: Bits of the filter that finds names a case-insensitive folder takes for one (one a file: 4 MB).
FOLD_BITS = 1 << 25


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
    #: Local files the index does not list that serve's exclude rules match (:func:`keep_matcher`): the laptop's
    #: own, never counted as vanished.
    kept: int = 0
    #: Files to fetch by kind (:data:`WHOLE`, :data:`ALONE`, :data:`PACKED`).
    kinds: list[int] = field(default_factory=lambda: [0, 0, 0])
    #: Index paths not fetched because the folder's file system takes them for another listed file (names
    #: differing only in case on a case-insensitive folder): (path, why). Only a receive looks for them.
    same_name: list[tuple[str, str]] = field(default_factory=list)
    #: (local name, index path): a local file the index lists under another spelling only (renamed on the
    #: server by case alone). It is not vanished: the index path is fetched into it, then it takes that name.
    respell: list[tuple[str, str]] = field(default_factory=list)
    #: The digest of the index's paths, sizes and mtimes (:mod:`synco_core.receive.treedigest`): what the
    #: folder holds once every file is current. None when the index has SHA-1 entries.
    tree: TreeDigest | None = None
    #: An index path the folder may store under another spelling (an accented letter where the file system
    #: decomposes names, as HFS+, a dot at the end where it drops them): its own walk may then list other
    #: names than the index's digest holds.
    stored_otherwise: bool = False


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
        self._temp: ScratchFolder | None = None
        self.count = 0
        #: Paths added but not to be fetched after all (see :attr:`PublicPlan.same_name`).
        self.skip: set[str] = set()

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
                self._temp = temporary_scratch()
                folder = self._temp.path
            self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (closed in close())
        block = marshal.dumps(self._memory)
        self._file.write(len(block).to_bytes(8, "little") + block)
        self._memory = []

    def park(self) -> None:
        """Move what is in memory to the file: a spool kept while other sets merge holds no list of its own."""
        if self._memory:
            self._spill()

    def __iter__(self) -> Iterator[tuple[int, str, PublicIndexEntry]]:
        blocks: Iterator[list[tuple[Any, ...]]]
        if self._file is None:
            blocks = iter([self._memory])
        else:
            if self._memory:
                self._spill()
            self._file.seek(0)
            blocks = self._blocks(self._file)
        skip = self.skip
        for block in blocks:
            for kind, relative, *fields in block:
                if not skip or relative not in skip:
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
            self._temp.remove()
            self._temp = None


def _local_files(set_dir: Path) -> Iterator[tuple[str, tuple[str, os.stat_result | None]]]:
    """The files (anything but folders) below ``set_dir``, in index order, each with its path and its
    ``lstat`` (None when it went away meanwhile)."""
    if not set_dir.is_dir():
        return
    for relative, entry, info in sorted_walk_lstat(set_dir):
        if not entry.is_dir(follow_symlinks=False):
            yield relative, (entry.path, info)


def name_folding(folder: Path) -> Folding:
    """Which spellings of a name ``folder``'s file system takes for one file: a probe file is made, and looked
    up with its case changed, with its accented letter decomposed and with a dot at its end. Each is told
    apart: exFAT and NTFS ignore case only (they hold both forms of ``café``), a case-sensitive APFS or HFS+
    normalisation only; Linux's exFAT and FAT drivers also drop dots at the end of a name."""
    token = f".synco-case-{secrets.token_hex(6)}"
    # With an accented letter first (its decomposed form tells normalisation); a file system that takes no
    # such name (FAT without long names) still tells case with a plain one.
    for name in (f"{token}-\u00e9", token):
        probe = os.path.join(folder, name)
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0),
                             0o600))
            break
        except OSError:
            continue
    else:
        return Folding()
    try:
        decomposed = unicodedata.normalize("NFD", name)
        return Folding(case=os.path.lexists(os.path.join(folder, name.upper())),
                       normalisation=decomposed != name and os.path.lexists(os.path.join(folder, decomposed)),
                       trailing_dots=os.path.lexists(os.path.join(folder, name + ".")))
    finally:
        os.unlink(probe)


def compare_public_files(index: IndexItems | Mapping[str, PublicIndexEntry], set_dir: Path,
                         on_current: Callable[[int], None] | None = None, spool: TodoSpool | None = None,
                         packs: PackSource | None = None, folding: Folding = FOLD_NONE,
                         known: KnownHashes | None = None, odd_seconds: bool = False,
                         on_path: Callable[[str, bool], None] | None = None,
                         keep: Callable[[str], bool] | None = None) -> PublicPlan:
    """Merge ``index`` (in index order) with a sorted walk of ``set_dir``: what is current, to fetch, gone.

    Neither side is held: the index streams, the walk holds the listings of the folders it is in, and the
    files to fetch go to ``spool`` (when given). ``on_current`` is told the size of every current file.
    Both the real receive and ``receive --plan`` use this, so the plan skips exactly what a receive skips.
    A mapping (tests, callers with a small index) is sorted first.

    ``folding`` says which spellings of a name the folder's file system takes for one file
    (:func:`name_folding`): of the index paths it would take for one, only one is fetched (the one the
    folder holds, else the first), the others go to :attr:`PublicPlan.same_name`; a local file that is an
    index path spelt otherwise is not vanished (:attr:`PublicPlan.respell`). This needs ``spool``.

    With ``known`` (the hashes the local files were received as), a file of the index's size and mtime whose
    hash in the index is another is fetched all the same (changed on the server with its size and mtime
    kept); every entry's hash is noted in it for the next receive.

    ``on_path`` is told every path of the merge in index order, and whether it is vanished.

    A local file the index does not list that ``keep`` matches (serve's exclude rules) is not vanished: it is
    counted in :attr:`PublicPlan.kept`, as ``rsync --delete --exclude`` protects what it excludes.
    """
    items = sorted(index.items()) if isinstance(index, Mapping) else index
    plan = PublicPlan()
    destinations = _Destinations(set_dir)
    # The index worker makes the tree digest of the entries it reads; otherwise it is made here.
    summary = items.summary if isinstance(items, SummarisedEntries) else None
    tree = TreeDigest()
    add_to_tree = tree.add_entry if summary is None else None
    fold = folding.key if folding and spool is not None else None
    # One bit per hash of the folded names of the files to fetch (4 MB for any number of files): a name whose
    # bit is set already may share its folded name with an earlier one, and is looked at closely once the
    # index is read. No name is kept meanwhile.
    seen = bytearray(FOLD_BITS // 8) if fold is not None else bytearray()
    again: set[int] = set()
    # Files to fetch that no local file has the name of, though the folder finds one by it: another spelling.
    occupied: list[str] = []
    respellable = _respellable(folding) if fold is not None else None
    for relative, entry, found in merge_sorted(items, _local_files(set_dir)):
        if entry is None:
            if keep is not None and keep(relative):
                plan.kept += 1
                if on_path is not None:
                    on_path(relative, False)
                continue
            plan.vanished.append(relative)
        if on_path is not None:
            on_path(relative, entry is None)
        if entry is None:
            continue
        plan.listed += 1
        if respellable is not None and not plan.stored_otherwise and respellable(relative):
            plan.stored_otherwise = True
        if add_to_tree is not None:
            add_to_tree(relative, entry)
        if found is not None:
            # The walk enters real folders only, so a file it found has no link on its way: the current
            # ones, most of a re-sync, cost the walk's one lstat and no path object.
            found_path, info = found
            if (info is not None and stat.S_ISREG(info.st_mode) and info.st_size == entry.size_bytes
                    and same_mtime(second_of(info), entry.mtime, odd_seconds)
                    and (not entry.sha1 or _sha1_of(found_path) == entry.sha1.lower())
                    # Noted as current when it holds (KnownHashes.current).
                    and (known is None or not entry.sha256 or known.current(relative, entry.sha256, found_path))):
                plan.skipped += 1
                plan.skipped_bytes += entry.size_bytes
                if on_current is not None:
                    on_current(entry.size_bytes)
                continue
        if known is not None and entry.sha256:
            known.note(relative, entry.sha256, current=False)
        try:
            destination = destinations.path(relative)
        except NameTooLong as exc:
            # Not the server's doing: this folder's file system cannot hold the name (running again will not).
            plan.same_name.append((relative, f"not written: {exc}"))
            continue
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
        if fold is not None:
            code = hash(fold(relative))
            bit = code % FOLD_BITS
            if seen[bit >> 3] & (1 << (bit & 7)):
                again.add(code)
            seen[bit >> 3] |= 1 << (bit & 7)
            if found is None and os.path.lexists(destination):
                occupied.append(relative)
    if fold is not None and spool is not None:
        _one_file_per_name(plan, spool, set_dir, again, occupied, folding, on_current, odd_seconds)
    if summary is not None:
        plan.tree = summary.tree if summary.complete else None
    else:
        plan.tree = tree.of_index()
    return plan


def _respellable(folding: Folding) -> Callable[[str], bool] | None:
    """A test of whether a folder that takes names as ``folding`` says may store a path under another name
    than it was given (None: it stores every name as given, whatever it takes for one)."""
    if folding.normalisation and folding.trailing_dots:
        return lambda path: not path.isascii() or path.endswith(".") or "./" in path
    if folding.normalisation:
        return lambda path: not path.isascii()
    if folding.trailing_dots:
        return lambda path: path.endswith(".") or "./" in path
    return None


def _one_file_per_name(plan: PublicPlan, spool: TodoSpool, set_dir: Path, twice: set[int], occupied: list[str],
                       folding: Folding, on_current: Callable[[int], None] | None, odd_seconds: bool = False) -> None:
    """Of the files to fetch that the folder takes for one (by ``folding``), keep one (see
    :func:`compare_public_files`); the rest leave the spool and the plan's counts. ``twice`` holds the hashes
    of folded names that may be shared, ``occupied`` the files to fetch the folder finds another file by."""
    taken = set(occupied)
    vanished = set(plan.vanished)
    kept: dict[str, str] = {}
    dropped: dict[str, str] = {}
    current: set[str] = set()
    listings: dict[str, list[str]] = {}
    for _kind, relative, entry in spool if twice or taken else ():
        key = folding.key(relative)
        if relative in taken and (holder := _holder(set_dir, relative, listings, folding)) is not None:
            if holder not in vanished:
                # Another index path, current or to fetch: the file the folder has stays what it is.
                dropped[relative] = holder
                continue
            vanished.discard(holder)
            if is_current(os.path.join(set_dir, *holder.split("/")), entry, odd_seconds=odd_seconds):
                current.add(relative)
            else:
                plan.respell.append((holder, relative))
        if hash(key) in twice:
            first = kept.setdefault(key, relative)
            if first != relative:
                dropped[relative] = first
    if not dropped and not current and not plan.respell:
        return
    plan.vanished = [path for path in plan.vanished if path in vanished]
    for kind, relative, entry in spool:
        if relative in dropped or relative in current:
            plan.kinds[kind] -= 1
            plan.todo_files -= 1
            plan.todo_bytes -= entry.size_bytes
        if relative in current:
            plan.skipped += 1
            plan.skipped_bytes += entry.size_bytes
            if on_current is not None:
                on_current(entry.size_bytes)
        elif relative in dropped:
            plan.same_name.append((relative, f"not written: this folder does not tell it from {dropped[relative]!r} "
                                             f"(a file system that ignores {folding.what()}), which is kept"))
    spool.skip.update(dropped)
    spool.skip.update(current)


def _holder(set_dir: Path, relative: str, listings: dict[str, list[str]], folding: Folding) -> str | None:
    """The path (``/``-separated, below ``set_dir``) of the local file a case-insensitive folder finds by
    ``relative`` when one of its names is spelt otherwise; None when there is none. ``listings`` keeps the
    folders' listings between calls."""
    folder = os.fspath(set_dir)
    spelt: list[str] = []
    for part in relative.split("/"):
        if folder not in listings:
            try:
                listings[folder] = os.listdir(folder)
            except OSError:
                return None
        names = listings[folder]
        if part not in names:
            key = folding.key(part)
            part = next((name for name in names if folding.key(name) == key), "")
            if not part:
                return None
        spelt.append(part)
        folder = os.path.join(folder, part)
    found = "/".join(spelt)
    return found if found != relative else None


def plan_public_files(index: IndexItems | Mapping[str, PublicIndexEntry], set_dir: Path,
                      on_current: Callable[[int], None] | None = None, packs: PackSource | None = None,
                      scratch: Path | None = None, known: KnownHashes | None = None,
                      on_path: Callable[[str, bool], None] | None = None,
                      keep: Callable[[str], bool] | None = None) -> PublicPlan:
    """:func:`compare_public_files` without keeping the files to fetch; writes nothing in ``set_dir`` (``known``
    is one made with ``write=False``).

    On a folder :func:`seems_to_fold` the files to fetch are spooled (in ``scratch``, else the
    system's temporary folder) to find those a receive would not write, as the receive does.
    """
    # The plan writes nothing in the set's folder, so it cannot probe whether its file system holds odd
    # seconds (holds_odd_seconds): it takes an even second for the odd one after it, as on FAT, and differs
    # from the receive only for a file touched by exactly that second.
    exact = False
    folding = seems_to_fold(set_dir)
    if not folding:
        return compare_public_files(index, set_dir, on_current, None, packs, known=known, odd_seconds=exact,
                                    on_path=on_path, keep=keep)
    spool = TodoSpool(scratch)
    try:
        return compare_public_files(index, set_dir, on_current, spool, packs, folding=folding, known=known,
                                    odd_seconds=exact, on_path=on_path, keep=keep)
    finally:
        spool.close()


def seems_to_fold(folder: Path) -> Folding:
    """:func:`name_folding` without writing anything: the first name with a letter in ``folder`` (or beside
    it, when it does not exist yet) is looked up with the case of its letters swapped, and the first with
    an accented letter in its other Unicode form, and the first name with a dot after it; the folder takes
    such spellings for one when that finds a file its listing does not hold. Each is False when no name
    tells."""
    case: bool | None = None
    normalisation: bool | None = None
    dots: bool | None = None
    for where in (os.fspath(folder), os.path.dirname(folder)):
        try:
            names = os.listdir(where)
        except OSError:
            continue
        listed = set(names)
        for name in names:
            if case is None and (swapped := name.swapcase()) != name:
                # Inode numbers cannot tell: exFAT has none, and its FUSE driver numbers each name anew.
                case = swapped not in listed and os.path.lexists(os.path.join(where, swapped))
            if normalisation is None:
                composed = unicodedata.normalize("NFC", name)
                other = unicodedata.normalize("NFD", name) if composed == name else composed
                if other != name:
                    normalisation = other not in listed and os.path.lexists(os.path.join(where, other))
            if dots is None and (dotted := name + ".") not in listed:
                dots = os.path.lexists(os.path.join(where, dotted))
            if case is not None and normalisation is not None and dots is not None:
                return Folding(case, normalisation, dots)
    return Folding(bool(case), bool(normalisation), bool(dots))


def vanished_files(set_dir: Path, listed: Iterable[str], keep: Callable[[str], bool] | None = None) -> list[str]:
    """Local files of ``set_dir`` that ``listed`` (index paths, in index order) does not hold, in index order;
    those ``keep`` matches left out."""
    return [relative for relative, entry, _found in merge_sorted(((path, True) for path in listed),
                                                                _local_files(set_dir))
            if entry is None and (keep is None or not keep(relative))]
