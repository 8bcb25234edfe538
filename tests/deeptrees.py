"""Folder trees deeper than Python's recursion limit, for the tests of every walk through a tree.

Linux lets a tree nest folders far deeper than Python recurses (``sys.getrecursionlimit()`` is 1,000), and
``shutil.rmtree``, ``shutil.copytree``, ``os.walk``, ``os.makedirs`` and ``Path.rglob`` of Python 3.11 recurse
once per level. These trees are made, read and removed through descriptors, one level at a time, so a tree
deeper than the path limit (4,096 bytes) works too. pytest's own clean-up of its temporary folders recurses
as well (it would fail on them, in any later pytest session on the machine): :func:`deep_folder` makes the
tests' folders outside pytest's and removes them itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from synco_core.trees import remove_tree

#: Deeper than Python's recursion limit (and than the 256 descriptors macOS gives a process).
DEPTH = 1200
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW


@contextlib.contextmanager
def deep_folder(prefix: str = "synco-deep-") -> Iterator[Path]:
    """A temporary folder outside pytest's, removed (with whatever deep tree it holds) when the test ends."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        remove_tree(folder, ignore_errors=True)
        assert not os.path.lexists(folder), f"{folder} could not be removed"


def nest(folder: Path, depth: int = DEPTH, name: str = "d", files_every: int = 0, tag: str = "") -> str:
    """``depth`` folders named ``name``, one in the other, below ``folder`` (made as needed); with
    ``files_every``, a file ``f<level>.txt`` holding ``tag`` and the level every that many levels and a
    ``leaf.txt`` at the bottom. Returns the deepest folder's path below ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, _FOLDER)
    try:
        for level in range(depth):
            if files_every and level % files_every == 0:
                _write(fd, f"f{level}.txt", f"{tag} {level}")
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, dir_fd=fd)
            inner = os.open(name, _FOLDER, dir_fd=fd)
            os.close(fd)
            fd = inner
        if files_every:
            _write(fd, "leaf.txt", f"{tag} leaf")
    finally:
        os.close(fd)
    return "/".join([name] * depth)


def put(folder: Path, relative: str, content: str) -> None:
    """Write the file ``relative`` below ``folder`` (its folders exist), at any depth and path length."""
    *parts, leaf = relative.split("/")
    fd = _open_down(folder, parts)
    try:
        _write(fd, leaf, content)
    finally:
        os.close(fd)


def exists(folder: Path, relative: str) -> bool:
    """Whether ``relative`` is below ``folder``, at any depth and path length (links not followed)."""
    *parts, leaf = relative.split("/")
    try:
        fd = _open_down(folder, parts)
    except OSError:
        return False
    try:
        os.lstat(leaf, dir_fd=fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def snapshot(root: Path) -> dict[str, str]:
    """Every entry below ``root`` by relative path: ``dir``, ``link -> target`` or ``file <sha256>``.

    Walked with a stack, each folder opened from its parent's descriptor; only the last :data:`HELD` levels
    keep theirs open (a level whose descriptor was closed is opened again from the nearest one held), so any
    depth and path length costs few descriptors and few opens."""
    found: dict[str, str] = {}
    # Per level: its path below the root, its descriptor (-1 once closed), its folders' names still to walk.
    stack: list[tuple[str, list[int], list[str]]] = []

    def descriptor(level: int) -> int:
        if stack[level][1][0] < 0:
            held = max(index for index in range(level) if stack[index][1][0] >= 0)
            fd = os.dup(stack[held][1][0])
            for index in range(held + 1, level + 1):
                inner = os.open(stack[index][0].rpartition("/")[2], _FOLDER, dir_fd=fd)
                os.close(fd)
                fd = inner
            stack[level][1][0] = fd
        return stack[level][1][0]

    def enter(relative: str, fd: int) -> None:
        folders = []
        for child in sorted(os.listdir(fd)):
            path = f"{relative}/{child}" if relative else child
            info = os.lstat(child, dir_fd=fd)
            if stat.S_ISDIR(info.st_mode):
                found[path] = "dir"
                folders.append(child)
            elif stat.S_ISLNK(info.st_mode):
                found[path] = "link -> " + os.readlink(child, dir_fd=fd)
            else:
                file_fd = os.open(child, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=fd)
                with os.fdopen(file_fd, "rb") as file:
                    found[path] = "file " + hashlib.sha256(file.read()).hexdigest()
        stack.append((relative, [fd], list(reversed(folders))))
        held = [index for index in range(1, len(stack)) if stack[index][1][0] >= 0]
        if len(held) > HELD:
            os.close(stack[held[0]][1][0])
            stack[held[0]][1][0] = -1

    try:
        enter("", os.open(root, _FOLDER))
        while stack:
            relative, fd, rest = stack[-1]
            if not rest:
                stack.pop()
                if fd[0] >= 0:
                    os.close(fd[0])
                continue
            name = rest.pop()
            inner = os.open(name, _FOLDER, dir_fd=descriptor(len(stack) - 1))
            enter(f"{relative}/{name}" if relative else name, inner)
    finally:
        for _relative, fd, _rest in stack:
            if fd[0] >= 0:
                os.close(fd[0])
    return found


#: Levels of a walk that keep their folder's descriptor open.
HELD = 64


def _open_down(root: Path, parts: list[str]) -> int:
    fd = os.open(root, _FOLDER)
    try:
        for part in parts:
            inner = os.open(part, _FOLDER, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write(folder_fd: int, name: str, content: str) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644, dir_fd=folder_fd)
    with os.fdopen(fd, "w") as file:
        file.write(content)
