"""Plugin code writes to stderr, never into synco's own stdout (``--json`` output, a dump piped to a file).

A plugin that prints while it is imported or while one of its hooks runs would otherwise put its text in the
middle of ``synco plugins --json`` or ``synco detect --json``. While plugin code runs, ``sys.stdout`` of that
thread is the current ``sys.stderr``; other threads keep writing to the real stdout, so a command printing its
result while a worker thread dumps is not redirected with it. (The pull channel moves its frames off file
descriptor 1 altogether, which also covers programs a plugin starts: see ``synco _channel``.)
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_state = threading.local()


def _inside() -> bool:
    return bool(getattr(_state, "depth", 0))


class _StdoutForPlugins:
    """Stands in for ``sys.stdout``: stderr for a thread running plugin code, the real stdout otherwise."""

    def __init__(self, real: TextIO) -> None:
        self._real = real

    def _target(self) -> TextIO:
        return sys.stderr if _inside() else self._real

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        # buffer, fileno, encoding, isatty ...: those of the stream this thread writes to.
        return getattr(self._target(), name)


@contextmanager
def plugin_output_to_stderr() -> Iterator[None]:
    """Run plugin code with this thread's ``sys.stdout`` writing to stderr."""
    if not isinstance(sys.stdout, _StdoutForPlugins):
        sys.stdout.flush()
        # Installed once and left in place: taking it out again could undo another thread's redirection.
        sys.stdout = _StdoutForPlugins(sys.stdout)
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        sys.stdout.flush()
        _state.depth -= 1
