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
seconds) is current. An index with SHA-1 entries (whose local files the comparison hashes) gets no digest.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

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

    def add(self, path: str, size: int, mtime: int) -> None:
        self._lines.append(f"{path}\0{size}\0{mtime}\n")
        self.files += 1
        self.bytes += size
        if len(self._lines) >= BLOCK:
            self._flush()

    def _flush(self) -> None:
        self._hash.update("".join(self._lines).encode(errors="surrogateescape"))
        self._lines.clear()

    def hexdigest(self) -> str:
        self._flush()
        return self._hash.hexdigest()


#: How the walk opens folders: never through a link (the full comparison never enters one either).
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def _listing(folder_fd: int) -> list[tuple[str, os.DirEntry[str]]]:
    """A folder's entries in index order (``name/`` for folders, as :func:`~synco_core.index.order.sorted_walk`
    sorts them)."""
    with os.scandir(folder_fd) as scan:
        keyed = [(entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name, entry) for entry in scan]
    keyed.sort(key=lambda item: item[0])
    return keyed


def local_tree_digest(set_dir: Path) -> TreeDigest | None:
    """The digest of what ``set_dir`` holds; None as soon as something in it is neither a folder nor a
    regular file (the full comparison would not count it as current either), or cannot be read.

    The files come in index order, as the full comparison's walk gives them; folders are opened and
    listed by descriptor, so each ``lstat`` is relative to its folder (a third faster than by full path,
    and the walk is what this costs).
    """
    digest = TreeDigest()
    if not set_dir.is_dir():
        return digest
    add = digest.add
    opened: list[int] = []
    try:
        opened.append(os.open(set_dir, _FOLDER_FLAGS))
        stack = [(iter(_listing(opened[-1])), "")]
        while stack:
            entries, prefix = stack[-1]
            for key, entry in entries:
                if key[-1] == "/":
                    opened.append(os.open(entry.name, _FOLDER_FLAGS, dir_fd=opened[-1]))
                    stack.append((iter(_listing(opened[-1])), f"{prefix}{key}"))
                    break
                info = entry.stat(follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode):
                    return None
                add(prefix + key, info.st_size, int(info.st_mtime))
            else:
                stack.pop()
                os.close(opened.pop())
    except OSError:
        return None
    finally:
        for fd in opened:
            os.close(fd)
    return digest


def tree_record(public: PublicFilesInfo, digest: str | None, files: int, size: int) -> dict[str, Any] | None:
    """What ``.synco-received.json`` keeps about a set brought fully up to date (None: nothing to keep)."""
    if public.index_sha256 is None or digest is None:
        return None
    return {"indexSha256": public.index_sha256, "sha256": digest, "files": files, "bytes": size}


def unchanged_tree(previous: dict[str, Any] | None, public: PublicFilesInfo, local: str,
                   set_dir: Path) -> dict[str, Any] | None:
    """The earlier receive's tree record when ``set_dir`` still holds exactly what it left for this very
    index; None when the full comparison must run."""
    if previous is None or public.index_sha256 is None or previous.get("path") != local:
        return None
    tree = previous.get("tree")
    if not isinstance(tree, dict) or tree.get("indexSha256") != public.index_sha256:
        return None
    if os.path.islink(set_dir):
        return None
    found = local_tree_digest(set_dir)
    if found is None or found.files != tree.get("files") or found.hexdigest() != tree.get("sha256"):
        return None
    return tree
