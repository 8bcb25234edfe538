"""What a channel may serve: the session folder and the application's public files, read-only.

Every path is checked: no absolute paths, no ``..``, no dotfiles (``.env``, ``.git``), no temporary
files, regular files only, and the real path (links followed) must stay inside the allowed roots, so
a request can never read anything the session or the public site would not show anyway.

The public files can change under the pull: whoever writes the uploads folder (the web server's user) may
put a link to ``.env`` (inside the project, so inside the roots) or a FIFO in an indexed file's place. So a
file is opened without blocking and judged by the ``fstat`` of what was opened, and, given the session's
:class:`~synco_core.serve.server.AllowList`, a public file is sent only while it is the file serve indexed
under that path (same device and inode), as ``serve --listen`` does.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import unquote

from synco_core.errors import UnsafePathError
from synco_core.fsutil import PLAIN_RELATIVE_PATH, safe_relative_path
from synco_core.serve.server import AllowList, url_path


class FileSpace(Protocol):
    """Something a ``get`` can name: resolves a requested path to a file it may serve, or raises."""

    def resolve(self, path: str) -> Path: ...

    def open(self, path: str) -> IO[bytes]: ...


#: A file is opened without blocking: a FIFO put in its place since it was checked must not hold the channel.
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)


def _open_regular(path: Path, shown: str, same: Callable[[os.stat_result], bool] | None = None) -> IO[bytes]:
    """``path`` opened for reading, when what was opened is a regular file (and ``same`` of its ``fstat``)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise FileNotFoundError(shown) from None
    except OSError as exc:
        raise UnsafePathError(f"cannot read {shown!r}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePathError(f"{shown!r} is not a regular file")
        if same is not None and not same(info):
            raise UnsafePathError(f"refused {shown!r}: it is no longer the file serve listed under that name")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_regular(path: Path, shown: str) -> Path:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(shown) from None
    except OSError as exc:
        raise UnsafePathError(f"cannot read {shown!r}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(f"{shown!r} is not a regular file")
    return path


class _RealParents:
    """Real paths of the folders files are served from, resolved once per folder.

    Resolving every requested path from the root costs one ``lstat`` per path component; a pull of ten
    thousand files in a few hundred folders then spends most of its system calls there. With the folder's
    real path cached, a file costs one ``lstat`` (and a full resolve only when the file itself is a link).
    The result is checked against the allowed roots every time, cached or not.
    """

    LIMIT = 4096

    def __init__(self) -> None:
        self._cache: dict[Path, Path] = {}

    def real_file(self, target: Path, shown: str) -> Path:
        parent = self._cache.get(target.parent)
        if parent is None:
            parent = target.parent.resolve()
            if len(self._cache) >= self.LIMIT:
                self._cache.clear()
            self._cache[target.parent] = parent
        candidate = parent / target.name
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            raise FileNotFoundError(shown) from None
        except OSError as exc:
            raise UnsafePathError(f"cannot read {shown!r}: {exc.strerror}") from None
        if stat.S_ISLNK(info.st_mode):
            return _check_regular(candidate.resolve(), shown)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePathError(f"{shown!r} is not a regular file")
        return candidate


@dataclass
class FolderSpace:
    """Files inside one folder (the session folder): plain relative paths, no dotfiles, no temp files."""

    root: Path
    hidden_suffixes: tuple[str, ...] = (".tmp", ".part")
    _real_root: Path = field(default=Path("/"), init=False, repr=False)
    _parents: _RealParents = field(default_factory=_RealParents, init=False, repr=False)

    def __post_init__(self) -> None:
        self._real_root = self.root.resolve()

    def resolve(self, path: str) -> Path:
        relative = safe_relative_path(path)
        if any(part.startswith(".") for part in relative.parts) or path.endswith(self.hidden_suffixes):
            raise UnsafePathError(f"refused {path!r}: hidden or temporary file")
        real = self._parents.real_file(self.root.joinpath(*relative.parts), path)
        if not real.is_relative_to(self._real_root):
            raise UnsafePathError(f"refused {path!r}: leads out of the session folder")
        return real

    def open(self, path: str) -> IO[bytes]:
        return _open_regular(self.resolve(path), path)


@dataclass
class PublicSpace:
    """The public files of the application: URL paths relative to the web root, as the web server sees them.

    The web server follows links (Laravel's ``public/storage`` points to ``storage/app/public``), so
    links are followed here too, but the real target must stay inside the web root or one of
    ``allowed_roots`` (the project directory and the public file sets' roots, such as a ``shared/uploads``
    that a deploy tool links into the release). Dotfiles are refused at every level, as web servers are told to.
    """

    web_root: Path
    allowed_roots: tuple[Path, ...] = ()
    #: The files of the session's indexes, by URL path and identity: nothing else is sent (None: any file).
    allow: AllowList | None = None
    #: The real paths of the roots, resolved once (a pull asks for thousands of files).
    _real_roots: list[Path] = field(default_factory=list, init=False, repr=False)
    _parents: _RealParents = field(default_factory=_RealParents, init=False, repr=False)
    #: URL folder -> its real path, for folders found inside the roots (see ``_resolve_plain``).
    _plain_folders: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._real_roots = [self.web_root.resolve(), *(root.resolve() for root in self.allowed_roots)]

    def resolve(self, path: str) -> Path:
        fast = self._resolve_plain(path)
        if fast is not None:
            return fast
        # Public URIs are URL paths: percent-encoded, maybe with a query string the files never depend on.
        decoded = unquote(path.split("?", 1)[0].split("#", 1)[0])
        relative = safe_relative_path(decoded)
        if any(part.startswith(".") for part in relative.parts):
            raise UnsafePathError(f"refused {path!r}: hidden file")
        real = self._parents.real_file(self.web_root.joinpath(*relative.parts), path)
        if not any(real.is_relative_to(root) for root in self._real_roots):
            raise UnsafePathError(f"refused {path!r}: leads out of the application")
        return real

    def open(self, path: str) -> IO[bytes]:
        allow = self.allow
        if allow is None:
            return _open_regular(self.resolve(path), path)
        key = url_path(path)
        if not allow.may_open(key):
            raise UnsafePathError(f"refused {path!r}: not a file of the session's indexes")
        return _open_regular(self.resolve(path), path, lambda info: allow.allows_file(key, info))

    def _resolve_plain(self, path: str) -> Path | None:
        """The common case, with string operations only: a plain path to a regular file in a folder already
        seen inside the roots. Anything unusual (escapes, dots, links, a folder not seen yet) returns None
        for the full check above."""
        # Plain paths need no URL decoding either: '%' is not among their characters.
        if not PLAIN_RELATIVE_PATH.fullmatch(path):
            return None
        folder, _, name = path.rpartition("/")
        real_folder = self._plain_folders.get(folder)
        if real_folder is None:
            real = Path(os.path.realpath(os.path.join(self.web_root, folder)))
            if not any(real.is_relative_to(root) for root in self._real_roots):
                return None
            if len(self._plain_folders) >= _RealParents.LIMIT:
                self._plain_folders.clear()
            real_folder = self._plain_folders[folder] = str(real)
        candidate = real_folder + "/" + name
        try:
            info = os.lstat(candidate)
        except OSError:
            return None
        return Path(candidate) if stat.S_ISREG(info.st_mode) else None
