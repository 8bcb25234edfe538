"""Sorting more records than memory should hold, and looking keys up in a sorted file.

:class:`ExternalSorter` sorts records that come in an order the caller does not control: index entries a
plugin yields (Flow resources come in database order), an index a writer did not sort, the URL paths
``serve --listen`` allows. Up to ``run_size`` records are sorted in memory; beyond that each full run is
written to a file of its own (one encoded record per line) in a private temporary folder, and the runs are
merged as they are read back, so memory holds one run while sorting and one record per run while merging.
The sort is stable: records with equal keys come out in the order they went in.

:class:`DigestSet` is a set of strings kept on disk as sorted 16-byte digests and searched with ``pread``:
``serve --listen`` asks it whether a requested path is one the indexes list, with flat memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

from synco_core.nospace import ELSEWHERE, NO_SPACE_ERRNOS, no_space, temporary_folder
from synco_core.scratch import ScratchFolder, temporary_scratch

T = TypeVar("T")

#: Records kept in memory per run. An index entry costs about 0.6 KB while sorted, so a run is some 12 MB;
#: a million records make 50 runs, merged with one open file each.
RUN_SIZE = 20_000


class ExternalSorter(Generic[T]):
    """Collects records with :meth:`add`; :meth:`sorted` then yields them by ``key``, once.

    ``encode`` turns a record into one line (without ``\\n``) and ``decode`` back. Spilled runs live in a
    private (0700) temporary folder under ``spill_dir`` (default: the system's), removed when the sorted
    records have been read or the iterator is closed. At most ``run_size`` records never touch the disk.
    """

    def __init__(self, key: Callable[[T], str], encode: Callable[[T], bytes], decode: Callable[[bytes], T],
                 run_size: int = RUN_SIZE, spill_dir: Path | None = None) -> None:
        if run_size < 1:
            raise ValueError("run_size must be at least 1")
        self.key, self.encode, self.decode = key, encode, decode
        self.run_size = run_size
        self.spill_dir = spill_dir
        self._run: list[T] = []
        self._folder: ScratchFolder | None = None
        self._paths: list[str] = []

    def add(self, record: T) -> None:
        self._run.append(record)
        if len(self._run) >= self.run_size:
            self._spill()

    def _spill(self) -> None:
        if self._folder is None:
            self._folder = temporary_scratch(None if self.spill_dir is None else str(self.spill_dir))
        self._run.sort(key=self.key)
        path = os.path.join(self._folder.path, f"run-{len(self._paths):05d}")
        encode = self.encode
        try:
            with open(path, "wb") as out:
                out.writelines(encode(record) + b"\n" for record in self._run)
        except OSError as exc:
            if exc.errno not in NO_SPACE_ERRNOS:
                raise
            # The runs are of no use without this one: they all go now, not when the sorter is collected.
            written = sum(os.path.getsize(run) for run in [*self._paths, path] if os.path.exists(run))
            # Named by the folder it is in: the scratch folder itself is gone when the line is read.
            folder = self._folder.path.parent
            self._folder.remove()
            self._folder, self._paths = None, []
            in_tmpdir = _same_disk(folder, temporary_folder())
            raise no_space(temporary_folder() if in_tmpdir else folder, "the sorted runs of a long list of files",
                           more_than=written, hint=ELSEWHERE if in_tmpdir else "") from exc
        self._paths.append(path)
        self._run = []

    def sorted(self) -> Iterator[T]:
        """The records in order; the temporary files go once this iterator is exhausted or closed."""
        if self._folder is None:
            run, self._run = self._run, []
            run.sort(key=self.key)
            yield from run
            return
        if self._run:
            self._spill()
        decode = self.decode
        with contextlib.ExitStack() as stack:
            stack.callback(self._folder.remove)
            handles = [stack.enter_context(open(path, "rb")) for path in self._paths]
            streams = [(decode(line[:-1]) for line in handle) for handle in handles]
            # heapq.merge keeps records of equal keys in the order of the runs, so the sort stays stable.
            yield from heapq.merge(*streams, key=self.key)


def _same_disk(folder: Path, other: Path) -> bool:
    """True when ``folder`` is ``other`` or a folder below it on the same file system (serve's work folder in
    TMPDIR)."""
    try:
        return folder.resolve().is_relative_to(other.resolve()) and folder.stat().st_dev == other.stat().st_dev
    except OSError:
        return False


def external_sort(items: Iterable[T], key: Callable[[T], str], encode: Callable[[T], bytes],
                  decode: Callable[[bytes], T], run_size: int = RUN_SIZE,
                  spill_dir: Path | None = None) -> Iterator[T]:
    """``items`` sorted by ``key`` with at most ``run_size`` of them in memory (see :class:`ExternalSorter`)."""
    sorter = ExternalSorter(key, encode, decode, run_size, spill_dir)
    for item in items:
        sorter.add(item)
    yield from sorter.sorted()


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=DigestSet.RECORD).digest()


class DigestSet:
    """Strings kept as sorted 16-byte BLAKE2b digests in a file; membership costs about 20 ``pread`` calls.

    Two different strings share a digest with a probability of about 2^-128 per pair, far below anything
    that matters for deciding which files a server may send.
    """

    RECORD = 16

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.count = os.fstat(self._fd).st_size // self.RECORD

    @classmethod
    def build(cls, keys: Iterable[str], path: Path, spill_dir: Path | None = None) -> DigestSet:
        """Write the digests of ``keys`` (any order, duplicates allowed) sorted into ``path``."""
        records = external_sort((_digest(key).hex() for key in keys), key=lambda text: text,
                                encode=str.encode, decode=bytes.decode, spill_dir=spill_dir)
        previous = ""
        with open(path, "wb") as out:
            for record in records:
                if record != previous:
                    out.write(bytes.fromhex(record))
                    previous = record
        return cls(path)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        wanted = _digest(key)
        low, high = 0, self.count
        while low < high:
            middle = (low + high) // 2
            found = os.pread(self._fd, self.RECORD, middle * self.RECORD)
            if found == wanted:
                return True
            if found < wanted:
                low = middle + 1
            else:
                high = middle
        return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
