"""Takes secrets out of this process's command line as other users of the machine see it.

A key, a passphrase or a database URL's password given as an argument (``synco receive SESSION KEY``,
``serve --password``, ``synco db dump mysql://u:pw@...``) is readable by every user of the machine from
``ps`` or ``/proc/PID/cmdline`` while the command runs, and a receive can take minutes. Python keeps its own
copy of the arguments (``sys.argv``), so the memory the kernel shows as the command line is not used after
start-up: on Linux, :func:`hide` rewrites it with every occurrence of a secret replaced by ``***``, as
``setproctitle`` does (the kernel reads ``/proc/PID/cmdline`` from that memory, between the ``arg_start``
and ``arg_end`` that ``/proc/self/stat`` gives).

This narrows the window to the start-up of the command (the interpreter and its imports, before the
argument is read), it does not close it: a key read from a file (``--key-file``), from standard input
(``-``) or from ``SYNCO_KEY`` never is in the command line. Elsewhere than on Linux nothing is rewritten.
:func:`hide_environment` does the same for the environment (``/proc/PID/environ``, readable by the same
user for the whole run), for the variables only synco reads.

:func:`no_core_dumps` keeps the same secrets out of core files.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterable
from urllib.parse import quote

_lock = threading.Lock()


#: Indexes in /proc/self/stat's fields after the command name of arg_start (field 48) and env_start (field 50).
_ARGUMENTS, _ENVIRONMENT = 45, 47


def _region(first: int = _ARGUMENTS) -> tuple[int, int] | None:
    """(address, length) of this process's argument strings (or, ``first`` :data:`_ENVIRONMENT`, of its
    environment strings), or None where they cannot be found."""
    try:
        with open("/proc/self/stat", "rb") as file:
            stat = file.read()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces and parentheses), from field 3 on; arg_start and
    # arg_end are fields 48 and 49.
    fields = stat[stat.rindex(b")") + 2:].split()
    if len(fields) < first + 2:
        return None
    start, end = int(fields[first]), int(fields[first + 1])
    if not 0 < start < end:
        return None
    return start, end - start


def hide(secret: str) -> None:
    """Replace ``secret`` (and its URL-encoded form) by ``***`` in the command line other users see."""
    if not sys.platform.startswith("linux") or not secret:
        return
    forms = {secret.encode("utf-8", "surrogateescape")}
    with contextlib.suppress(UnicodeEncodeError):
        # Bytes that were not UTF-8 in the command line (a latin-1 terminal's) have no URL-encoded form here.
        forms.add(quote(secret, safe="").encode("ascii"))

    def rewrite(current: bytes) -> bytes:
        for form in sorted(forms, key=len, reverse=True):
            if len(form) >= 3:
                current = current.replace(form, b"***")
        return current

    _rewrite(_ARGUMENTS, "/proc/self/cmdline", rewrite)


def masked_argument(argument: bytes) -> bytes:
    """``argument`` (one string of the command line) with the password of every URL in it and the value of every
    query parameter naming a credential replaced by ``*`` (three at most), found by their place in the URL, not
    by being registered: :func:`hide` leaves values under three bytes where they are (``***`` in their place
    would make the command line longer than the memory it has), and a password of one to three characters
    (``mysql://root:pw@db/app``) was no registered secret at all. Never longer than ``argument``."""
    from synco_core.redaction import credential_spans

    text = argument.decode("utf-8", "surrogateescape")
    spans = credential_spans(text)
    if not spans:
        return argument
    pieces: list[bytes] = []
    done = 0
    for start, end in spans:
        size = len(text[start:end].encode("utf-8", "surrogateescape"))
        pieces += [text[done:start].encode("utf-8", "surrogateescape"), b"*" * min(size, 3)]
        done = end
    return b"".join(pieces) + text[done:].encode("utf-8", "surrogateescape")


def hide_url_credentials() -> None:
    """Take the credentials of every URL in the command line (:func:`masked_argument`) out of what other users
    of the machine see, whatever their length, on Linux; called once, as a command starts."""
    if not sys.platform.startswith("linux"):
        return

    def rewrite(current: bytes) -> bytes:
        return b"\0".join(masked_argument(item) for item in current.split(b"\0"))

    _rewrite(_ARGUMENTS, "/proc/self/cmdline", rewrite)


def hide_environment(names: Iterable[str]) -> None:
    """Blank the values of the variables ``names`` in the environment other processes of this user see
    (``/proc/PID/environ``), on Linux. Python read its environment into ``os.environ`` when it started, so
    synco still reads them there; only what C code would read with ``getenv`` is blanked (nothing reads these
    variables so), and processes started later get ``os.environ`` (less these, :mod:`synco_core.childenv`)."""
    if not sys.platform.startswith("linux"):
        return
    prefixes = tuple(f"{name}=".encode() for name in names)

    def rewrite(current: bytes) -> bytes:
        # Each value's bytes become NULs where they are: the strings keep their places, which the C library's
        # environ array points at, and a blanked variable reads as empty.
        return b"\0".join(
            item[: len(item.partition(b"=")[0]) + 1].ljust(len(item), b"\0") if item.startswith(prefixes) else item
            for item in current.split(b"\0")
        )

    _rewrite(_ENVIRONMENT, "/proc/self/environ", rewrite)


def _rewrite(first: int, shown_in: str, rewrite: Callable[[bytes], bytes]) -> None:
    """Put ``rewrite`` of the region :func:`_region` finds at ``first`` in its place (as long as it was)."""
    try:
        # Not everywhere: a Python built without libffi (a minimal container's, where pull's remote side may
        # run) has no ctypes, and the command line then stays as it is.
        import ctypes
    except ImportError:
        return
    with _lock, contextlib.suppress(OSError, ValueError):
        region = _region(first)
        if region is None:
            return
        address, length = region
        with open(shown_in, "rb") as file:
            shown = file.read()
        current = ctypes.string_at(address, length)
        # Written only where the memory is what the kernel shows there, ending as the kernel expects it to (a
        # NUL), so nothing else is ever overwritten.
        if current != shown or not current.endswith(b"\0"):
            return
        rewritten = rewrite(current)
        if rewritten == current:
            return
        ctypes.memmove(address, rewritten.ljust(length, b"\0")[:length], length)


def no_core_dumps() -> None:
    """Write no core dump: one of a synco process that crashed (in a driver's or a library's native code) kept
    its keys, passwords and decrypted data in a file on disk, readable where core files are collected. The
    soft limit is set to 0 for this process and every process it starts (its workers)."""
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
