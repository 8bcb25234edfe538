"""The rest of a large walked public set, walked, looked up in the cache and hashed by a worker process.

Serve's pipeline costs some 15-25 µs of Python per file (the walk and its ``lstat``, the cache, the index
line, the pack), all on one core. Once a set that serve walks itself (a ``root``, not a plugin's entries)
has reached :data:`MIN_FILES` files, the rest of it goes to a worker process (``python -m
synco_core.serve.worker``): it walks on from the last path done here (:func:`sorted_walk_lstat`'s
``after``), takes hashes and small files' contents from the cache (which it appends to the same new cache
file, see :meth:`HashCache.hand_over`), reads and hashes what changed, and sends the rows down a pipe in
marshalled blocks, each small file's content with it. This process packs the contents and writes the
index, as before: packs, index and meta are written where they always were, by the process that owns
the session folder, so ``serve --listen`` and ``pull``'s folders work unchanged.

The worker gets no secret: the set's folder, its exclusions, its URL prefix and the cache file's name.
Its warnings (a file skipped, one that changed while read) arrive here with the rows and are logged here.
A set smaller than :data:`MIN_FILES` never starts a worker; the process is started at half of it, so that
its interpreter starts while this one finishes the first files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from synco_core import leftout
from synco_core.bounded import SERVE_WORKER_FILES
from synco_core.childenv import child_environment
from synco_core.errors import SyncoError
from synco_core.index.hashcache import HashCache
from synco_core.localenames import UTF8_MODE_OPTION
from synco_core.serve.ttl import is_synco_folder
from synco_core.values import FileSet
from synco_core.wire import PublicFilesInfo
from synco_core.workerframes import read_frame, write_frame

log = logging.getLogger(__name__)

#: Files of a walked set done in this process before the rest goes to a worker (its start costs about a
#: tenth of a second: on small sets it would cost more than it saves).
MIN_FILES = int(SERVE_WORKER_FILES.default)
#: ``$SYNCO_SERVE_WORKER_FILES``: overrides :data:`MIN_FILES`; ``0`` never starts a worker.
MIN_FILES_ENV = SERVE_WORKER_FILES.name
#: Rows per block sent by the worker.
BLOCK = 2048
#: Seconds a worker gets to end after its last frame before it is killed.
END_GRACE = 5.0

#: A row as the worker sends it: path, size, mtime, URI, absolute, sha1, sha256, the content to pack (None:
#: not packed), and the file's (device, inode).
WireRow = tuple[str, int, int, str, bool, "str | None", "str | None", "bytes | None", "tuple[int, int] | None"]


def min_files() -> int:
    """Files done in process before a worker takes over (0: never)."""
    return int(SERVE_WORKER_FILES.read())


def _command() -> tuple[list[str], dict[str, str]]:
    """The worker's command line and environment: this interpreter, with this process's import path (a
    zipapp that ``pull`` uploaded is on it, and is not installed anywhere the worker would look)."""
    env = child_environment()
    paths = [path for path in sys.path if path]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    # UTF-8 mode as the parent (synco_core.localenames): names it walks are decoded as the parent decodes them.
    return [sys.executable, *UTF8_MODE_OPTION, "-m", "synco_core.serve.worker"], env


class WalkWorker:
    """One worker process for the rest of one set: :meth:`start` early, :meth:`rows` once the handover point
    is known, :meth:`close` always."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        #: (files hashed, hashes from the cache) reported by the worker at its end.
        self.counts = (0, 0)
        #: True once the worker sent its end (it is then left to exit by itself).
        self.ended = False

    def start(self) -> bool:
        """Start the process (False when it cannot be started: the set is then done here)."""
        command, env = _command()
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                            close_fds=True)
        except OSError as exc:
            log.debug("no worker process for the public set: %s", exc)
            return False
        return True

    def rows(self, header: dict[str, Any]) -> Iterator[WireRow]:
        """Send ``header`` (what to walk, from where, the cache handed over) and yield the rows that come back."""
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        try:
            write_frame(process.stdin, header)
            process.stdin.close()
        except OSError:
            raise SyncoError(f"the worker process for the public files ended before it started (exit status "
                             f"{process.wait()})") from None
        while True:
            try:
                frame = read_frame(process.stdout)
            except EOFError:
                raise SyncoError("the worker process for the public files ended before the set did (exit status "
                                 f"{process.wait()})") from None
            kind = frame[0]
            for level, message, left_out in frame[-1]:
                leftout.relay(log, level, message, left_out)
            if kind == "rows":
                yield from frame[1]
            elif kind == "end":
                self.counts = (frame[1], frame[2])
                self.ended = True
                return
            else:
                raise SyncoError(f"listing the public files: {frame[1]}")

    def close(self) -> None:
        """End the process: at once if it is still working (a failed or stopped serve), else once it exits."""
        process = self.process
        if process is None:
            return
        self.process = None
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self.ended:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(END_GRACE)
        if process.poll() is None:
            process.kill()
            process.wait()


