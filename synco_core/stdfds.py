"""Standard descriptors a caller closed (``synco ... <&-``, a daemon or a CI runner that closes them).

Python leaves ``sys.stdin`` (``sys.stdout``, ``sys.stderr``) as ``None`` when descriptor 0 (1, 2) is closed
at start, and the first file synco then opens takes that number: a prompt's ``sys.stdin.isatty()`` failed
with an ``AttributeError`` (``install --yes``, every ``receive``), plugins failed to load for want of a
stdout, and a log line could land in a database file or a part file opened as descriptor 2. Each closed
one is therefore held by ``/dev/null`` before anything else runs, as OpenSSH and git do, so no file of
synco's ever gets a standard number:

- 0 reads ``/dev/null``: end of input, no terminal, so a question fails at once in its one line (pass --yes);
- 1 is ``/dev/null`` opened for reading only: synco's own output (a dump, ``--json``, the receive command)
  fails as it would have on the closed descriptor (``EBADF``), in one line with exit status 1, instead of
  vanishing with status 0;
- 2 writes to ``/dev/null``: the messages had nowhere to go; the exit status still says how it ended.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

#: Each standard descriptor, how ``/dev/null`` holds it, and the ``sys`` streams that stand for it.
_HOLDERS = ((0, os.O_RDONLY, "r", ("stdin", "__stdin__")),
            (1, os.O_RDONLY, "w", ("stdout", "__stdout__")),
            (2, os.O_WRONLY, "w", ("stderr", "__stderr__")))


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def hold_closed_standard_descriptors() -> list[int]:
    """Put ``/dev/null`` on each of descriptors 0-2 that is closed, and give Python a stream for it; the
    descriptors held (in the order 0, 1, 2)."""
    held = []
    for fd, flags, mode, names in _HOLDERS:
        if _is_open(fd):
            continue
        try:
            opened = os.open(os.devnull, flags)
        except OSError:
            continue  # no /dev/null (a bare chroot): Python's None streams are all there is
        if opened != fd:
            # A lower descriptor was closed too and took it: the loop reaches that one by itself.
            os.dup2(opened, fd)
            os.close(opened)
        held.append(fd)
        # The interpreter's own streams for the rest of the command (a write to 1 fails as on a closed one).
        stream = io.TextIOWrapper(io.FileIO(fd, mode, closefd=False), encoding=sys.getfilesystemencoding(),
                                  errors="surrogateescape" if fd == 0 else "backslashreplace",
                                  line_buffering=fd != 0)
        for name in names:
            if getattr(sys, name, None) is None:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(sys, name, stream)
    return held
