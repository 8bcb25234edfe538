"""Reading a configuration file from a project tree, bounded and without ever hanging.

Every file synco reads from a project for its configuration (``.env``, ``wp-config.php``, ``Settings.yaml``,
``database.yml``, a Django settings module, ``.synco.yml``, ``composer.lock``) goes through
:func:`read_config_file`, so the same rules hold for the core and for every plugin:

- a regular file is read up to ``limit`` bytes (:data:`MAX_CONFIG_BYTES`, 1 MiB, unless the caller names a
  larger documented bound such as :data:`MAX_LOCK_FILE_BYTES`); one byte more is a one-line
  :class:`~synco_core.errors.ConfigError` ``<path> is too large to be a <kind>``, and nothing past it is read;
- a directory, a character or block device (``.env`` linked to ``/dev/zero``) or a socket is refused by its
  type before anything is read: ``<path> is a character device, not a <kind>``;
- a named pipe (FIFO) is read, since password managers serve secrets such as a ``.env`` through one (each
  reader gets the content from the manager's writer). The file is opened with ``O_NONBLOCK``, so the open
  never waits for a writer, and read under the same size bound within :data:`PIPE_TIMEOUT` seconds
  (``SYNCO_PIPE_TIMEOUT``): a pipe nobody writes to is a one-line error after that time, not a hang.

A missing file or one the user may not read raises the :class:`OSError` ``open()`` raises
(:class:`FileNotFoundError` ...), so callers keep telling "not there" apart from "refused".
"""

from __future__ import annotations

import os
import selectors
import stat
import time
from pathlib import Path

from synco_core.bounded import PIPE_TIMEOUT as PIPE_TIMEOUT_SETTING
from synco_core.errors import ConfigError
from synco_core.fsutil import mode_kind

#: The most a configuration file may hold, for every reader that names no other bound. Real ``.env``,
#: PHP, YAML and Python configuration files are a few kilobytes; this leaves them a thousand times that.
MAX_CONFIG_BYTES = 1 << 20

#: The bound for Composer's ``composer.lock`` and ``installed.json``, which list every package with its
#: metadata: several MiB in a large project, read only to learn a framework's version.
MAX_LOCK_FILE_BYTES = 16 << 20

#: How long a named pipe may take to deliver its whole content, in seconds, unless ``SYNCO_PIPE_TIMEOUT``
#: says otherwise (synco_core.bounded.PIPE_TIMEOUT says why that long).
PIPE_TIMEOUT = PIPE_TIMEOUT_SETTING.default
PIPE_TIMEOUT_VARIABLE = PIPE_TIMEOUT_SETTING.name

#: The names of a project's own synco configuration file, in order: the first found is the one every part of
#: synco reads (serve's synco-generic, pull's remotes, receive's hosts) and the one receive adds a host to.
SYNCO_CONFIG_NAMES = (".synco.yml", ".synco.yaml")

_CHUNK = 64 * 1024
# O_NONBLOCK: opening a FIFO for reading otherwise waits until a writer opens it, which may be never.
# O_NOCTTY: a terminal device named as a configuration file must not become the controlling terminal.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


def _refuse_special(path: Path, mode: int, kind: str) -> None:
    # A pipe is read (with a timeout), as a regular file is; anything else is named and refused.
    what = None if stat.S_ISFIFO(mode) else mode_kind(mode)
    if what is not None:
        raise ConfigError(f"{path} is {what}, not a {kind}")


def pipe_timeout() -> float:
    """The seconds a named pipe has to deliver its content: ``$SYNCO_PIPE_TIMEOUT`` or :data:`PIPE_TIMEOUT`."""
    return PIPE_TIMEOUT_SETTING.read()


def _read_regular(fd: int, wanted: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total < wanted:
        chunk = os.read(fd, min(_CHUNK, wanted - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _read_pipe(fd: int, wanted: int, path: Path, kind: str) -> bytes:
    """Up to ``wanted`` bytes from a FIFO opened non-blocking, until its writer closes it or time runs out."""
    timeout = pipe_timeout()
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    total = 0
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while total < wanted:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                said = "nothing" if not total else "no end"
                raise ConfigError(f"{path} is a named pipe that delivered {said} within {timeout:g} s "
                                  f"(set {PIPE_TIMEOUT_VARIABLE} to wait longer for its {kind})")
            if not selector.select(remaining):
                continue
            try:
                chunk = os.read(fd, min(_CHUNK, wanted - total))
            except BlockingIOError:
                continue
            if chunk:
                chunks.append(chunk)
                total += len(chunk)
            elif total:
                break  # the writer closed the pipe: that is the whole content
            else:
                # Nothing yet, and no writer: Linux waits in select() for the first one, but a writer that
                # came and went, or macOS, reports the end at once. Poll gently until one delivers.
                time.sleep(min(0.05, remaining))
    return b"".join(chunks)


def read_config_file(path: Path, *, kind: str = "configuration file", limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of the configuration file ``path``, read bounded and without blocking (module docs).

    ``kind`` names the file in errors (``.env file``, ``YAML configuration file``); ``limit`` is the most it
    may hold. Raises :class:`ConfigError` (one line, naming the path) for a file over ``limit``, one that is
    not a regular file or a named pipe, or a pipe that does not deliver in time; :class:`OSError` as
    ``open()`` does for a missing or unreadable one.
    """
    # Look before opening, so a device is refused without being opened at all (opening some has effects);
    # the descriptor is checked again below, in case the path changed in between.
    _refuse_special(path, os.stat(path).st_mode, kind)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        _refuse_special(path, mode, kind)
        # One byte past the bound, so a file too large is told apart without reading all of it.
        data = _read_pipe(fd, limit + 1, path, kind) if stat.S_ISFIFO(mode) else _read_regular(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ConfigError(f"{path} is too large to be a {kind} (over {limit} bytes)")
    return data


def read_config_text(path: Path, *, kind: str = "configuration file", limit: int = MAX_CONFIG_BYTES,
                     errors: str = "strict") -> str:
    """:func:`read_config_file` decoded as UTF-8; with ``errors="strict"`` a file that is not UTF-8 is a
    :class:`ConfigError` naming the path and the offset of the first bad byte."""
    data = read_config_file(path, kind=kind, limit=limit)
    try:
        return data.decode("utf-8", errors)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}), so not a readable {kind}") from None


def synco_config_path(folder: Path) -> Path | None:
    """``folder``'s ``.synco.yml`` (or ``.synco.yaml``), or None.

    Anything but a folder counts: a named pipe is read and a device refused by :func:`read_config_text`, with
    an error naming it, rather than either being taken for no configuration.
    """
    for name in SYNCO_CONFIG_NAMES:
        candidate = folder / name
        # A link leading nowhere counts too (read, it fails naming the file): passed over, the sanitising
        # rules of a deploy's shared .synco.yml gone missing would be silently lost.
        if os.path.lexists(candidate) and not candidate.is_dir():
            return candidate
    return None