class _Contents:
    """The worker's stand-in for the pack writer: keeps each small file's content until its row leaves, and
    marks the row (pack -1, a key) so that the content travels with it to the process that packs."""

    def __init__(self) -> None:
        self._kept: dict[int, bytes] = {}
        self._next = 0

    def add(self, content: bytes) -> tuple[int, int]:
        key = self._next
        self._next += 1
        self._kept[key] = content
        return -1, key

    def take(self, key: int) -> bytes:
        return self._kept.pop(key)


class _Warnings(logging.Handler):
    """Collects the worker's log records; they travel with the next block of rows."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[tuple[int, str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Worker threads hashing large files log too: list.append is atomic under the GIL.
        self.records.append((record.levelno, record.getMessage(), getattr(record, leftout.KIND_ATTRIBUTE, None)))

    def take(self) -> list[tuple[int, str, str | None]]:
        records, self.records = self.records, []
        return records


def walk_main(header: dict[str, Any], out: IO[bytes]) -> int:
    """The worker: walk the set on from ``header["after"]`` and send its rows to ``out``."""
    # Imported here: public_set imports this module, and the worker needs the pipeline itself.
    from synco_core.serve.public_set import HASH_WORKERS, SetWriteResult, hashed_rows, walked_items

    warnings = _Warnings(logging.DEBUG if header.get("debug") else logging.INFO)
    root_logger = logging.getLogger("synco_core")
    root_logger.addHandler(warnings)
    root_logger.setLevel(warnings.level)
    cache = HashCache.appending(header["cache"]) if header.get("cache") else None
    contents = _Contents() if header["packs"] else None
    counts = SetWriteResult(PublicFilesInfo(index_file_name="", size_bytes=0))
    file_set = FileSet(name="", kind="public", root=Path(header["root"]), url_prefix=header["url_prefix"],
                       exclude=tuple(header["exclude"]))
    skip = is_synco_folder if header["skip_synco_folders"] else None
    block: list[WireRow] = []
    try:
        with ThreadPoolExecutor(HASH_WORKERS, thread_name_prefix="synco-hash") as pool:
            rows = hashed_rows(walked_items(file_set, skip, header["after"]), cache, contents, pool, counts,
                               header["hash_large"])
            for path, size, mtime, uri, absolute, sha1, sha256, pack, key, identity in rows:
                content = contents.take(key) if pack == -1 and contents is not None and key is not None else None
                block.append((path, size, mtime, uri, absolute, sha1, sha256, content, identity))
                if len(block) >= BLOCK:
                    write_frame(out, ("rows", block, warnings.take()))
                    block = []
        if cache is not None:
            cache.close_appended()
        if block:
            write_frame(out, ("rows", block, warnings.take()))
        write_frame(out, ("end", counts.hashed, counts.cache_hits, warnings.take()))
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole process group: the serve reports it, the worker just ends.
        return 130
    except BrokenPipeError:
        # The serve ended (failed, or was stopped): nobody reads any more.
        return 1
    except Exception as exc:  # every failure reaches the serve as one line
        with contextlib.suppress(OSError):
            write_frame(out, ("error", str(exc) or type(exc).__name__, warnings.take()))
        return 1
    return 0
