"""A re-sync of an index received before: only the local files are looked at, never the index.

A receive that brought a public set fully up to date notes, in ``.synco-received.json``, the SHA-256 of
the index it compared against (``indexSha256`` of the meta, which the index was checked against as it was
read) and a *tree digest*: a SHA-256 over every entry's path, size and mtime, in index order, which is
exactly what the local folder then holds. When a later session declares the same ``indexSha256`` (the same
session again, or a new one of a set nothing changed in), the receive walks the folder and makes the same
digest of what it finds, one ``lstat`` per file. Equal digests mean that the full comparison would find
every file current and nothing else in the folder: the index is not downloaded, decrypted nor parsed.
Anything else (a file changed, added, removed, a link or a folder where a file was) falls back to the full
comparison, which then reports it as usual.

Files are judged as the full comparison judges them: a regular file of the index's size and mtime (whole
seconds, clamped into the years every file system holds: :func:`~synco_core.receive.mtimes.held`) is current. An index
with SHA-1 entries (whose local files the comparison hashes) gets no digest.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synco_core.fsutil import second_of
from synco_core.globs import ExcludeMatcher
from synco_core.index.order import sorted_walk_lstat
from synco_core.receive.mtimes import held
from synco_core.wire import PublicFilesInfo

#: Lines gathered before they are hashed (one call per block instead of one per file).
BLOCK = 4096


class TreeDigest:
    """SHA-256 over ``path NUL size NUL mtime LF`` of files in index order, with their count and bytes."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._lines: list[str] = []
        self.files = 0
        self.bytes = 0
        #: True once an entry with a SHA-1 was added (:meth:`add_entry`).
        self.with_sha1 = False
        #: The digest when another process made it (:meth:`made_elsewhere`).
        self._made: str | None = None

    @classmethod
    def made_elsewhere(cls, hexdigest: str, files: int, size: int) -> TreeDigest:
        """The digest a worker process made of the entries it read (the index worker, beside the merge)."""
        digest = cls()
        digest._made, digest.files, digest.bytes = hexdigest, files, size
        return digest

    def add(self, path: str, size: int, mtime: int) -> None:
        # The mtime as every file system holds its years: a folder that clamps the index's times (exFAT
        # before 1980, ext4 past 2038) still matches the index's digest.
        self._lines.append(f"{path}\0{size}\0{held(mtime)}\n")
        self.files += 1
        self.bytes += size
        if len(self._lines) >= BLOCK:
            self._flush()

    def add_entry(self, path: str, entry: Any) -> None:
        """Add an index entry (a :class:`~synco_core.wire.PublicIndexEntry`), noting whether it has a SHA-1."""
        self.add(path, entry.size_bytes, entry.mtime)
        if entry.sha1 is not None:
            self.with_sha1 = True

    def of_index(self) -> TreeDigest | None:
        """This digest of index entries; None when an entry had a SHA-1 (its local files are judged by their
        content, which the digest does not cover)."""
        return None if self.with_sha1 else self

    def _flush(self) -> None:
        self._hash.update("".join(self._lines).encode(errors="surrogateescape"))
        self._lines.clear()

    def hexdigest(self) -> str:
        if self._made is not None:
            return self._made
        self._flush()
        return self._hash.hexdigest()


class IndexSummary:
    """What the process that read an index tells at its end besides the entries: the tree digest of all of
    them (None when an entry has a SHA-1), once :attr:`complete`."""

    def __init__(self) -> None:
        self.complete = False
        self.tree: TreeDigest | None = None


class SummarisedEntries(Iterator[tuple[str, Any]]):
    """An index's entries together with the :class:`IndexSummary` their reader fills in at the end: the
    merge then leaves the digest to that reader (the index worker) instead of making it itself."""

    def __init__(self, entries: Iterator[tuple[str, Any]], summary: IndexSummary) -> None:
        self._entries = entries
        self.summary = summary

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        # The merge iterates the entries themselves: no call of this wrapper per entry.
        return self._entries

    def __next__(self) -> tuple[str, Any]:
        return next(self._entries)

    def close(self) -> None:
        close = getattr(self._entries, "close", None)
        if close is not None:
            close()


