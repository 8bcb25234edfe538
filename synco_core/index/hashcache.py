"""The source's cache of content hashes, so a serve re-hashes only the files that changed since the last one.

One cache file per project and public set, in synco's cache folder (``$SYNCO_CACHE_DIR``, else
``$XDG_CACHE_HOME/synco``, else ``~/.cache/synco``, else ``/var/tmp/synco-cache-<uid>``), never inside the
web root or a public set: a folder there would be served to anyone who guesses its name, and would be
indexed as public content itself. The folder is made 0700 and must belong to the user running serve.

An entry is trusted only while the file has the same size, modification and change time (nanoseconds),
inode and device as when it was hashed; a file changed within :data:`RACY_SECONDS` before the serve started
is not recorded, since a change in the same clock tick would not show in its times.

The cache is a zstd-compressed text file with one line per file, in index order (the order the serve walks
the set), so a serve reads the old cache as a stream beside its walk and writes the new one as it goes:
memory holds one line of each, whatever the number of files.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from synco_core.fsutil import user_cache_dir

log = logging.getLogger(__name__)

#: The tag file of synco's cache folder (the Cache Directory Tagging convention, so backup tools skip it).
CACHE_TAG = "CACHEDIR.TAG"
CACHE_TAG_TEXT = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                  "# This folder holds synco's cache of content hashes; it can be deleted at any time.\n")

#: The first line of a cache file; another first line (a newer format) makes the cache start empty.
HEADER = b"synco-hash-cache 1\n"
#: A file whose times are this close to the start of the serve is hashed but not cached.
RACY_SECONDS = 2.0
#: ``$SYNCO_CACHE_DIR`` overrides where synco keeps its cache (tests, hosts with a read-only home).
CACHE_ENV = "SYNCO_CACHE_DIR"


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _private_folder(folder: Path) -> bool:
    """Make ``folder`` (0700) if needed; True when it is a real folder of this user that nobody else can use.

    It gets a ``CACHEDIR.TAG``, which tells backup tools to skip it and a walk of a file set that it is
    synco's (see ``session.ttl.is_synco_folder``).
    """
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(folder, 0o700)
        tag = folder / CACHE_TAG
        if not tag.exists():
            tag.write_text(CACHE_TAG_TEXT)
        return True
    except OSError:
        return False


def _zstd() -> Any:
    """The zstandard module, or None where it is missing (a bare pull host: the cache is then not kept)."""
    try:
        import zstandard

        zstandard.ZstdCompressor(level=1)
    except Exception:
        return None
    return zstandard


def cache_folder(avoid: Iterable[Path]) -> Path | None:
    """The folder for synco's cache: the first candidate that is private and outside every ``avoid`` folder.

    ``avoid`` holds the web root and the public sets' folders (resolved here). None when no candidate
    works; serve then hashes every file.
    """
    roots = [Path(os.path.realpath(root)) for root in avoid]
    candidates = []
    if os.environ.get(CACHE_ENV):
        candidates.append(Path(os.environ[CACHE_ENV]))
    with contextlib.suppress(RuntimeError):
        candidates.append(user_cache_dir())
    candidates.append(Path("/var/tmp") / f"synco-cache-{os.getuid()}")
    if _zstd() is None:
        return None
    for candidate in candidates:
        if not candidate.is_absolute():
            continue
        resolved = Path(os.path.realpath(candidate))
        if _inside(resolved, roots):
            log.warning("not keeping synco's cache in %s: it is inside the web root or a public file set", candidate)
            continue
        if _private_folder(resolved):
            return resolved
    return None


def cache_file(folder: Path, project_dir: Path, set_name: str) -> Path:
    """The cache file of one public set of one project."""
    key = hashlib.sha256(f"{os.path.realpath(project_dir)}\0{set_name}".encode()).hexdigest()[:32]
    return folder / "hashes" / f"{key}.zst"


def _fingerprint(info: os.stat_result) -> str:
    return f"{info.st_size}\t{info.st_mtime_ns}\t{info.st_ctime_ns}\t{info.st_ino}\t{info.st_dev}"


def _encode_path(path: str) -> str:
    # The path is the line's last field, so tabs in it are harmless; a newline (or a leading quote, which
    # marks an encoded path) is written as a JSON string.
    return json.dumps(path) if "\n" in path or "\r" in path or path.startswith('"') else path


class HashCache:
    """Hashes of the last serve, read in index order, and this serve's, written in index order.

    Call :meth:`lookup` and :meth:`record` with increasing paths; :meth:`commit` makes the new cache the
    current one, :meth:`discard` drops it (a failed serve keeps the old cache).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.started_ns = time.time_ns()
        self._old: Iterator[tuple[str, str, str]] = iter(())
        self._pending: tuple[str, str, str] | None = None
        self._new_file: BinaryIO | None = None
        self._new: Any = None
        self._temp: Path | None = None
        self.hits = self.misses = 0
        if path is None:
            return
        self._old = self._read(path)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            self._new_file = os.fdopen(fd, "wb")
        except OSError as exc:
            log.debug("hash cache %s not written: %s", path, exc)
            self._temp = None
            return
        self._new = _zstd().ZstdCompressor(level=1).stream_writer(self._new_file, closefd=False)
        self._new.write(HEADER)

    def _read(self, path: Path) -> Iterator[tuple[str, str, str]]:
        """(path, fingerprint, sha256) of the old cache in order; stops quietly at anything unexpected."""
        zstandard = _zstd()
        try:
            handle = path.open("rb")
        except OSError:
            return
        with handle, io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(handle)) as lines:
            try:
                if lines.readline() != HEADER:
                    return
                previous = ""
                for raw in lines:
                    fields = raw.decode().rstrip("\n").split("\t", 6)
                    name = json.loads(fields[6]) if fields[6].startswith('"') else fields[6]
                    if name <= previous or len(fields[5]) != 64:
                        return
                    previous = name
                    yield name, "\t".join(fields[:5]), fields[5]
            except (ValueError, IndexError, OSError, zstandard.ZstdError) as exc:
                log.debug("hash cache %s ends early: %s", path, exc)

    def lookup(self, path: str, info: os.stat_result) -> str | None:
        """The cached SHA-256 of ``path`` if the file is unchanged since it was hashed."""
        pending = self._pending
        while pending is None or pending[0] < path:
            pending = next(self._old, None)
            if pending is None:
                self._pending = None
                self.misses += 1
                return None
        self._pending = pending
        if pending[0] == path and pending[1] == _fingerprint(info):
            self.hits += 1
            return pending[2]
        self.misses += 1
        return None

    def record(self, path: str, info: os.stat_result, sha256: str) -> None:
        """Remember ``sha256`` for ``path`` as it is now (unless it changed too recently to be trusted)."""
        if self._new is None:
            return
        racy = self.started_ns - int(RACY_SECONDS * 1e9)
        if info.st_mtime_ns >= racy or info.st_ctime_ns >= racy:
            return
        self._new.write(f"{_fingerprint(info)}\t{sha256}\t{_encode_path(path)}\n".encode(errors="surrogateescape"))

    def commit(self) -> None:
        """Replace the old cache with the one just written."""
        if self._new is None or self._new_file is None or self._temp is None or self.path is None:
            return
        try:
            self._new.close()
            self._new_file.close()
            os.replace(self._temp, self.path)
        except OSError as exc:
            log.debug("hash cache %s not saved: %s", self.path, exc)
            self.discard()
        finally:
            self._new = None

    def discard(self) -> None:
        if self._new is not None:
            with contextlib.suppress(Exception):
                self._new.close()
            self._new = None
        if self._new_file is not None:
            with contextlib.suppress(OSError):
                self._new_file.close()
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._temp.unlink()
