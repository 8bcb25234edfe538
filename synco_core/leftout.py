"""What a file set's indexing or packing leaves out (or lists without a content hash), told in few lines.

An upload folder of a real server can hold thousands of files the serve user may not read (``www-data``'s
0600 uploads while serve runs as the deploy user), or that change while serve reads them. Each was a
warning line of its own, 100,000 lines for 100,000 files. While a set is written (:func:`counting`), the
first :data:`SHOWN` are named as before, the others go to the debug log, and the set ends with one line
counting them all.

serve's worker process (:mod:`synco_core.serve.walkprocess`) counts nothing itself: its warnings carry
their kind (:data:`KIND_ATTRIBUTE`) back with its rows, and :func:`relay` counts them here.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import threading
from collections.abc import Iterator

#: Files (or folders) not in the set at all.
SKIPPED = "files or folders left out"
#: Files listed without a content hash (receive checks them by size).
UNHASHED = "files listed without a content hash"
#: Per set, the warnings shown before the rest go to the debug log.
SHOWN = 10
#: Errors that say nothing about the file they came from: the process or the machine ran short.
EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM})
#: The log record attribute naming a warning's kind (``extra=``), for the worker process to pass on.
KIND_ATTRIBUTE = "synco_left_out"


class Tally:
    """The left-out warnings of one set; shared by the threads hashing its files."""

    def __init__(self, set_name: str) -> None:
        self.set_name = set_name
        self.counts = {SKIPPED: 0, UNHASHED: 0}
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def note(self, logger: logging.Logger, kind: str, message: str, *args: object) -> None:
        with self._lock:
            self.counts[kind] += 1
            shown = self.total <= SHOWN
        logger.log(logging.WARNING if shown else logging.DEBUG, message, *args)

    def summary(self) -> str | None:
        """One line counting what was left out, when more than was named; None otherwise."""
        if self.total <= SHOWN:
            return None
        counted = " and ".join(f"{count} {kind}" for kind, count in self.counts.items() if count)
        return f"{self.set_name}: {counted}; the first {SHOWN} are named above, --debug names every one"


_lock = threading.Lock()
_current: Tally | None = None


def _note(logger: logging.Logger, kind: str, message: str, *args: object) -> None:
    tally = _current
    if tally is None:
        logger.warning(message, *args, extra={KIND_ATTRIBUTE: kind})
    else:
        tally.note(logger, kind, message, *args)


def unless_exhausted(exc: OSError) -> OSError:
    """``exc``, raised again instead when it is one of :data:`EXHAUSTED`.

    A file or folder left out because the process had no descriptor left is not unreadable: the session
    would lack files that exist, and a receiver with ``--delete`` would remove its copies of them.
    """
    if exc.errno in EXHAUSTED:
        raise exc
    return exc


def skipped(logger: logging.Logger, message: str, *args: object) -> None:
    """Warn that a file is left out of its set (counted while :func:`counting`)."""
    _note(logger, SKIPPED, message, *args)


def unhashed(logger: logging.Logger, message: str, *args: object) -> None:
    """Warn that a file is listed without a content hash (counted while :func:`counting`)."""
    _note(logger, UNHASHED, message, *args)


def relay(logger: logging.Logger, level: int, message: str, kind: str | None) -> None:
    """Log a record of the worker process here: counted when it names its kind, else as it was."""
    if kind in (SKIPPED, UNHASHED) and level == logging.WARNING:
        _note(logger, kind, "%s", message)
    else:
        logger.log(level, "%s", message)


@contextlib.contextmanager
def counting(set_name: str, logger: logging.Logger) -> Iterator[Tally]:
    """Count the left-out warnings of set ``set_name`` while it is written; the summary goes to ``logger``.

    Sets are written one at a time; a set within a set (none today) keeps counting into the outer one.
    """
    global _current
    with _lock:
        outer = _current
        tally = outer or Tally(set_name)
        _current = tally
    try:
        yield tally
    finally:
        with _lock:
            _current = outer
        if outer is None and (line := tally.summary()) is not None:
            logger.warning("%s", line)