def local_tree_digest(set_dir: Path, keep: ExcludeMatcher | None = None) -> TreeDigest | None:
    """The digest of what ``set_dir`` holds; None as soon as something in it is neither a folder nor a
    regular file (the full comparison would not count it as current either).

    The files come in index order, from the full comparison's own walk, each ``lstat`` relative to its
    folder: the walk is all this costs. What ``keep`` matches (serve's exclude rules: the laptop's own files,
    which the server's index never lists) is left out, as the walk leaves it out: a folder holding a local
    cache then still passes without its index.
    """
    digest = TreeDigest()
    if not set_dir.is_dir():
        return digest
    add = digest.add
    for relative, entry, info in sorted_walk_lstat(set_dir, keep if keep is not None else ()):
        if info is None:
            if entry.is_dir(follow_symlinks=False):
                continue
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        add(relative, info.st_size, second_of(info))
    return digest


def artifact_state(path: Path) -> str | None:
    """What a received dump file or private set's folder looks like now: a regular file's size and mtime
    (nanoseconds), or a SHA-256 over a folder's entries (path, kind, a file's size and mtime, a link's
    target), in name order. None when there is nothing there, or something else.

    Noted in ``.synco-received.json`` as a set arrives; a later receive of the same artifact skips the
    download only while it is unchanged. Like rsync's quick check (and the public sets' comparison), an
    edit that keeps a file's size and mtime is not seen.
    """
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISREG(info.st_mode):
        return f"file {info.st_size} {info.st_mtime_ns}"
    if not stat.S_ISDIR(info.st_mode):
        return None
    digest = hashlib.sha256()
    # The walk every comparison uses (an explicit stack: a private set as deep as paths may go costs no
    # recursion), in its order: a folder right before its content.
    for relative, entry, found in sorted_walk_lstat(path):
        try:
            if found is None:
                if not entry.is_dir(follow_symlinks=False):
                    return None  # gone meanwhile
                line = f"d\0{relative}\n"
            elif stat.S_ISLNK(found.st_mode):
                line = f"l\0{relative}\0{os.readlink(entry.path)}\n"
            else:
                kind = "f" if stat.S_ISREG(found.st_mode) else "o"
                line = f"{kind}\0{relative}\0{found.st_size}\0{found.st_mtime_ns}\n"
        except OSError:
            return None
        digest.update(line.encode(errors="surrogateescape"))
    return f"folder {digest.hexdigest()}"
def tree_record(public: PublicFilesInfo, digest: str | None, files: int, size: int,
                kept: bool = False) -> dict[str, Any] | None:
    """What ``.synco-received.json`` keeps about a set brought fully up to date (None: nothing to keep);
    ``kept``: the folder also held files serve's exclude rules match, which the next walk must leave out."""
    if public.index_sha256 is None or digest is None:
        return None
    record: dict[str, Any] = {"indexSha256": public.index_sha256, "sha256": digest, "files": files, "bytes": size}
    if kept:
        record["kept"] = True
    return record


def unchanged_tree(previous: dict[str, Any] | None, public: PublicFilesInfo, local: str,
                   set_dir: Path, keep: ExcludeMatcher | None = None) -> dict[str, Any] | None:
    """The earlier receive's tree record when ``set_dir`` still holds exactly what it left for this very
    index, besides what ``keep`` matches; None when the full comparison must run.

    A receive without ``keep`` (``--delete-excluded``) walks the kept files too: they make the digests
    differ, and the full comparison then removes them."""
    if previous is None or public.index_sha256 is None or previous.get("path") != local:
        return None
    tree = previous.get("tree")
    # A record this module wrote has every field; one edited by hand is not trusted, and callers may rely
    # on what is returned.
    if not isinstance(tree, dict) or tree.get("indexSha256") != public.index_sha256 \
            or not isinstance(tree.get("bytes"), int):
        return None
    if os.path.islink(set_dir):
        return None
    # The rules are matched only where the record says kept files were there: a walk judging every name
    # costs about a sixth more, and a kept file that appeared since makes the digests differ anyway.
    found = local_tree_digest(set_dir, keep if tree.get("kept") is True else None)
    if found is None or found.files != tree.get("files") or found.hexdigest() != tree.get("sha256"):
        return None
    return tree
